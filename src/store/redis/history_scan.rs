//! Every slot's decision stream read for a policy what-if: a bounded scan, one
//! pipeline per master for the first page of every slot, then page by page for
//! the rare slot whose first page was full (docs/redis.md, "Decision history
//! and held orders").

use super::reply::{at, items, text};
use super::review::{in_every_slot, stream_entry};
use super::{RedisStore, unavailable};
use crate::domain::decision_record::DecisionRecord;
use crate::store::StoreError;
use redis::Value;

/// Stream entries read per XREVRANGE of one slot.
const SCAN_PAGE: usize = 256;

fn page_cmd(key: &str, end: &str, count: usize) -> redis::Cmd {
    let mut cmd = redis::cmd("XREVRANGE");
    cmd.arg(key).arg(end).arg("-").arg("COUNT").arg(count);
    cmd
}

/// The window a scan keeps, on the records' own decision times (the field
/// `t`: the store's clock, which the stream ids need not follow exactly).
#[derive(Clone, Copy)]
struct Window {
    from_ms: Option<i64>,
    to_ms: Option<i64>,
}

impl Window {
    fn holds(&self, at: i64) -> bool {
        self.from_ms.is_none_or(|from| at >= from) && self.to_ms.is_none_or(|to| at < to)
    }
}

/// Keeps a page's records within the window; answers where the next page of
/// the slot ends (None: the slot has no older entries worth reading). Entries
/// are newest first, so the first record older than the window ends the slot.
fn take_page(
    key: &str,
    page: &Value,
    count: usize,
    window: Window,
    out: &mut Vec<DecisionRecord>,
) -> Result<Option<String>, StoreError> {
    let entries = items(page)?;
    for entry in entries {
        let (_, record) = stream_entry(key, entry)?;
        let record = record?;
        if window
            .from_ms
            .is_some_and(|from| record.decided_at_ms < from)
        {
            return Ok(None);
        }
        if window.holds(record.decided_at_ms) {
            out.push(record);
        }
    }
    match entries.last() {
        Some(last) if entries.len() == count => {
            Ok(Some(format!("({}", text(at(items(last)?, 0)?)?)))
        }
        _ => Ok(None),
    }
}

impl RedisStore {
    /// Up to `limit` records of every slot's stream decided in the window.
    pub(super) async fn decisions_between(
        &self,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        limit: usize,
    ) -> Result<Vec<DecisionRecord>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let window = Window { from_ms, to_ms };
        let count = SCAN_PAGE.min(limit);
        let pages = in_every_slot(self, "decision history scan", |slot| {
            page_cmd(&self.keys.slot(slot).decisions, "+", count)
        })
        .await?;
        let mut out = Vec::new();
        let mut read_on = Vec::new();
        for (slot, page) in pages {
            let key = self.keys.slot(slot).decisions;
            if let Some(end) = take_page(&key, &page, count, window, &mut out)? {
                read_on.push((key, end));
            }
        }
        // Full first pages: the rest of those slots, while the caller can still
        // use more.
        for (key, mut end) in read_on {
            while out.len() < limit {
                let page = self
                    .conn
                    .query(&page_cmd(&key, &end, count))
                    .await
                    .map_err(unavailable)?;
                match take_page(&key, &page, count, window, &mut out)? {
                    Some(next) => end = next,
                    None => break,
                }
            }
        }
        out.truncate(limit);
        Ok(out)
    }
}

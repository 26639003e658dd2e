//! The credit team's side of the Redis store: decision records, the held-order
//! list and an analyst's release (docs/redis.md, "Decision history and held
//! orders"). Everything lives per hash slot, under the slot's marker tag, so the
//! check script that decides writes it in the same atomic step.

use super::keys::SLOTS;
use super::reply::{self, at, int, items, status, text};
use super::{
    Connection, DUNNING_SAMPLE, RedisStore, approval, common_error, snapshot, unavailable,
};
use crate::domain::decision_record::DecisionRecord;
use crate::domain::ids::{BuyerId, OrderId};
use crate::domain::retention::LedgerDay;
use crate::store::decision_format;
use crate::store::{HeldCursor, HeldOrder, ReleaseOutcome, ReleaseRequest, StoreError};
use redis::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Orders listed as waiting per hash slot; beyond it the one that waited
/// longest unseen leaves (as on the embedded store, whose list is bounded too).
pub const HELD_PER_SLOT: usize = 1_000;

/// Stream entries read per XREVRANGE while looking for a decision.
const HISTORY_PAGE: usize = 256;

/// A UUIDv7 whose last 16 bits are the hash slot its record is kept in. The
/// version and variant bits are elsewhere; the time prefix and the counter the
/// uuid crate keeps stay, so ids remain unique and time-ordered.
pub fn decision_id_in_slot(slot: usize) -> String {
    let mut bytes = *uuid::Uuid::now_v7().as_bytes();
    bytes[14..16].copy_from_slice(&(slot as u16).to_be_bytes());
    uuid::Uuid::from_bytes(bytes).to_string()
}

/// The slot a decision id says its record is in; None for an id this store
/// never made (not a UUIDv7, or no slot in it): no record.
pub fn slot_of_decision(decision_id: &str) -> Option<usize> {
    let id = uuid::Uuid::parse_str(decision_id).ok()?;
    if id.get_version_num() != 7 {
        return None;
    }
    let bytes = id.as_bytes();
    let slot = usize::from(u16::from_be_bytes([bytes[14], bytes[15]]));
    (slot < SLOTS).then_some(slot)
}

/// The held set's member for an order, as `held_member` in prelude.lua makes it
/// (Rust only reads members; the tests hold the two orders equal).
#[cfg(test)]
fn held_member(buyer_id: &BuyerId, order_id: &OrderId) -> String {
    format!("{}\0{}", buyer_id.as_str(), order_id.as_str())
}

fn parse_member(member: &str, score: i64) -> Option<HeldCursor> {
    let (buyer, order) = member.split_once('\0')?;
    Some(HeldCursor {
        last_at_ms: score,
        buyer_id: BuyerId::parse_stored(buyer).ok()?,
        order_id: OrderId::parse_stored(order).ok()?,
    })
}

/// A sorted-set score, as RESP2 (text) or RESP3 (double) sends it.
fn score(value: &Value) -> Result<i64, StoreError> {
    match value {
        Value::Double(d) => Ok(*d as i64),
        other => {
            let text = text(other)?;
            text.parse::<i64>()
                .or_else(|_| text.parse::<f64>().map(|d| d as i64))
                .map_err(|_| reply::bad("score", other))
        }
    }
}

/// A field/value list (RESP2 array) or map (RESP3) as pairs.
pub(super) fn pairs(value: &Value) -> Result<Vec<(&Value, &Value)>, StoreError> {
    match value {
        Value::Map(map) => Ok(map.iter().map(|(k, v)| (k, v)).collect()),
        other => Ok(items(other)?
            .chunks_exact(2)
            .map(|pair| (&pair[0], &pair[1]))
            .collect()),
    }
}

fn corrupt(what: String) -> StoreError {
    StoreError::Unavailable(what)
}

/// A stream entry's id and record, as `keep_decision` in prelude.lua writes it;
/// the record's decision id is `d`.
pub(super) fn stream_entry(
    key: &str,
    entry: &Value,
) -> Result<(String, Result<DecisionRecord, StoreError>), StoreError> {
    let entry = items(entry)?;
    let id = text(at(entry, 0)?)?;
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in pairs(at(entry, 1)?)? {
        fields.insert(text(name)?, text(value)?);
    }
    let field = |name: &str| {
        fields
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| corrupt(format!("entry {id} in {key} has no field {name}")))
    };
    let record = (|| {
        let decided_at_ms = field("t")?
            .parse()
            .map_err(|_| corrupt(format!("entry {id} in {key} has a bad time")))?;
        decision_format::record_from_parts(field("i")?, field("s")?, field("o")?, decided_at_ms)
            .map_err(|e| corrupt(format!("entry {id} in {key}: {e}")))
    })();
    Ok((id, record))
}

/// A stream entry's record, if it is `decision_id`'s (only that entry is
/// parsed: a search reads pages of others).
fn entry_record(
    key: &str,
    decision_id: &str,
    entry: &Value,
) -> Result<Option<DecisionRecord>, StoreError> {
    let fields = pairs(at(items(entry)?, 1)?)?;
    let named = fields.into_iter().any(|(name, value)| {
        matches!((text(name), text(value)), (Ok(n), Ok(v)) if n == "d" && v == decision_id)
    });
    if !named {
        return Ok(None);
    }
    stream_entry(key, entry)?.1.map(Some)
}

/// `first_ms|<packed record>`, as `hold` in prelude.lua writes it.
fn held_order(packed: &str) -> Result<HeldOrder, String> {
    let (first, record) = packed
        .split_once('|')
        .ok_or_else(|| "held record without its first time".to_owned())?;
    Ok(HeldOrder {
        first_at_ms: first
            .parse()
            .map_err(|_| "held record with a bad first time".to_owned())?,
        record: Arc::new(decision_format::record_from_packed(record)?),
    })
}

/// What one slot's page is read with: a reverse range from the cursor's score.
fn held_page(key: &str, after: Option<&HeldCursor>, offset: usize, limit: usize) -> redis::Cmd {
    let max = after.map_or("+inf".to_owned(), |c| c.last_at_ms.to_string());
    let mut cmd = redis::cmd("ZREVRANGEBYSCORE");
    cmd.arg(key)
        .arg(max)
        .arg("-inf")
        .arg("WITHSCORES")
        .arg("LIMIT")
        .arg(offset)
        .arg(limit);
    cmd
}

/// Keeps a page's entries strictly after `after` (and of `buyer`, if given);
/// answers the page's length. The set orders by (score, member), which is
/// HeldCursor's order, so entries at or before the cursor come first in a
/// reverse range from its score.
fn take_page(
    key: &str,
    page: &Value,
    after: Option<&HeldCursor>,
    buyer: Option<&BuyerId>,
    out: &mut Vec<(HeldCursor, String)>,
) -> Result<usize, StoreError> {
    let page = pairs(page)?;
    for (member, at_ms) in &page {
        let member = text(member)?;
        let Some(cursor) = parse_member(&member, score(at_ms)?) else {
            tracing::warn!(%key, ?member, "skipping an unreadable held-order entry");
            continue;
        };
        let after_cursor = after.is_none_or(|a| &cursor < a);
        let of_buyer = buyer.is_none_or(|b| &cursor.buyer_id == b);
        if after_cursor && of_buyer {
            out.push((cursor, member));
        }
    }
    Ok(page.len())
}

/// One slot's listed orders, newest first, at most `limit`: page after page
/// while whole pages are skipped (before the cursor, or other buyers').
async fn held_in_slot(
    conn: &Connection,
    key: &str,
    after: Option<&HeldCursor>,
    buyer: Option<&BuyerId>,
    limit: usize,
) -> Result<Vec<(HeldCursor, String)>, StoreError> {
    let mut out = Vec::new();
    let mut offset = 0;
    while out.len() < limit {
        let page = conn
            .query(&held_page(key, after, offset, limit))
            .await
            .map_err(unavailable)?;
        if take_page(key, &page, after, buyer, &mut out)? < limit {
            break;
        }
        offset += limit;
    }
    out.truncate(limit);
    Ok(out)
}

/// Every slot's first page, one pipeline per master (one round trip each, all
/// masters at once); a slot whose full page held skipped entries is read on by
/// itself (the entry at the cursor, mostly).
async fn held_in_every_slot(
    store: &RedisStore,
    after: Option<&HeldCursor>,
    limit: usize,
) -> Result<Vec<(HeldCursor, usize, String)>, StoreError> {
    let pages = in_every_slot(store, "held-order read", |slot| {
        held_page(&store.keys.slot(slot).held, after, 0, limit)
    })
    .await?;
    let mut found = Vec::new();
    for (slot, page) in pages {
        let key = store.keys.slot(slot).held;
        let mut out = Vec::new();
        let len = take_page(&key, &page, after, None, &mut out)?;
        if len == limit && out.len() < limit {
            out = held_in_slot(&store.conn, &key, after, None, limit).await?;
        }
        found.extend(out.into_iter().map(|(c, m)| (c, slot, m)));
    }
    Ok(found)
}

/// One command per hash slot (`command(slot)`), in one pipeline per master,
/// all masters at once (one round trip each); each slot's answer. `what`
/// names the read in errors.
pub(super) async fn in_every_slot(
    store: &RedisStore,
    what: &str,
    command: impl Fn(usize) -> redis::Cmd,
) -> Result<Vec<(usize, Value)>, StoreError> {
    let masters = store.conn.slots_by_master().await.map_err(unavailable)?;
    let mut reads = tokio::task::JoinSet::new();
    for slots in masters {
        let Some(&first) = slots.first() else {
            continue;
        };
        let mut pipe = redis::pipe();
        for &slot in &slots {
            pipe.add_command(command(slot));
        }
        let conn = store.conn.clone();
        reads.spawn(async move {
            let pages = conn.pipeline_on_master_of(pipe, slots.len(), first).await;
            (slots, pages)
        });
    }
    let mut answers = Vec::new();
    while let Some(read) = reads.join_next().await {
        let (slots, pages) = read.map_err(|e| corrupt(format!("{what}: {e}")))?;
        let pages = pages.map_err(unavailable)?;
        if pages.len() != slots.len() {
            return Err(corrupt(format!("{what}: the pipeline answered short")));
        }
        answers.extend(slots.into_iter().zip(pages));
    }
    Ok(answers)
}

impl RedisStore {
    pub(super) async fn release_held(
        &self,
        request: ReleaseRequest,
        day: LedgerDay,
    ) -> Result<ReleaseOutcome, StoreError> {
        let args = (
            request.order_id.as_str(),
            request.amount.minor(),
            request.buyer_version,
            request.inputs.decision_id.as_str(),
            request.reservation_ttl_secs,
            DUNNING_SAMPLE,
            decision_format::inputs_to_json(&request.inputs),
            request.buyer_id.as_str(),
            self.stream_cap(),
        );
        let (reply, acked) = self
            .decide(&self.scripts.release_order, &request.buyer_id, day, args)
            .await?;
        let (head, rest) = status(&reply)?;
        if head == "UNKNOWN_BUYER" {
            self.cache.forget(&request.buyer_id);
            return Ok(ReleaseOutcome::UnknownBuyer);
        }
        if let Some(error) = common_error(&head, &request.buyer_id) {
            return Err(error);
        }
        // As the check: an approval, new or found, is answered only once
        // replicated (the script touched the buyer, so WAIT covers the record).
        if let (Some(acked), "RELEASED" | "APPROVED") = (acked, head.as_str()) {
            acked.required()?;
        }
        if head == "RELEASED" {
            self.wrote_record(&request.buyer_id);
        }
        Ok(match head.as_str() {
            "RELEASED" => ReleaseOutcome::Released(snapshot(at(rest, 0)?)?),
            "APPROVED" => ReleaseOutcome::Approved(approval(&request.order_id, rest)?),
            "NOT_HELD" => ReleaseOutcome::NotHeld,
            "AMOUNT_DIFFERS" => ReleaseOutcome::AmountDiffers(int(at(rest, 0)?)?),
            "CANCELLED" => ReleaseOutcome::Cancelled,
            "INVOICED" => ReleaseOutcome::Invoiced,
            "STALE" => {
                self.cache.forget(&request.buyer_id);
                ReleaseOutcome::StaleBuyer
            }
            "CORRUPT_HELD" => {
                return Err(corrupt(format!(
                    "the held-order record of order {} of buyer {} in redis is unreadable",
                    request.order_id, request.buyer_id
                )));
            }
            _ => return Err(reply::bad("release_order", &reply)),
        })
    }

    /// The slot from the id, then that slot's stream newest first, a page at a
    /// time: a record is found in one round trip at the default cap.
    pub(super) async fn find_decision(
        &self,
        decision_id: &str,
    ) -> Result<Option<DecisionRecord>, StoreError> {
        let Some(slot) = slot_of_decision(decision_id) else {
            return Ok(None);
        };
        let key = self.keys.slot(slot).decisions;
        let mut end = "+".to_owned();
        loop {
            let mut cmd = redis::cmd("XREVRANGE");
            cmd.arg(&key)
                .arg(&end)
                .arg("-")
                .arg("COUNT")
                .arg(HISTORY_PAGE);
            let page = self.conn.query(&cmd).await.map_err(unavailable)?;
            let entries = items(&page)?;
            for entry in entries {
                if let Some(record) = entry_record(&key, decision_id, entry)? {
                    return Ok(Some(record));
                }
            }
            match entries.last() {
                Some(last) if entries.len() == HISTORY_PAGE => {
                    end = format!("({}", text(at(items(last)?, 0)?)?);
                }
                _ => return Ok(None),
            }
        }
    }

    /// With a buyer: its slot only. Without: every one of the 16,384 slots, one
    /// command each (most slots are empty) in one pipeline per master, merged
    /// here; docs/redis.md gives the cost. Then the records of the page, one HMGET per slot that has any.
    pub(super) async fn list_held(
        &self,
        buyer_id: Option<&BuyerId>,
        after: Option<&HeldCursor>,
        limit: usize,
    ) -> Result<Vec<HeldOrder>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut candidates = match buyer_id {
            Some(buyer) => {
                let slot = self.keys.buyer_slot(buyer);
                let key = self.keys.slot(slot).held;
                held_in_slot(&self.conn, &key, after, Some(buyer), limit)
                    .await?
                    .into_iter()
                    .map(|(c, m)| (c, slot, m))
                    .collect()
            }
            None => held_in_every_slot(self, after, limit).await?,
        };
        candidates.sort_by(|a, b| b.0.cmp(&a.0));
        candidates.truncate(limit);
        let mut by_slot: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for (_, slot, member) in &candidates {
            by_slot.entry(*slot).or_default().push(member.clone());
        }
        let mut records: BTreeMap<(usize, String), HeldOrder> = BTreeMap::new();
        for (slot, members) in by_slot {
            let key = self.keys.slot(slot).held_records;
            let mut cmd = redis::cmd("HMGET");
            cmd.arg(&key).arg(&members);
            let values = self.conn.query(&cmd).await.map_err(unavailable)?;
            for (member, value) in members.into_iter().zip(items(&values)?) {
                // Gone since the range was read (approved, cancelled, evicted).
                if *value == Value::Nil {
                    continue;
                }
                match held_order(&text(value)?) {
                    Ok(held) => {
                        records.insert((slot, member), held);
                    }
                    Err(error) => {
                        return Err(corrupt(format!(
                            "held-order record {member:?} in {key}: {error}"
                        )));
                    }
                }
            }
        }
        Ok(candidates
            .into_iter()
            .filter_map(|(_, slot, member)| records.remove(&(slot, member)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_id_carries_its_slot_and_stays_a_uuid_v7() {
        for slot in [0, 1, 4_711, SLOTS - 1] {
            let id = decision_id_in_slot(slot);
            let uuid = uuid::Uuid::parse_str(&id).unwrap();
            assert_eq!(uuid.get_version_num(), 7);
            assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122);
            assert_eq!(slot_of_decision(&id), Some(slot));
        }
        assert_ne!(decision_id_in_slot(5), decision_id_in_slot(5));
        assert_eq!(slot_of_decision("not-a-uuid"), None);
        // A v4 id (or a v7 of another store) with 0xffff at the end: no slot.
        assert_eq!(
            slot_of_decision("0193b3c4-5d6e-7f80-9a1b-2c3d4e5fffff"),
            None
        );
        assert_eq!(
            slot_of_decision("6f1c2d3e-4b5a-4c6d-8e7f-8091a2b30001"),
            None
        );
    }

    #[test]
    fn members_order_as_cursors_do() {
        let cursor = |b: &str, o: &str| HeldCursor {
            last_at_ms: 1,
            buyer_id: BuyerId::parse(b).unwrap(),
            order_id: OrderId::parse(o).unwrap(),
        };
        let pairs = [("A", "Z"), ("AB", "A"), ("A", "ZZ"), ("B", "0")];
        for (a, b) in pairs.iter().zip(pairs.iter().skip(1)) {
            let (ca, cb) = (cursor(a.0, a.1), cursor(b.0, b.1));
            let (ma, mb) = (
                held_member(&ca.buyer_id, &ca.order_id),
                held_member(&cb.buyer_id, &cb.order_id),
            );
            assert_eq!(ca.cmp(&cb), ma.as_bytes().cmp(mb.as_bytes()), "{a:?} {b:?}");
            assert_eq!(parse_member(&ma, 1), Some(ca));
        }
    }
}

//! The Redis outbox (docs/archive.md, "The outbox" and "The shipper"): with an archive, each
//! hash slot's decision stream is the outbox of the decisions made in that slot.
//! A script may only touch its buyer's slot, so the outbox cannot be one stream;
//! every replica ships through one consumer group per stream (`archive`):
//!
//! - the slots a replica wrote decisions to are read by that replica at once
//!   (`XREADGROUP ... >`, pipelined per master);
//! - every [`RedisOutbox::sweep_every`] a replica counts every slot's stream
//!   (`XLEN`, pipelined) and, in those that hold entries, claims what another
//!   consumer left pending longer than the claim idle time (`XAUTOCLAIM`: a
//!   replica that died mid-batch) and reads what nobody read (a replica that
//!   died before reading what it wrote);
//! - an entry is deleted (`XDEL`, then `XACK`) only after its batch committed.
//!   XDEL first: a crash between the two leaves a pending id without an entry,
//!   which the next XAUTOCLAIM drops; the other order would leave an entry
//!   nobody reads again that counts against the outbox bound forever.

use super::keys::SLOTS;
use super::reply::{at, items, text};
use super::review::{pairs, stream_entry};
use super::{RedisStore, unavailable};
use crate::store::{OutboxEntry, OutboxPlace, StoreError};
use parking_lot::Mutex;
use redis::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Sent with EVAL (hourly, one per slot): not worth a script cache entry.
const PRUNE_CONSUMERS: &str = include_str!("scripts/prune_consumers.lua");

/// A consumer idle this long with nothing pending is removed (hourly).
pub const PRUNE_IDLE: Duration = Duration::from_secs(3600);

/// The consumer group every replica ships through.
pub const GROUP: &str = "archive";

/// How long an entry read by a replica may stay unacknowledged before another
/// replica claims it, by default (`--outbox-claim-idle`). Longer than a batch
/// takes when PostgreSQL is well (milliseconds), so that a slow batch is not
/// shipped twice; short enough that a dead replica's batch ships within a minute.
pub const DEFAULT_CLAIM_IDLE: Duration = Duration::from_secs(30);

/// Slots a read looks at, at most: with COUNT per slot at least 16, a read
/// returns about `max` records however many slots hold some.
fn slots_per_read(max: usize) -> usize {
    (max / 16).max(1)
}

/// One bit per hash slot, taken a share at a time, round robin, so that busy
/// low slots cannot starve the others.
struct SlotBits {
    words: Vec<AtomicU64>,
    next: AtomicUsize,
}

impl SlotBits {
    fn new() -> SlotBits {
        SlotBits {
            words: (0..SLOTS.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
            next: AtomicUsize::new(0),
        }
    }

    fn set(&self, slot: usize) {
        if let Some(word) = self.words.get(slot / 64) {
            word.fetch_or(1 << (slot % 64), Ordering::Relaxed);
        }
    }

    /// Up to `limit` set slots, cleared; the rest stay set for the next take.
    fn take(&self, limit: usize) -> Vec<usize> {
        let n = self.words.len();
        let start = self.next.load(Ordering::Relaxed) % n;
        let mut slots = Vec::new();
        for k in 0..n {
            let i = (start + k) % n;
            let mut bits = self.words[i].swap(0, Ordering::Relaxed);
            while bits != 0 {
                if slots.len() == limit {
                    // Put back what this take leaves, and start there next time.
                    self.words[i].fetch_or(bits, Ordering::Relaxed);
                    self.next.store(i, Ordering::Relaxed);
                    return slots;
                }
                slots.push(i * 64 + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        }
        self.next.store(start + 1, Ordering::Relaxed);
        slots
    }
}

/// A replica's side of the outbox.
pub struct RedisOutbox {
    /// Records in all slot streams together before decisions are refused
    /// (`--outbox-max`); also each slot's own bound in the scripts.
    pub max: usize,
    /// `o<max>`, made once: every check sends it.
    cap: String,
    pub claim_idle: Duration,
    /// This process's consumer name: unique, so that a restarted replica's
    /// unacknowledged entries are claimed like a dead one's.
    consumer: String,
    /// Slots this replica wrote a record to (or that a sweep found entries in)
    /// since it last read them.
    dirty: SlotBits,
    /// Slots whose entries other consumers may have left pending.
    claiming: SlotBits,
    last_sweep: Mutex<Option<Instant>>,
    /// Entries in every slot's stream at the last sweep.
    backlog: AtomicU64,
    /// The last sweep counted `max` or more: every new decision is refused
    /// (the scripts get a bound of 0) until a sweep counts fewer.
    full: AtomicBool,
}

impl RedisOutbox {
    pub fn new(max: usize, claim_idle: Duration) -> RedisOutbox {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "creditgate".to_owned());
        RedisOutbox {
            max: max.max(1),
            cap: format!("o{}", max.max(1)),
            claim_idle,
            consumer: format!("{host}-{}-{}", std::process::id(), uuid::Uuid::now_v7()),
            dirty: SlotBits::new(),
            claiming: SlotBits::new(),
            last_sweep: Mutex::new(None),
            backlog: AtomicU64::new(0),
            full: AtomicBool::new(false),
        }
    }

    /// What the scripts get as the stream's cap: the outbox form, 0 while the
    /// outbox as a whole is full (a slot's own bound holds between sweeps).
    pub fn cap_arg(&self) -> &str {
        if self.is_full() { "o0" } else { &self.cap }
    }

    pub fn is_full(&self) -> bool {
        self.full.load(Ordering::Relaxed)
    }

    /// How often every slot is counted (and swept for entries no live replica
    /// will ship).
    pub fn sweep_every(&self) -> Duration {
        (self.claim_idle / 3).clamp(Duration::from_millis(200), Duration::from_secs(10))
    }

    pub fn wrote(&self, slot: usize) {
        self.dirty.set(slot);
    }

    fn sweep_due(&self) -> bool {
        let mut last = self.last_sweep.lock();
        if last.is_some_and(|at| at.elapsed() < self.sweep_every()) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }

    pub fn backlog(&self) -> u64 {
        self.backlog.load(Ordering::Relaxed)
    }
}

/// The entries of an XREADGROUP reply (RESP2: [[key, entries]]; RESP3: {key:
/// entries}; nil: none).
fn read_entries(reply: &Value) -> Result<Vec<&Value>, StoreError> {
    Ok(match reply {
        Value::Nil => Vec::new(),
        Value::Map(_) => pairs(reply)?
            .into_iter()
            .map(|(_, entries)| items(entries).map(|e| e.iter().collect::<Vec<_>>()))
            .collect::<Result<Vec<_>, _>>()?
            .concat(),
        other => {
            let mut out = Vec::new();
            for stream in items(other)? {
                out.extend(items(at(items(stream)?, 1)?)?);
            }
            out
        }
    })
}

fn is_nogroup(error: &str) -> bool {
    error.contains("NOGROUP")
}

impl RedisStore {
    fn outbox_state(&self) -> Option<&Arc<RedisOutbox>> {
        self.outbox.as_ref()
    }

    /// Runs one command per slot, pipelined per master (all masters at once);
    /// each slot's own answer or error.
    async fn per_slot(
        &self,
        slots: &[usize],
        command: impl Fn(usize) -> redis::Cmd,
    ) -> Result<Vec<(usize, Result<Value, String>)>, StoreError> {
        let wanted: std::collections::BTreeSet<usize> = slots.iter().copied().collect();
        let masters = self.conn.slots_by_master().await.map_err(unavailable)?;
        let mut reads = tokio::task::JoinSet::new();
        for owned in masters {
            let mine: Vec<usize> = owned.into_iter().filter(|s| wanted.contains(s)).collect();
            let Some(&first) = mine.first() else {
                continue;
            };
            let mut pipe = redis::pipe();
            for &slot in &mine {
                pipe.add_command(command(slot));
            }
            pipe.ignore_errors();
            let conn = self.conn.clone();
            reads.spawn(async move {
                let replies = conn
                    .pipeline_results_on_master_of(pipe, mine.len(), first)
                    .await;
                (mine, replies)
            });
        }
        let mut out = Vec::with_capacity(slots.len());
        while let Some(read) = reads.join_next().await {
            let (mine, replies) =
                read.map_err(|e| StoreError::Unavailable(format!("outbox read: {e}")))?;
            let replies = replies.map_err(unavailable)?;
            for (slot, reply) in mine.into_iter().zip(replies) {
                out.push((slot, reply.map_err(|e| e.to_string())));
            }
        }
        Ok(out)
    }

    /// Creates the slots' consumer groups from the start of their streams (an
    /// existing stream's entries were never shipped: a store that ran without
    /// an archive ships its history once).
    async fn create_groups(&self, slots: &[usize]) -> Result<(), StoreError> {
        let replies = self
            .per_slot(slots, |slot| {
                let mut cmd = redis::cmd("XGROUP");
                cmd.arg("CREATE")
                    .arg(self.keys.slot(slot).decisions)
                    .arg(GROUP)
                    .arg("0")
                    .arg("MKSTREAM");
                cmd
            })
            .await?;
        for (slot, reply) in replies {
            if let Err(error) = reply
                && !error.contains("BUSYGROUP")
            {
                return Err(StoreError::Unavailable(format!(
                    "outbox group of slot {slot}: {error}"
                )));
            }
        }
        Ok(())
    }

    /// Counts every slot's entries; answers the slots that hold any.
    async fn sweep(&self, outbox: &RedisOutbox) -> Result<Vec<usize>, StoreError> {
        let all: Vec<usize> = (0..SLOTS).collect();
        let lengths = self
            .per_slot(&all, |slot| {
                let mut cmd = redis::cmd("XLEN");
                cmd.arg(self.keys.slot(slot).decisions);
                cmd
            })
            .await?;
        let mut total = 0u64;
        let mut busy = Vec::new();
        for (slot, reply) in lengths {
            let len = match reply {
                Ok(Value::Int(n)) => n.max(0) as u64,
                Ok(other) => return Err(super::reply::bad("XLEN", &other)),
                Err(error) => return Err(StoreError::Unavailable(error)),
            };
            if len > 0 {
                total += len;
                busy.push(slot);
            }
        }
        outbox.backlog.store(total, Ordering::Relaxed);
        let full = total >= outbox.max as u64;
        if outbox.full.swap(full, Ordering::Relaxed) != full {
            if full {
                tracing::error!(
                    records = total,
                    outbox_max = outbox.max,
                    "decision outbox full: new decisions are referred ARCHIVE_BACKLOG until the archive takes records again"
                );
            } else {
                tracing::info!(
                    records = total,
                    "decision outbox below its bound again: deciding"
                );
            }
        }
        for &slot in &busy {
            outbox.claiming.set(slot);
            outbox.dirty.set(slot);
        }
        Ok(busy)
    }

    /// Counts every slot's outbox when a sweep is due (health calls it too, so
    /// the count stays fresh while the shipper waits on a failing archive).
    pub(super) async fn sweep_if_due(&self) -> Result<(), StoreError> {
        if let Some(outbox) = self.outbox_state()
            && outbox.sweep_due()
        {
            self.sweep(outbox).await?;
        }
        Ok(())
    }

    fn parse_into(
        &self,
        slot: usize,
        entries: Vec<&Value>,
        out: &mut Vec<OutboxEntry>,
    ) -> Result<(), StoreError> {
        let key = self.keys.slot(slot).decisions;
        for entry in entries {
            // Redis 6.2's XAUTOCLAIM answers nil for an entry deleted meanwhile.
            if *entry == Value::Nil {
                continue;
            }
            let (id, record) = stream_entry(&key, entry)?;
            match record {
                Ok(record) => out.push(OutboxEntry {
                    place: OutboxPlace::Redis { slot, id },
                    record: Arc::new(record),
                }),
                // Left pending: claimed and reported again after every idle
                // time, and counted against the bound, until someone looks.
                Err(error) => {
                    tracing::error!(%key, entry = %id, %error, "an outbox entry cannot be read and is not archived")
                }
            }
        }
        Ok(())
    }

    pub(super) async fn read_outbox(&self, max: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        let Some(outbox) = self.outbox_state() else {
            return Ok(Vec::new());
        };
        self.sweep_if_due().await?;
        let limit = slots_per_read(max);
        let mut out = Vec::new();
        let mut missing = Vec::new();
        let claim = outbox.claiming.take(limit);
        if !claim.is_empty() {
            let count = (max / claim.len()).max(16);
            let idle_ms = outbox.claim_idle.as_millis() as u64;
            let claimed = self
                .per_slot(&claim, |slot| {
                    let mut cmd = redis::cmd("XAUTOCLAIM");
                    cmd.arg(self.keys.slot(slot).decisions)
                        .arg(GROUP)
                        .arg(&outbox.consumer)
                        .arg(idle_ms)
                        .arg("0-0")
                        .arg("COUNT")
                        .arg(count);
                    cmd
                })
                .await?;
            for (slot, reply) in claimed {
                match reply {
                    Ok(reply) => {
                        let reply = items(&reply)?;
                        // More pending entries to look at: this slot again next read.
                        if text(at(reply, 0)?)? != "0-0" {
                            outbox.claiming.set(slot);
                        }
                        let entries: Vec<&Value> = items(at(reply, 1)?)?.iter().collect();
                        if !entries.is_empty() {
                            tracing::info!(
                                slot,
                                entries = entries.len(),
                                "claimed outbox entries another replica left unacknowledged"
                            );
                        }
                        self.parse_into(slot, entries, &mut out)?;
                    }
                    Err(error) if is_nogroup(&error) => missing.push(slot),
                    Err(error) => return Err(StoreError::Unavailable(error)),
                }
            }
        }
        let read = outbox.dirty.take(limit);
        if !read.is_empty() {
            let count = (max / read.len()).max(16);
            let replies = self
                .per_slot(&read, |slot| {
                    let mut cmd = redis::cmd("XREADGROUP");
                    cmd.arg("GROUP")
                        .arg(GROUP)
                        .arg(&outbox.consumer)
                        .arg("COUNT")
                        .arg(count)
                        .arg("STREAMS")
                        .arg(self.keys.slot(slot).decisions)
                        .arg(">");
                    cmd
                })
                .await?;
            for (slot, reply) in replies {
                match reply {
                    Ok(reply) => {
                        let entries = read_entries(&reply)?;
                        if entries.len() >= count {
                            outbox.wrote(slot);
                        }
                        self.parse_into(slot, entries, &mut out)?;
                    }
                    Err(error) if is_nogroup(&error) => missing.push(slot),
                    Err(error) => return Err(StoreError::Unavailable(error)),
                }
            }
        }
        if !missing.is_empty() {
            self.create_groups(&missing).await?;
            for slot in missing {
                outbox.wrote(slot);
            }
        }
        Ok(out)
    }

    /// Removes consumers with nothing pending, idle at least `idle`, from
    /// every slot's group (prune_consumers.lua); answers how many.
    pub async fn prune_idle_consumers(&self, idle: Duration) -> Result<u64, StoreError> {
        let Some(outbox) = self.outbox_state() else {
            return Ok(0);
        };
        let all: Vec<usize> = (0..SLOTS).collect();
        let replies = self
            .per_slot(&all, |slot| {
                let mut cmd = redis::cmd("EVAL");
                cmd.arg(PRUNE_CONSUMERS)
                    .arg(1)
                    .arg(self.keys.slot(slot).decisions)
                    .arg(GROUP)
                    .arg(idle.as_millis() as u64)
                    .arg(&outbox.consumer);
                cmd
            })
            .await?;
        let mut removed = 0;
        for (slot, reply) in replies {
            match reply {
                Ok(Value::Int(n)) => removed += n.max(0) as u64,
                Ok(other) => return Err(super::reply::bad("prune_consumers", &other)),
                Err(error) => {
                    return Err(StoreError::Unavailable(format!(
                        "pruning the outbox consumers of slot {slot}: {error}"
                    )));
                }
            }
        }
        Ok(removed)
    }

    pub(super) async fn ack_outbox(&self, entries: &[OutboxEntry]) -> Result<(), StoreError> {
        let mut by_slot: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
        for entry in entries {
            if let OutboxPlace::Redis { slot, id } = &entry.place {
                by_slot.entry(*slot).or_default().push(id);
            }
        }
        if by_slot.is_empty() {
            return Ok(());
        }
        let slots: Vec<usize> = by_slot.keys().copied().collect();
        // Two commands per slot, in slot order within each master's pipeline.
        let replies = self
            .per_slot(&slots, |slot| {
                let key = self.keys.slot(slot).decisions;
                let ids = &by_slot[&slot];
                let mut cmd = redis::cmd("XDEL");
                cmd.arg(&key).arg(ids);
                cmd
            })
            .await?;
        if let Some((slot, Err(error))) = replies.iter().find(|(_, r)| r.is_err()) {
            return Err(StoreError::Unavailable(format!(
                "outbox delete in slot {slot}: {error}"
            )));
        }
        let replies = self
            .per_slot(&slots, |slot| {
                let mut cmd = redis::cmd("XACK");
                cmd.arg(self.keys.slot(slot).decisions)
                    .arg(GROUP)
                    .arg(&by_slot[&slot]);
                cmd
            })
            .await?;
        if let Some((slot, Err(error))) = replies.iter().find(|(_, r)| r.is_err()) {
            // The entries are gone: the next XAUTOCLAIM drops their ids.
            tracing::warn!(slot, %error, "outbox acknowledgement failed after the delete");
        }
        Ok(())
    }

    /// Whether new decisions are refused for a full outbox.
    pub(super) fn outbox_full(&self) -> bool {
        self.outbox_state().is_some_and(|outbox| outbox.is_full())
    }

    pub(super) fn outbox_backlog(&self) -> u64 {
        self.outbox_state().map_or(0, |outbox| outbox.backlog())
    }

    /// The check and release scripts wrote a record in this buyer's slot.
    /// The buyer's slot holds a new record (its slot is worked out only when
    /// there is an outbox to tell).
    pub(super) fn wrote_record(&self, buyer_id: &crate::domain::ids::BuyerId) {
        if let Some(outbox) = self.outbox_state() {
            outbox.wrote(self.keys.buyer_slot(buyer_id));
        }
    }

    /// What the scripts get as the slot stream's cap (no allocation: every
    /// check sends it).
    pub(super) fn stream_cap(&self) -> &str {
        match self.outbox_state() {
            Some(outbox) => outbox.cap_arg(),
            None => &self.history_cap,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_taken_once_each_a_share_at_a_time_round_robin() {
        let bits = SlotBits::new();
        for slot in [0, 63, 64, 4_711, SLOTS - 1, 63] {
            bits.set(slot);
        }
        assert_eq!(bits.take(3), [0, 63, 64]);
        // The rest stays for the next take.
        assert_eq!(bits.take(10), [4_711, SLOTS - 1]);
        assert!(bits.take(10).is_empty());
        let outbox = RedisOutbox::new(10, DEFAULT_CLAIM_IDLE);
        assert_eq!(outbox.cap_arg(), "o10");
        outbox.full.store(true, Ordering::Relaxed);
        assert_eq!(
            outbox.cap_arg(),
            "o0",
            "a full outbox refuses every new record"
        );
    }
}

//! The transactional outbox: decision records written in the decision's atomic
//! step and kept until the archive has committed them (docs/archive.md).
//!
//! A store with an outbox refuses a new decision when its outbox is full
//! ([`super::StoreError::ArchiveBacklog`]): a decision is never made without a
//! record the archive will get. The shipper reads entries, writes them to
//! PostgreSQL and only then acknowledges them; an entry read but never
//! acknowledged (the shipper died) is read again, so the archive sees a record
//! at least once and keeps it once (its key is the decision id).

use crate::domain::decision_record::DecisionRecord;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Records an outbox keeps by default before decisions are refused
/// (`--outbox-max`), in all (on Redis: every slot's stream together).
pub const DEFAULT_OUTBOX_MAX: usize = 100_000;

/// Where an entry sits, for its acknowledgement.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum OutboxPlace {
    /// The embedded store's queue position.
    Memory(u64),
    /// A Redis stream entry: the hash slot of its stream, and its id.
    Redis { slot: usize, id: String },
}

#[derive(Clone, Debug)]
pub struct OutboxEntry {
    pub place: OutboxPlace,
    pub record: Arc<DecisionRecord>,
}

/// The embedded store's outbox: a bounded queue in the process. One shipper
/// reads it (the process's own), so reading does not remove: the shipper
/// reads the head again until it has acknowledged it.
pub struct MemoryOutbox {
    max: usize,
    /// Contiguous sequence numbers: entry `seq` is at `seq - front's seq`.
    queue: VecDeque<(u64, Arc<DecisionRecord>)>,
    next: u64,
    /// Decision id → sequence: GetDecision finds an unshipped record without
    /// a walk of the queue under the lock every check takes.
    by_id: HashMap<String, u64>,
}

impl MemoryOutbox {
    pub fn new(max: usize) -> MemoryOutbox {
        MemoryOutbox {
            max: max.max(1),
            queue: VecDeque::new(),
            next: 0,
            by_id: HashMap::new(),
        }
    }

    pub fn is_full(&self) -> bool {
        self.queue.len() >= self.max
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Called after [`MemoryOutbox::is_full`] said no under the buyer's lock:
    /// checks of other buyers deciding at the same instant may each pass it, so
    /// the bound is passed by at most their number (documented).
    pub fn push(&mut self, record: Arc<DecisionRecord>) {
        self.by_id
            .insert(record.inputs.decision_id.clone(), self.next);
        self.queue.push_back((self.next, record));
        self.next += 1;
    }

    pub fn head(&self, max: usize) -> Vec<OutboxEntry> {
        self.queue
            .iter()
            .take(max)
            .map(|(seq, record)| OutboxEntry {
                place: OutboxPlace::Memory(*seq),
                record: record.clone(),
            })
            .collect()
    }

    /// Removes the acknowledged entries (they are at the head: the queue is in
    /// sequence order and the shipper acknowledges what it read from the head).
    pub fn ack(&mut self, entries: &[OutboxEntry]) -> Vec<Arc<DecisionRecord>> {
        let Some(last) = entries
            .iter()
            .filter_map(|entry| match entry.place {
                OutboxPlace::Memory(seq) => Some(seq),
                OutboxPlace::Redis { .. } => None,
            })
            .max()
        else {
            return Vec::new();
        };
        let mut removed = Vec::new();
        while self.queue.front().is_some_and(|(seq, _)| *seq <= last) {
            if let Some((_, record)) = self.queue.pop_front() {
                self.by_id.remove(&record.inputs.decision_id);
                removed.push(record);
            }
        }
        removed
    }

    /// A record still waiting to be shipped.
    pub fn get(&self, decision_id: &str) -> Option<&Arc<DecisionRecord>> {
        let seq = *self.by_id.get(decision_id)?;
        let (front, _) = self.queue.front()?;
        let (_, record) = self
            .queue
            .get(usize::try_from(seq.checked_sub(*front)?).ok()?)?;
        Some(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::decision_record::example_record as sample_record;

    fn record(id: &str) -> Arc<DecisionRecord> {
        Arc::new(sample_record(id))
    }

    #[test]
    fn the_head_is_read_again_until_acknowledged_and_the_bound_holds() {
        let mut outbox = MemoryOutbox::new(3);
        for id in ["a", "b", "c"] {
            assert!(!outbox.is_full());
            outbox.push(record(id));
        }
        assert!(outbox.is_full());
        let first = outbox.head(2);
        assert_eq!(outbox.head(2).len(), 2, "reading removes nothing");
        assert_eq!(outbox.get("b").unwrap().inputs.decision_id, "b");
        let removed = outbox.ack(&first);
        assert_eq!(removed.len(), 2);
        assert!(!outbox.is_full());
        assert!(
            outbox.get("b").is_none(),
            "shipped: no longer in the outbox"
        );
        assert_eq!(outbox.get("c").unwrap().inputs.decision_id, "c");
        assert_eq!(outbox.head(5)[0].record.inputs.decision_id, "c");
        // Acknowledging again (a retried batch) removes nothing more.
        assert!(outbox.ack(&first).is_empty());
        assert_eq!(outbox.len(), 1);
    }
}

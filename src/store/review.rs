//! The embedded store's decision history and held-order list: bounded, and kept
//! under one lock taken after a buyer's own (never the other way round), so a
//! decision, its record and its place in the list change in one critical section.
//! Every operation under that lock costs O(log n) or O(one buyer's waiting
//! orders), never a walk of the whole list: every check takes it.

use super::outbox::{MemoryOutbox, OutboxEntry};
use super::tables::{Fifo, Table};
use super::{HeldCursor, HeldOrder};
use crate::domain::decision_record::DecisionRecord;
use crate::domain::ids::{BuyerId, OrderId};
use std::sync::Arc;

/// Decisions the embedded store keeps by default (docs/operations.md,
/// "Decision history").
pub const DEFAULT_DECISION_HISTORY: usize = 100_000;

pub struct Review {
    capacity: usize,
    history: Fifo<Arc<DecisionRecord>>,
    by_id: Table<String, Arc<DecisionRecord>>,
    /// Ascending; listed from the end (newest first).
    held: Table<HeldCursor, HeldOrder>,
    /// Each buyer's waiting orders: a buyer's list and a check's lookup touch
    /// only that buyer's entries, and without building a key.
    by_buyer: Table<BuyerId, Table<OrderId, HeldCursor>>,
    /// A waiting order's latest decision stays readable by its id while the
    /// order is listed, even once the history has moved past it.
    held_ids: Table<String, HeldCursor>,
    /// With an archive: the records it has not committed yet.
    outbox: Option<MemoryOutbox>,
}

impl Review {
    pub fn new(capacity: usize, outbox_max: Option<usize>) -> Review {
        Review {
            outbox: outbox_max.map(MemoryOutbox::new),
            capacity: capacity.max(1),
            history: Fifo::default(),
            by_id: Table::new(),
            held: Table::new(),
            by_buyer: Table::new(),
            held_ids: Table::new(),
        }
    }

    /// Keeps a record, forgetting the oldest beyond the capacity. Returns what
    /// was forgotten, for the caller to drop once the lock is released.
    pub fn keep(&mut self, record: Arc<DecisionRecord>) -> Option<Arc<DecisionRecord>> {
        if let Some(outbox) = &mut self.outbox {
            outbox.push(record.clone());
        }
        self.by_id
            .insert(record.inputs.decision_id.clone(), record.clone());
        self.history.push_back(record);
        if self.history.len() <= self.capacity {
            return None;
        }
        let old = self.history.pop_front()?;
        self.by_id.remove(&old.inputs.decision_id);
        Some(old)
    }

    /// Up to `limit` records of the history decided in `from_ms..to_ms`,
    /// newest first. A walk of the history under the lock every check takes,
    /// cloning only pointers (a few milliseconds at the default capacity): an
    /// analyst's what-if is rare, and the history is bounded.
    pub fn recent(
        &self,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        limit: usize,
    ) -> Vec<Arc<DecisionRecord>> {
        let within =
            |at: i64| from_ms.is_none_or(|from| at >= from) && to_ms.is_none_or(|to| at < to);
        self.history
            .iter()
            .rev()
            .filter(|record| within(record.decided_at_ms))
            .take(limit)
            .cloned()
            .collect()
    }

    pub fn get(&self, decision_id: &str) -> Option<&Arc<DecisionRecord>> {
        self.by_id.get(decision_id).or_else(|| {
            let cursor = self.held_ids.get(decision_id);
            cursor
                .and_then(|cursor| self.held.get(cursor).map(|held| &held.record))
                .or_else(|| self.outbox.as_ref()?.get(decision_id))
        })
    }

    /// Whether a new decision must be refused: its record would not fit.
    pub fn outbox_full(&self) -> bool {
        self.outbox.as_ref().is_some_and(MemoryOutbox::is_full)
    }

    pub fn outbox_head(&self, max: usize) -> Vec<OutboxEntry> {
        self.outbox
            .as_ref()
            .map_or_else(Vec::new, |outbox| outbox.head(max))
    }

    /// Returns what left the outbox, for the caller to drop once the lock is
    /// released.
    pub fn outbox_ack(&mut self, entries: &[OutboxEntry]) -> Vec<Arc<DecisionRecord>> {
        self.outbox
            .as_mut()
            .map_or_else(Vec::new, |outbox| outbox.ack(entries))
    }

    pub fn outbox_len(&self) -> usize {
        self.outbox.as_ref().map_or(0, MemoryOutbox::len)
    }

    /// The order waits, with this as its latest decision. The list is bounded
    /// like the history: beyond it, the order whose latest decision is oldest
    /// leaves, with a warning (it is work the credit team no longer sees).
    pub fn hold(&mut self, record: Arc<DecisionRecord>) {
        let buyer_id = &record.inputs.buyer.profile.id;
        let order_id = &record.inputs.order_id;
        let first_at_ms = match self.take(buyer_id, order_id) {
            Some(earlier) => earlier.first_at_ms,
            None => record.decided_at_ms,
        };
        let held = HeldOrder {
            first_at_ms,
            record,
        };
        let cursor = held.cursor();
        self.by_buyer
            .entry(cursor.buyer_id.clone())
            .or_default()
            .insert(cursor.order_id.clone(), cursor.clone());
        self.held_ids
            .insert(held.record.inputs.decision_id.clone(), cursor.clone());
        self.held.insert(cursor, held);
        while self.held.len() > self.capacity {
            let Some(oldest) = self.held.keys().next().cloned() else {
                break;
            };
            if let Some(dropped) = self.take(&oldest.buyer_id, &oldest.order_id) {
                tracing::warn!(buyer_id = %oldest.buyer_id, order_id = %oldest.order_id, decision_id = %dropped.record.inputs.decision_id, "the list of waiting orders is full (--decision-history): the order waiting longest since its last check leaves it");
            }
        }
    }

    /// The order left the list (approved, released, cancelled, invoiced).
    pub fn unhold(&mut self, buyer_id: &BuyerId, order_id: &OrderId) {
        self.take(buyer_id, order_id);
    }

    fn take(&mut self, buyer_id: &BuyerId, order_id: &OrderId) -> Option<HeldOrder> {
        let orders = self.by_buyer.get_mut(buyer_id)?;
        let cursor = orders.remove(order_id)?;
        if orders.is_empty() {
            self.by_buyer.remove(buyer_id);
        }
        let held = self.held.remove(&cursor)?;
        self.held_ids.remove(&held.record.inputs.decision_id);
        Some(held)
    }

    pub fn held(&self, buyer_id: &BuyerId, order_id: &OrderId) -> Option<&HeldOrder> {
        let cursor = self.by_buyer.get(buyer_id)?.get(order_id)?;
        self.held.get(cursor)
    }

    pub fn list(
        &self,
        buyer_id: Option<&BuyerId>,
        after: Option<&HeldCursor>,
        limit: usize,
    ) -> Vec<HeldOrder> {
        let before = |cursor: &HeldCursor| after.is_none_or(|after| cursor < after);
        let Some(buyer_id) = buyer_id else {
            let page = match after {
                Some(cursor) => self.held.range(..cursor.clone()),
                None => self.held.range(..),
            };
            return page
                .rev()
                .take(limit)
                .map(|(_, held)| held.clone())
                .collect();
        };
        let Some(orders) = self.by_buyer.get(buyer_id) else {
            return Vec::new();
        };
        let mut cursors: Vec<&HeldCursor> = orders.values().filter(|c| before(c)).collect();
        cursors.sort_unstable_by(|a, b| b.cmp(a));
        cursors
            .into_iter()
            .take(limit)
            .filter_map(|cursor| self.held.get(cursor).cloned())
            .collect()
    }
}

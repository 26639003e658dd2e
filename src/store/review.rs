//! The embedded store's decision history and held-order list: bounded, and kept
//! under one lock taken after a buyer's own (never the other way round), so a
//! decision, its record and its place in the list change in one critical section.

use super::tables::{Fifo, Table};
use super::{HeldCursor, HeldOrder};
use crate::domain::decision_record::DecisionRecord;
use crate::domain::ids::{BuyerId, OrderId};
use std::sync::Arc;

/// Decisions the embedded store keeps by default (docs/operations.md,
/// "Decision history"): about 100 MB at the measured size of a record.
pub const DEFAULT_DECISION_HISTORY: usize = 100_000;

pub struct Review {
    capacity: usize,
    history: Fifo<Arc<DecisionRecord>>,
    by_id: Table<String, Arc<DecisionRecord>>,
    /// Ascending; listed from the end (newest first).
    held: Table<HeldCursor, HeldOrder>,
    held_at: Table<(BuyerId, OrderId), HeldCursor>,
}

impl Review {
    pub fn new(capacity: usize) -> Review {
        Review {
            capacity: capacity.max(1),
            history: Fifo::default(),
            by_id: Table::new(),
            held: Table::new(),
            held_at: Table::new(),
        }
    }

    /// Keeps a record, forgetting the oldest beyond the capacity.
    pub fn keep(&mut self, record: Arc<DecisionRecord>) {
        self.by_id
            .insert(record.inputs.decision_id.clone(), record.clone());
        self.history.push_back(record);
        while self.history.len() > self.capacity {
            if let Some(old) = self.history.pop_front() {
                self.by_id.remove(&old.inputs.decision_id);
            }
        }
    }

    pub fn get(&self, decision_id: &str) -> Option<&Arc<DecisionRecord>> {
        self.by_id.get(decision_id)
    }

    /// The order waits, with this as its latest decision. The list is bounded
    /// like the history: beyond it, the order that waited longest unseen leaves.
    pub fn hold(&mut self, record: Arc<DecisionRecord>) {
        let key = (
            record.inputs.buyer.profile.id.clone(),
            record.inputs.order_id.clone(),
        );
        let first_at_ms = match self.held_at.remove(&key) {
            Some(cursor) => self
                .held
                .remove(&cursor)
                .map_or(record.decided_at_ms, |held| held.first_at_ms),
            None => record.decided_at_ms,
        };
        let held = HeldOrder {
            first_at_ms,
            record,
        };
        let cursor = held.cursor();
        self.held_at.insert(key, cursor.clone());
        self.held.insert(cursor, held);
        while self.held.len() > self.capacity {
            if let Some((_, dropped)) = self.held.pop_first() {
                let cursor = dropped.cursor();
                self.held_at.remove(&(cursor.buyer_id, cursor.order_id));
            }
        }
    }

    /// The order left the list (approved, released, cancelled, invoiced).
    pub fn unhold(&mut self, buyer_id: &BuyerId, order_id: &OrderId) {
        if let Some(cursor) = self.held_at.remove(&(buyer_id.clone(), order_id.clone())) {
            self.held.remove(&cursor);
        }
    }

    pub fn held(&self, buyer_id: &BuyerId, order_id: &OrderId) -> Option<&HeldOrder> {
        let cursor = self.held_at.get(&(buyer_id.clone(), order_id.clone()))?;
        self.held.get(cursor)
    }

    pub fn list(
        &self,
        buyer_id: Option<&BuyerId>,
        after: Option<&HeldCursor>,
        limit: usize,
    ) -> Vec<HeldOrder> {
        let before = match after {
            Some(cursor) => self.held.range(..cursor.clone()),
            None => self.held.range(..),
        };
        before
            .rev()
            .map(|(_, held)| held)
            .filter(|held| buyer_id.is_none_or(|id| &held.record.inputs.buyer.profile.id == id))
            .take(limit)
            .cloned()
            .collect()
    }
}

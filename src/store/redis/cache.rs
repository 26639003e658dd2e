//! A bounded, short-lived copy of buyer profiles in the replica. A decision never
//! trusts it blindly: the check script compares the buyer version, so a stale
//! copy costs one retry, not a wrong answer.

use crate::domain::ids::BuyerId;
use crate::store::StoredBuyer;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Most profiles kept; past it the cache starts over rather than grow.
const MAX_ENTRIES: usize = 100_000;

pub struct ProfileCache {
    ttl: Duration,
    entries: RwLock<HashMap<BuyerId, (StoredBuyer, Instant)>>,
}

impl ProfileCache {
    pub fn new(ttl: Duration) -> ProfileCache {
        ProfileCache {
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    pub fn get(&self, buyer_id: &BuyerId) -> Option<StoredBuyer> {
        let entries = self.entries.read();
        let (stored, at) = entries.get(buyer_id)?;
        (at.elapsed() < self.ttl).then(|| stored.clone())
    }

    pub fn put(&self, buyer_id: &BuyerId, stored: StoredBuyer) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.write();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(buyer_id.clone(), (stored, Instant::now()));
    }

    pub fn forget(&self, buyer_id: &BuyerId) {
        self.entries.write().remove(buyer_id);
    }
}

//! Time as the service sees it: Unix seconds, and "today" as a UTC date.

use crate::domain::date::Date;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync + 'static {
    fn now_secs(&self) -> i64;

    /// Milliseconds, for ordering decisions made within one second.
    fn now_millis(&self) -> i64 {
        self.now_secs().saturating_mul(1000)
    }

    fn today(&self) -> Date {
        Date::from_unix_secs(self.now_secs())
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_secs(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }

    fn now_millis(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
}

/// A clock that moves only when told to: lets tests cross reservation expiry and
/// due dates without waiting.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn starting_at(secs: i64) -> ManualClock {
        ManualClock(AtomicI64::new(secs))
    }

    pub fn advance_secs(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_secs(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

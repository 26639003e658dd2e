//! Translating this replica's give-up time into Redis's clock.
//!
//! Scripts read Redis's `TIME`, so a deadline handed to a script must be on that
//! clock. The offset (Redis minus local wall clock) is estimated from `TIME`
//! round trips — the health probe makes one every interval — and known only to
//! within half the round trip. A script deadline is moved earlier by that
//! uncertainty and by [`SAFETY_MARGIN`], the time left for the reply of a script
//! that started just in time to reach the caller before it gives up.

use parking_lot::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Time reserved for a script's reply to travel back (docs/redis.md).
pub const SAFETY_MARGIN: Duration = Duration::from_millis(20);

/// Masters' clocks further apart than this are logged: every script deadline
/// follows the slowest, so the others' calls give up that much early.
pub const MAX_MASTER_SPREAD: Duration = Duration::from_millis(50);

/// An estimate older than this is refreshed before a write relies on it.
pub const MAX_ESTIMATE_AGE: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Estimate {
    /// Redis clock minus local wall clock, in ms.
    pub offset_ms: i64,
    /// How far the true offset may lie from `offset_ms`, in ms.
    pub uncertainty_ms: i64,
    taken: Instant,
}

#[derive(Default)]
pub struct RedisClock {
    estimate: Mutex<Option<Estimate>>,
}

pub fn wall_ms(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Estimate {
    /// One `TIME` round trip: sent and received on the local wall clock, and the
    /// Redis time it answered (each in ms). On a cluster, one per master.
    pub fn from_round_trip(sent_ms: i64, received_ms: i64, redis_ms: i64) -> Estimate {
        let rtt = (received_ms - sent_ms).max(0);
        Estimate {
            offset_ms: redis_ms - (sent_ms + rtt / 2),
            // +1: both clocks are read at millisecond resolution.
            uncertainty_ms: rtt / 2 + 1,
            taken: Instant::now(),
        }
    }

    /// The estimate that is safe for every one of several clocks (cluster
    /// masters): the earliest deadline any of them could need.
    pub fn most_conservative(estimates: &[Estimate]) -> Option<Estimate> {
        estimates
            .iter()
            .copied()
            .min_by_key(|e| e.offset_ms - e.uncertainty_ms)
    }

    /// How far apart the clocks are (largest minus smallest offset), in ms.
    pub fn spread_ms(estimates: &[Estimate]) -> i64 {
        let offsets = estimates.iter().map(|e| e.offset_ms);
        match (offsets.clone().max(), offsets.min()) {
            (Some(max), Some(min)) => max - min,
            _ => 0,
        }
    }
}

impl RedisClock {
    pub fn observe(&self, estimate: Estimate) {
        *self.estimate.lock() = Some(estimate);
    }

    /// The current estimate, unless it is missing or too old to trust.
    pub fn fresh(&self) -> Option<Estimate> {
        let estimate = (*self.estimate.lock())?;
        (estimate.taken.elapsed() <= MAX_ESTIMATE_AGE).then_some(estimate)
    }

    /// The give-up moment `give_up` as a deadline on Redis's clock (ms), moved
    /// earlier by the offset's uncertainty and the safety margin.
    pub fn script_deadline_ms(estimate: Estimate, give_up: Instant) -> i64 {
        let left = give_up.saturating_duration_since(Instant::now());
        let local_ms = wall_ms(SystemTime::now() + left);
        local_ms + estimate.offset_ms - estimate.uncertainty_ms - SAFETY_MARGIN.as_millis() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_is_taken_at_the_round_trips_midpoint() {
        let estimate = Estimate::from_round_trip(1_000, 1_010, 6_005);
        assert_eq!(estimate.offset_ms, 5_000);
        assert_eq!(estimate.uncertainty_ms, 6);
    }

    #[test]
    fn deadline_moves_earlier_by_uncertainty_and_margin() {
        let estimate = Estimate::from_round_trip(0, 40, 10_020);
        let give_up = Instant::now() + Duration::from_millis(200);
        let expected = wall_ms(SystemTime::now()) + 200 + 10_000 - 21 - 20;
        let deadline = RedisClock::script_deadline_ms(estimate, give_up);
        assert!((deadline - expected).abs() <= 2, "{deadline} vs {expected}");
    }

    #[test]
    fn the_cluster_uses_the_slowest_clock() {
        let fast = Estimate::from_round_trip(0, 2, 5_001);
        let slow = Estimate::from_round_trip(0, 2, 1);
        assert_eq!(Estimate::most_conservative(&[fast, slow]), Some(slow));
        assert_eq!(Estimate::spread_ms(&[fast, slow]), 5_000);
        assert_eq!(Estimate::spread_ms(&[]), 0);
    }
}

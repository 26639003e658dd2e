//! Counters and every measured latency, per worker, merged at the end.

use crate::client::Outcome;
use creditgate::grpc::pb::Decision;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Decisions {
    pub approved: u64,
    pub held: u64,
    pub referred: u64,
    /// DECISION_UNSPECIFIED or a value this build does not know.
    pub other: u64,
}

#[derive(Debug, Default)]
pub struct Stats {
    pub ok: u64,
    /// Failed calls by gRPC status code name (or LOADGEN_* reason).
    pub errors: BTreeMap<&'static str, u64>,
    pub decisions: Decisions,
    /// Latency of every successful measured call, in microseconds.
    latencies_us: Vec<u32>,
}

/// Nearest-rank latency percentiles, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percentiles {
    pub p50: u32,
    pub p90: u32,
    pub p99: u32,
    pub p999: u32,
    pub max: u32,
}

impl Stats {
    pub fn record(&mut self, outcome: Outcome, latency: Duration) {
        match outcome {
            Outcome::Ok(decision) => {
                self.ok += 1;
                let micros = u32::try_from(latency.as_micros()).unwrap_or(u32::MAX);
                self.latencies_us.push(micros);
                match decision {
                    None => {}
                    Some(Decision::Approved) => self.decisions.approved += 1,
                    Some(Decision::Held) => self.decisions.held += 1,
                    Some(Decision::Referred) => self.decisions.referred += 1,
                    Some(Decision::Unspecified) => self.decisions.other += 1,
                }
            }
            Outcome::Failed(code) => self.record_error(code),
        }
    }

    pub fn record_error(&mut self, code: &'static str) {
        *self.errors.entry(code).or_default() += 1;
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn merge(&mut self, other: Stats) {
        self.ok += other.ok;
        for (code, count) in other.errors {
            *self.errors.entry(code).or_default() += count;
        }
        self.decisions.approved += other.decisions.approved;
        self.decisions.held += other.decisions.held;
        self.decisions.referred += other.decisions.referred;
        self.decisions.other += other.decisions.other;
        if self.latencies_us.is_empty() {
            self.latencies_us = other.latencies_us;
        } else {
            self.latencies_us.extend_from_slice(&other.latencies_us);
        }
    }

    /// None without a single successful call.
    pub fn percentiles(&mut self) -> Option<Percentiles> {
        let sorted = &mut self.latencies_us;
        sorted.sort_unstable();
        let max = *sorted.last()?;
        // Nearest rank: the smallest value with at least per_mille/1000 of the
        // samples at or below it.
        let at = |per_mille: usize| {
            let rank = (sorted.len() * per_mille).div_ceil(1000).max(1);
            sorted[rank - 1]
        };
        Some(Percentiles {
            p50: at(500),
            p90: at(900),
            p99: at(990),
            p999: at(999),
            max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut stats = Stats::default();
        assert_eq!(stats.percentiles(), None);
        for micros in (1..=1000).rev() {
            stats.record(Outcome::Ok(None), Duration::from_micros(micros));
        }
        let p = stats.percentiles().unwrap();
        assert_eq!(
            (p.p50, p.p90, p.p99, p.p999, p.max),
            (500, 900, 990, 999, 1000)
        );

        let mut one = Stats::default();
        one.record(Outcome::Ok(Some(Decision::Held)), Duration::from_micros(7));
        let p = one.percentiles().unwrap();
        assert_eq!((p.p50, p.p999, p.max), (7, 7, 7));
        assert_eq!(one.decisions.held, 1);
    }

    #[test]
    fn merge_adds_everything() {
        let mut a = Stats::default();
        a.record(
            Outcome::Ok(Some(Decision::Approved)),
            Duration::from_micros(10),
        );
        a.record(Outcome::Failed("UNAVAILABLE"), Duration::ZERO);
        let mut b = Stats::default();
        b.record(
            Outcome::Ok(Some(Decision::Referred)),
            Duration::from_micros(20),
        );
        b.record(Outcome::Failed("UNAVAILABLE"), Duration::ZERO);
        b.record_error("LOADGEN_OVERLOAD");
        a.merge(b);
        assert_eq!(a.ok, 2);
        assert_eq!(a.error_count(), 3);
        assert_eq!(a.errors["UNAVAILABLE"], 2);
        assert_eq!(a.decisions.approved + a.decisions.referred, 2);
        assert_eq!(a.percentiles().unwrap().max, 20);
    }
}

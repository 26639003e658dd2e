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

/// One successful measured call: when it was sent (or due, open loop) relative to
/// the start of the measured window, and how long it took.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at_ms: u32,
    latency_us: u32,
}

#[derive(Debug, Default)]
pub struct Stats {
    pub ok: u64,
    /// Failed calls by gRPC status code name (or LOADGEN_* reason).
    pub errors: BTreeMap<&'static str, u64>,
    pub decisions: Decisions,
    samples: Vec<Sample>,
    /// Open loop: how late each measured call began against its due time.
    lags_us: Vec<u32>,
}

/// Nearest-rank percentiles, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percentiles {
    pub p50: u32,
    pub p90: u32,
    pub p99: u32,
    pub p999: u32,
    pub max: u32,
}

impl Percentiles {
    /// None for no values; sorts `values`.
    pub fn of(values: &mut [u32]) -> Option<Percentiles> {
        values.sort_unstable();
        let max = *values.last()?;
        // Nearest rank: the smallest value with at least per_mille/1000 of the
        // values at or below it.
        let at = |per_mille: usize| {
            let rank = (values.len() * per_mille).div_ceil(1000).max(1);
            values[rank - 1]
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

/// Successful calls sent in one slice of the measured window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    pub from_s: u32,
    pub ok: u64,
    pub latency: Percentiles,
}

fn micros(duration: Duration) -> u32 {
    u32::try_from(duration.as_micros()).unwrap_or(u32::MAX)
}

impl Stats {
    /// `at`: when the call was sent (or due), from the start of the measured window.
    pub fn record(&mut self, outcome: Outcome, at: Duration, latency: Duration) {
        match outcome {
            Outcome::Ok(decision) => {
                self.ok += 1;
                self.samples.push(Sample {
                    at_ms: u32::try_from(at.as_millis()).unwrap_or(u32::MAX),
                    latency_us: micros(latency),
                });
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

    /// Open loop: how late a measured call began, whatever its outcome.
    pub fn record_lag(&mut self, lag: Duration) {
        self.lags_us.push(micros(lag));
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
        self.samples.extend_from_slice(&other.samples);
        self.lags_us.extend_from_slice(&other.lags_us);
    }

    /// Latency of the successful calls; None without a single one.
    pub fn percentiles(&self) -> Option<Percentiles> {
        let mut values: Vec<u32> = self.samples.iter().map(|s| s.latency_us).collect();
        Percentiles::of(&mut values)
    }

    /// The generator's own lateness; None in closed loop.
    pub fn lag_percentiles(&self) -> Option<Percentiles> {
        Percentiles::of(&mut self.lags_us.clone())
    }

    /// The measured window cut into `seconds`-long slices by send time: a run that
    /// slows down as it goes shows it here, where one overall figure hides it.
    pub fn slices(&self, seconds: u32) -> Vec<Slice> {
        let width_ms = seconds.max(1).saturating_mul(1000);
        let mut by_slice: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for sample in &self.samples {
            by_slice
                .entry(sample.at_ms / width_ms)
                .or_default()
                .push(sample.latency_us);
        }
        by_slice
            .into_iter()
            .filter_map(|(index, mut values)| {
                Some(Slice {
                    from_s: index * seconds.max(1),
                    ok: values.len() as u64,
                    latency: Percentiles::of(&mut values)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: Duration = Duration::ZERO;

    #[test]
    fn nearest_rank_percentiles() {
        let mut stats = Stats::default();
        assert_eq!(stats.percentiles(), None);
        for micros in (1..=1000).rev() {
            stats.record(Outcome::Ok(None), AT, Duration::from_micros(micros));
        }
        let p = stats.percentiles().unwrap();
        assert_eq!(
            (p.p50, p.p90, p.p99, p.p999, p.max),
            (500, 900, 990, 999, 1000)
        );

        let mut one = Stats::default();
        one.record(
            Outcome::Ok(Some(Decision::Held)),
            AT,
            Duration::from_micros(7),
        );
        let p = one.percentiles().unwrap();
        assert_eq!((p.p50, p.p999, p.max), (7, 7, 7));
        assert_eq!(one.decisions.held, 1);
    }

    #[test]
    fn merge_adds_everything() {
        let mut a = Stats::default();
        a.record(
            Outcome::Ok(Some(Decision::Approved)),
            AT,
            Duration::from_micros(10),
        );
        a.record(Outcome::Failed("UNAVAILABLE"), AT, Duration::ZERO);
        a.record_lag(Duration::from_micros(3));
        let mut b = Stats::default();
        b.record(
            Outcome::Ok(Some(Decision::Referred)),
            AT,
            Duration::from_micros(20),
        );
        b.record(Outcome::Failed("UNAVAILABLE"), AT, Duration::ZERO);
        b.record_error("LOADGEN_OVERLOAD");
        b.record_lag(Duration::from_micros(9));
        a.merge(b);
        assert_eq!(a.ok, 2);
        assert_eq!(a.error_count(), 3);
        assert_eq!(a.errors["UNAVAILABLE"], 2);
        assert_eq!(a.decisions.approved + a.decisions.referred, 2);
        assert_eq!(a.percentiles().unwrap().max, 20);
        assert_eq!(a.lag_percentiles().unwrap().max, 9);
    }

    #[test]
    fn slices_follow_send_time() {
        let mut stats = Stats::default();
        // 0–9.999 s fast, 10–19.999 s slow: the slices tell them apart.
        for ms in (0..20_000).step_by(10) {
            let latency = if ms < 10_000 { 100 } else { 5_000 };
            stats.record(
                Outcome::Ok(None),
                Duration::from_millis(ms),
                Duration::from_micros(latency),
            );
        }
        let slices = stats.slices(10);
        assert_eq!(slices.len(), 2);
        assert_eq!((slices[0].from_s, slices[0].ok), (0, 1000));
        assert_eq!(slices[0].latency.p99, 100);
        assert_eq!((slices[1].from_s, slices[1].latency.p99), (10, 5_000));
        assert_eq!(stats.lag_percentiles(), None);
    }
}

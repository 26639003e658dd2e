//! The human-readable summary and the one-line JSON result.

use crate::cli::{Rpc, Settings};
use crate::stats::{Percentiles, Slice, Stats};
use serde_json::json;
use std::fmt::Write;

/// Everything a report shows, computed once.
pub struct Report<'a> {
    pub settings: &'a Settings,
    pub stats: &'a Stats,
    pub percentiles: Option<Percentiles>,
    /// Successful calls per measured second.
    pub rps: f64,
    /// Open loop: how late the generator began its calls.
    pub lag: Option<Percentiles>,
    /// The measured window in slices of `--slice-seconds`, by send time.
    pub slices: Vec<Slice>,
    /// CPU time the hypervisor took from this machine during the measured window.
    pub stolen_ms: Option<u64>,
}

impl<'a> Report<'a> {
    pub fn new(settings: &'a Settings, stats: &'a Stats, stolen_ms: Option<u64>) -> Self {
        let percentiles = stats.percentiles();
        let lag = stats.lag_percentiles();
        let rps = stats.ok as f64 / settings.duration.as_secs_f64();
        Report {
            settings,
            stats,
            percentiles,
            rps,
            lag,
            slices: stats.slices(settings.slice_seconds),
            stolen_ms,
        }
    }

    /// Calls per second in a slice; the last one may be shorter than the others.
    fn slice_rps(&self, slice: &Slice) -> f64 {
        let s = self.settings;
        let width = u64::from(s.slice_seconds)
            .min(s.duration.as_secs().saturating_sub(u64::from(slice.from_s)));
        slice.ok as f64 / width.max(1) as f64
    }

    /// Open loop: a run whose generator was late by more than a tenth of the p99 it
    /// measured did not offer the load it claims; its figures are not a result.
    pub fn void(&self) -> bool {
        match (self.lag, self.percentiles) {
            (Some(lag), Some(latency)) => u64::from(lag.p99) * 10 > u64::from(latency.p99),
            _ => false,
        }
    }

    fn shape(&self) -> String {
        let s = self.settings;
        match s.rate {
            Some(rate) => format!(
                "open loop, {rate} req/s scheduled over {} connections",
                s.connections
            ),
            None => format!(
                "closed loop, {} connections x {} streams",
                s.connections, s.streams
            ),
        }
    }

    pub fn human(&self) -> String {
        let s = self.settings;
        let mut out = String::new();
        let orders = match (s.rpc, s.distinct_orders) {
            (Rpc::Check, true) => ", distinct orders",
            (Rpc::Check, false) => ", fixed order (replays)",
            (Rpc::Score, _) => "",
        };
        let _ = writeln!(
            out,
            "creditgate-loadgen {} -> {}: {}, {} buyers{orders}",
            s.rpc.name(),
            s.target,
            self.shape(),
            s.buyers
        );
        let _ = writeln!(
            out,
            "  window    {} s measured after {} s warmup",
            s.duration.as_secs(),
            s.warmup.as_secs()
        );
        let _ = writeln!(
            out,
            "  ok        {}  ({:.1} req/s)",
            self.stats.ok, self.rps
        );
        let _ = write!(out, "  errors    {}", self.stats.error_count());
        for (code, count) in &self.stats.errors {
            let _ = write!(out, "  {code} {count}");
        }
        out.push('\n');
        if s.rpc == Rpc::Check {
            let d = self.stats.decisions;
            let _ = write!(
                out,
                "  decisions APPROVED {}  HELD {}  REFERRED {}",
                d.approved, d.held, d.referred
            );
            if d.other > 0 {
                let _ = write!(out, "  UNSPECIFIED {}", d.other);
            }
            out.push('\n');
        }
        match self.percentiles {
            Some(p) => {
                let _ = writeln!(
                    out,
                    "  latency   p50 {} us  p90 {} us  p99 {} us  p99.9 {} us  max {} us  (successful calls{})",
                    p.p50,
                    p.p90,
                    p.p99,
                    p.p999,
                    p.max,
                    if s.rate.is_some() {
                        ", from scheduled send time"
                    } else {
                        ""
                    }
                );
            }
            None => out.push_str("  latency   no successful call\n"),
        }
        if let Some(lag) = self.lag {
            let _ = writeln!(
                out,
                "  gen. lag  p50 {} us  p99 {} us  max {} us behind schedule (the load generator's own lateness, included above)",
                lag.p50, lag.p99, lag.max
            );
            if self.void() {
                let _ = writeln!(
                    out,
                    "  VOID      the generator's lag p99 is more than a tenth of the measured p99: this run did not hold its rate; lower --rate"
                );
            }
        }
        if let Some(stolen) = self.stolen_ms {
            let _ = writeln!(
                out,
                "  steal     {stolen} ms of CPU taken by the hypervisor during the window (all cores)"
            );
        }
        if self.slices.len() > 1 {
            for slice in &self.slices {
                let _ = writeln!(
                    out,
                    "  from {:>4} s  ok {:>8}  ({:.1} req/s)  p50 {} us  p99 {} us  max {} us",
                    slice.from_s,
                    slice.ok,
                    self.slice_rps(slice),
                    slice.latency.p50,
                    slice.latency.p99,
                    slice.latency.max
                );
            }
        }
        out
    }

    /// One JSON object on one line.
    pub fn json(&self) -> String {
        let s = self.settings;
        let pick = |p: Option<Percentiles>, f: fn(&Percentiles) -> u32| p.as_ref().map(f);
        let mut decisions = serde_json::Map::new();
        if s.rpc == Rpc::Check {
            let d = self.stats.decisions;
            decisions.insert("APPROVED".into(), d.approved.into());
            decisions.insert("HELD".into(), d.held.into());
            decisions.insert("REFERRED".into(), d.referred.into());
            if d.other > 0 {
                decisions.insert("UNSPECIFIED".into(), d.other.into());
            }
        }
        let slices: Vec<_> = self
            .slices
            .iter()
            .map(|slice| {
                json!({
                    "from_s": slice.from_s,
                    "ok": slice.ok,
                    "rps": (self.slice_rps(slice) * 10.0).round() / 10.0,
                    "p50_us": slice.latency.p50,
                    "p99_us": slice.latency.p99,
                    "max_us": slice.latency.max,
                })
            })
            .collect();
        json!({
            "rpc": s.rpc.name(),
            "mode": s.mode(),
            "connections": s.connections,
            "streams": s.streams,
            "rate": s.rate,
            "duration_s": s.duration.as_secs(),
            "warmup_s": s.warmup.as_secs(),
            "buyers": s.buyers,
            "distinct_orders": s.distinct_orders,
            "ok": self.stats.ok,
            "errors": self.stats.error_count(),
            "rps": (self.rps * 10.0).round() / 10.0,
            "p50_us": pick(self.percentiles, |p| p.p50),
            "p90_us": pick(self.percentiles, |p| p.p90),
            "p99_us": pick(self.percentiles, |p| p.p99),
            "p999_us": pick(self.percentiles, |p| p.p999),
            "max_us": pick(self.percentiles, |p| p.max),
            "decisions": decisions,
            "error_codes": self.stats.errors,
            "lag_p50_us": pick(self.lag, |p| p.p50),
            "lag_p99_us": pick(self.lag, |p| p.p99),
            "lag_max_us": pick(self.lag, |p| p.max),
            "void": self.void(),
            "stolen_ms": self.stolen_ms,
            "slice_s": s.slice_seconds,
            "slices": slices,
        })
        .to_string()
    }
}

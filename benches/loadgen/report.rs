//! The human-readable summary and the one-line JSON result.

use crate::cli::{Rpc, Settings};
use crate::stats::{Percentiles, Stats};
use std::fmt::Write;
use std::time::Duration;

/// Everything a report shows, computed once.
pub struct Report<'a> {
    pub settings: &'a Settings,
    pub stats: &'a Stats,
    pub percentiles: Option<Percentiles>,
    /// Successful calls per measured second.
    pub rps: f64,
    /// Open loop: the latest a measured call went out after its due time.
    pub max_send_lag: Option<Duration>,
}

impl<'a> Report<'a> {
    pub fn new(
        settings: &'a Settings,
        stats: &'a mut Stats,
        max_send_lag: Option<Duration>,
    ) -> Self {
        let percentiles = stats.percentiles();
        let rps = stats.ok as f64 / settings.duration.as_secs_f64();
        Report {
            settings,
            stats,
            percentiles,
            rps,
            max_send_lag,
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
        if let Some(lag) = self.max_send_lag {
            let _ = writeln!(
                out,
                "  send lag  max {} us behind schedule (load generator's own lateness, included above)",
                lag.as_micros()
            );
        }
        out
    }

    /// One JSON object on one line. Only fixed ASCII names are written as strings,
    /// so nothing needs escaping.
    pub fn json(&self) -> String {
        let s = self.settings;
        let or_null = |value: Option<u64>| value.map_or("null".to_owned(), |v| v.to_string());
        let pick = |f: fn(&Percentiles) -> u32| {
            or_null(self.percentiles.as_ref().map(|p| u64::from(f(p))))
        };
        let mut decisions = String::from("{");
        if s.rpc == Rpc::Check {
            let d = self.stats.decisions;
            let _ = write!(
                decisions,
                "\"APPROVED\":{},\"HELD\":{},\"REFERRED\":{}",
                d.approved, d.held, d.referred
            );
            if d.other > 0 {
                let _ = write!(decisions, ",\"UNSPECIFIED\":{}", d.other);
            }
        }
        decisions.push('}');
        let error_codes = self
            .stats
            .errors
            .iter()
            .map(|(code, count)| format!("\"{code}\":{count}"))
            .collect::<Vec<_>>()
            .join(",");
        format!(
            concat!(
                "{{\"rpc\":\"{}\",\"mode\":\"{}\",\"connections\":{},\"streams\":{},\"rate\":{},",
                "\"duration_s\":{},\"warmup_s\":{},\"buyers\":{},\"distinct_orders\":{},",
                "\"ok\":{},\"errors\":{},\"rps\":{:.1},",
                "\"p50_us\":{},\"p90_us\":{},\"p99_us\":{},\"p999_us\":{},\"max_us\":{},",
                "\"decisions\":{},\"error_codes\":{{{}}},\"max_send_lag_us\":{}}}"
            ),
            s.rpc.name(),
            s.mode(),
            s.connections,
            s.streams,
            or_null(s.rate),
            s.duration.as_secs(),
            s.warmup.as_secs(),
            s.buyers,
            s.distinct_orders,
            self.stats.ok,
            self.stats.error_count(),
            self.rps,
            pick(|p| p.p50),
            pick(|p| p.p90),
            pick(|p| p.p99),
            pick(|p| p.p999),
            pick(|p| p.max),
            decisions,
            error_codes,
            or_null(
                self.max_send_lag
                    .map(|lag| u64::try_from(lag.as_micros()).unwrap_or(u64::MAX))
            ),
        )
    }
}

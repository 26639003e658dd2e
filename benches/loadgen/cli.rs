//! Command-line flags and their resolution into one run's settings.

use clap::{ArgAction, Parser, ValueEnum};
use rust_decimal::Decimal;
use std::str::FromStr;
use std::time::Duration;

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rpc {
    /// CreditDecisionService/CheckCreditLimit.
    Check,
    /// CreditDecisionService/ScoreBuyer.
    Score,
}

impl Rpc {
    pub fn name(self) -> &'static str {
        match self {
            Rpc::Check => "check",
            Rpc::Score => "score",
        }
    }
}

/// Bench-only gRPC load generator for creditgate.
///
/// Closed loop by default (connections x streams workers, each sending its next
/// call when the previous one answered); open loop with --rate (calls scheduled
/// at a fixed rate, latency measured from the scheduled send time).
#[derive(Parser, Debug)]
#[command(name = "creditgate-loadgen", version)]
pub struct Args {
    /// Server URL, e.g. http://127.0.0.1:50051.
    #[arg(long, env = "CREDITGATE_LOADGEN_TARGET")]
    pub target: String,

    /// Which call to load.
    #[arg(long, value_enum, default_value = "check")]
    pub rpc: Rpc,

    /// Number of buyers; ids are LG-B-0 .. LG-B-<N-1>.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub buyers: u32,

    /// Upsert every buyer (EUR, DE, standard tier, manual --limit) before the run; not timed.
    #[arg(long)]
    pub seed_buyers: bool,

    /// With --seed-buyers: open (not yet due) invoices of 1.00 EUR recorded for every
    /// buyer before the run, to show that a decision's cost is flat in open items.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub open_invoices: u32,

    /// Manual credit limit (EUR) given to seeded buyers.
    #[arg(long, default_value = "1000000000.00")]
    pub limit: String,

    /// Order amount (EUR) of every CheckCreditLimit.
    #[arg(long, default_value = "1.00")]
    pub amount: String,

    /// Distinct HTTP/2 connections (one tonic Channel each).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub connections: u32,

    /// Concurrent in-flight calls per connection (closed loop only).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub streams: u32,

    /// Shorthand for --connections 1 --streams 1 (single-call latency).
    #[arg(long, conflicts_with_all = ["connections", "streams"])]
    pub one_at_a_time: bool,

    /// Measured seconds, after the warmup.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub duration: u64,

    /// Warmup seconds: calls are sent but not counted.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(0..=3_600))]
    pub warmup: u64,

    /// Open loop: schedule this many calls per second in total, spread over the connections.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub rate: Option<u64>,

    /// Open loop: most calls in flight at once; a call that would exceed it is not
    /// sent and counts as a LOADGEN_OVERLOAD error.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_outstanding: u64,

    /// A fresh order_id on every CheckCreditLimit (LG-<run>-<worker>-<seq>).
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", value_name = "BOOL")]
    pub distinct_orders: bool,

    /// The same order_id on every CheckCreditLimit: the idempotent replay path.
    /// Wins over --distinct-orders.
    #[arg(long)]
    pub fixed_order: bool,

    /// Per-call deadline in milliseconds (sent as grpc-timeout and enforced locally).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub timeout_ms: u64,

    /// Also print one JSON line on stdout (the summary then goes to stderr).
    #[arg(long)]
    pub json: bool,

    /// Report the measured window also in slices this many seconds long (by send
    /// time), to show whether a long run slows down as it goes.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=86_400))]
    pub slice_seconds: u32,
}

/// One run, flags resolved and checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub target: String,
    pub rpc: Rpc,
    pub buyers: u32,
    pub seed_buyers: bool,
    pub open_invoices: u32,
    pub limit: String,
    pub amount: String,
    pub connections: usize,
    pub streams: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub rate: Option<u64>,
    pub max_outstanding: usize,
    pub distinct_orders: bool,
    pub timeout: Duration,
    pub json: bool,
    pub slice_seconds: u32,
}

impl Settings {
    pub fn mode(&self) -> &'static str {
        if self.rate.is_some() {
            "open"
        } else {
            "closed"
        }
    }
}

/// A positive EUR amount with at most 2 decimals, kept as the exact string given.
fn eur_amount(flag: &str, text: &str) -> Result<String, String> {
    let value = Decimal::from_str(text).map_err(|e| format!("{flag} {text:?}: {e}"))?;
    if value <= Decimal::ZERO {
        return Err(format!("{flag} {text:?} must be positive"));
    }
    if value.scale() > 2 {
        return Err(format!("{flag} {text:?} has more than 2 decimals (EUR)"));
    }
    Ok(text.to_owned())
}

impl Args {
    pub fn resolve(self) -> Result<Settings, String> {
        let (connections, streams) = if self.one_at_a_time {
            (1, 1)
        } else {
            (self.connections, self.streams)
        };
        let to_usize = |n: u64| usize::try_from(n).map_err(|e| e.to_string());
        Ok(Settings {
            limit: eur_amount("--limit", &self.limit)?,
            amount: eur_amount("--amount", &self.amount)?,
            target: self.target,
            rpc: self.rpc,
            buyers: self.buyers,
            seed_buyers: self.seed_buyers,
            open_invoices: self.open_invoices,
            connections: to_usize(connections.into())?,
            streams: to_usize(streams.into())?,
            warmup: Duration::from_secs(self.warmup),
            duration: Duration::from_secs(self.duration),
            rate: self.rate,
            max_outstanding: to_usize(self.max_outstanding)?,
            distinct_orders: self.distinct_orders && !self.fixed_order,
            timeout: Duration::from_millis(self.timeout_ms),
            json: self.json,
            slice_seconds: self.slice_seconds,
        })
    }
}

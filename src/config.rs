//! Typed configuration from flags and CREDITGATE_* environment variables.
//! The README's configuration table mirrors this file.

use crate::auth::{AuthArgs, TokenCommand};
use crate::domain::date_window::DateWindow;
use crate::domain::retention::Retention;
use clap::{Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Parser, Debug, Clone)]
#[command(name = "creditgate", version, about = "gRPC credit-decision service")]
pub struct Config {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub auth: AuthArgs,

    /// Address the gRPC server listens on.
    #[arg(long, env = "CREDITGATE_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Redis URL (redis://host:port/db, rediss:// for TLS); the embedded in-memory
    /// store is used when neither this nor --redis-cluster is set.
    #[arg(
        long,
        env = "CREDITGATE_REDIS_URL",
        global = true,
        conflicts_with = "redis_cluster",
        hide_env_values = true
    )]
    pub redis_url: Option<String>,

    /// Redis Cluster seed nodes, comma-separated (redis://10.0.0.1:6379,redis://10.0.0.2:6379).
    #[arg(
        long,
        env = "CREDITGATE_REDIS_CLUSTER",
        global = true,
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub redis_cluster: Option<Vec<String>>,

    /// PEM file of the CA that signed the Redis TLS certificate (rediss://), when it
    /// is not in the system trust store.
    #[arg(long, env = "CREDITGATE_REDIS_CA_FILE", global = true)]
    pub redis_ca_file: Option<std::path::PathBuf>,

    /// Prefix of every Redis key: deployments sharing one Redis need distinct ones.
    #[arg(
        long,
        env = "CREDITGATE_REDIS_NAMESPACE",
        global = true,
        default_value = "cg"
    )]
    pub redis_namespace: String,

    /// Longest wait for one Redis answer; a decision that cannot get one in time is REFERRED.
    #[arg(long, env = "CREDITGATE_REDIS_TIMEOUT", global = true, default_value = "250ms", value_parser = parse_duration)]
    pub redis_timeout: Duration,

    /// Answer a write that reserves or moves money only once this many replicas of
    /// its master acknowledged it (Redis WAIT); 0: do not wait. See docs/redis.md.
    #[arg(long, env = "CREDITGATE_REDIS_WAIT_REPLICAS", default_value_t = 0)]
    pub redis_wait_replicas: u32,

    /// Decision records kept per Redis hash slot (GetDecision, ReleaseOrder
    /// retries): at least this many of each slot's latest; see docs/redis.md,
    /// "Decision history and held orders", for the memory it takes.
    #[arg(long, env = "CREDITGATE_REDIS_DECISION_HISTORY", default_value_t = crate::store::redis::DEFAULT_DECISION_HISTORY_PER_SLOT as u32, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub redis_decision_history: u32,

    /// Longest WAIT for those replicas; below --redis-timeout (a check keeps within both).
    #[arg(long, env = "CREDITGATE_REDIS_WAIT_TIMEOUT", default_value = "100ms", value_parser = parse_duration)]
    pub redis_wait_timeout: Duration,

    /// How long a replica may reuse a buyer profile it read (0s: never cache).
    #[arg(long, env = "CREDITGATE_PROFILE_CACHE_TTL", default_value = "1s", value_parser = parse_duration_or_zero)]
    pub profile_cache_ttl: Duration,

    /// Accept ledger writes while the store marker is missing (re-seeding an emptied
    /// store; decisions are still referred). See docs/operations.md.
    #[arg(long, env = "CREDITGATE_SEED_MODE")]
    pub seed_mode: bool,

    /// Start even when Redis may evict keys (an allkeys-* maxmemory-policy): an
    /// evicted ledger key reads as less exposure than there is. See docs/redis.md.
    #[arg(long, env = "CREDITGATE_ALLOW_EVICTING_REDIS")]
    pub allow_evicting_redis: bool,

    /// Embedded store: how many decision records GetDecision can still find (the
    /// oldest are forgotten first), and how many orders ListHeldOrders keeps
    /// waiting. About 1 KB each. See docs/operations.md ("Decision history").
    #[arg(
        long,
        env = "CREDITGATE_DECISION_HISTORY",
        default_value_t = crate::store::review::DEFAULT_DECISION_HISTORY as u64,
        value_parser = clap::value_parser!(u64).range(1..=100_000_000)
    )]
    pub decision_history: u64,

    /// The decision archive: every decision is also shipped to this PostgreSQL
    /// database (postgres://USER[:PASSWORD]@HOST:PORT/DATABASE) and kept there
    /// for --archive-retention days. See docs/archive.md.
    #[arg(long, env = "CREDITGATE_ARCHIVE_URL", hide_env_values = true)]
    pub archive_url: Option<String>,

    /// With --archive-url: decision records waiting for the archive, in all,
    /// before new decisions are REFERRED with ARCHIVE_BACKLOG (on Redis counted
    /// over every slot at each sweep). See docs/archive.md, "The outbox".
    #[arg(
        long,
        env = "CREDITGATE_OUTBOX_MAX",
        default_value_t = crate::store::outbox::DEFAULT_OUTBOX_MAX as u64,
        value_parser = clap::value_parser!(u64).range(1..=100_000_000)
    )]
    pub outbox_max: u64,

    /// Redis with --archive-url: how long a record read by one replica may stay
    /// unarchived before another replica claims it (a replica that died mid-batch).
    #[arg(long, env = "CREDITGATE_OUTBOX_CLAIM_IDLE", default_value = "30s", value_parser = parse_duration)]
    pub outbox_claim_idle: Duration,

    /// Days the archive keeps decisions; whole months are dropped once all of
    /// their days are older.
    #[arg(
        long,
        env = "CREDITGATE_ARCHIVE_RETENTION",
        default_value_t = 400,
        value_parser = clap::value_parser!(u32).range(1..=36_500)
    )]
    pub archive_retention: u32,

    /// How many years before (and, for issue and due dates, after) today a ledger date
    /// may lie; payments may never be dated after today. See docs/policy.md.
    #[arg(
        long,
        env = "CREDITGATE_LEDGER_DATE_WINDOW_YEARS",
        default_value_t = DateWindow::DEFAULT.years,
        value_parser = clap::value_parser!(u32).range(1..=100)
    )]
    pub ledger_date_window_years: u32,

    /// How many days settled items are remembered after they settle: cancelled order
    /// ids, orders fully invoiced, invoices paid in full, payment ids. A replay after
    /// that counts as new, so it must exceed every client's retry and re-send
    /// horizon, and the reservation TTL. See docs/redis.md ("Retention").
    #[arg(
        long,
        env = "CREDITGATE_LEDGER_RETENTION_DAYS",
        default_value_t = Retention::DEFAULT.days,
        value_parser = clap::value_parser!(u32).range(1..=36_500)
    )]
    pub ledger_retention_days: u32,

    /// How often the store is probed for the health service.
    #[arg(long, env = "CREDITGATE_HEALTH_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub health_interval: Duration,

    /// Credit policy file (TOML, see policy/default.toml); the shipped default when unset.
    #[arg(long, env = "CREDITGATE_POLICY_FILE")]
    pub policy_file: Option<std::path::PathBuf>,

    /// How long an approved order stays reserved without invoice or cancel (e.g. 30d, 12h, 90s).
    #[arg(long, env = "CREDITGATE_RESERVATION_TTL", default_value = "30d", value_parser = parse_duration)]
    pub reservation_ttl: Duration,

    #[command(flatten)]
    pub server: crate::config_server::ServerArgs,

    /// Longest wait for in-flight calls to finish after SIGTERM/SIGINT and the
    /// shutdown delay; the exit status is 1 when calls were still open then.
    #[arg(long, env = "CREDITGATE_SHUTDOWN_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// Log line format.
    #[arg(
        long,
        env = "CREDITGATE_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,

    /// Log filter (tracing EnvFilter syntax), e.g. "info" or "creditgate=debug".
    #[arg(long, env = "CREDITGATE_LOG", default_value = "info")]
    pub log: String,
}

impl Config {
    /// The retention window, refused when shorter than the reservation TTL (a
    /// cancelled order id would then be forgotten while a late retry of its check
    /// may still arrive and be approved again) or longer than the date window.
    pub fn ledger_retention(&self) -> Result<Retention, String> {
        let ttl_days = self.reservation_ttl.as_secs().div_ceil(86_400);
        if u64::from(self.ledger_retention_days) < ttl_days {
            return Err(format!(
                "--ledger-retention-days {} is shorter than --reservation-ttl ({ttl_days} days): \
                 a cancelled order could be approved again by a late retry; use at least {ttl_days}",
                self.ledger_retention_days
            ));
        }
        // A replay is judged by the date window before the store sees it: a
        // payment the ledger still remembers must not be refused as implausible.
        let window_days = u64::from(self.ledger_date_window_years) * 365;
        if u64::from(self.ledger_retention_days) > window_days {
            return Err(format!(
                "--ledger-retention-days {} is longer than --ledger-date-window-years {}                  ({window_days} days): a replayed payment or invoice the ledger still remembers                  would be refused as implausible; widen the window or shorten the retention",
                self.ledger_retention_days, self.ledger_date_window_years
            ));
        }
        Ok(Retention {
            days: self.ledger_retention_days,
        })
    }

    /// The Redis store to use, if any: the embedded store otherwise.
    pub fn redis_target(&self) -> Option<crate::store::redis::RedisTarget> {
        use crate::store::redis::RedisTarget;
        let with_scheme = |node: &str| {
            if node.contains("://") {
                node.to_owned()
            } else {
                format!("redis://{node}")
            }
        };
        match (&self.redis_url, &self.redis_cluster) {
            (Some(url), _) => Some(RedisTarget::Url(url.clone())),
            (None, Some(nodes)) => Some(RedisTarget::Cluster(
                nodes.iter().map(|n| with_scheme(n.trim())).collect(),
            )),
            (None, None) => None,
        }
    }
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Initialise a new (or emptied) Redis store: write the store marker into every
    /// hash slot. Changes nothing on a store that is already initialised.
    StoreInit,
    /// Bearer tokens for --auth-tokens-file.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Load buyers, invoices and payments from the ERP (CSV or JSON Lines) into a
    /// running server, or straight into Redis to re-seed it.
    Import(crate::cli::import::ImportArgs),
    /// Print a decision for people: its outcome, each reason with its remedy, and
    /// the numbers it used.
    Explain(crate::cli::explain::ExplainArgs),
    /// Write a realistic, deterministic demo book in the import formats.
    DemoData(crate::cli::demo_data::DemoDataArgs),
    /// Bring the decision archive's schema in PostgreSQL up to date and create
    /// the coming months' partitions (docs/archive.md).
    ArchiveMigrate(crate::cli::archive_migrate::ArchiveMigrateArgs),
    /// Replay the recorded decisions under a candidate policy and report what
    /// would have changed (docs/policy.md, "What-if").
    Whatif(crate::cli::whatif::WhatIfArgs),
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// As [`parse_duration`], also accepting zero.
pub fn parse_duration_or_zero(text: &str) -> Result<Duration, String> {
    match text.trim_start_matches('0') {
        "" | "s" | "ms" | "m" | "h" | "d" => Ok(Duration::ZERO),
        _ => parse_duration(text),
    }
}

/// Parses "30d", "12h", "15m", "90s", "250ms" or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    if let Some(ms) = text
        .strip_suffix("ms")
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    {
        let ms: u64 = ms.parse().map_err(|_| format!("{text:?} is too long"))?;
        if ms == 0 {
            return Err(format!("{text:?} must be longer than zero"));
        }
        return Ok(Duration::from_millis(ms));
    }
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 30d, 12h, 15m or 90s"))?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (use ms, s, m, h or d)"
            ));
        }
    };
    let secs = value
        .checked_mul(unit_secs)
        .ok_or_else(|| format!("{text:?} is too long"))?;
    if secs == 0 {
        return Err(format!("{text:?} must be longer than zero"));
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(2_592_000)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("0ms").is_err());
        assert_eq!(parse_duration_or_zero("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration_or_zero("2s"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("3w").is_err());
        assert!(parse_duration("d").is_err());
    }

    #[test]
    fn ledger_date_window_defaults_to_five_years_and_refuses_zero() {
        let parse = |args: &[&str]| Config::try_parse_from([&["creditgate"], args].concat());
        assert_eq!(parse(&[]).unwrap().ledger_date_window_years, 5);
        let two = parse(&["--ledger-date-window-years", "2"]).unwrap();
        assert_eq!(two.ledger_date_window_years, 2);
        assert!(parse(&["--ledger-date-window-years", "0"]).is_err());
        assert!(parse(&["--ledger-date-window-years", "-1"]).is_err());
    }

    #[test]
    fn waiting_for_replicas_is_off_by_default() {
        let parse = |args: &[&str]| Config::try_parse_from([&["creditgate"], args].concat());
        let default = parse(&[]).unwrap();
        assert_eq!(default.redis_wait_replicas, 0);
        assert_eq!(default.redis_decision_history, 100);
        let history = parse(&["--redis-decision-history", "500"]).unwrap();
        assert_eq!(history.redis_decision_history, 500);
        assert!(parse(&["--redis-decision-history", "0"]).is_err());
        assert_eq!(default.redis_wait_timeout, Duration::from_millis(100));
        let on = parse(&["--redis-wait-replicas", "2", "--redis-wait-timeout", "50ms"]).unwrap();
        assert_eq!(on.redis_wait_replicas, 2);
        assert_eq!(on.redis_wait_timeout, Duration::from_millis(50));
        // WAIT 0 would block until the replicas answer: a timeout is required.
        assert!(parse(&["--redis-wait-timeout", "0ms"]).is_err());
        assert!(parse(&["--redis-wait-replicas", "-1"]).is_err());
    }

    #[test]
    fn ledger_retention_defaults_to_400_days_and_outlasts_the_reservation_ttl() {
        let parse = |args: &[&str]| Config::try_parse_from([&["creditgate"], args].concat());
        let default = parse(&[]).unwrap();
        assert_eq!(default.ledger_retention(), Ok(Retention { days: 400 }));
        let short = parse(&["--ledger-retention-days", "45"]).unwrap();
        assert_eq!(short.ledger_retention(), Ok(Retention { days: 45 }));
        assert!(parse(&["--ledger-retention-days", "0"]).is_err());
        let under_ttl = parse(&[
            "--ledger-retention-days",
            "30",
            "--reservation-ttl",
            "30d1h",
        ]);
        assert!(under_ttl.is_err(), "30d1h is not a duration");
        let under_ttl = parse(&["--ledger-retention-days", "30", "--reservation-ttl", "721h"]);
        let error = under_ttl.unwrap().ledger_retention().unwrap_err();
        assert!(error.contains("use at least 31"), "{error}");
        let past_window = parse(&["--ledger-date-window-years", "1"]).unwrap();
        let error = past_window.ledger_retention().unwrap_err();
        assert!(error.contains("--ledger-date-window-years 1"), "{error}");
    }

    #[test]
    fn cors_origins_are_off_by_default_repeatable_and_checked() {
        let parse = |args: &[&str]| Config::try_parse_from([&["creditgate"], args].concat());
        assert!(parse(&[]).unwrap().server.cors_allow_origin.is_empty());
        let two = parse(&[
            "--cors-allow-origin",
            "https://shop.example.com",
            "--cors-allow-origin",
            "http://localhost:8080",
        ])
        .unwrap();
        assert_eq!(
            two.server.cors_allow_origin,
            ["https://shop.example.com", "http://localhost:8080"]
        );
        let error = parse(&["--cors-allow-origin", "https://shop.example.com/checkout"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("scheme://host[:port]"), "{error}");
    }
}

//! Typed configuration from flags and CREDITGATE_* environment variables.
//! The README's configuration table mirrors this file.

use clap::{Parser, ValueEnum};
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Parser, Debug, Clone)]
#[command(name = "creditgate", version, about = "gRPC credit-decision service")]
pub struct Config {
    /// Address the gRPC server listens on.
    #[arg(long, env = "CREDITGATE_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Redis URL (redis://host:port/db); the embedded in-memory store is used when unset.
    #[arg(long, env = "CREDITGATE_REDIS_URL")]
    pub redis_url: Option<String>,

    /// How long an approved order stays reserved without invoice or cancel (e.g. 30d, 12h, 90s).
    #[arg(long, env = "CREDITGATE_RESERVATION_TTL", default_value = "30d", value_parser = parse_duration)]
    pub reservation_ttl: Duration,

    /// Longest wait for in-flight calls to finish after SIGTERM/SIGINT.
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

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Parses "30d", "12h", "15m", "90s" or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
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
                "{text:?}: unknown unit {unit:?} (use s, m, h or d)"
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
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("3w").is_err());
        assert!(parse_duration("d").is_err());
    }
}

//! The caller's deadline, from the `grpc-timeout` request header.

use std::time::{Duration, Instant};
use tonic::metadata::MetadataMap;

/// Parses `grpc-timeout` (an integer of at most 8 digits and a unit: H, M, S, m,
/// u, n) into a duration; absent or malformed means no deadline.
pub fn timeout(metadata: &MetadataMap) -> Option<Duration> {
    parse(metadata.get("grpc-timeout")?.to_str().ok()?)
}

/// As [`timeout`], on the raw request headers (before tonic sees them).
pub fn timeout_of(headers: &http::HeaderMap) -> Option<Duration> {
    parse(headers.get("grpc-timeout")?.to_str().ok()?)
}

fn parse(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3_600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// When the answer must be on its way: the caller's deadline, less a tenth of it
/// for the reply to travel back.
pub fn answer_by(metadata: &MetadataMap, received: Instant) -> Option<Instant> {
    timeout(metadata).map(|t| received + t - t / 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(value: &str) -> MetadataMap {
        let mut map = MetadataMap::new();
        map.insert("grpc-timeout", value.parse().unwrap());
        map
    }

    #[test]
    fn units() {
        assert_eq!(timeout(&meta("500m")), Some(Duration::from_millis(500)));
        assert_eq!(timeout(&meta("2S")), Some(Duration::from_secs(2)));
        assert_eq!(timeout(&meta("1H")), Some(Duration::from_secs(3_600)));
        assert_eq!(timeout(&meta("123456789m")), None);
        assert_eq!(timeout(&meta("5x")), None);
        assert_eq!(timeout(&meta("m")), None);
        assert_eq!(timeout(&MetadataMap::new()), None);
    }
}

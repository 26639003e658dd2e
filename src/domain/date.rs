//! ISO 8601 calendar dates (UTC), as days since 1970-01-01.
//!
//! Kept in-house: the service needs strict `YYYY-MM-DD` parsing, day arithmetic and
//! nothing else, and a day count is what the ledger and Redis scores store.

use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Date(i32);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not an ISO 8601 calendar date (YYYY-MM-DD)")]
pub struct DateError;

impl Date {
    pub fn from_days(days: i32) -> Date {
        Date(days)
    }

    pub fn days(&self) -> i32 {
        self.0
    }

    /// The UTC calendar date of a Unix timestamp in seconds.
    pub fn from_unix_secs(secs: i64) -> Date {
        Date(secs.div_euclid(86_400) as i32)
    }

    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=9999).contains(&year) || !(1..=12).contains(&month) {
            return None;
        }
        if day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date(days_from_civil(year, month, day)))
    }

    /// Strict `YYYY-MM-DD`: four-digit year, two-digit month and day, nothing else.
    pub fn parse(text: &str) -> Result<Date, DateError> {
        let b = text.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(DateError);
        }
        let number = |range: std::ops::Range<usize>| -> Result<u32, DateError> {
            let part = &text[range];
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(DateError);
            }
            part.parse().map_err(|_| DateError)
        };
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        Date::from_ymd(year as i32, month, day).ok_or(DateError)
    }

    pub fn add_days(self, days: i32) -> Date {
        Date(self.0.saturating_add(days))
    }

    /// `self - earlier` in days.
    pub fn days_since(self, earlier: Date) -> i32 {
        self.0 - earlier.0
    }

    pub fn ymd(&self) -> (i32, u32, u32) {
        civil_from_days(self.0)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's days-from-civil algorithm (proleptic Gregorian calendar).
fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i32::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_dates() {
        assert_eq!(Date::parse("1970-01-01").unwrap().days(), 0);
        assert_eq!(Date::parse("2026-11-28").unwrap().to_string(), "2026-11-28");
        assert_eq!(
            Date::parse("2024-02-29").unwrap().add_days(1).to_string(),
            "2024-03-01"
        );
        assert_eq!(
            Date::from_unix_secs(1_795_824_000 + 86_399).to_string(),
            "2026-11-28"
        );
    }

    #[test]
    fn rejects_non_dates() {
        for bad in [
            "",
            "2026-2-28",
            "2026-02-30",
            "2025-02-29",
            "2026-13-01",
            "26-11-28",
            "2026/11/28",
            "2026-11-28T00:00:00Z",
            "+2026-11-2",
            "0000-01-01",
        ] {
            assert!(Date::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    proptest! {
        #[test]
        fn render_then_parse_is_identity(days in -719_162i32..2_932_896) {
            let date = Date::from_days(days);
            prop_assert_eq!(Date::parse(&date.to_string()).unwrap(), date);
        }
    }
}

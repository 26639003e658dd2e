//! Plausible ledger dates: how far from today an invoice or payment date may lie.
//!
//! A date far from today is a typing or mapping error, never business: a payment
//! dated 0001-01-01 would count as early and lift the grade, one dated 9999-12-31
//! as millions of days late and zero the limit, and an invoice issued 9999-12-31
//! would get a due date past the last date the API can express.

use super::date::Date;
use std::fmt;

/// Dates accepted within `years` calendar years of today, both ends inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateWindow {
    pub years: u32,
}

impl DateWindow {
    /// Five years either side: long enough to load an ERP's open items and recent
    /// payment history, short enough to catch a wrong century or a placeholder date.
    pub const DEFAULT: DateWindow = DateWindow { years: 5 };

    /// The earliest date accepted on `today`.
    pub fn earliest(&self, today: Date) -> Date {
        shift_years(today, -i64::from(self.years))
    }

    /// The latest date accepted on `today` (for dates that may lie ahead).
    pub fn latest(&self, today: Date) -> Date {
        shift_years(today, i64::from(self.years))
    }

    /// For dates that may lie ahead of today or behind it (issue and due dates).
    pub fn check_around(&self, date: Date, today: Date) -> Result<(), DateWindowError> {
        let latest = self.latest(today);
        if date > latest {
            return Err(DateWindowError::TooFarAhead {
                date,
                today,
                years: self.years,
                latest,
            });
        }
        self.check_not_too_old(date, today)
    }

    /// For dates of things that already happened (payments): not after today.
    pub fn check_past(&self, date: Date, today: Date) -> Result<(), DateWindowError> {
        if date > today {
            return Err(DateWindowError::InFuture { date, today });
        }
        self.check_not_too_old(date, today)
    }

    fn check_not_too_old(&self, date: Date, today: Date) -> Result<(), DateWindowError> {
        let earliest = self.earliest(today);
        if date < earliest {
            return Err(DateWindowError::TooFarBack {
                date,
                today,
                years: self.years,
                earliest,
            });
        }
        Ok(())
    }
}

impl Default for DateWindow {
    fn default() -> DateWindow {
        DateWindow::DEFAULT
    }
}

/// Why a date was refused; the message starts with the date, so that the caller
/// can put the field name in front of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateWindowError {
    InFuture {
        date: Date,
        today: Date,
    },
    TooFarAhead {
        date: Date,
        today: Date,
        years: u32,
        latest: Date,
    },
    TooFarBack {
        date: Date,
        today: Date,
        years: u32,
        earliest: Date,
    },
}

impl fmt::Display for DateWindowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DateWindowError::InFuture { date, today } => {
                write!(f, "{date} is in the future (today is {today})")
            }
            DateWindowError::TooFarAhead {
                date,
                today,
                years,
                latest,
            } => write!(
                f,
                "{date} is more than {} after today ({today}); the latest accepted is {latest}",
                Years(*years)
            ),
            DateWindowError::TooFarBack {
                date,
                today,
                years,
                earliest,
            } => write!(
                f,
                "{date} is more than {} before today ({today}); the earliest accepted is {earliest}",
                Years(*years)
            ),
        }
    }
}

impl std::error::Error for DateWindowError {}

/// "1 year", "5 years".
struct Years(u32);

impl fmt::Display for Years {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => write!(f, "1 year"),
            n => write!(f, "{n} years"),
        }
    }
}

/// The same month and day `years` calendar years away; 29 February becomes
/// 28 February in a common year. Clamped to the dates the API can express
/// (0001-01-01 to 9999-12-31), so that any window size is safe.
fn shift_years(date: Date, years: i64) -> Date {
    let (year, month, day) = date.ymd();
    let target = i64::from(year) + years;
    if target < 1 {
        return Date::from_ymd(1, 1, 1).expect("0001-01-01 is a date");
    }
    if target > 9999 {
        return Date::from_ymd(9999, 12, 31).expect("9999-12-31 is a date");
    }
    let target = target as i32;
    Date::from_ymd(target, month, day)
        .or_else(|| Date::from_ymd(target, month, day - 1))
        .expect("only 29 February can be missing from another year")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(text: &str) -> Date {
        Date::parse(text).unwrap()
    }

    const FIVE: DateWindow = DateWindow { years: 5 };

    #[test]
    fn edges_are_the_same_day_years_away_and_inclusive() {
        let today = date("2026-12-02");
        assert_eq!(FIVE.earliest(today), date("2021-12-02"));
        assert_eq!(FIVE.latest(today), date("2031-12-02"));
        assert_eq!(FIVE.check_around(date("2021-12-02"), today), Ok(()));
        assert_eq!(FIVE.check_around(date("2031-12-02"), today), Ok(()));
        assert_eq!(FIVE.check_past(date("2021-12-02"), today), Ok(()));
        assert_eq!(FIVE.check_past(today, today), Ok(()));
        assert!(FIVE.check_around(date("2021-12-01"), today).is_err());
        assert!(FIVE.check_around(date("2031-12-03"), today).is_err());
        assert!(FIVE.check_past(date("2021-12-01"), today).is_err());
    }

    #[test]
    fn payments_cannot_be_in_the_future() {
        let today = date("2026-12-02");
        let error = FIVE.check_past(date("2026-12-03"), today).unwrap_err();
        assert_eq!(
            error.to_string(),
            "2026-12-03 is in the future (today is 2026-12-02)"
        );
        assert!(FIVE.check_past(date("9999-12-31"), today).is_err());
    }

    #[test]
    fn placeholder_dates_are_refused_with_the_accepted_range() {
        let today = date("2026-12-02");
        assert_eq!(
            FIVE.check_past(date("0001-01-01"), today)
                .unwrap_err()
                .to_string(),
            "0001-01-01 is more than 5 years before today (2026-12-02); \
             the earliest accepted is 2021-12-02"
        );
        assert_eq!(
            FIVE.check_around(date("9999-12-31"), today)
                .unwrap_err()
                .to_string(),
            "9999-12-31 is more than 5 years after today (2026-12-02); \
             the latest accepted is 2031-12-02"
        );
    }

    #[test]
    fn leap_day_maps_to_28_february() {
        let today = date("2028-02-29");
        assert_eq!(FIVE.earliest(today), date("2023-02-28"));
        assert_eq!(FIVE.latest(today), date("2033-02-28"));
        assert_eq!(
            DateWindow { years: 4 }.latest(today),
            date("2032-02-29"),
            "a leap year to a leap year keeps the day"
        );
    }

    #[test]
    fn huge_windows_clamp_to_the_expressible_dates() {
        let wide = DateWindow { years: u32::MAX };
        let today = date("2026-12-02");
        assert_eq!(wide.earliest(today), date("0001-01-01"));
        assert_eq!(wide.latest(today), date("9999-12-31"));
        assert_eq!(wide.check_around(date("0001-01-01"), today), Ok(()));
    }

    #[test]
    fn one_year_is_singular() {
        let one = DateWindow { years: 1 };
        let error = one
            .check_past(date("2020-01-01"), date("2026-12-02"))
            .unwrap_err();
        assert!(error.to_string().contains("more than 1 year before today"));
    }

    proptest! {
        /// Whatever the calendar, N years are between 365·N and 366·N days.
        #[test]
        fn window_is_n_years_of_days(
            today in 0i32..40_000,
            offset in -4_000i32..4_000,
            years in 1u32..8,
        ) {
            let window = DateWindow { years };
            let today = Date::from_days(today);
            let date = today.add_days(offset);
            let short = 365 * years as i32;
            let long = 366 * years as i32;
            let around = window.check_around(date, today);
            let past = window.check_past(date, today);
            if offset.abs() <= short {
                prop_assert!(around.is_ok(), "{date} refused around {today}: {around:?}");
            }
            if offset.abs() > long {
                prop_assert!(around.is_err(), "{date} accepted around {today}");
            }
            prop_assert_eq!(past.is_ok(), around.is_ok() && offset <= 0);
        }
    }
}

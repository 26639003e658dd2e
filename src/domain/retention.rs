//! How long the ledger remembers what is settled, and when it may forget it.
//!
//! Settled items are the idempotency records of calls that reserve or owe nothing
//! any more: order records of orders fully invoiced, lapsed after a partial
//! invoice or invoiced without an approval; cancellation tombstones; invoices paid
//! in full; payment ids. They are kept so that a replay of the call that made them
//! is recognised (ALREADY_APPROVED, a cancelled order refused, an invoice or a
//! payment not counted twice) — for the retention window after the day they
//! settled, and then forgotten: a replay after that is a new call.
//!
//! Days are the service's business date (`today`, from its clock) and never
//! Redis's clock: every replica and both stores forget the same items on the same
//! day, and tests move it with the service's clock. An item past the window is
//! treated as absent at once, whether or not a store has removed it yet, so how
//! far a store's incremental pruning has got never changes an answer.

use super::date::Date;
use super::exposure::DSO_WINDOW_DAYS;

/// How many days after it settled a settled item is still honoured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub days: u32,
}

impl Retention {
    /// 400 days: longer than any retry or re-send an ERP makes of a call (a
    /// year-end re-import of the past fiscal year included, with a month for the
    /// closing), longer than the 90-day DSO window and than the reservation TTL.
    pub const DEFAULT: Retention = Retention { days: 400 };

    /// The ledger's calendar for a call made on `today`.
    pub fn on(self, today: Date) -> LedgerDay {
        let days = i32::try_from(self.days).unwrap_or(i32::MAX);
        LedgerDay {
            today,
            oldest_kept: today.add_days(-days),
            // One day of slack: a replica whose clock is still on yesterday must
            // find the sales its window starts with.
            sales_from: today.add_days(-DSO_WINDOW_DAYS),
        }
    }
}

impl Default for Retention {
    fn default() -> Retention {
        Retention::DEFAULT
    }
}

/// What a store needs to know about the date of one call: the day to stamp on
/// what settles now, and which settled items and sales it still keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LedgerDay {
    pub today: Date,
    /// Items that settled on this day or later are kept; earlier ones are gone.
    pub oldest_kept: Date,
    /// Credit sales issued before this day no longer count toward any DSO a
    /// replica computes, and are dropped.
    pub sales_from: Date,
}

impl LedgerDay {
    /// The retention rule: whether an item that settled on `settled_on` is still
    /// honoured. The Redis scripts compare with `oldest_kept` the same way.
    pub fn keeps(&self, settled_on: Date) -> bool {
        settled_on >= self.oldest_kept
    }

    /// Whether a credit sale issued on `issue_date` must still be kept for DSO.
    pub fn keeps_sales_of(&self, issue_date: Date) -> bool {
        issue_date >= self.sales_from
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn an_item_is_kept_for_the_window_and_gone_the_day_after() {
        let settled = date("2026-01-10");
        let retention = Retention { days: 30 };
        assert!(retention.on(settled).keeps(settled));
        assert!(retention.on(date("2026-02-09")).keeps(settled), "day 30");
        assert!(!retention.on(date("2026-02-10")).keeps(settled), "day 31");
    }

    #[test]
    fn default_window_outlasts_a_year_and_the_dso_window() {
        assert_eq!(Retention::default().days, 400);
        let today = date("2026-12-02");
        let day = Retention::default().on(today);
        assert!(day.keeps(date("2025-12-02")), "a year ago");
        assert!(day.oldest_kept < day.sales_from);
    }

    #[test]
    fn sales_are_kept_for_the_dso_window_and_a_day() {
        let today = date("2026-12-02");
        let day = Retention { days: 1 }.on(today);
        assert!(day.keeps_sales_of(today.add_days(-(DSO_WINDOW_DAYS - 1))));
        // Outside today's window, inside yesterday's.
        assert!(day.keeps_sales_of(today.add_days(-DSO_WINDOW_DAYS)));
        assert!(!day.keeps_sales_of(today.add_days(-DSO_WINDOW_DAYS - 1)));
        assert!(day.keeps_sales_of(today.add_days(400)), "future-dated");
    }

    proptest! {
        #[test]
        fn kept_exactly_while_no_more_than_the_window_has_passed(
            days in 0u32..2_000, age in -10i32..3_000
        ) {
            let today = date("2026-12-02");
            let settled = today.add_days(-age);
            let kept = Retention { days }.on(today).keeps(settled);
            prop_assert_eq!(kept, age <= days as i32);
        }
    }
}

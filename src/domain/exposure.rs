//! Exposure: open orders plus open invoice balances, and what the policy needs to
//! know about them. Amounts are minor units of the buyer's currency.

use super::date::Date;
use super::ids::{InvoiceId, OrderId};
use rust_decimal::Decimal;

/// How many of the oldest undisputed open invoices a snapshot carries: enough to
/// name them in a reason without the cost of a decision growing with the ledger.
pub const DUNNING_SAMPLE: usize = 3;

/// Highest exposure a buyer's ledger may reach, in minor units: 2^53 − 1, the
/// largest integer every store keeps exact (Lua numbers in Redis are doubles).
/// Ledger writes beyond it are refused, never rounded.
pub const MAX_EXPOSURE_MINOR: i64 = (1 << 53) - 1;

/// Running totals, maintained incrementally by the store.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct ExposureTotals {
    /// Approved orders not yet invoiced or cancelled.
    pub open_orders: i64,
    /// Open invoice balances, disputed ones included.
    pub open_invoices: i64,
    /// The disputed part of `open_invoices`.
    pub disputed: i64,
}

impl ExposureTotals {
    pub fn total(&self) -> i64 {
        self.open_orders.saturating_add(self.open_invoices)
    }

    /// The part an insurer would cover: disputed invoices are not insured.
    pub fn insurable(&self) -> i64 {
        self.total().saturating_sub(self.disputed)
    }
}

/// An undisputed open invoice and its due date, as the dunning ladder sees it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DueItem {
    pub invoice_id: InvoiceId,
    pub due_date: Date,
}

/// What a credit decision reads from the ledger, at a cost independent of its size.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct LedgerSnapshot {
    pub totals: ExposureTotals,
    /// Undisputed open invoices with the earliest due dates, oldest first, at most
    /// [`DUNNING_SAMPLE`].
    pub oldest_due: Vec<DueItem>,
    /// The undisputed open invoice falling due next (due today or later).
    pub next_due: Option<DueItem>,
}

impl LedgerSnapshot {
    /// The snapshot a decision would read, from a full ledger view: the same
    /// order the stores keep their due-date index in (due date, then invoice id).
    pub fn of_open_invoices(
        totals: ExposureTotals,
        open: &[Invoice],
        today: Date,
    ) -> LedgerSnapshot {
        let mut due: Vec<DueItem> = open
            .iter()
            .filter(|invoice| !invoice.disputed && invoice.open > 0)
            .map(|invoice| DueItem {
                invoice_id: invoice.id.clone(),
                due_date: invoice.due_date,
            })
            .collect();
        due.sort_by(|a, b| (a.due_date, &a.invoice_id).cmp(&(b.due_date, &b.invoice_id)));
        let next_due = due.iter().find(|item| item.due_date >= today).cloned();
        due.truncate(DUNNING_SAMPLE);
        LedgerSnapshot {
            totals,
            oldest_due: due,
            next_due,
        }
    }

    /// Days overdue of the oldest undisputed open invoice (0 when none is overdue).
    pub fn max_days_overdue(&self, today: Date) -> i32 {
        self.oldest_due
            .first()
            .map_or(0, |item| today.days_since(item.due_date).max(0))
    }
}

/// An invoice as the ledger keeps it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Invoice {
    pub id: InvoiceId,
    pub order_id: Option<OrderId>,
    pub amount: i64,
    pub open: i64,
    pub issue_date: Date,
    pub due_date: Date,
    pub disputed: bool,
}

impl Invoice {
    pub fn days_overdue(&self, today: Date) -> i32 {
        today.days_since(self.due_date).max(0)
    }
}

/// Where an open invoice stands on the dunning ladder.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DunningStage {
    NotDue,
    Reminder,
    Overdue,
    Collection,
    Legal,
    Disputed,
}

/// Days that define the ladder: reminder before due, collection and legal after.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DunningLadder {
    pub reminder_days_before_due: i32,
    pub collection_days_overdue: i32,
    pub legal_days_overdue: i32,
}

impl DunningLadder {
    pub fn stage(&self, due_date: Date, disputed: bool, today: Date) -> DunningStage {
        if disputed {
            return DunningStage::Disputed;
        }
        let overdue = today.days_since(due_date);
        if overdue >= self.legal_days_overdue {
            DunningStage::Legal
        } else if overdue >= self.collection_days_overdue {
            DunningStage::Collection
        } else if overdue >= 1 {
            DunningStage::Overdue
        } else if -overdue <= self.reminder_days_before_due {
            DunningStage::Reminder
        } else {
            DunningStage::NotDue
        }
    }
}

/// Open balances by days overdue; both ends of each bucket inclusive.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Aging {
    pub not_due: i64,
    pub overdue_1_to_30: i64,
    pub overdue_31_to_60: i64,
    pub overdue_61_to_90: i64,
    pub overdue_over_90: i64,
}

impl Aging {
    pub fn add(&mut self, days_overdue: i32, open: i64) {
        let bucket = match days_overdue {
            ..=0 => &mut self.not_due,
            1..=30 => &mut self.overdue_1_to_30,
            31..=60 => &mut self.overdue_31_to_60,
            61..=90 => &mut self.overdue_61_to_90,
            _ => &mut self.overdue_over_90,
        };
        *bucket = bucket.saturating_add(open);
    }

    pub fn overdue(&self) -> i64 {
        self.overdue_1_to_30 + self.overdue_31_to_60 + self.overdue_61_to_90 + self.overdue_over_90
    }
}

/// Window over which DSO relates receivables to credit sales.
pub const DSO_WINDOW_DAYS: i32 = 90;

/// The issue dates whose credit sales count toward DSO on `today`: the last
/// [`DSO_WINDOW_DAYS`] days, (today − 90, today].
pub fn dso_window(today: Date) -> std::ops::RangeInclusive<Date> {
    today.add_days(1 - DSO_WINDOW_DAYS)..=today
}

/// DSO = open receivables ÷ credit sales invoiced in the window × window days,
/// rounded to one decimal; zero when there were no sales in the window.
pub fn dso_days(open_receivables: i64, sales_in_window: i64) -> Decimal {
    if sales_in_window <= 0 {
        return Decimal::ZERO;
    }
    (Decimal::from(open_receivables) * Decimal::from(DSO_WINDOW_DAYS)
        / Decimal::from(sales_in_window))
    .round_dp(1)
}

/// Payment behaviour, maintained incrementally as payments arrive.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct PaymentStats {
    /// Number of payments recorded.
    pub payments: u32,
    /// Payments made after the invoice's due date.
    pub late_payments: u32,
    pub paid_minor: i64,
    /// Sum over payments of amount × days beyond terms, for the amount-weighted average.
    pub weighted_days_late: i128,
    /// Payments made within the early-payment discount period.
    pub early_payments: u32,
    /// Issue date of the buyer's first invoice: the age of the relationship.
    pub first_invoice: Option<Date>,
}

impl PaymentStats {
    /// Counts a payment; `early` when it fell within the discount period.
    pub fn record(&mut self, amount: i64, days_beyond_terms: i32, early: bool) {
        let late = days_beyond_terms.max(0);
        self.payments += 1;
        self.early_payments += u32::from(early);
        if late > 0 {
            self.late_payments += 1;
        }
        self.paid_minor = self.paid_minor.saturating_add(amount);
        self.weighted_days_late += i128::from(amount) * i128::from(late);
    }

    /// Amount-weighted average days beyond terms (ADBT), one decimal.
    pub fn note_invoice(&mut self, issue_date: Date) {
        if self.first_invoice.is_none_or(|first| issue_date < first) {
            self.first_invoice = Some(issue_date);
        }
    }

    pub fn average_days_beyond_terms(&self) -> Decimal {
        if self.paid_minor <= 0 {
            return Decimal::ZERO;
        }
        let weighted = Decimal::from_i128_with_scale(self.weighted_days_late, 0);
        (weighted / Decimal::from(self.paid_minor)).round_dp(1)
    }
}

/// Everything the scorecard reads about how a buyer pays, derived from its ledger.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct PaymentBehaviour {
    pub stats: PaymentStats,
    pub open_invoices: i64,
    pub overdue: i64,
    pub oldest_overdue_days: i32,
    pub disputed_invoices: u32,
    /// Credit sales invoiced in the DSO window.
    pub sales_in_window: i64,
    /// None without credit sales in the DSO window.
    pub dso_days: Option<Decimal>,
    /// Days since the first invoice (0 without one).
    pub relationship_days: i32,
}

impl PaymentBehaviour {
    /// Derives behaviour from the open invoices, the running payment stats and the
    /// credit sales invoiced in the DSO window (a running sum per issue day kept by
    /// the store, so that paid invoices need not be read, or even kept).
    pub fn from_ledger<'a>(
        open_invoices: impl IntoIterator<Item = &'a Invoice>,
        stats: PaymentStats,
        sales_in_window: i64,
        today: Date,
    ) -> PaymentBehaviour {
        let mut behaviour = PaymentBehaviour {
            stats,
            ..PaymentBehaviour::default()
        };
        for invoice in open_invoices {
            if invoice.open == 0 {
                continue;
            }
            behaviour.open_invoices += invoice.open;
            if invoice.disputed {
                behaviour.disputed_invoices += 1;
                continue;
            }
            let days = invoice.days_overdue(today);
            if days > 0 {
                behaviour.overdue += invoice.open;
                behaviour.oldest_overdue_days = behaviour.oldest_overdue_days.max(days);
            }
        }
        behaviour.sales_in_window = sales_in_window;
        behaviour.dso_days =
            (sales_in_window > 0).then(|| dso_days(behaviour.open_invoices, sales_in_window));
        behaviour.relationship_days = stats
            .first_invoice
            .map_or(0, |first| today.days_since(first).max(0));
        behaviour
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn ladder_stages_at_their_boundaries() {
        let ladder = DunningLadder {
            reminder_days_before_due: 7,
            collection_days_overdue: 15,
            legal_days_overdue: 60,
        };
        let today = date("2026-11-28");
        let due = |offset: i32| today.add_days(-offset);
        assert_eq!(ladder.stage(due(-8), false, today), DunningStage::NotDue);
        assert_eq!(ladder.stage(due(-7), false, today), DunningStage::Reminder);
        assert_eq!(ladder.stage(due(0), false, today), DunningStage::Reminder);
        assert_eq!(ladder.stage(due(1), false, today), DunningStage::Overdue);
        assert_eq!(ladder.stage(due(14), false, today), DunningStage::Overdue);
        assert_eq!(
            ladder.stage(due(15), false, today),
            DunningStage::Collection
        );
        assert_eq!(
            ladder.stage(due(59), false, today),
            DunningStage::Collection
        );
        assert_eq!(ladder.stage(due(60), false, today), DunningStage::Legal);
        assert_eq!(ladder.stage(due(90), true, today), DunningStage::Disputed);
    }

    #[test]
    fn aging_buckets_are_inclusive() {
        let mut aging = Aging::default();
        for (days, amount) in [
            (0, 1),
            (1, 2),
            (30, 4),
            (31, 8),
            (60, 16),
            (61, 32),
            (90, 64),
            (91, 128),
        ] {
            aging.add(days, amount);
        }
        assert_eq!(aging.not_due, 1);
        assert_eq!(aging.overdue_1_to_30, 6);
        assert_eq!(aging.overdue_31_to_60, 24);
        assert_eq!(aging.overdue_61_to_90, 96);
        assert_eq!(aging.overdue_over_90, 128);
    }

    #[test]
    fn dso_relates_receivables_to_sales() {
        // 30 000 open against 90 000 sold in 90 days: 30 days of sales outstanding.
        assert_eq!(dso_days(30_000, 90_000), Decimal::from(30));
        assert_eq!(dso_days(10, 0), Decimal::ZERO);
    }

    #[test]
    fn adbt_is_amount_weighted() {
        let mut stats = PaymentStats::default();
        stats.record(300, 0, false);
        stats.record(100, 20, false);
        stats.record(100, -5, true);
        assert_eq!(stats.early_payments, 1);
        assert_eq!(stats.average_days_beyond_terms(), Decimal::from(4));
        assert_eq!(stats.late_payments, 1);
    }
}

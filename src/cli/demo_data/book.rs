//! The demo book itself: buyers with their profiles, invoices and payments,
//! drawn from a seed. Pure (no I/O), so that the shape of the data can be
//! tested without files.
//!
//! Paid parts: payments.csv holds the payments of invoices paid in full
//! (open_amount 0), summing exactly to their amount. A part-paid invoice
//! (0 < open_amount < amount) has no payment rows: the importer derives one
//! payment of amount − open_amount for it, as it does for any invoice without
//! payment rows. So every invoice is either fully covered by payments.csv or
//! not at all, never half.

use super::rng::Rng;
use crate::domain::date::Date;
use crate::domain::money::{Currency, Money};
use crate::domain::policy::Policy;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

pub struct BuyerRow {
    pub buyer_id: String,
    pub name: String,
    pub country_code: &'static str,
    pub currency: Currency,
    pub risk_tier: &'static str,
    pub credit_limit: Option<Money>,
    pub payment_terms_days: i32,
    pub financials: Option<FinancialsRow>,
    pub rating: Option<RatingRow>,
    /// The insured limit; the indemnity is always 90%, the usual cover.
    pub insured_limit: Option<Money>,
}

pub struct FinancialsRow {
    pub annual_revenue: Money,
    pub net_worth: Money,
    pub years_in_business: u32,
}

pub struct RatingRow {
    pub grade: u8,
    pub legal_disputes: u32,
    pub insolvency: bool,
}

pub struct InvoiceRow {
    pub buyer_id: String,
    pub invoice_id: String,
    pub order_id: String,
    pub amount: Money,
    pub open_amount: Money,
    pub issue_date: Date,
    pub due_date: Date,
    pub disputed: bool,
}

pub struct PaymentRow {
    pub buyer_id: String,
    pub invoice_id: String,
    pub payment_id: String,
    pub amount: Money,
    pub paid_date: Date,
}

#[derive(Default)]
pub struct Book {
    pub buyers: Vec<BuyerRow>,
    pub invoices: Vec<InvoiceRow>,
    pub payments: Vec<PaymentRow>,
}

pub const INDEMNITY_PERCENT: &str = "90";

/// Country, trading currency, weight (out of 100), legal forms: three in four
/// buyers trade in EUR.
const MARKETS: [(&str, &str, u32, &[&str]); 14] = [
    ("DE", "EUR", 30, &["GmbH", "AG", "GmbH & Co. KG"]),
    ("FR", "EUR", 12, &["SAS", "SA"]),
    ("NL", "EUR", 8, &["B.V.", "N.V."]),
    ("IT", "EUR", 8, &["S.r.l.", "S.p.A."]),
    ("ES", "EUR", 6, &["S.L.", "S.A."]),
    ("AT", "EUR", 5, &["GmbH", "AG"]),
    ("BE", "EUR", 4, &["BV", "NV"]),
    ("FI", "EUR", 2, &["Oy"]),
    ("GB", "GBP", 8, &["Ltd", "plc"]),
    ("CH", "CHF", 4, &["AG", "SA"]),
    ("US", "USD", 5, &["Inc.", "LLC"]),
    ("SE", "SEK", 3, &["AB"]),
    ("PL", "PLN", 3, &["sp. z o.o.", "S.A."]),
    ("JP", "JPY", 2, &["K.K."]),
];

const STEMS: [&str; 24] = [
    "Nordwind",
    "Alpen",
    "Rhein",
    "Atlas",
    "Vega",
    "Orion",
    "Delta",
    "Kessler",
    "Müller",
    "Baltic",
    "Iberia",
    "Lumen",
    "Ferro",
    "Helix",
    "Polar",
    "Sonnen",
    "Terra",
    "Volta",
    "Zenit",
    "Castell",
    "Brückner",
    "Lindqvist",
    "Moreau",
    "Sakura",
];

const TRADES: [&str; 16] = [
    "Logistics",
    "Metals",
    "Pharma",
    "Foods",
    "Textiles",
    "Electrics",
    "Chemicals",
    "Construction",
    "Trading",
    "Machinery",
    "Paper",
    "Plastics",
    "Energy",
    "Optics",
    "Agri",
    "Packaging",
];

/// The credit team's tier mix.
const TIERS: [(&str, u32); 4] = [("core", 20), ("standard", 50), ("new", 20), ("watch", 10)];

const TERMS: [(i32, u32); 3] = [(30, 60), (45, 25), (60, 15)];

/// One buyer in a hundred is insolvent; which one is drawn once per seed.
const INSOLVENT_EVERY: u64 = 100;

/// Calls `each` with every buyer's part of the book (the buyer, its invoices
/// and payments) in buyer order, so that a large book is written as it is
/// drawn instead of held in memory.
pub fn generate_each(
    buyers: u32,
    seed: u64,
    today: Date,
    policy: &Policy,
    mut each: impl FnMut(Book) -> Result<(), String>,
) -> Result<(), String> {
    let insolvent_at = Rng::new(seed ^ 0x1505_01BE_D7A1_u64).range(0, INSOLVENT_EVERY as i64 - 1);
    for index in 0..u64::from(buyers) {
        let insolvent = index % INSOLVENT_EVERY == insolvent_at as u64;
        let mut rng = Rng::stream(seed, index);
        let mut part = Book::default();
        let buyer = Generator {
            rng: &mut rng,
            policy,
            today,
        }
        .buyer(index, insolvent, &mut part);
        part.buyers.push(buyer);
        each(part)?;
    }
    Ok(())
}

/// The whole book in memory (tests).
#[cfg(test)]
pub fn generate(buyers: u32, seed: u64, today: Date, policy: &Policy) -> Book {
    let mut book = Book::default();
    let _ = generate_each(buyers, seed, today, policy, |part| {
        book.buyers.extend(part.buyers);
        book.invoices.extend(part.invoices);
        book.payments.extend(part.payments);
        Ok(())
    });
    book
}

struct Generator<'a> {
    rng: &'a mut Rng,
    policy: &'a Policy,
    today: Date,
}

/// An amount in size units (EUR-like, two decimals as hundredths) in `currency`:
/// a JPY buyer's figures are the EUR figures times the policy's size divisor,
/// so that its scores and limits come out as for a EUR buyer of the same size.
fn money(policy: &Policy, currency: Currency, hundredths: i64) -> Money {
    let major = policy.from_size_units(currency, Decimal::new(hundredths, 2));
    let minor = (major * Decimal::from(10i64.pow(currency.exponent())))
        .round()
        .to_i64()
        .unwrap_or(0);
    Money::from_minor(currency, minor)
}

/// 10^(i/10) × 1000, i = 0..10: a decade in ten equal steps on a log scale.
const DECADE_STEPS: [i64; 11] = [
    1000, 1259, 1585, 1995, 2512, 3162, 3981, 5012, 6310, 7943, 10_000,
];

/// Company size: annual revenue log-uniform between 0.5M and 500M size units
/// (as many buyers between 0.5M and 5M as between 50M and 500M), to the
/// thousand. Integer steps rather than `powf`, so that no platform's libm can
/// move a value: a decade, a tenth of it on the log scale, then uniform within.
fn revenue(rng: &mut Rng) -> i64 {
    let decade = 10i64.pow(rng.range(0, 2) as u32);
    let step = rng.range(0, 9) as usize;
    let mantissa = rng.range(DECADE_STEPS[step], DECADE_STEPS[step + 1] - 1);
    round_units(500 * decade * mantissa, 1_000)
}

/// Rounds whole units down to a multiple of `step` (at least one step).
fn round_units(units: i64, step: i64) -> i64 {
    (units / step).max(1) * step
}

impl Generator<'_> {
    fn buyer(&mut self, index: u64, insolvent: bool, book: &mut Book) -> BuyerRow {
        let rng = &mut *self.rng;
        let buyer_id = format!("BUY-{:06}", index + 1);
        let (country, currency_code, _, forms) = *rng.weighted(&MARKETS.map(|m| (m, m.2)));
        let currency = Currency::from_code(currency_code).unwrap_or_else(eur);
        let name = format!(
            "{} {} {}",
            rng.pick(&STEMS),
            rng.pick(&TRADES),
            rng.pick(forms)
        );
        // Insolvent buyers have been moved to watch by the credit team.
        let tier = if insolvent {
            "watch"
        } else {
            *rng.weighted(&TIERS)
        };
        let terms = *rng.weighted(&TERMS);

        let revenue = revenue(rng);
        let net_worth = if rng.chance(5.0) {
            // Over-indebted: negative equity of 1–10% of revenue.
            -round_units(revenue * rng.range(1, 10) / 100, 1_000)
        } else {
            round_units(revenue * rng.range(5, 40) / 100, 1_000)
        };
        let years = match tier {
            "new" => rng.range(0, 3),
            "core" => rng.range(8, 80),
            "watch" => rng.range(2, 40),
            _ => rng.range(1, 60),
        } as u32;
        // A few buyers sent no financial statements.
        let financials = (!rng.chance(5.0)).then(|| FinancialsRow {
            annual_revenue: money(self.policy, currency, revenue * 100),
            net_worth: money(self.policy, currency, net_worth * 100),
            years_in_business: years,
        });

        let grade = if insolvent {
            10
        } else {
            match tier {
                "core" => rng.range(1, 4),
                "standard" => rng.range(2, 6),
                "new" => rng.range(3, 7),
                _ => rng.range(5, 9),
            }
        };
        let disputes = if rng.chance(85.0) {
            0
        } else if tier == "watch" {
            rng.range(1, 6)
        } else {
            rng.range(1, 3)
        };
        let rating = (insolvent || !rng.chance(8.0)).then_some(RatingRow {
            grade: grade as u8,
            legal_disputes: disputes as u32,
            insolvency: insolvent,
        });

        // The credit team's limit: a share of revenue that shrinks with the
        // grade, to the 5 000, capped for new buyers.
        let share_per_mille = match grade {
            1..=2 => 30,
            3..=4 => 20,
            5..=6 => 12,
            7..=8 => 6,
            _ => 3,
        } * rng.range(70, 130)
            / 100;
        let mut limit_units = round_units(revenue * share_per_mille / 1000, 5_000);
        if tier == "new" {
            limit_units = limit_units.min(100_000);
        }
        // Seven in ten buyers have a manual limit; the rest run on the scored one.
        let credit_limit = rng
            .chance(70.0)
            .then(|| money(self.policy, currency, limit_units * 100));
        let insured_share = match tier {
            "new" => 90.0,
            "watch" => 60.0,
            _ => 80.0,
        };
        let insured_limit = rng.chance(insured_share).then(|| {
            let insured = round_units(limit_units * rng.range(50, 100) / 100, 5_000);
            money(self.policy, currency, insured * 100)
        });

        let buyer = BuyerRow {
            buyer_id,
            name,
            country_code: country,
            currency,
            risk_tier: tier,
            credit_limit,
            payment_terms_days: terms,
            financials,
            rating,
            insured_limit,
        };
        self.invoices(&buyer, limit_units, insolvent, book);
        buyer
    }

    /// 0–12 invoices over the last ~120 days (a tail up to 200 days for the
    /// long-overdue buckets), most overdue ones paid, most open ones not yet due.
    fn invoices(&mut self, buyer: &BuyerRow, limit_units: i64, insolvent: bool, book: &mut Book) {
        let rng = &mut *self.rng;
        let count = rng.range(0, 12);
        let stays_open_percent = if insolvent {
            80.0
        } else if buyer.risk_tier == "watch" {
            35.0
        } else {
            12.0
        };
        for k in 1..=count {
            let invoice_id = format!("{}-INV-{k:02}", buyer.buyer_id);
            let order_id = format!("{}-SO-{k:02}", buyer.buyer_id);
            // 1.5–12% of the limit each, with cents, at least 100 units.
            let hundredths =
                (limit_units * 100 * rng.range(150, 1200) / 10_000 + rng.range(0, 99)).max(10_000);
            let amount = money(self.policy, buyer.currency, hundredths);
            let age = if rng.chance(85.0) {
                rng.range(0, 120)
            } else {
                rng.range(121, 200)
            } as i32;
            let issue_date = self.today.add_days(-age);
            let due_date = issue_date.add_days(buyer.payment_terms_days);
            let overdue = self.today.days_since(due_date) > 0;

            let fully_paid = if overdue {
                !rng.chance(stays_open_percent)
            } else {
                rng.chance(4.0)
            };
            let mut open_amount = amount;
            if fully_paid {
                // On time mostly, some late, a few very late; never after today.
                let lateness = match rng.range(0, 99) {
                    0..=69 => rng.range(-10, 0),
                    70..=94 => rng.range(1, 20),
                    _ => rng.range(21, 60),
                } as i32;
                let paid = clamp(due_date.add_days(lateness), issue_date, self.today);
                let payments = split_payment(rng, amount, issue_date, paid);
                for (n, (part, date)) in payments.into_iter().enumerate() {
                    book.payments.push(PaymentRow {
                        buyer_id: buyer.buyer_id.clone(),
                        invoice_id: invoice_id.clone(),
                        payment_id: format!("{invoice_id}-P{}", n + 1),
                        amount: part,
                        paid_date: date,
                    });
                }
                open_amount = Money::zero(buyer.currency);
            } else if rng.chance(if overdue { 15.0 } else { 8.0 }) {
                // Part paid: 20–80% received; the importer derives that payment.
                let paid = amount.minor() * rng.range(20, 80) / 100;
                if paid > 0 && paid < amount.minor() {
                    open_amount = Money::from_minor(buyer.currency, amount.minor() - paid);
                }
            }
            // About 2% of all invoices: one open invoice in twenty.
            let disputed = !open_amount.is_zero() && rng.chance(5.0);
            book.invoices.push(InvoiceRow {
                buyer_id: buyer.buyer_id.clone(),
                invoice_id,
                order_id,
                amount,
                open_amount,
                issue_date,
                due_date,
                disputed,
            });
        }
    }
}

fn eur() -> Currency {
    // EUR is in the currency table; the fallback is never taken.
    Currency::from_code("EUR").expect("EUR is an ISO 4217 code")
}

fn clamp(date: Date, earliest: Date, latest: Date) -> Date {
    date.max(earliest).min(latest)
}

/// One payment, or (one in six) an instalment first and the rest on `paid`:
/// the parts sum to `amount` exactly.
fn split_payment(rng: &mut Rng, amount: Money, issue: Date, paid: Date) -> Vec<(Money, Date)> {
    let first = amount.minor() * rng.range(30, 70) / 100;
    if first <= 0 || first >= amount.minor() || !rng.chance(16.0) {
        return vec![(amount, paid)];
    }
    let earlier = clamp(paid.add_days(-(rng.range(5, 20) as i32)), issue, paid);
    vec![
        (Money::from_minor(amount.currency(), first), earlier),
        (
            amount.minus(Money::from_minor(amount.currency(), first)),
            paid,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(buyers: u32, seed: u64) -> Book {
        let today = Date::parse("2026-12-02").unwrap();
        generate(buyers, seed, today, &Policy::default())
    }

    #[test]
    fn a_buyer_does_not_depend_on_how_many_are_written() {
        let (small, large) = (book(10, 3), book(50, 3));
        for (a, b) in small.buyers.iter().zip(&large.buyers) {
            assert_eq!(a.buyer_id, b.buyer_id);
            assert_eq!(a.name, b.name);
            assert_eq!(a.credit_limit, b.credit_limit);
        }
    }

    #[test]
    fn paid_parts_add_up() {
        let book = book(300, 9);
        for invoice in &book.invoices {
            assert!(invoice.open_amount.minor() <= invoice.amount.minor());
            assert!(invoice.open_amount.minor() >= 0);
            assert!(invoice.due_date >= invoice.issue_date);
            let paid: i64 = book
                .payments
                .iter()
                .filter(|p| p.invoice_id == invoice.invoice_id)
                .map(|p| p.amount.minor())
                .sum();
            // Fully paid: covered exactly by payments.csv; otherwise no rows.
            if invoice.open_amount.is_zero() {
                assert_eq!(paid, invoice.amount.minor(), "{}", invoice.invoice_id);
            } else {
                assert_eq!(paid, 0, "{}", invoice.invoice_id);
            }
        }
        for payment in &book.payments {
            assert!(payment.amount.minor() > 0);
            assert!(payment.paid_date <= Date::parse("2026-12-02").unwrap());
        }
    }

    #[test]
    fn the_mix_is_roughly_as_documented() {
        let book = book(1000, 1);
        let share = |tier: &str| book.buyers.iter().filter(|b| b.risk_tier == tier).count();
        assert!(
            (150..=250).contains(&share("core")),
            "core {}",
            share("core")
        );
        assert!((420..=580).contains(&share("standard")));
        let insolvent = book
            .buyers
            .iter()
            .filter(|b| b.rating.as_ref().is_some_and(|r| r.insolvency))
            .count();
        assert_eq!(insolvent, 10);
        let eur = book
            .buyers
            .iter()
            .filter(|b| b.currency.code() == "EUR")
            .count();
        assert!(eur > 600, "EUR {eur}");
        assert!(book.invoices.iter().any(|i| i.disputed));
    }

    #[test]
    fn revenue_is_log_uniform_between_half_a_million_and_half_a_billion() {
        let mut rng = Rng::new(5);
        let mut decades = [0; 3];
        for _ in 0..3000 {
            let revenue = revenue(&mut rng);
            assert!((500_000..500_000_000).contains(&revenue), "{revenue}");
            decades[match revenue {
                500_000..5_000_000 => 0,
                5_000_000..50_000_000 => 1,
                _ => 2,
            }] += 1;
        }
        assert!(
            decades.iter().all(|n| (850..=1150).contains(n)),
            "{decades:?}"
        );
    }
}

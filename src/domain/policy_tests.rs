use super::*;
use crate::domain::buyer::{
    BuyerProfile, BuyerRecord, ExternalRating, Grade, Insurance, Rating, RiskTier,
};
use crate::domain::exposure::{DueItem, ExposureTotals, LedgerSnapshot};
use crate::domain::ids::{BuyerId, InvoiceId};
use crate::domain::money::{Currency, Money};
use proptest::prelude::*;

pub(crate) fn eur() -> Currency {
    Currency::from_code("EUR").unwrap()
}

pub(crate) fn money(major: i64) -> Money {
    Money::from_minor(eur(), major * 100)
}

pub(crate) fn today() -> Date {
    Date::parse("2026-11-28").unwrap()
}

pub(crate) fn record(tier: RiskTier, limit: i64) -> BuyerRecord {
    BuyerRecord {
        profile: BuyerProfile {
            id: BuyerId::parse("B-1").unwrap(),
            name: "Acme".into(),
            country_code: "DE".into(),
            currency: eur(),
            tier,
            manual_limit: Some(money(limit)),
            payment_terms_days: 30,
            early_payment_discount: None,
            financials: None,
            external_rating: None,
            insurance: None,
        },
        rating: Rating {
            score: 500,
            grade: Grade::new(5).unwrap(),
            probability_of_default: Decimal::new(4, 3),
            recommended_limit: money(0),
            scored_limit: money(0),
            insured_limit: money(0),
            discretionary_limit: money(0),
            rated_on: today(),
            valid_until: today().add_days(180),
            reasons: vec![],
        },
        adjustment: Default::default(),
    }
}

pub(crate) fn snapshot(
    open_orders: i64,
    open_invoices: i64,
    overdue_days: &[i32],
) -> LedgerSnapshot {
    LedgerSnapshot {
        totals: ExposureTotals {
            open_orders: open_orders * 100,
            open_invoices: open_invoices * 100,
            disputed: 0,
        },
        oldest_due: overdue_days
            .iter()
            .enumerate()
            .map(|(i, days)| DueItem {
                invoice_id: InvoiceId::parse(&format!("INV-{}", i + 7)).unwrap(),
                due_date: today().add_days(-days),
            })
            .collect(),
        next_due: None,
    }
}

pub(crate) fn codes(evaluation: &Evaluation) -> Vec<&'static str> {
    evaluation.reasons.iter().map(|r| r.code.as_str()).collect()
}

pub(crate) fn eval(record: &BuyerRecord, snapshot: &LedgerSnapshot, amount: i64) -> Evaluation {
    evaluate(&Policy::default(), record, snapshot, money(amount), today())
}

#[test]
fn within_limit_is_approved_and_reserves() {
    let e = eval(
        &record(RiskTier::Standard, 10_000),
        &snapshot(2_000, 3_000, &[]),
        5_000,
    );
    assert_eq!(e.decision, Decision::Approved);
    assert_eq!(codes(&e), ["WITHIN_LIMIT"]);
    assert_eq!(e.exposure_after, 1_000_000);
}

#[test]
fn excess_within_tolerance_is_held_beyond_it_referred() {
    let buyer = record(RiskTier::Standard, 10_000);
    // Standard tolerance is 5% of 10 000 = 500.
    let held = eval(&buyer, &snapshot(0, 9_000, &[]), 1_500);
    assert_eq!(held.decision, Decision::Held);
    assert_eq!(codes(&held), ["LIMIT_EXCEEDED"]);
    assert!(
        held.reasons[0]
            .message
            .contains("approvable up to 1000.00 EUR"),
        "{}",
        held.reasons[0].message
    );
    assert_eq!(held.exposure_after, 900_000);
    let referred = eval(&buyer, &snapshot(0, 9_000, &[]), 1_501);
    assert_eq!(referred.decision, Decision::Referred);
}

#[test]
fn no_headroom_says_how_much_must_be_paid() {
    let e = eval(
        &record(RiskTier::Core, 10_000),
        &snapshot(0, 10_400, &[]),
        100,
    );
    assert_eq!(e.decision, Decision::Held);
    assert!(
        e.reasons[0]
            .message
            .contains("once payments free 500.00 EUR"),
        "{}",
        e.reasons[0].message
    );
}

#[test]
fn dunning_ladder_holds_then_refers() {
    let buyer = record(RiskTier::Standard, 10_000);
    assert_eq!(
        eval(&buyer, &snapshot(0, 100, &[14]), 10).decision,
        Decision::Approved
    );
    let held = eval(&buyer, &snapshot(0, 100, &[15]), 10);
    assert_eq!(
        (held.decision, codes(&held)),
        (Decision::Held, vec!["OVERDUE_COLLECTION"])
    );
    assert!(
        held.reasons[0]
            .message
            .contains("pay or dispute invoice INV-7")
    );
    let legal = eval(&buyer, &snapshot(0, 100, &[60, 20]), 10);
    assert_eq!(
        (legal.decision, codes(&legal)),
        (Decision::Referred, vec!["OVERDUE_LEGAL"])
    );
}

#[test]
fn watch_tier_holds_at_first_overdue_day() {
    let e = eval(
        &record(RiskTier::Watch, 10_000),
        &snapshot(0, 100, &[1]),
        10,
    );
    assert_eq!(e.decision, Decision::Held);
    assert_eq!(codes(&e), ["OVERDUE_COLLECTION"]);
}

#[test]
fn insolvency_refers_whatever_the_headroom() {
    let mut buyer = record(RiskTier::Core, 1_000_000);
    buyer.profile.external_rating = Some(ExternalRating {
        grade: Grade::new(10).unwrap(),
        legal_disputes: 0,
        insolvency: true,
    });
    let e = eval(&buyer, &snapshot(0, 0, &[]), 1);
    assert_eq!(
        (e.decision, codes(&e)),
        (Decision::Referred, vec!["INSOLVENCY"])
    );
}

#[test]
fn new_buyer_capped_per_order_and_needs_cover() {
    let mut buyer = record(RiskTier::New, 10_000);
    buyer.profile.insurance = Some(Insurance {
        insured_limit: money(10_000),
        indemnity_percent: Decimal::from(90),
    });
    assert_eq!(
        eval(&buyer, &snapshot(0, 0, &[]), 5_000).decision,
        Decision::Approved
    );
    let capped = eval(&buyer, &snapshot(0, 0, &[]), 5_001);
    assert_eq!(codes(&capped), ["NEW_BUYER_MAX_ORDER"]);
    assert!(
        capped.reasons[0]
            .message
            .contains("approvable up to 5000.00 EUR")
    );
    buyer.profile.insurance = None;
    let uninsured = eval(&buyer, &snapshot(0, 0, &[]), 100);
    assert_eq!(
        (uninsured.decision, codes(&uninsured)),
        (Decision::Referred, vec!["UNINSURED_EXPOSURE"])
    );
}

#[test]
fn uninsured_exposure_outcome_depends_on_tier() {
    let insured = |tier| {
        let mut buyer = record(tier, 20_000);
        buyer.profile.insurance = Some(Insurance {
            insured_limit: money(5_000),
            indemnity_percent: Decimal::from(90),
        });
        buyer
    };
    let snap = snapshot(0, 4_000, &[]);
    let core = eval(&insured(RiskTier::Core), &snap, 2_000);
    assert_eq!(
        (core.decision, codes(&core)),
        (
            Decision::Approved,
            vec!["WITHIN_LIMIT", "UNINSURED_EXPOSURE"]
        )
    );
    let standard = eval(&insured(RiskTier::Standard), &snap, 2_000);
    assert_eq!(
        (standard.decision, codes(&standard)),
        (Decision::Held, vec!["UNINSURED_EXPOSURE"])
    );
    assert!(
        standard.reasons[0]
            .message
            .contains("approvable up to 1000.00 EUR within cover")
    );
    // Disputed invoices are not insurable, so they do not use up cover.
    let mut disputed = snap.clone();
    disputed.totals.disputed = 4_000 * 100;
    assert_eq!(
        eval(&insured(RiskTier::Standard), &disputed, 2_000).decision,
        Decision::Approved
    );
}

#[test]
fn most_severe_reason_wins_and_comes_first() {
    let e = eval(
        &record(RiskTier::Standard, 1_000),
        &snapshot(0, 900, &[70]),
        500,
    );
    assert_eq!(e.decision, Decision::Referred);
    assert_eq!(codes(&e), ["OVERDUE_LEGAL", "LIMIT_EXCEEDED"]);
}

#[test]
fn due_soon_is_informational_on_an_approval() {
    let mut snap = snapshot(0, 100, &[]);
    snap.next_due = Some(DueItem {
        invoice_id: InvoiceId::parse("INV-9").unwrap(),
        due_date: today().add_days(7),
    });
    let e = eval(&record(RiskTier::Standard, 10_000), &snap, 10);
    assert_eq!(
        (e.decision, codes(&e)),
        (Decision::Approved, vec!["WITHIN_LIMIT", "DUE_SOON"])
    );
    snap.next_due.as_mut().unwrap().due_date = today().add_days(8);
    assert_eq!(
        codes(&eval(&record(RiskTier::Standard, 10_000), &snap, 10)),
        ["WITHIN_LIMIT"]
    );
}

fn tier_strategy() -> impl Strategy<Value = RiskTier> {
    prop_oneof![
        Just(RiskTier::Core),
        Just(RiskTier::Standard),
        Just(RiskTier::New),
        Just(RiskTier::Watch)
    ]
}

/// Any buyer (tier, manual limit, insured or not, insolvent or not, rating
/// valid or expired) with any ledger (orders, invoices, a disputed share, up to
/// three overdue invoices).
pub(crate) fn any_buyer_and_ledger() -> impl Strategy<Value = (BuyerRecord, LedgerSnapshot)> {
    (
        (
            tier_strategy(),
            0i64..50_000,
            proptest::option::of(0i64..50_000),
            any::<bool>(),
            proptest::option::of(-10i32..400),
        ),
        (
            0i64..30_000,
            0i64..30_000,
            0i64..=100,
            proptest::collection::vec(-30i32..120, 0..3),
        ),
    )
        .prop_map(
            |(
                (tier, limit, insured, insolvent, rating_age),
                (orders, invoices, disputed_share, overdue),
            )| {
                let mut buyer = record(tier, limit);
                buyer.profile.insurance = insured.map(|cap| Insurance {
                    insured_limit: money(cap),
                    indemnity_percent: Decimal::from(90),
                });
                if insolvent {
                    buyer.profile.external_rating = Some(ExternalRating {
                        grade: Grade::new(10).unwrap(),
                        legal_disputes: 0,
                        insolvency: true,
                    });
                }
                // Rating expiry is a profile-only refusal: it must block the store too.
                if let Some(age) = rating_age {
                    buyer.rating.valid_until = today().add_days(-age);
                }
                let mut sorted = overdue;
                sorted.sort_by(|a, b| b.cmp(a));
                let mut snap = snapshot(orders, invoices, &sorted);
                snap.totals.disputed = invoices * 100 * disputed_share / 100;
                (buyer, snap)
            },
        )
}

proptest! {
    /// The store reserves by ReserveConditions, the caller is told by evaluate:
    /// the two must agree on every input or a reservation could contradict its answer.
    #[test]
    fn reserve_conditions_agree_with_evaluation(
        (buyer, snap) in any_buyer_and_ledger(),
        amount in 1i64..20_000,
    ) {
        let limit = buyer.limit_in_effect().0.minor();
        let evaluation = eval(&buyer, &snap, amount);
        let conditions = reserve_conditions(&Policy::default(), &buyer, money(amount), today());
        prop_assert_eq!(evaluation.decision == Decision::Approved, conditions.admit(&snap, amount * 100));
        // Approval never takes exposure past the limit in effect.
        if evaluation.decision == Decision::Approved {
            prop_assert!(evaluation.exposure_after <= limit);
        }
        // Every non-approval explains itself.
        prop_assert!(!evaluation.reasons.is_empty());
    }
}

use super::*;
use crate::domain::buyer::{BuyerRecord, ExternalRating, Grade, Insurance, RiskTier};
use crate::domain::policy::tests::{
    any_buyer_and_ledger, codes, eur, money, record, snapshot, today,
};
use crate::domain::policy::{Evaluation, Policy, admission_on_terms};
use proptest::prelude::*;
use rust_decimal::Decimal;

fn minor(minor: i64) -> Money {
    Money::from_minor(eur(), minor)
}

/// The decision a CheckCreditLimit for `amount` minor units on `terms` gets.
fn check(
    buyer: &BuyerRecord,
    snap: &LedgerSnapshot,
    amount: i64,
    terms: Option<u32>,
) -> Evaluation {
    admission_on_terms(&Policy::default(), buyer, minor(amount), terms, today()).evaluate(snap)
}

fn offer(
    buyer: &BuyerRecord,
    snap: &LedgerSnapshot,
    amount: i64,
    terms: Option<u32>,
) -> Option<CounterOffer> {
    admission_on_terms(&Policy::default(), buyer, minor(amount), terms, today())
        .counter_offer(snap)
        .expect("the offer agrees with the rule")
}

#[test]
fn over_the_limit_offers_the_headroom_and_the_rest_as_prepayment() {
    // Standard, limit 10 000, exposure 8 000: 3 000 is 1 000 over (REFERRED).
    let buyer = record(RiskTier::Standard, 10_000);
    let snap = snapshot(0, 8_000, &[]);
    assert_eq!(
        check(&buyer, &snap, 300_000, None).decision,
        Decision::Referred
    );
    let offer = offer(&buyer, &snap, 300_000, None).expect("an offer");
    assert_eq!(offer.approvable, money(2_000));
    assert_eq!(offer.prepayment, Some(money(1_000)));
    // Standard allows net 15 up to 110 % of the limit: 11 000 ≥ 11 000.
    assert_eq!(offer.payment_terms_days, Some(15));
    assert_eq!(
        check(&buyer, &snap, 200_000, None).decision,
        Decision::Approved
    );
    assert_eq!(
        check(&buyer, &snap, 300_000, Some(15)).decision,
        Decision::Approved
    );
}

#[test]
fn terms_are_offered_only_when_they_carry_the_whole_order() {
    let buyer = record(RiskTier::Standard, 10_000);
    let snap = snapshot(0, 8_000, &[]);
    // 3 000.01 is past the 11 000 ceiling of net 15.
    let offer = offer(&buyer, &snap, 300_001, None).expect("an offer");
    assert_eq!(offer.payment_terms_days, None);
    assert_eq!(offer.approvable, money(2_000));
    // A buyer on net 12 is offered net 11 (the tier's net 15 is no shorter);
    // one on net 1 has no shorter terms at all.
    let mut short = buyer.clone();
    short.profile.payment_terms_days = 12;
    assert_eq!(offer_terms(&short, &snap, 300_000), Some(11));
    assert_eq!(
        check(&short, &snap, 300_000, Some(11)).decision,
        Decision::Approved
    );
    short.profile.payment_terms_days = 1;
    assert_eq!(offer_terms(&short, &snap, 300_000), None);
}

fn offer_terms(buyer: &BuyerRecord, snap: &LedgerSnapshot, amount: i64) -> Option<u32> {
    offer(buyer, snap, amount, None).and_then(|o| o.payment_terms_days)
}

#[test]
fn no_headroom_but_short_terms_offers_terms_alone() {
    // Exposure at the limit: nothing approvable on agreed terms, all on net 15.
    let buyer = record(RiskTier::Core, 10_000);
    let snap = snapshot(0, 10_000, &[]);
    let offer = offer(&buyer, &snap, 100_000, None).expect("an offer");
    assert_eq!(offer.approvable, money(0));
    assert_eq!(offer.prepayment, None);
    assert_eq!(offer.payment_terms_days, Some(15));
}

#[test]
fn a_new_buyer_is_offered_its_single_order_cap() {
    // New: at most 50 % of the limit at once; insured so cover does not bind.
    let mut buyer = record(RiskTier::New, 10_000);
    buyer.profile.insurance = Some(Insurance {
        insured_limit: money(10_000),
        indemnity_percent: Decimal::from(90),
    });
    let snap = snapshot(0, 0, &[]);
    assert_eq!(
        codes(&check(&buyer, &snap, 600_000, None)),
        ["NEW_BUYER_MAX_ORDER"]
    );
    let offer = offer(&buyer, &snap, 600_000, None).expect("an offer");
    assert_eq!(offer.approvable, money(5_000));
    assert_eq!(offer.prepayment, Some(money(1_000)));
    assert_eq!(
        offer.payment_terms_days, None,
        "the new tier has no short terms"
    );
}

#[test]
fn insured_cover_bounds_the_offer() {
    // Standard holds above cover: limit 10 000, insured 6 000, exposure 5 000.
    let mut buyer = record(RiskTier::Standard, 10_000);
    buyer.profile.insurance = Some(Insurance {
        insured_limit: money(6_000),
        indemnity_percent: Decimal::from(90),
    });
    let snap = snapshot(0, 5_000, &[]);
    let offer = offer(&buyer, &snap, 300_000, None).expect("an offer");
    assert_eq!(offer.approvable, money(1_000));
    assert_eq!(offer.payment_terms_days, None, "terms do not raise cover");
}

#[test]
fn no_offer_where_shipping_is_forbidden() {
    let snap = snapshot(0, 9_000, &[]);
    let mut insolvent = record(RiskTier::Core, 10_000);
    insolvent.profile.external_rating = Some(ExternalRating {
        grade: Grade::new(10).unwrap(),
        legal_disputes: 0,
        insolvency: true,
    });
    assert_eq!(offer(&insolvent, &snap, 200_000, None), None);
    let buyer = record(RiskTier::Core, 10_000);
    // Collection (15 days) and legal (60 days) stages: nothing ships.
    for days in [20, 70] {
        let overdue = snapshot(0, 9_000, &[days]);
        assert_ne!(
            check(&buyer, &overdue, 200_000, None).decision,
            Decision::Approved
        );
        assert_eq!(offer(&buyer, &overdue, 200_000, None), None, "{days} days");
    }
    // An expired rating with the order above its cap (10 % of the limit).
    let mut expired = record(RiskTier::Core, 10_000);
    expired.rating.valid_until = today().add_days(-1);
    assert_eq!(offer(&expired, &snapshot(0, 0, &[]), 200_000, None), None);
}

#[test]
fn an_approved_order_has_no_offer() {
    let buyer = record(RiskTier::Standard, 10_000);
    assert_eq!(offer(&buyer, &snapshot(0, 0, &[]), 100_000, None), None);
}

/// Codes whose presence means nothing of the order may ship.
const FORBIDDING: [&str; 3] = ["INSOLVENCY", "OVERDUE_LEGAL", "OVERDUE_COLLECTION"];

proptest! {
    /// The offered amount is what a check approves, one minor unit more is not;
    /// the offered terms approve the whole order; no offer where shipping is
    /// forbidden, and none missing where something would be approved.
    #[test]
    fn offers_are_answers_of_the_rule(
        (mut buyer, snap) in any_buyer_and_ledger(),
        agreed_terms in 1u32..90,
        order_terms in proptest::option::of(1u32..90),
        amount in 1i64..2_000_000,
    ) {
        buyer.profile.payment_terms_days = agreed_terms;
        let limit = buyer.limit_in_effect().0.minor();
        let answer = check(&buyer, &snap, amount, order_terms);
        let offered = offer(&buyer, &snap, amount, order_terms);
        let forbidden = codes(&answer).iter().any(|code| FORBIDDING.contains(code))
            || (today() > buyer.rating.valid_until && amount > limit / 10);
        if answer.decision == Decision::Approved || forbidden {
            prop_assert_eq!(offered, None);
            return Ok(());
        }
        match offered {
            Some(o) => {
                let approvable = o.approvable.minor();
                prop_assert!(approvable < amount);
                if approvable > 0 {
                    prop_assert_eq!(check(&buyer, &snap, approvable, order_terms).decision, Decision::Approved);
                    prop_assert_eq!(o.prepayment, Some(minor(amount - approvable)));
                } else {
                    prop_assert_eq!(o.prepayment, None);
                    prop_assert!(o.payment_terms_days.is_some());
                }
                prop_assert_ne!(check(&buyer, &snap, approvable + 1, order_terms).decision, Decision::Approved);
                if let Some(days) = o.payment_terms_days {
                    prop_assert!(days < agreed_terms);
                    prop_assert_eq!(check(&buyer, &snap, amount, Some(days)).decision, Decision::Approved);
                }
            }
            None => {
                // Nothing at all is approvable: not one minor unit, nor the
                // order on the tier's short terms.
                prop_assert_ne!(check(&buyer, &snap, 1, order_terms).decision, Decision::Approved);
                // Nor on any shorter terms at all.
                for days in 1..agreed_terms {
                    prop_assert_ne!(check(&buyer, &snap, amount, Some(days)).decision, Decision::Approved);
                }
            }
        }
    }
}

proptest! {
    /// Huge amounts (exposure up to 2^53 - 1) and currencies with 0 and 3
    /// minor digits: the offer never disagrees with the rule, never panics.
    #[test]
    fn offers_hold_for_huge_amounts_and_other_currencies(
        tier in prop_oneof![Just(RiskTier::Core), Just(RiskTier::Standard), Just(RiskTier::New), Just(RiskTier::Watch)],
        code in prop_oneof![Just("JPY"), Just("BHD"), Just("EUR")],
        limit in 0i64..(1i64 << 53),
        insured in proptest::option::of(0i64..(1i64 << 53)),
        total in 0i64..(1i64 << 53),
        amount in 1i64..(1i64 << 53),
        terms in proptest::option::of(1u32..40),
    ) {
        let currency = crate::domain::money::Currency::from_code(code).unwrap();
        let mut buyer = record(tier, 0);
        buyer.profile.currency = currency;
        buyer.profile.manual_limit = Some(Money::from_minor(currency, limit));
        buyer.profile.insurance = insured.map(|cap| Insurance {
            insured_limit: Money::from_minor(currency, cap),
            indemnity_percent: Decimal::from(90),
        });
        let mut snap = snapshot(0, 0, &[]);
        snap.totals.open_invoices = total;
        let policy = Policy::default();
        let amount_m = Money::from_minor(currency, amount);
        let admission = admission_on_terms(&policy, &buyer, amount_m, terms, today());
        let offered = admission.counter_offer(&snap);
        prop_assert!(offered.is_ok(), "broken offer: {:?}", offered);
        if let Ok(Some(o)) = offered {
            let a = o.approvable.minor();
            prop_assert!(a >= 0 && a < amount);
            let ok = |m: i64| admission_on_terms(&policy, &buyer, Money::from_minor(currency, m), terms, today()).evaluate(&snap).decision == Decision::Approved;
            if a > 0 { prop_assert!(ok(a)); }
            prop_assert!(!ok(a + 1));
        }
    }
}

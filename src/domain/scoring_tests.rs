use super::*;
use crate::domain::buyer::{
    BuyerRecord, EarlyPaymentDiscount, ExternalRating, Financials, Insurance, LimitAdjustment,
    RiskTier,
};
use crate::domain::exposure::PaymentStats;
use crate::domain::ids::BuyerId;
use crate::domain::money::Currency;
use proptest::prelude::*;

fn eur() -> Currency {
    Currency::from_code("EUR").unwrap()
}

fn major(amount: i64) -> Money {
    Money::from_minor(eur(), amount * 100)
}

fn today() -> Date {
    Date::parse("2026-11-28").unwrap()
}

/// The worked example of docs/scoring.md.
fn acme() -> BuyerProfile {
    BuyerProfile {
        id: BuyerId::parse("ACME").unwrap(),
        name: "Acme Trading GmbH".into(),
        country_code: "DE".into(),
        currency: eur(),
        tier: RiskTier::Standard,
        manual_limit: None,
        payment_terms_days: 30,
        early_payment_discount: None,
        financials: Some(Financials {
            annual_revenue: Some(major(12_000_000)),
            net_worth: Some(major(3_000_000)),
            years_in_business: 12,
        }),
        external_rating: Some(ExternalRating {
            grade: Grade::new(3).unwrap(),
            legal_disputes: 0,
            insolvency: false,
        }),
        insurance: None,
    }
}

fn codes_and_messages(rating: &Rating) -> Vec<(&'static str, &str)> {
    rating
        .reasons
        .iter()
        .map(|r| (r.code.as_str(), r.message.as_str()))
        .collect()
}

#[test]
fn worked_example_from_docs() {
    let rating = score(
        &Policy::default(),
        &acme(),
        &PaymentBehaviour::default(),
        today(),
    );
    assert_eq!(rating.score, 675);
    assert_eq!(rating.grade.value(), 4);
    assert_eq!(rating.probability_of_default, Decimal::new(15, 4));
    assert_eq!(rating.recommended_limit, major(160_000));
    assert_eq!(rating.scored_limit, major(160_000));
    assert_eq!(rating.valid_until, today().add_days(180));
    assert_eq!(
        codes_and_messages(&rating),
        [
            ("EXTERNAL_GRADE", "+ 80 points: external grade 3 of 10"),
            ("YEARS_IN_BUSINESS", "+ 60 points: 12 years in business"),
            ("NET_WORTH", "+ 40 points: net worth of 3000000.00 EUR"),
            (
                "NO_PAYMENT_HISTORY",
                "− 30 points: no payments on record yet"
            ),
            ("REVENUE", "+ 25 points: annual revenue of 12000000.00 EUR"),
        ]
    );
}

#[test]
fn worked_example_with_insurance_and_a_payment_record() {
    let mut profile = acme();
    profile.insurance = Some(Insurance {
        insured_limit: major(100_000),
        indemnity_percent: Decimal::from(90),
    });
    profile.early_payment_discount = Some(EarlyPaymentDiscount {
        percent: Decimal::from(2),
        days: 10,
    });
    let mut stats = PaymentStats::default();
    for _ in 0..4 {
        stats.record(250_000, -20, true);
    }
    stats.note_invoice(today().add_days(-800));
    let behaviour = PaymentBehaviour {
        stats,
        relationship_days: 800,
        dso_days: Some(Decimal::from(25)),
        ..PaymentBehaviour::default()
    };
    let rating = score(&Policy::default(), &profile, &behaviour, today());
    // 500 + 80 + 60 + 40 + 25 + 60 (paid early) + 20 (discount) + 20 (DSO ≤ terms) + 20 (2+ years)
    assert_eq!(rating.score, 825);
    assert_eq!(rating.grade.value(), 2);
    // Scored: min(300 000, 200 000) × 100% = 200 000; insured 100 000 + 20% of it.
    assert_eq!(rating.scored_limit, major(200_000));
    assert_eq!(rating.insured_limit, major(100_000));
    assert_eq!(rating.discretionary_limit, major(20_000));
    assert_eq!(rating.recommended_limit, major(120_000));
}

#[test]
fn tier_cap_bounds_the_scored_limit() {
    let mut profile = acme();
    profile.tier = RiskTier::New;
    let rating = score(
        &Policy::default(),
        &profile,
        &PaymentBehaviour::default(),
        today(),
    );
    assert_eq!(rating.scored_limit, major(100_000));
    assert_eq!(rating.valid_until, today().add_days(90));
}

#[test]
fn size_bands_use_the_currency_divisor() {
    let jpy = Currency::from_code("JPY").unwrap();
    let mut profile = acme();
    profile.currency = jpy;
    profile.financials = Some(Financials {
        // 480 million JPY is 3 million size units at 160 JPY per unit.
        annual_revenue: None,
        net_worth: Some(Money::from_minor(jpy, 480_000_000)),
        years_in_business: 12,
    });
    let rating = score(
        &Policy::default(),
        &profile,
        &PaymentBehaviour::default(),
        today(),
    );
    assert!(
        rating
            .reasons
            .iter()
            .any(|r| r.message == "+ 40 points: net worth of 480000000 JPY")
    );
}

fn financials_strategy() -> impl Strategy<Value = (i64, i64, u32)> {
    (-1_000_000i64..200_000_000, 0i64..2_000_000_000, 0u32..40)
}

fn with_financials(net_worth: i64, revenue: i64, years: u32) -> BuyerProfile {
    let mut profile = acme();
    profile.financials = Some(Financials {
        annual_revenue: Some(major(revenue)),
        net_worth: Some(major(net_worth)),
        years_in_business: years,
    });
    profile
}

fn behaviour(
    late_days: i32,
    late: u32,
    on_time: u32,
    overdue: i64,
    oldest: i32,
    disputed: u32,
    dso: i64,
) -> PaymentBehaviour {
    let mut stats = PaymentStats::default();
    for _ in 0..on_time {
        stats.record(10_000, 0, false);
    }
    for _ in 0..late {
        stats.record(10_000, late_days, false);
    }
    PaymentBehaviour {
        stats,
        open_invoices: 1_000_000,
        overdue,
        oldest_overdue_days: oldest,
        disputed_invoices: disputed,
        sales_in_window: 1_000_000,
        dso_days: Some(Decimal::from(dso)),
        relationship_days: 400,
    }
}

proptest! {
    #[test]
    fn better_financials_never_lower_the_score(
        (nw, rev, years) in financials_strategy(),
        (dnw, drev, dyears) in (0i64..100_000_000, 0i64..1_000_000_000, 0u32..20),
    ) {
        let policy = Policy::default();
        let worse = score(&policy, &with_financials(nw, rev, years), &PaymentBehaviour::default(), today());
        let better = score(&policy, &with_financials(nw + dnw, rev + drev, years + dyears), &PaymentBehaviour::default(), today());
        prop_assert!(better.score >= worse.score, "{} < {}", better.score, worse.score);
        prop_assert!(better.recommended_limit.minor() >= worse.recommended_limit.minor());
    }

    #[test]
    fn a_worse_payment_record_never_raises_the_limit(
        late_days in 1i32..120, late in 1u32..5, on_time in 0u32..5,
        overdue in 0i64..1_000_000, oldest in 0i32..200, disputed in 0u32..4, dso in 0i64..200,
        (more_days, more_late, more_overdue, more_oldest, more_disputed, more_dso) in (0i32..60, 0u32..5, 0i64..500_000, 0i32..100, 0u32..3, 0i64..100),
    ) {
        let policy = Policy::default();
        let good = behaviour(late_days, late, on_time, overdue, oldest, disputed, dso);
        let bad = behaviour(late_days + more_days, late + more_late, on_time, (overdue + more_overdue).min(1_000_000), oldest + more_oldest, disputed + more_disputed, dso + more_dso);
        let good_rating = score(&policy, &acme(), &good, today());
        let bad_rating = score(&policy, &acme(), &bad, today());
        prop_assert!(bad_rating.score <= good_rating.score);
        prop_assert!(bad_rating.recommended_limit.minor() <= good_rating.recommended_limit.minor());
        // And in effect: late payments only ever step the adjustment down.
        let mut adjustment = LimitAdjustment::default();
        let mut worse_adjustment = LimitAdjustment::default();
        for _ in 0..late { adjustment = adjustment.after_payment(&policy.adjustment, late_days); }
        for _ in 0..late + more_late { worse_adjustment = worse_adjustment.after_payment(&policy.adjustment, late_days + more_days); }
        let in_effect = |rating: &Rating, adjustment| BuyerRecord { profile: acme(), rating: rating.clone(), adjustment }.limit_in_effect().0.minor();
        prop_assert!(in_effect(&bad_rating, worse_adjustment) <= in_effect(&good_rating, adjustment));
    }

    #[test]
    fn limits_are_never_negative_and_insolvency_means_grade_10_and_no_limit(
        (nw, rev, years) in financials_strategy(),
        grade in 1i64..=10, disputes in 0u32..10, insolvent in any::<bool>(),
        insured in proptest::option::of(0i64..10_000_000),
        late_days in -30i32..200,
    ) {
        let mut profile = with_financials(nw, rev, years);
        profile.external_rating = Some(ExternalRating { grade: Grade::new(grade).unwrap(), legal_disputes: disputes, insolvency: insolvent });
        profile.insurance = insured.map(|cap| Insurance { insured_limit: major(cap), indemnity_percent: Decimal::from(90) });
        let rating = score(&Policy::default(), &profile, &behaviour(late_days, 2, 1, 0, 0, 0, 30), today());
        prop_assert!(rating.recommended_limit.minor() >= 0);
        prop_assert!(rating.scored_limit.minor() >= 0);
        prop_assert!(rating.discretionary_limit.minor() <= rating.scored_limit.minor());
        prop_assert!(rating.score <= 1000);
        if insolvent {
            prop_assert_eq!(rating.grade.value(), 10);
            prop_assert_eq!(rating.score, 0);
            prop_assert!(rating.recommended_limit.is_zero());
            prop_assert_eq!(rating.probability_of_default, Decimal::ONE);
        }
    }

    #[test]
    fn pd_is_a_probability_and_monotone_in_grade(a in 1i64..=10, b in 1i64..=10) {
        let (ga, gb) = (Grade::new(a).unwrap(), Grade::new(b).unwrap());
        let (pa, pb) = (probability_of_default(ga, false), probability_of_default(gb, false));
        prop_assert!(pa >= Decimal::ZERO && pa <= Decimal::ONE);
        if a < b {
            prop_assert!(pa < pb);
        }
        prop_assert!(probability_of_default(ga, true) >= pa);
    }

    #[test]
    fn the_limit_adjustment_stays_within_its_bounds(days in proptest::collection::vec(-10i32..90, 0..40)) {
        let rule = Policy::default().adjustment;
        let mut adjustment = LimitAdjustment::default();
        for d in days {
            adjustment = adjustment.after_payment(&rule, d);
            prop_assert!(adjustment.percent >= rule.floor_percent && adjustment.percent <= 100);
        }
    }
}

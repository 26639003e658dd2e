//! `render` on hand-built records: one per shape a credit team meets.

use super::*;
use crate::grpc::pb;

fn eur(amount: &str) -> Option<pb::Money> {
    Some(pb::Money {
        currency_code: "EUR".into(),
        amount: amount.into(),
    })
}

fn reason(code: &str, message: &str) -> pb::Reason {
    pb::Reason {
        code: code.into(),
        message: message.into(),
    }
}

fn standard_rules() -> pb::TierRules {
    pb::TierRules {
        risk_tier: pb::RiskTier::Standard as i32,
        tolerance_percent: "5".into(),
        max_order_percent_of_limit: String::new(),
        uninsured_outcome: pb::Decision::Held as i32,
        insurance_expected: false,
        reminder_days_before_due: 7,
        collection_days_overdue: 15,
        legal_days_overdue: 60,
        rerating_days: 180,
        max_scored_limit: "1000000".into(),
        expired_max_order_percent: "10".into(),
        ..Default::default()
    }
}

fn rating(valid_until: &str) -> pb::RatingSnapshot {
    pb::RatingSnapshot {
        score: 640,
        grade: 4,
        probability_of_default: "0.015".into(),
        recommended_limit: eur("120000.00"),
        scored_limit: eur("160000.00"),
        insured_limit: eur("100000.00"),
        discretionary_limit: eur("20000.00"),
        rated_on: "2026-06-01".into(),
        valid_until: valid_until.into(),
    }
}

fn due(invoice: &str, due_date: &str, days_overdue: i32) -> pb::DueInvoice {
    pb::DueInvoice {
        invoice_id: invoice.into(),
        due_date: due_date.into(),
        days_overdue,
    }
}

/// A HELD decision: the order would take exposure 4 000 over a 100 000 limit.
fn held_for_limit() -> pb::DecisionRecord {
    pb::DecisionRecord {
        decision_id: "0193a1b2-held".into(),
        decided_at: "2026-12-02T10:15:00Z".into(),
        request: Some(pb::CheckCreditLimitRequest {
            buyer_id: "ACME".into(),
            order_id: "SO-4711".into(),
            amount: eur("14000.00"),
            ..Default::default()
        }),
        decision: pb::Decision::Held as i32,
        reasons: vec![reason(
            "LIMIT_EXCEEDED",
            "exposure would reach 104000.00 EUR, over the limit 100000.00 EUR by 4000.00 EUR; approvable up to 10000.00 EUR",
        )],
        policy_version: "2026-11-default-1".into(),
        snapshot: Some(pb::DecisionSnapshot {
            as_of: "2026-12-02".into(),
            credit_limit: eur("100000.00"),
            limit_source: "scored".into(),
            limit_adjustment_percent: 80,
            on_time_streak: 1,
            open_orders: eur("10000.00"),
            open_invoices: eur("80000.00"),
            disputed: eur("5000.00"),
            exposure_before: eur("90000.00"),
            exposure_after: eur("90000.00"),
            oldest_due: vec![due("INV-1", "2026-11-25", 7), due("INV-2", "2026-12-20", 0)],
            oldest_overdue_days: 7,
            next_due: Some(due("INV-2", "2026-12-20", 0)),
            rating: Some(rating("2026-11-28")),
            buyer: Some(pb::Buyer {
                buyer_id: "ACME".into(),
                name: "Acme Metals GmbH".into(),
                insurance: Some(pb::Insurance {
                    insured_limit: eur("100000.00"),
                    indemnity_percent: "90".into(),
                }),
                ..Default::default()
            }),
            tier_rules: Some(standard_rules()),
            invoiced_by_invoice_id: String::new(),
            invoiced_amount: None,
        }),
        release: None,
        counter_offer: None,
    }
}

#[test]
fn held_for_limit_shows_the_outcome_the_reason_its_remedy_and_the_numbers() {
    let text = render(&held_for_limit());
    println!("{text}");
    let first = text.lines().next().unwrap();
    assert_eq!(
        first,
        "HELD  order SO-4711  buyer ACME (Acme Metals GmbH)  14,000.00 EUR"
    );
    assert!(text.contains(
        "decided 2026-12-02T10:15:00Z (business date 2026-12-02), policy 2026-11-default-1, decision 0193a1b2-held"
    ));
    assert!(text.contains("1. LIMIT_EXCEEDED: exposure would reach 104000.00 EUR"));
    assert!(text.contains("remedy: the buyer pays open invoices to free headroom"));
    assert!(text.contains(
        "credit limit           100,000.00 EUR (scored, 80% of the recommendation after late payments; on-time streak 1)"
    ));
    assert!(text.contains("exposure before        90,000.00 EUR"));
    assert!(text.contains(
        "open orders 10,000.00 EUR, open invoices 80,000.00 EUR (of which disputed 5,000.00 EUR)"
    ));
    assert!(text.contains("exposure after         90,000.00 EUR (nothing reserved)"));
    assert!(text.contains("available after        10,000.00 EUR"));
    assert!(text.contains("insured limit          100,000.00 EUR"));
    assert!(text.contains("85,000.00 EUR before, 85,000.00 EUR after"));
    assert!(text.contains("oldest open invoices   INV-1  due 2026-11-25  7 days overdue"));
    assert!(text.contains("INV-2  due 2026-12-20  not yet due"));
    assert!(text.contains("next due               INV-2  due 2026-12-20 (in 18 days)"));
    assert!(text.contains("grade 4, score 640, PD 0.015 (1.5%)"));
    assert!(text.contains("valid until 2026-11-28: EXPIRED on 2026-12-02"));
    assert!(text.contains("standard: tolerance 5% over the limit; no single-order cap"));
    assert!(text.contains("collection (HELD) from 15 and legal (REFERRED) from 60 days overdue"));
    assert!(!text.contains('\u{1b}'), "no colour codes");
    assert!(!text.contains("Released by"));
    assert!(!text.contains("already invoiced"));
}

#[test]
fn a_counter_offer_says_how_to_accept_each_part() {
    let mut record = held_for_limit();
    record.counter_offer = Some(pb::CounterOffer {
        approvable_amount: eur("10000.00"),
        prepayment_required: eur("4000.00"),
        payment_terms_days: 15,
        valid_until: "2026-12-02T10:30:00Z".into(),
    });
    let text = render(&record);
    assert!(
        text.contains("Counter-offer (valid until 2026-12-02T10:30:00Z)"),
        "{text}"
    );
    assert!(
        text.contains("ship 10,000.00 EUR now under a new order id"),
        "{text}"
    );
    assert!(text.contains("with 4,000.00 EUR paid in advance"), "{text}");
    assert!(text.contains("on net 15"), "{text}");
    let rules = record
        .snapshot
        .as_mut()
        .unwrap()
        .tier_rules
        .as_mut()
        .unwrap();
    rules.short_terms_days = 15;
    rules.short_terms_limit_percent = "110".into();
    assert!(render(&record).contains("orders on net 15 or shorter may reach 110% of the limit"));
    // Without one, nothing is said.
    assert!(!render(&held_for_limit()).contains("Counter-offer"));
}

#[test]
fn referred_at_the_legal_stage_lists_the_overdue_invoices() {
    let mut record = held_for_limit();
    record.decision = pb::Decision::Referred as i32;
    record.reasons = vec![reason(
        "OVERDUE_LEGAL",
        "invoices INV-9 are 75 days overdue (legal stage); pay or dispute them",
    )];
    let snapshot = record.snapshot.as_mut().unwrap();
    snapshot.oldest_due = vec![due("INV-9", "2026-09-18", 75)];
    snapshot.oldest_overdue_days = 75;
    snapshot.next_due = None;
    snapshot.rating = Some(rating("2027-05-30"));
    let text = render(&record);
    println!("{text}");
    assert!(text.starts_with("REFERRED  order SO-4711"));
    assert!(text.contains("a credit analyst must decide"));
    assert!(text.contains("1. OVERDUE_LEGAL: invoices INV-9 are 75 days overdue"));
    assert!(text.contains("remedy: the buyer pays the named invoices"));
    assert!(text.contains("oldest overdue         75 days"));
    assert!(text.contains("INV-9  due 2026-09-18  75 days overdue"));
    assert!(text.contains("valid until 2027-05-30: valid on 2026-12-02"));
    assert!(!text.contains("next due"));
}

#[test]
fn a_release_names_the_analyst_and_the_reasons_it_overrides() {
    let mut record = held_for_limit();
    record.decision = pb::Decision::Approved as i32;
    record.reasons.insert(
        0,
        reason(
            "RELEASED_BY_ANALYST",
            "released by j.doe: prepayment received",
        ),
    );
    record.release = Some(pb::AnalystRelease {
        released_by: "j.doe".into(),
        reason: "prepayment received".into(),
    });
    let snapshot = record.snapshot.as_mut().unwrap();
    snapshot.exposure_after = eur("104000.00");
    let text = render(&record);
    println!("{text}");
    assert!(text.starts_with("APPROVED  order SO-4711"));
    assert!(text.contains("\nReleased by j.doe because prepayment received\n"));
    assert!(text.contains("1. RELEASED_BY_ANALYST: released by j.doe"));
    assert!(text.contains("remedy: nothing to do: a credit analyst approved this order"));
    assert!(text.contains("2. LIMIT_EXCEEDED"));
    assert!(text.contains("exposure after         104,000.00 EUR (with this order)"));
    assert!(text.contains("available after        -4,000.00 EUR"));
}

#[test]
fn already_invoiced_names_the_invoice_that_billed_the_order() {
    let mut record = held_for_limit();
    record.decision = pb::Decision::Referred as i32;
    record.reasons = vec![reason(
        "ALREADY_INVOICED",
        "order SO-4711 was invoiced as INV-77 without an approval",
    )];
    let snapshot = record.snapshot.as_mut().unwrap();
    snapshot.invoiced_by_invoice_id = "INV-77".into();
    snapshot.invoiced_amount = eur("14000.00");
    snapshot.buyer.as_mut().unwrap().insurance = None;
    let text = render(&record);
    println!("{text}");
    assert!(text.contains("1. ALREADY_INVOICED: order SO-4711 was invoiced as INV-77"));
    assert!(text.contains("remedy: the order was billed without an approval"));
    assert!(text.contains("already invoiced       by invoice INV-77 for 14,000.00 EUR"));
    // No cover on file, not expected by the tier, not named: not shown.
    assert!(!text.contains("insurable exposure"));
}

#[test]
fn a_record_without_store_numbers_or_snapshot_still_renders() {
    let mut record = held_for_limit();
    record.decision = pb::Decision::Referred as i32;
    record.reasons = vec![reason("SOMETHING_NEWER", "a code from a newer server")];
    let snapshot = record.snapshot.as_mut().unwrap();
    snapshot.credit_limit = None;
    snapshot.exposure_before = None;
    snapshot.exposure_after = None;
    let text = render(&record);
    assert!(text.contains("credit limit           unknown"));
    assert!(text.contains("remedy: see docs/policy.md"));
    assert!(!text.contains("available after"));
    record.snapshot = None;
    record.request = None;
    let text = render(&record);
    assert!(text.contains("The numbers it used: not recorded"));
}

#[test]
fn amounts_are_grouped_by_thousands() {
    assert_eq!(group("1234567.89"), "1,234,567.89");
    assert_eq!(group("-4000.00"), "-4,000.00");
    assert_eq!(group("999"), "999");
    assert_eq!(group("1000000"), "1,000,000");
    assert_eq!(group("abc"), "abc");
}

#[test]
fn a_new_buyer_without_cover_shows_the_cap_and_the_missing_insurance() {
    let mut record = held_for_limit();
    record.decision = pb::Decision::Referred as i32;
    record.reasons = vec![
        reason("NEW_BUYER_MAX_ORDER", "approvable up to 50000.00 EUR"),
        reason("UNINSURED_EXPOSURE", "no insurance on file"),
    ];
    let snapshot = record.snapshot.as_mut().unwrap();
    snapshot.buyer.as_mut().unwrap().insurance = None;
    snapshot.tier_rules = Some(pb::TierRules {
        risk_tier: pb::RiskTier::New as i32,
        tolerance_percent: "0".into(),
        max_order_percent_of_limit: "50".into(),
        uninsured_outcome: pb::Decision::Referred as i32,
        insurance_expected: true,
        ..standard_rules()
    });
    let text = render(&record);
    assert!(text.contains("1. NEW_BUYER_MAX_ORDER"));
    assert!(text.contains("remedy: split the order under the new-buyer cap"));
    assert!(text.contains("2. UNINSURED_EXPOSURE"));
    assert!(text.contains("remedy: ask the insurer for more cover"));
    assert!(text.contains("insured limit          none on file (this tier counts it as zero)"));
    assert!(text.contains("new: tolerance 0% over the limit; largest order 50% of the limit"));
    assert!(text.contains("above the insured limit: REFERRED; cover expected"));
}

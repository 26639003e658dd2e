use super::*;
use crate::domain::buyer::Insurance;
use crate::domain::decision_record::{AnalystRelease, example_record};
use crate::domain::ids::InvoiceId;
use std::sync::Arc;

fn eur() -> Currency {
    Currency::from_code("EUR").unwrap()
}

/// `example_record` (standard tier, manual limit 10,000.00 EUR, PD 1%, empty
/// ledger, reserved) for `amount` minor units.
fn record(id: &str, amount: i64) -> DecisionRecord {
    let mut record = example_record(id);
    Arc::make_mut(&mut record.inputs).amount = Money::from_minor(eur(), amount);
    record
}

/// The default policy with a new-buyer style cap on standard buyers: orders
/// above `percent` of the limit are referred.
fn capped(percent: i64) -> Policy {
    let mut policy = Policy {
        version: "capped".into(),
        ..Policy::default()
    };
    policy.standard.max_order_percent_of_limit = Some(Decimal::from(percent));
    policy
}

#[test]
fn the_policy_in_force_changes_nothing() {
    let records: Vec<_> = (0..5)
        .map(|n| record(&format!("d{n}"), 10_000 * (n + 1)))
        .collect();
    let report = what_if(&Policy::default(), &records);
    assert!(report.unchanged(), "{report:?}");
    assert_eq!(report.decisions, 5);
    assert!(report.by_currency.is_empty() && report.largest.is_empty());
}

#[test]
fn a_tighter_cap_stops_orders_with_their_expected_loss() {
    // 1% of 10,000.00 = 100.00: the 150.00 order is stopped, the 100.00 one not.
    let records = [record("a", 10_000), record("b", 15_000)];
    let report = what_if(&capped(1), &records);
    assert_eq!(report.changed, 1);
    let stop = (Decision::Approved, Decision::Referred);
    assert_eq!(report.by_tier[&("standard", stop)], 1);
    assert_eq!(report.by_reason[&("NEW_BUYER_MAX_ORDER", stop)], 1);
    let effect = &report.by_currency["EUR"];
    assert_eq!(effect.stopped.amount_minor, 15_000);
    assert_eq!(effect.let_through, Flow::default());
    // PD 1% of an uninsured 150.00.
    assert_eq!(rounded(eur(), effect.stopped.expected_loss).minor(), 150);
    assert_eq!(report.largest.len(), 1);
    assert_eq!(report.largest[0].decision_id, "b");
}

#[test]
fn a_looser_rule_lets_orders_through() {
    // Decided under a 1% cap (referred), replayed without one.
    let mut capped_record = record("over", 15_000);
    Arc::make_mut(&mut capped_record.inputs)
        .tier
        .max_order_percent_of_limit = Some(Decimal::ONE);
    assert_eq!(capped_record.replay().decision, Decision::Referred);
    let report = what_if(&Policy::default(), [&capped_record]);
    let through = (Decision::Referred, Decision::Approved);
    assert_eq!(report.by_reason[&("NEW_BUYER_MAX_ORDER", through)], 1);
    let effect = &report.by_currency["EUR"];
    assert_eq!(effect.let_through.amount_minor, 15_000);
    assert_eq!(effect.let_through.orders, 1);
    assert_eq!(effect.stopped, Flow::default());
}

#[test]
fn insured_part_is_the_headroom_under_the_insured_limit() {
    let mut rec = record("i", 10_000);
    let buyer = Arc::make_mut(&mut Arc::make_mut(&mut rec.inputs).buyer);
    buyer.profile.insurance = Some(Insurance {
        insured_limit: Money::from_minor(eur(), 16_000),
        indemnity_percent: Decimal::from(90),
    });
    rec.snapshot.totals.open_invoices = 10_000;
    // Headroom 60.00 insured at 90%, 40.00 uninsured: 1% × (40 + 60 × 0.1) = 0.46.
    assert_eq!(expected_loss(&rec), Decimal::new(46, 2));
    // Disputed invoices are not insurable: they leave the headroom alone.
    rec.snapshot.totals.disputed = 10_000;
    // Headroom 160.00 ≥ 100.00: all insured, 1% × 100 × 0.1 = 0.10.
    assert_eq!(expected_loss(&rec), Decimal::new(10, 2));
}

#[test]
fn releases_and_invoiced_orders_keep_their_outcome() {
    let mut released = record("r", 10_000_000);
    Arc::make_mut(&mut released.inputs).release = Some(AnalystRelease {
        released_by: "j.doe".into(),
        reason: "prepaid".into(),
    });
    let mut invoiced = record("v", 15_000);
    invoiced.verdict = StoreVerdict::Invoiced {
        invoice_id: InvoiceId::parse("INV-1").unwrap(),
        amount: 15_000,
    };
    let report = what_if(&capped(1), [&released, &invoiced]);
    assert_eq!((report.released, report.invoiced), (1, 1));
    assert!(report.unchanged());
}

#[test]
fn the_report_ignores_reading_order_and_keeps_the_ten_largest() {
    let records: Vec<_> = (0..25)
        .map(|n| record(&format!("d{n:02}"), 20_000 + (n % 7) * 1_000))
        .collect();
    let forward = what_if(&capped(1), &records);
    let backward = what_if(&capped(1), records.iter().rev());
    assert_eq!(forward, backward);
    assert_eq!(forward.changed, 25);
    assert_eq!(forward.largest.len(), LARGEST_CHANGES);
    // Largest first; equal amounts by decision id.
    let ranks: Vec<_> = forward
        .largest
        .iter()
        .map(|c| (Reverse(c.amount.minor()), c.decision_id.clone()))
        .collect();
    let mut sorted = ranks.clone();
    sorted.sort();
    assert_eq!(ranks, sorted);
    assert_eq!(forward.largest[0].amount.minor(), 26_000);
}

#[test]
fn rounding_is_half_away_from_zero_to_minor_units() {
    assert_eq!(rounded(eur(), Decimal::new(5, 3)).minor(), 1);
    assert_eq!(rounded(eur(), Decimal::new(4, 3)).minor(), 0);
    assert_eq!(rounded(eur(), Decimal::new(125, 3)).minor(), 13);
}

#[test]
fn currencies_are_summed_apart() {
    let usd = Currency::from_code("USD").unwrap();
    let mut dollars = record("u", 15_000);
    {
        let inputs = Arc::make_mut(&mut dollars.inputs);
        inputs.amount = Money::from_minor(usd, 15_000);
        let buyer = Arc::make_mut(&mut inputs.buyer);
        buyer.profile.currency = usd;
        buyer.profile.manual_limit = Some(Money::from_minor(usd, 1_000_000));
    }
    let euros = record("e", 20_000);
    let report = what_if(&capped(1), [&dollars, &euros]);
    assert_eq!(report.changed, 2);
    assert_eq!(report.by_currency["USD"].stopped.amount_minor, 15_000);
    assert_eq!(report.by_currency["EUR"].stopped.amount_minor, 20_000);
}

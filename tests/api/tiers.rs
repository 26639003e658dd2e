//! One buyer per risk tier through CheckCreditLimit, end to end, under the shipped
//! policy file (policy/default.toml): what each tier tolerates and what it does not.

use crate::helpers::*;
use creditgate::grpc::pb;

#[tokio::test]
async fn core_buyer_tolerance_and_uninsured_excess() {
    let app = TestApp::spawn().await;
    app.upsert(with_insurance(
        with_tier(buyer("CORE", "10000.00"), pb::RiskTier::Core),
        "4000.00",
    ))
    .await;
    // Uninsured exposure is approved for core buyers, and said.
    let approved = app.check("CORE", "O-1", "9000.00").await;
    assert_eq!(decision(&approved), Decision::Approved);
    assert_eq!(codes(&approved), ["WITHIN_LIMIT", "UNINSURED_EXPOSURE"]);
    assert_eq!(approved.policy_version, "2026-11-default-1");
    // 10% tolerance: up to 1000.00 over the limit is HELD, beyond REFERRED.
    assert_eq!(
        decision(&app.check("CORE", "O-2", "2000.00").await),
        Decision::Held
    );
    assert_eq!(
        decision(&app.check("CORE", "O-3", "2000.01").await),
        Decision::Referred
    );
    // Collection stage from 15 days overdue.
    app.invoice("CORE", "INV-1", "", "10.00", -44, -14)
        .await
        .unwrap();
    assert_eq!(
        decision(&app.check("CORE", "O-4", "10.00").await),
        Decision::Approved
    );
}

#[tokio::test]
async fn standard_buyer_holds_uninsured_excess_and_small_overruns() {
    let app = TestApp::spawn().await;
    app.upsert(with_insurance(buyer("STD", "10000.00"), "4000.00"))
        .await;
    assert_eq!(
        decision(&app.check("STD", "O-1", "4000.00").await),
        Decision::Approved
    );
    let uninsured = app.check("STD", "O-2", "1.00").await;
    assert_eq!(
        (decision(&uninsured), codes(&uninsured)),
        (Decision::Held, vec!["UNINSURED_EXPOSURE"])
    );
    app.upsert(buyer("STD-2", "10000.00")).await;
    app.check("STD-2", "O-1", "10000.00").await;
    // 5% tolerance.
    assert_eq!(
        decision(&app.check("STD-2", "O-2", "500.00").await),
        Decision::Held
    );
    assert_eq!(
        decision(&app.check("STD-2", "O-3", "500.01").await),
        Decision::Referred
    );
}

#[tokio::test]
async fn new_buyer_needs_cover_has_an_order_cap_and_no_tolerance() {
    let app = TestApp::spawn().await;
    app.upsert(with_tier(buyer("NEW", "10000.00"), pb::RiskTier::New))
        .await;
    let no_cover = app.check("NEW", "O-1", "100.00").await;
    assert_eq!(
        (decision(&no_cover), codes(&no_cover)),
        (Decision::Referred, vec!["UNINSURED_EXPOSURE"])
    );
    app.upsert(with_insurance(
        with_tier(buyer("NEW", "10000.00"), pb::RiskTier::New),
        "10000.00",
    ))
    .await;
    let capped = app.check("NEW", "O-3", "5000.01").await;
    assert_eq!(codes(&capped), ["NEW_BUYER_MAX_ORDER"]);
    assert_eq!(
        decision(&app.check("NEW", "O-2", "5000.00").await),
        Decision::Approved
    );
    assert_eq!(
        decision(&app.check("NEW", "O-4", "5000.00").await),
        Decision::Approved
    );
    // No tolerance: one cent over is referred, not held.
    assert_eq!(
        decision(&app.check("NEW", "O-5", "0.01").await),
        Decision::Referred
    );
}

#[tokio::test]
async fn watch_buyer_is_held_at_the_first_overdue_day() {
    let app = TestApp::spawn().await;
    app.upsert(with_tier(buyer("WATCH", "10000.00"), pb::RiskTier::Watch))
        .await;
    app.invoice("WATCH", "INV-1", "", "10.00", -31, -1)
        .await
        .unwrap();
    let held = app.check("WATCH", "O-1", "10.00").await;
    assert_eq!(
        (decision(&held), codes(&held)),
        (Decision::Held, vec!["OVERDUE_COLLECTION"])
    );
    // The same ledger under the standard tier is fine.
    app.upsert(buyer("WATCH", "10000.00")).await;
    assert_eq!(
        decision(&app.check("WATCH", "O-1", "10.00").await),
        Decision::Approved
    );
}

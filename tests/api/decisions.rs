//! Every decision reason code, end to end through CheckCreditLimit.

use crate::helpers::*;
use creditgate::grpc::pb;

#[tokio::test]
async fn approval_reserves_against_the_limit() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    let first = app.check("B-1", "O-1", "2500.00").await;
    assert_eq!(decision(&first), Decision::Approved);
    assert_eq!(codes(&first), ["WITHIN_LIMIT"]);
    assert_eq!(amount(&first.credit_limit), "10000.00");
    assert_eq!(amount(&first.exposure), "2500.00");
    assert_eq!(amount(&first.available), "7500.00");
    assert_eq!(first.limit_source, "manual");
    assert!(!first.decision_id.is_empty());
    let second = app.check("B-1", "O-2", "7500.00").await;
    assert_eq!(decision(&second), Decision::Approved);
    assert_eq!(amount(&second.available), "0.00");
}

#[tokio::test]
async fn unknown_buyer_is_referred() {
    let app = TestApp::spawn().await;
    let response = app.check("NOBODY", "O-1", "10.00").await;
    assert_eq!(decision(&response), Decision::Referred);
    assert_eq!(codes(&response), ["UNKNOWN_BUYER"]);
    assert!(response.reasons[0].message.contains("UpsertBuyer"));
}

#[tokio::test]
async fn limit_exceeded_is_held_within_tolerance_and_referred_beyond() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    app.check("B-1", "O-1", "9000.00").await;
    // Standard tier: 5% tolerance, so up to 500.00 over the limit is HELD.
    let held = app.check("B-1", "O-2", "1500.00").await;
    assert_eq!(decision(&held), Decision::Held);
    assert_eq!(codes(&held), ["LIMIT_EXCEEDED"]);
    assert!(
        held.reasons[0]
            .message
            .contains("approvable up to 1000.00 EUR"),
        "{}",
        held.reasons[0].message
    );
    assert_eq!(amount(&held.exposure), "9000.00", "a hold reserves nothing");
    let referred = app.check("B-1", "O-3", "1500.01").await;
    assert_eq!(decision(&referred), Decision::Referred);
    assert_eq!(codes(&referred), ["LIMIT_EXCEEDED"]);
    assert_eq!(
        decision(&app.check("B-1", "O-4", "1000.00").await),
        Decision::Approved
    );
}

#[tokio::test]
async fn collection_stage_holds_and_legal_stage_refers() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    app.invoice("B-1", "INV-7", "", "100.00", -45, -15)
        .await
        .unwrap();
    let held = app.check("B-1", "O-1", "10.00").await;
    assert_eq!(decision(&held), Decision::Held);
    assert_eq!(codes(&held), ["OVERDUE_COLLECTION"]);
    assert!(
        held.reasons[0]
            .message
            .contains("pay or dispute invoice INV-7")
    );

    app.upsert(buyer("B-2", "10000.00")).await;
    app.invoice("B-2", "INV-8", "", "100.00", -90, -60)
        .await
        .unwrap();
    let referred = app.check("B-2", "O-1", "10.00").await;
    assert_eq!(decision(&referred), Decision::Referred);
    assert_eq!(codes(&referred), ["OVERDUE_LEGAL"]);

    app.upsert(buyer("B-3", "10000.00")).await;
    app.invoice("B-3", "INV-9", "", "100.00", -44, -14)
        .await
        .unwrap();
    assert_eq!(
        decision(&app.check("B-3", "O-1", "10.00").await),
        Decision::Approved
    );
}

#[tokio::test]
async fn due_soon_is_reported_on_an_approval() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    app.invoice("B-1", "INV-1", "", "100.00", -23, 7)
        .await
        .unwrap();
    let response = app.check("B-1", "O-1", "10.00").await;
    assert_eq!(decision(&response), Decision::Approved);
    assert_eq!(codes(&response), ["WITHIN_LIMIT", "DUE_SOON"]);
    assert!(response.reasons[1].message.contains("INV-1"));
}

#[tokio::test]
async fn insolvency_is_referred() {
    let app = TestApp::spawn().await;
    let mut insolvent = buyer("B-1", "10000.00");
    insolvent.external_rating = Some(pb::ExternalRating {
        grade: 10,
        legal_disputes: 0,
        insolvency: true,
    });
    app.upsert(insolvent).await;
    let response = app.check("B-1", "O-1", "1.00").await;
    assert_eq!(decision(&response), Decision::Referred);
    assert_eq!(codes(&response), ["INSOLVENCY"]);
}

#[tokio::test]
async fn new_buyer_above_max_order_is_referred() {
    let app = TestApp::spawn().await;
    let new = with_insurance(
        with_tier(buyer("B-1", "10000.00"), pb::RiskTier::New),
        "10000.00",
    );
    app.upsert(new).await;
    let response = app.check("B-1", "O-1", "5000.01").await;
    assert_eq!(decision(&response), Decision::Referred);
    assert_eq!(codes(&response), ["NEW_BUYER_MAX_ORDER"]);
    assert!(
        response.reasons[0]
            .message
            .contains("approvable up to 5000.00 EUR")
    );
    assert_eq!(
        decision(&app.check("B-1", "O-2", "5000.00").await),
        Decision::Approved
    );
}

#[tokio::test]
async fn uninsured_exposure_by_tier() {
    let app = TestApp::spawn().await;
    app.upsert(with_insurance(buyer("STD", "10000.00"), "3000.00"))
        .await;
    let held = app.check("STD", "O-1", "4000.00").await;
    assert_eq!(decision(&held), Decision::Held);
    assert_eq!(codes(&held), ["UNINSURED_EXPOSURE"]);
    assert!(
        held.reasons[0]
            .message
            .contains("approvable up to 3000.00 EUR within cover")
    );

    app.upsert(with_tier(
        with_insurance(buyer("CORE", "10000.00"), "3000.00"),
        pb::RiskTier::Core,
    ))
    .await;
    let core = app.check("CORE", "O-1", "4000.00").await;
    assert_eq!(decision(&core), Decision::Approved);
    assert_eq!(codes(&core), ["WITHIN_LIMIT", "UNINSURED_EXPOSURE"]);

    app.upsert(with_tier(buyer("NEW", "10000.00"), pb::RiskTier::New))
        .await;
    let new = app.check("NEW", "O-1", "100.00").await;
    assert_eq!(decision(&new), Decision::Referred);
    assert_eq!(codes(&new), ["UNINSURED_EXPOSURE"]);
}

#[tokio::test]
async fn scored_limit_applies_without_a_manual_limit() {
    let app = TestApp::spawn().await;
    app.upsert(scored_buyer("B-1")).await;
    let score = app.score("B-1").await.unwrap();
    let response = app.check("B-1", "O-1", "1000.00").await;
    assert_eq!(decision(&response), Decision::Approved);
    assert_eq!(response.limit_source, "scored");
    assert_eq!(response.credit_limit, score.recommended_limit);
    assert_ne!(amount(&response.credit_limit), "0.00");
}

#[tokio::test]
async fn zero_limit_refers_with_a_remedy() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "0.00")).await;
    let response = app.check("B-1", "O-1", "1.00").await;
    assert_eq!(decision(&response), Decision::Referred);
    assert_eq!(codes(&response), ["LIMIT_EXCEEDED"]);
    assert!(
        response.reasons[0]
            .message
            .contains("manual credit limit is zero")
    );
}

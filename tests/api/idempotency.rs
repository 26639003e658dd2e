//! (buyer_id, order_id) is the idempotency key: sticky approvals, fresh holds.

use crate::helpers::*;
use creditgate::service::ServiceSettings;
use std::time::Duration;
use tonic::Code;

#[tokio::test]
async fn approval_is_sticky_and_reserves_once() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    let first = app.check("B-1", "O-1", "4000.00").await;
    let again = app.check("B-1", "O-1", "4000.00").await;
    assert_eq!(decision(&again), Decision::Approved);
    assert_eq!(again.decision_id, first.decision_id);
    assert_eq!(codes(&again), ["ALREADY_APPROVED"]);
    assert_eq!(amount(&again.exposure), "4000.00");
    assert_eq!(amount(&app.exposure("B-1").await.open_orders), "4000.00");
}

#[tokio::test]
async fn approval_stays_sticky_after_the_limit_is_cut() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    let first = app.check("B-1", "O-1", "4000.00").await;
    app.upsert(buyer("B-1", "1000.00")).await;
    let again = app.check("B-1", "O-1", "4000.00").await;
    assert_eq!(decision(&again), Decision::Approved);
    assert_eq!(again.decision_id, first.decision_id);
    assert_eq!(amount(&again.available), "-3000.00");
    assert_eq!(
        decision(&app.check("B-1", "O-2", "1.00").await),
        Decision::Referred
    );
}

#[tokio::test]
async fn same_order_with_another_amount_already_exists() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    app.check("B-1", "O-1", "4000.00").await;
    let status = app
        .try_check("B-1", "O-1", eur("4000.01"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    assert!(
        status.message().contains("4000.00 EUR"),
        "{}",
        status.message()
    );
    assert_eq!(amount(&app.exposure("B-1").await.open_orders), "4000.00");
}

#[tokio::test]
async fn held_order_is_evaluated_afresh_and_passes_once_paid() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    app.invoice("B-1", "INV-7", "", "1200.00", -50, -20)
        .await
        .unwrap();
    let held = app.check("B-1", "O-1", "500.00").await;
    assert_eq!(decision(&held), Decision::Held);
    assert_eq!(amount(&held.exposure), "1200.00");
    app.pay("B-1", "INV-7", "1200.00", "PAY-7").await.unwrap();
    let approved = app.check("B-1", "O-1", "500.00").await;
    assert_eq!(decision(&approved), Decision::Approved);
    assert_ne!(approved.decision_id, held.decision_id);
    assert_eq!(amount(&approved.exposure), "500.00");
}

#[tokio::test]
async fn held_order_may_come_back_with_another_amount() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "1000.00")).await;
    assert_eq!(
        decision(&app.check("B-1", "O-1", "1020.00").await),
        Decision::Held
    );
    assert_eq!(
        decision(&app.check("B-1", "O-1", "900.00").await),
        Decision::Approved
    );
}

#[tokio::test]
async fn cancel_releases_is_idempotent_and_retires_the_order_id() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    app.check("B-1", "O-1", "4000.00").await;
    let cancelled = app.cancel("B-1", "O-1").await.unwrap();
    assert_eq!(amount(&cancelled.released), "4000.00");
    assert!(cancelled.was_approved);
    let again = app.cancel("B-1", "O-1").await.unwrap();
    assert_eq!(amount(&again.released), "0.00");
    // A retry after a lost reply answers as the first cancel did: it was approved.
    assert!(again.was_approved);
    assert_eq!(amount(&app.exposure("B-1").await.total_exposure), "0.00");
    let status = app
        .try_check("B-1", "O-1", eur("4000.00"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("cancelled"));
}

#[tokio::test]
async fn cancel_of_an_order_never_approved_blocks_a_late_check() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    let cancelled = app.cancel("B-1", "O-9").await.unwrap();
    assert!(!cancelled.was_approved);
    let status = app.try_check("B-1", "O-9", eur("1.00")).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn unused_reservations_expire() {
    // The ledger's clock is the service's in the embedded store and Redis's own
    // (TIME) on Redis: the test moves the first and waits out the second.
    let app = TestApp::spawn_with(ServiceSettings {
        reservation_ttl: Duration::from_secs(2),
        ..test_settings()
    })
    .await;
    app.upsert(buyer("B-1", "10000.00")).await;
    app.check("B-1", "O-1", "6000.00").await;
    app.check("B-1", "O-2", "3000.00").await;
    app.invoice("B-1", "INV-2", "O-2", "1000.00", 0, 30)
        .await
        .unwrap();
    assert_eq!(amount(&app.exposure("B-1").await.open_orders), "8000.00");
    app.clock.advance_secs(3);
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    let exposure = app.exposure("B-1").await;
    assert_eq!(amount(&exposure.open_orders), "0.00");
    assert_eq!(amount(&exposure.total_exposure), "1000.00");
    // A lapsed order that never shipped is checked afresh; a partly invoiced one
    // stays sticky so that a replay cannot reserve it twice.
    let fresh = app.check("B-1", "O-1", "6000.00").await;
    assert_ne!(codes(&fresh), ["ALREADY_APPROVED"]);
    assert_eq!(amount(&fresh.exposure), "7000.00");
    assert_eq!(
        codes(&app.check("B-1", "O-2", "3000.00").await),
        ["ALREADY_APPROVED"]
    );
    assert_eq!(amount(&app.exposure("B-1").await.open_orders), "6000.00");
}

#[tokio::test]
async fn a_check_alone_releases_what_lapsed() {
    // No ledger call in between: the check itself must find the lapsed
    // reservation (on Redis, through the buyer's next-expiry field) and release
    // it, or the second order would not fit under the limit.
    let app = TestApp::spawn_with(ServiceSettings {
        reservation_ttl: Duration::from_secs(2),
        ..test_settings()
    })
    .await;
    app.upsert(buyer("B-1", "10000.00")).await;
    assert_eq!(
        decision(&app.check("B-1", "O-1", "6000.00").await),
        Decision::Approved
    );
    assert_ne!(
        decision(&app.check("B-1", "O-2", "6000.00").await),
        Decision::Approved
    );
    app.clock.advance_secs(3);
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    let after = app.check("B-1", "O-3", "6000.00").await;
    assert_eq!(decision(&after), Decision::Approved);
    assert_eq!(
        amount(&after.exposure),
        "6000.00",
        "O-1's 6000.00 was released"
    );
    // The released order is new again; the one still reserved counts.
    assert_eq!(
        decision(&app.check("B-1", "O-1", "4000.00").await),
        Decision::Approved
    );
    assert_eq!(amount(&app.exposure("B-1").await.open_orders), "10000.00");
}

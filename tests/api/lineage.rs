//! Order lineage: an order is checked, invoiced, cancelled — in any order the
//! ERP sends them — and its amount counts in exposure once.

use crate::helpers::*;

/// B-1 (limit 10,000.00) with ORD-1 invoiced for 3,000.00 (INV-1) and never checked.
async fn invoiced_without_a_check() -> TestApp {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    app.invoice("B-1", "INV-1", "ORD-1", "3000.00", 0, 30)
        .await
        .unwrap();
    app
}

#[tokio::test]
async fn a_check_of_an_order_already_invoiced_is_referred_and_reserves_nothing() {
    // The ERP billed the order before (or without) asking.
    let app = invoiced_without_a_check().await;
    for _ in 0..2 {
        let late = app.check("B-1", "ORD-1", "3000.00").await;
        assert_eq!(decision(&late), Decision::Referred);
        assert_eq!(codes(&late), ["ALREADY_INVOICED"]);
        let message = reason(&late, "ALREADY_INVOICED");
        assert!(message.contains("INV-1"), "{message}");
        // Without the lineage the check reserved 3000.00 more: 6000.00.
        assert_eq!(amount(&late.exposure), "3000.00");
        assert_orders_and_total(&app, "0.00", "3000.00").await;
    }
}

#[tokio::test]
async fn an_order_billed_on_two_invoices_names_the_first_and_the_sum() {
    let app = invoiced_without_a_check().await;
    app.invoice("B-1", "INV-2", "ORD-1", "500.00", 0, 30)
        .await
        .unwrap();
    let late = app.check("B-1", "ORD-1", "3500.00").await;
    assert_eq!(codes(&late), ["ALREADY_INVOICED"]);
    let message = reason(&late, "ALREADY_INVOICED");
    assert!(
        message.contains("INV-1") && message.contains("3500.00 EUR"),
        "{message}"
    );
    assert_eq!(amount(&late.exposure), "3500.00");
}

#[tokio::test]
async fn a_fully_invoiced_approval_replays_as_approved_and_reserves_nothing() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    let approved = app.check("B-1", "ORD-1", "3000.00").await;
    let invoiced = app
        .invoice("B-1", "INV-1", "ORD-1", "3000.00", 0, 30)
        .await
        .unwrap();
    assert_eq!(amount(&invoiced.reservation_consumed), "3000.00");
    assert_eq!(amount(&invoiced.total_exposure), "3000.00");
    // The order was approved, so its retry is the approval's replay, not a
    // referral, and the receivable is not reserved again.
    let replay = app.check("B-1", "ORD-1", "3000.00").await;
    assert_eq!(codes(&replay), ["ALREADY_APPROVED"]);
    assert_eq!(replay.decision_id, approved.decision_id);
    assert_eq!(amount(&replay.exposure), "3000.00");
    assert_eq!(amount(&app.exposure("B-1").await.open_orders), "0.00");
}

#[tokio::test]
async fn cancelling_an_order_invoiced_without_a_check_changes_nothing() {
    let app = invoiced_without_a_check().await;
    for _ in 0..2 {
        let cancelled = app.cancel("B-1", "ORD-1").await.unwrap();
        assert!(cancelled.invoiced, "a receivable cannot be cancelled");
        assert!(!cancelled.was_approved);
        assert_eq!(amount(&cancelled.released), "0.00");
    }
    let exposure = app.exposure("B-1").await;
    assert_eq!(amount(&exposure.total_exposure), "3000.00");
    assert_eq!(amount(&exposure.open_invoices), "3000.00");
    // The order stays invoiced, not cancelled: a check is still ALREADY_INVOICED
    // (a cancelled order id would be FAILED_PRECONDITION).
    assert_eq!(
        codes(&app.check("B-1", "ORD-1", "3000.00").await),
        ["ALREADY_INVOICED"]
    );
}

#[tokio::test]
async fn cancelling_a_partly_invoiced_approval_releases_only_the_rest_and_keeps_it_approved() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    let approved = app.check("B-1", "ORD-1", "5000.00").await;
    app.invoice("B-1", "INV-1", "ORD-1", "3000.00", 0, 30)
        .await
        .unwrap();
    let cancelled = app.cancel("B-1", "ORD-1").await.unwrap();
    assert_eq!(amount(&cancelled.released), "2000.00");
    assert!(cancelled.was_approved);
    assert!(cancelled.invoiced);
    assert_eq!(amount(&app.exposure("B-1").await.total_exposure), "3000.00");
    // Cancelling again releases nothing more.
    let again = app.cancel("B-1", "ORD-1").await.unwrap();
    assert_eq!(amount(&again.released), "0.00");
    assert!(again.invoiced);
    // The shipped part keeps the approval: a retried check is its replay, neither
    // a fresh reservation nor a cancelled order id.
    let replay = app.check("B-1", "ORD-1", "5000.00").await;
    assert_eq!(decision(&replay), Decision::Approved);
    assert_eq!(codes(&replay), ["ALREADY_APPROVED"]);
    assert_eq!(replay.decision_id, approved.decision_id);
    assert_orders_and_total(&app, "0.00", "3000.00").await;
}

#[tokio::test]
async fn a_cancelled_order_invoiced_anyway_becomes_invoiced() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    app.check("B-1", "ORD-1", "3000.00").await;
    let cancelled = app.cancel("B-1", "ORD-1").await.unwrap();
    assert_eq!(amount(&cancelled.released), "3000.00");
    // The goods shipped after all: the invoice is a receivable, and there is no
    // reservation left for it to consume.
    let invoiced = app
        .invoice("B-1", "INV-1", "ORD-1", "3000.00", 0, 30)
        .await
        .unwrap();
    assert_eq!(amount(&invoiced.reservation_consumed), "0.00");
    assert_eq!(amount(&invoiced.total_exposure), "3000.00");
    let late = app.check("B-1", "ORD-1", "3000.00").await;
    assert_eq!(decision(&late), Decision::Referred);
    assert_eq!(codes(&late), ["ALREADY_INVOICED"]);
    assert!(reason(&late, "ALREADY_INVOICED").contains("INV-1"));
    assert_eq!(amount(&late.exposure), "3000.00");
    assert_orders_and_total(&app, "0.00", "3000.00").await;
    let cancelled_again = app.cancel("B-1", "ORD-1").await.unwrap();
    assert!(cancelled_again.invoiced);
    assert_eq!(amount(&cancelled_again.released), "0.00");
}

#[tokio::test]
async fn an_order_cancelled_before_any_check_and_then_invoiced_becomes_invoiced() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    let cancelled = app.cancel("B-1", "ORD-1").await.unwrap();
    assert!(!cancelled.was_approved && !cancelled.invoiced);
    app.invoice("B-1", "INV-1", "ORD-1", "3000.00", 0, 30)
        .await
        .unwrap();
    assert_eq!(
        codes(&app.check("B-1", "ORD-1", "3000.00").await),
        ["ALREADY_INVOICED"]
    );
    assert_eq!(amount(&app.exposure("B-1").await.total_exposure), "3000.00");
}

/// Open orders and total exposure of B-1, as GetBuyerExposure reports them.
async fn assert_orders_and_total(app: &TestApp, open_orders: &str, total: &str) {
    let exposure = app.exposure("B-1").await;
    assert_eq!(amount(&exposure.open_orders), open_orders);
    assert_eq!(amount(&exposure.total_exposure), total);
}

//! Payments are idempotent by (buyer_id, payment_id): a retried payment lowers
//! the open balance once, and the same id with other content is a conflict.
//! (A payment without payment_id: bad_input.rs.)

use crate::helpers::*;
use tonic::Code;

/// B-1 with INV-1 over 1000.00, issued 10 days ago.
async fn app_with_invoice() -> TestApp {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    app.invoice("B-1", "INV-1", "", "1000.00", -10, 20)
        .await
        .unwrap();
    app
}

#[tokio::test]
async fn a_retried_payment_answers_as_the_first_time_and_counts_once() {
    let app = app_with_invoice().await;
    let first = app.pay("B-1", "INV-1", "400.00", "PAY-1").await.unwrap();
    assert!(first.created);
    assert_eq!(amount(&first.invoice_open_balance), "600.00");
    let second = app.pay("B-1", "INV-1", "300.00", "PAY-2").await.unwrap();
    assert_eq!(amount(&second.invoice_open_balance), "300.00");
    // The retry of PAY-1 arrives after PAY-2: it answers what PAY-1 answered
    // (the balance right after it), and the balance is lowered no further.
    for _ in 0..2 {
        let retry = app.pay("B-1", "INV-1", "400.00", "PAY-1").await.unwrap();
        assert!(!retry.created);
        assert_eq!(amount(&retry.invoice_open_balance), "600.00");
        assert_eq!(amount(&retry.total_exposure), "300.00");
    }
    let exposure = app.exposure("B-1").await;
    assert_eq!(amount(&exposure.open_invoices), "300.00");
    assert_eq!(amount(&exposure.invoices[0].open_balance), "300.00");
}

#[tokio::test]
async fn the_same_payment_id_with_other_content_already_exists() {
    let app = app_with_invoice().await;
    app.invoice("B-1", "INV-2", "", "1000.00", -10, 20)
        .await
        .unwrap();
    app.pay_on("B-1", "INV-1", "400.00", "PAY-1", -1)
        .await
        .unwrap();
    let conflicts = [
        ("another amount", "INV-1", "400.01", -1),
        ("another invoice", "INV-2", "400.00", -1),
        ("another paid_date", "INV-1", "400.00", 0),
    ];
    for (what, invoice, paid, day) in conflicts {
        let status = app
            .pay_on("B-1", invoice, paid, "PAY-1", day)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::AlreadyExists, "{what}: {status:?}");
        assert!(status.message().contains("PAY-1"), "{}", status.message());
    }
    // None of them was booked.
    let exposure = app.exposure("B-1").await;
    assert_eq!(amount(&exposure.open_invoices), "1600.00");
    let balances: Vec<(&str, &str)> = exposure
        .invoices
        .iter()
        .map(|i| (i.invoice_id.as_str(), amount(&i.open_balance)))
        .collect();
    assert!(balances.contains(&("INV-1", "600.00")), "{balances:?}");
    assert!(balances.contains(&("INV-2", "1000.00")), "{balances:?}");
}

#[tokio::test]
async fn payment_ids_are_per_buyer() {
    let app = app_with_invoice().await;
    app.upsert(buyer("B-2", "10000.00")).await;
    app.invoice("B-2", "INV-1", "", "1000.00", -10, 20)
        .await
        .unwrap();
    let b1 = app.pay("B-1", "INV-1", "400.00", "PAY-1").await.unwrap();
    // Two buyers' ERPs number their payments independently: the same id for
    // another buyer is another payment, even with the same content.
    let b2 = app.pay("B-2", "INV-1", "400.00", "PAY-1").await.unwrap();
    assert!(b1.created && b2.created);
    assert_eq!(amount(&b2.invoice_open_balance), "600.00");
    let other = app
        .pay("B-2", "INV-1", "100.00", "PAY-1")
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::AlreadyExists);
    assert_eq!(amount(&app.exposure("B-1").await.open_invoices), "600.00");
    assert_eq!(amount(&app.exposure("B-2").await.open_invoices), "600.00");
}

#[tokio::test]
async fn a_payment_dated_before_the_invoice_was_issued_is_refused_naming_paid_date() {
    let app = app_with_invoice().await;
    let before = app.pay_on("B-1", "INV-1", "400.00", "PAY-1", -11).await;
    let status = before.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("paid_date") && status.message().contains(&app.day(-10)),
        "{}",
        status.message()
    );
    assert_eq!(amount(&app.exposure("B-1").await.open_invoices), "1000.00");
    // The refusal recorded nothing under the id: the corrected payment books.
    let on_issue_day = app
        .pay_on("B-1", "INV-1", "400.00", "PAY-1", -10)
        .await
        .unwrap();
    assert!(on_issue_day.created);
    assert_eq!(amount(&on_issue_day.invoice_open_balance), "600.00");
}

#[tokio::test]
async fn a_payment_retried_after_the_invoice_is_settled_is_still_a_no_op() {
    let app = app_with_invoice().await;
    let paid = app.pay("B-1", "INV-1", "1000.00", "PAY-1").await.unwrap();
    assert_eq!(amount(&paid.invoice_open_balance), "0.00");
    // Were the retry checked against the balance first, it would be an
    // overpayment (FAILED_PRECONDITION) and the ERP would keep retrying.
    let retry = app.pay("B-1", "INV-1", "1000.00", "PAY-1").await.unwrap();
    assert!(!retry.created);
    assert_eq!(amount(&retry.invoice_open_balance), "0.00");
    assert_eq!(amount(&app.exposure("B-1").await.total_exposure), "0.00");
}

//! The exposure ledger: invoices consume reservations, payments, disputes, aging.

use crate::helpers::*;
use creditgate::grpc::pb;
use tonic::Code;

#[tokio::test]
async fn invoice_consumes_the_reservation_so_nothing_counts_twice() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    app.check("B-1", "O-1", "5000.00").await;
    let partial = app
        .invoice("B-1", "INV-1", "O-1", "3000.00", 0, 30)
        .await
        .unwrap();
    assert_eq!(amount(&partial.reservation_consumed), "3000.00");
    assert_eq!(amount(&partial.total_exposure), "5000.00");
    let exposure = app.exposure("B-1").await;
    assert_eq!(amount(&exposure.open_orders), "2000.00");
    assert_eq!(amount(&exposure.open_invoices), "3000.00");
    // Invoicing more than is left reserved adds only the difference.
    let rest = app
        .invoice("B-1", "INV-2", "O-1", "2500.00", 0, 30)
        .await
        .unwrap();
    assert_eq!(amount(&rest.reservation_consumed), "2000.00");
    assert_eq!(amount(&rest.total_exposure), "5500.00");
    assert_eq!(amount(&app.exposure("B-1").await.open_orders), "0.00");
}

#[tokio::test]
async fn invoice_replay_is_a_no_op_and_other_content_already_exists() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    assert!(
        app.invoice("B-1", "INV-1", "", "100.00", 0, 30)
            .await
            .unwrap()
            .created
    );
    let replay = app
        .invoice("B-1", "INV-1", "", "100.00", 0, 30)
        .await
        .unwrap();
    assert!(!replay.created);
    assert_eq!(amount(&replay.total_exposure), "100.00");
    let status = app
        .invoice("B-1", "INV-1", "", "100.01", 0, 30)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    let status = app
        .invoice("B-1", "INV-1", "", "100.00", 0, 31)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    assert_eq!(amount(&app.exposure("B-1").await.total_exposure), "100.00");
}

#[tokio::test]
async fn partial_payments_reduce_exposure_and_overpayment_is_refused() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    app.invoice("B-1", "INV-1", "", "1000.00", 0, 30)
        .await
        .unwrap();
    let paid = app.pay("B-1", "INV-1", "400.00", "P-1").await.unwrap();
    assert_eq!(amount(&paid.invoice_open_balance), "600.00");
    assert_eq!(amount(&paid.total_exposure), "600.00");
    let status = app.pay("B-1", "INV-1", "600.01", "P-2").await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("600.00 EUR"),
        "{}",
        status.message()
    );
    let rest = app.pay("B-1", "INV-1", "600.00", "P-3").await.unwrap();
    assert_eq!(amount(&rest.invoice_open_balance), "0.00");
    assert!(app.exposure("B-1").await.invoices.is_empty());
    let status = app.pay("B-1", "INV-1", "0.01", "P-4").await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn unknown_invoice_and_unknown_buyer_are_not_found() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    assert_eq!(
        app.pay("B-1", "INV-X", "1.00", "P-X")
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        app.dispute("B-1", "INV-X", true).await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(
        app.pay("NOBODY", "INV-X", "1.00", "P-X")
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        app.invoice("NOBODY", "INV-1", "", "1.00", 0, 30)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        app.dispute("NOBODY", "INV-1", true)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        app.cancel("NOBODY", "O-1").await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(
        app.try_exposure("NOBODY").await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(
        app.score("NOBODY").await.unwrap_err().code(),
        Code::NotFound
    );
}

#[tokio::test]
async fn disputed_invoice_stays_in_exposure_but_leaves_the_ladder() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    app.invoice("B-1", "INV-7", "", "1200.00", -100, -70)
        .await
        .unwrap();
    assert_eq!(
        decision(&app.check("B-1", "O-1", "100.00").await),
        Decision::Referred
    );
    let disputed = app.dispute("B-1", "INV-7", true).await.unwrap();
    assert!(disputed.disputed);
    let exposure = app.exposure("B-1").await;
    assert_eq!(amount(&exposure.disputed), "1200.00");
    assert_eq!(amount(&exposure.total_exposure), "1200.00");
    assert_eq!(
        exposure.invoices[0].dunning_stage,
        pb::DunningStage::Disputed as i32
    );
    assert_eq!(exposure.oldest_overdue_days, 0);
    let approved = app.check("B-1", "O-1", "100.00").await;
    assert_eq!(decision(&approved), Decision::Approved);
    assert_eq!(amount(&approved.exposure), "1300.00");
    // Resolving the dispute puts the invoice back on the ladder.
    app.dispute("B-1", "INV-7", false).await.unwrap();
    assert_eq!(
        decision(&app.check("B-1", "O-2", "100.00").await),
        Decision::Referred
    );
    assert_eq!(amount(&app.exposure("B-1").await.disputed), "0.00");
}

#[tokio::test]
async fn exposure_reports_aging_dunning_and_dso() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "100000.00")).await;
    for (id, amount, issue, due) in [
        ("NOT-DUE", "100.00", -5, 25),
        ("REMIND", "200.00", -23, 7),
        ("LATE-10", "300.00", -40, -10),
        ("LATE-45", "400.00", -75, -45),
        ("LATE-61", "500.00", -91, -61),
        ("LATE-95", "600.00", -125, -95),
    ] {
        app.invoice("B-1", id, "", amount, issue, due)
            .await
            .unwrap();
    }
    app.check("B-1", "O-1", "1000.00").await;
    let e = app.exposure("B-1").await;
    let aging = e.aging.as_ref().unwrap();
    assert_eq!(amount(&aging.not_due), "300.00");
    assert_eq!(amount(&aging.overdue_1_to_30), "300.00");
    assert_eq!(amount(&aging.overdue_31_to_60), "400.00");
    assert_eq!(amount(&aging.overdue_61_to_90), "500.00");
    assert_eq!(amount(&aging.overdue_over_90), "600.00");
    assert_eq!(amount(&e.open_invoices), "2100.00");
    assert_eq!(
        amount(&e.open_orders),
        "0.00",
        "legal-stage debt refers, reserves nothing"
    );
    assert_eq!(e.oldest_overdue_days, 95);
    let stages: Vec<(String, i32)> = e
        .invoices
        .iter()
        .map(|i| (i.invoice_id.clone(), i.dunning_stage))
        .collect();
    use pb::DunningStage as S;
    assert_eq!(
        stages,
        [
            ("LATE-95".to_string(), S::Legal as i32),
            ("LATE-61".to_string(), S::Legal as i32),
            ("LATE-45".to_string(), S::Collection as i32),
            ("LATE-10".to_string(), S::Overdue as i32),
            ("REMIND".to_string(), S::Reminder as i32),
            ("NOT-DUE".to_string(), S::NotDue as i32),
        ]
    );
    // Sales in the last 90 days: every invoice but LATE-95 (issued 125 days ago)
    // and LATE-61 (exactly 91 days ago) = 1000.00; open 2100.00 → 189 days.
    assert_eq!(e.dso_days, "189");
}

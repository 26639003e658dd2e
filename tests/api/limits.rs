//! The limit in effect: moved by payment behaviour, re-rated on a schedule, and
//! composed of insured and discretionary parts.

use crate::helpers::*;
use creditgate::grpc::pb;

async fn pay_on(app: &TestApp, buyer: &str, invoice: &str, due: i32, paid: i32) {
    app.invoice(buyer, invoice, "", "100.00", due - 30, due)
        .await
        .unwrap();
    app.ledger
        .clone()
        .record_payment(pb::RecordPaymentRequest {
            buyer_id: buyer.into(),
            invoice_id: invoice.into(),
            amount: eur("100.00"),
            paid_date: app.day(paid),
            payment_id: format!("PAY-{invoice}"),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn late_payments_lower_the_scored_limit_and_on_time_runs_restore_it() {
    let app = TestApp::spawn().await;
    app.upsert(scored_buyer("ACME")).await;
    let before = app.check("ACME", "O-0", "1.00").await;
    assert_eq!(amount(&before.credit_limit), "160000.00");
    assert_eq!(codes(&before), ["WITHIN_LIMIT"]);

    pay_on(&app, "ACME", "INV-1", -20, -2).await; // 18 days late
    pay_on(&app, "ACME", "INV-2", -20, -5).await; // 15 days late
    let reduced = app.check("ACME", "O-1", "1.00").await;
    assert_eq!(
        amount(&reduced.credit_limit),
        "128000.00",
        "two steps of 10% off 160 000.00"
    );
    assert_eq!(reduced.limit_source, "scored");
    assert_eq!(
        codes(&reduced),
        ["WITHIN_LIMIT", "LIMIT_REDUCED_LATE_PAYMENT"]
    );
    let exposure = app.exposure("ACME").await;
    assert_eq!(amount(&exposure.credit_limit), "128000.00");
    assert_eq!(exposure.limit_reasons[0].code, "LIMIT_REDUCED_LATE_PAYMENT");

    for n in 0..3 {
        pay_on(&app, "ACME", &format!("OK-{n}"), 5, -1).await; // before due
    }
    assert_eq!(
        amount(&app.check("ACME", "O-2", "1.00").await.credit_limit),
        "144000.00"
    );
    for n in 3..6 {
        pay_on(&app, "ACME", &format!("OK-{n}"), 5, -1).await;
    }
    let restored = app.check("ACME", "O-3", "1.00").await;
    assert_eq!(amount(&restored.credit_limit), "160000.00");
    assert_eq!(codes(&restored), ["WITHIN_LIMIT"]);
}

#[tokio::test]
async fn a_manual_limit_is_never_moved_by_behaviour() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "5000.00")).await;
    pay_on(&app, "B-1", "INV-1", -40, 0).await;
    let response = app.check("B-1", "O-1", "1.00").await;
    assert_eq!(amount(&response.credit_limit), "5000.00");
    assert_eq!(codes(&response), ["WITHIN_LIMIT"]);
}

#[tokio::test]
async fn an_expired_rating_refers_large_orders_until_rescored() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    app.clock.advance_secs(181 * 86_400);
    // Above 10% of the limit: referred; below: approved with a reminder.
    let referred = app.check("B-1", "O-1", "1000.01").await;
    assert_eq!(
        (decision(&referred), codes(&referred)),
        (Decision::Referred, vec!["RATING_EXPIRED"])
    );
    assert!(
        referred.reasons[0]
            .message
            .contains("approvable up to 1000.00 EUR"),
        "{}",
        referred.reasons[0].message
    );
    let small = app.check("B-1", "O-2", "1000.00").await;
    assert_eq!(
        (decision(&small), codes(&small)),
        (Decision::Approved, vec!["WITHIN_LIMIT", "RATING_EXPIRED"])
    );
    let rescored = app.score("B-1").await.unwrap();
    assert_eq!(rescored.valid_until, app.day(180));
    assert_eq!(
        decision(&app.check("B-1", "O-1", "1000.01").await),
        Decision::Approved
    );
}

#[tokio::test]
async fn insured_buyers_get_insured_plus_discretionary_and_see_their_cover() {
    let app = TestApp::spawn().await;
    let mut b = with_insurance(scored_buyer("INS"), "50000.00");
    b.insurance.as_mut().unwrap().indemnity_percent = "90".into();
    app.upsert(b).await;
    let score = app.score("INS").await.unwrap();
    assert_eq!(amount(&score.insured_limit), "50000.00");
    assert_eq!(
        amount(&score.discretionary_limit),
        "10000.00",
        "20% of the insured limit"
    );
    assert_eq!(amount(&score.recommended_limit), "60000.00");
    assert_eq!(amount(&score.scored_limit), "160000.00");

    app.invoice("INS", "INV-1", "", "45000.00", 0, 30)
        .await
        .unwrap();
    app.invoice("INS", "INV-2", "", "8000.00", 0, 30)
        .await
        .unwrap();
    app.dispute("INS", "INV-2", true).await.unwrap();
    let e = app.exposure("INS").await;
    assert_eq!(amount(&e.credit_limit), "60000.00");
    assert_eq!(amount(&e.insured_limit), "50000.00");
    assert_eq!(
        amount(&e.insured_exposure),
        "45000.00",
        "disputed invoices are not covered"
    );
    assert_eq!(amount(&e.uninsured_exposure), "8000.00");
    assert_eq!(amount(&e.insured_headroom), "5000.00");
    // Limit 60 000.00 − exposure 53 000.00 = 7 000.00 available, 5 000.00 of it insured.
    assert_eq!(amount(&e.available), "7000.00");
    assert_eq!(amount(&e.uninsured_headroom), "2000.00");
}

#[tokio::test]
async fn payment_terms_set_due_dates_and_early_payers_score_better() {
    let app = TestApp::spawn().await;
    let with_discount = |id: &str| {
        let mut b = scored_buyer(id);
        b.early_payment_discount = Some(pb::EarlyPaymentDiscount {
            percent: "2".into(),
            days: 10,
        });
        b
    };
    app.upsert(with_discount("EARLY")).await;
    app.upsert(with_discount("NET")).await;
    for (buyer, paid_after_issue) in [("EARLY", 8), ("NET", 25)] {
        // An invoice without a due date falls due after the 30 days of net terms.
        app.ledger
            .clone()
            .record_invoice(pb::RecordInvoiceRequest {
                buyer_id: buyer.into(),
                invoice_id: "INV-1".into(),
                order_id: String::new(),
                amount: eur("1000.00"),
                issue_date: app.day(-paid_after_issue),
                due_date: String::new(),
            })
            .await
            .unwrap();
        assert_eq!(
            app.exposure(buyer).await.invoices[0].due_date,
            app.day(30 - paid_after_issue)
        );
        app.pay(buyer, "INV-1", "1000.00", "P-1").await.unwrap();
    }
    let early = app.score("EARLY").await.unwrap();
    let net = app.score("NET").await.unwrap();
    assert!(
        early.reasons.iter().any(|r| r.code == "EARLY_PAYMENT"),
        "{:?}",
        early.reasons
    );
    assert!(!net.reasons.iter().any(|r| r.code == "EARLY_PAYMENT"));
    assert_eq!(early.score, net.score + 20);
    let bad = app
        .try_upsert({
            let mut b = scored_buyer("BAD");
            b.early_payment_discount = Some(pb::EarlyPaymentDiscount {
                percent: "2".into(),
                days: 30,
            });
            b
        })
        .await
        .unwrap_err();
    assert!(
        bad.message().contains("buyer.early_payment_discount.days"),
        "{}",
        bad.message()
    );
}

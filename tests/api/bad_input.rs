//! Malformed input: INVALID_ARGUMENT naming the field, and nothing written.

use crate::helpers::*;
use creditgate::grpc::pb;
use tonic::Code;

fn assert_invalid(result: Result<impl std::fmt::Debug, tonic::Status>, field: &str) {
    let status = result.expect_err("expected INVALID_ARGUMENT");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains(field),
        "message {:?} does not name {field}",
        status.message()
    );
}

#[tokio::test]
async fn check_rejects_malformed_fields() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    let long = "x".repeat(129);
    let cases: Vec<(&str, &str, Option<pb::Money>, &str)> = vec![
        ("", "O-1", eur("1.00"), "buyer_id"),
        (&long, "O-1", eur("1.00"), "buyer_id"),
        ("B-1", "", eur("1.00"), "order_id"),
        ("B-1", &long, eur("1.00"), "order_id"),
        ("B-1", "O-1", None, "amount"),
        ("B-1", "O-1", eur("-1.00"), "amount.amount"),
        ("B-1", "O-1", eur("0"), "amount.amount"),
        ("B-1", "O-1", eur("0.00"), "amount.amount"),
        ("B-1", "O-1", eur("abc"), "amount.amount"),
        ("B-1", "O-1", eur("1e3"), "amount.amount"),
        ("B-1", "O-1", eur(" 1.00"), "amount.amount"),
        ("B-1", "O-1", eur("1.001"), "amount.amount"),
        ("B-1", "O-1", money("JPY", "1.5"), "amount.amount"),
        ("B-1", "O-1", money("ZZZ", "1.00"), "amount.currency_code"),
        ("B-1", "O-1", money("", "1.00"), "amount.currency_code"),
        ("B-1", "O-1", money("USD", "1.00"), "amount.currency_code"),
        ("B-1", "O-1", eur("99999999999999999999"), "amount.amount"),
    ];
    for (buyer_id, order_id, amount_in, field) in cases {
        assert_invalid(app.try_check(buyer_id, order_id, amount_in).await, field);
    }
    assert_eq!(amount(&app.exposure("B-1").await.total_exposure), "0.00");
}

#[tokio::test]
async fn upsert_rejects_malformed_buyers() {
    let app = TestApp::spawn().await;
    type Mutation = fn(&mut pb::Buyer);
    let cases: Vec<(Mutation, &str)> = vec![
        (|b| b.buyer_id.clear(), "buyer.buyer_id"),
        (|b| b.currency_code = "EURO".into(), "buyer.currency_code"),
        (|b| b.country_code = "Germany".into(), "buyer.country_code"),
        (|b| b.risk_tier = 9, "buyer.risk_tier"),
        (|b| b.payment_terms_days = -1, "buyer.payment_terms_days"),
        (
            |b| b.credit_limit = eur("-5.00"),
            "buyer.credit_limit.amount",
        ),
        (
            |b| b.credit_limit = money("USD", "5.00"),
            "buyer.credit_limit.currency_code",
        ),
        (
            |b| {
                b.external_rating = Some(pb::ExternalRating {
                    grade: 11,
                    legal_disputes: 0,
                    insolvency: false,
                })
            },
            "buyer.external_rating.grade",
        ),
        (
            |b| {
                b.external_rating = Some(pb::ExternalRating {
                    grade: 0,
                    legal_disputes: 0,
                    insolvency: false,
                })
            },
            "buyer.external_rating.grade",
        ),
        (
            |b| {
                b.financials = Some(pb::Financials {
                    annual_revenue: eur("1.234"),
                    net_worth: None,
                    years_in_business: 1,
                })
            },
            "buyer.financials.annual_revenue.amount",
        ),
        (
            |b| {
                b.insurance = Some(pb::Insurance {
                    insured_limit: eur("100.00"),
                    indemnity_percent: "120".into(),
                })
            },
            "buyer.insurance.indemnity_percent",
        ),
    ];
    for (mutate, field) in cases {
        let mut b = buyer("B-1", "1000.00");
        mutate(&mut b);
        assert_invalid(app.try_upsert(b).await, field);
    }
    assert_invalid(
        app.ledger
            .clone()
            .upsert_buyer(pb::UpsertBuyerRequest {
                buyer: None,
                update_mask: None,
            })
            .await,
        "buyer",
    );
    // Nothing was half-written: the buyer does not exist.
    assert_eq!(
        app.try_exposure("B-1").await.unwrap_err().code(),
        Code::NotFound
    );
}

#[tokio::test]
async fn ledger_calls_reject_malformed_fields_without_writing() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    let mut ledger = app.ledger.clone();
    let invoice = |change: fn(&mut pb::RecordInvoiceRequest)| {
        let mut request = pb::RecordInvoiceRequest {
            buyer_id: "B-1".into(),
            invoice_id: "INV-1".into(),
            order_id: String::new(),
            amount: eur("100.00"),
            issue_date: app.day(-30),
            due_date: app.day(0),
        };
        change(&mut request);
        request
    };
    let cases: Vec<(pb::RecordInvoiceRequest, &str)> = vec![
        (invoice(|r| r.invoice_id.clear()), "invoice_id"),
        (
            invoice(|r| r.issue_date = "2026-13-01".into()),
            "issue_date",
        ),
        (invoice(|r| r.due_date = "01.12.2026".into()), "due_date"),
        (invoice(|r| r.due_date = "2026-10-31".into()), "due_date"),
        (invoice(|r| r.amount = eur("0.00")), "amount.amount"),
        (
            invoice(|r| r.amount = money("GBP", "1.00")),
            "amount.currency_code",
        ),
        (invoice(|r| r.order_id = "o".repeat(129)), "order_id"),
    ];
    for (request, field) in cases {
        assert_invalid(ledger.record_invoice(request).await, field);
    }
    let payment = pb::RecordPaymentRequest {
        buyer_id: "B-1".into(),
        invoice_id: "INV-1".into(),
        amount: eur("1.00"),
        paid_date: "yesterday".into(),
        payment_id: "PAY-1".into(),
    };
    assert_invalid(ledger.record_payment(payment.clone()).await, "paid_date");
    // Without a payment_id a retried payment would count twice: refused.
    let anonymous = pb::RecordPaymentRequest {
        paid_date: "2026-01-05".into(),
        payment_id: String::new(),
        ..payment
    };
    assert_invalid(ledger.record_payment(anonymous).await, "payment_id");
    assert_invalid(
        ledger
            .set_invoice_dispute(pb::SetInvoiceDisputeRequest {
                buyer_id: "B-1".into(),
                invoice_id: String::new(),
                disputed: true,
            })
            .await,
        "invoice_id",
    );
    assert_invalid(
        ledger
            .cancel_order(pb::CancelOrderRequest {
                buyer_id: "B-1".into(),
                order_id: String::new(),
            })
            .await,
        "order_id",
    );
    assert_invalid(app.score("").await, "buyer_id");
    let exposure = app.exposure("B-1").await;
    assert_eq!(amount(&exposure.total_exposure), "0.00");
    assert!(exposure.invoices.is_empty());
}

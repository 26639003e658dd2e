//! Exact money through the whole path (and through Redis when the suite runs on
//! it): each currency exponent, the largest amounts, and the exposure ceiling.

use crate::helpers::*;
use creditgate::grpc::pb;
use tonic::Code;

fn buyer_in(id: &str, currency: &str) -> pb::Buyer {
    let mut b = buyer(id, "0");
    b.currency_code = currency.into();
    b.credit_limit = None;
    b
}

async fn invoice_in(
    app: &TestApp,
    buyer: &str,
    id: &str,
    currency: &str,
    value: &str,
) -> Result<pb::RecordInvoiceResponse, tonic::Status> {
    app.ledger
        .clone()
        .record_invoice(pb::RecordInvoiceRequest {
            buyer_id: buyer.into(),
            invoice_id: id.into(),
            order_id: String::new(),
            amount: money(currency, value),
            issue_date: app.day(0),
            due_date: app.day(30),
        })
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn each_currency_exponent_round_trips_exactly() {
    let app = TestApp::spawn().await;
    for (currency, largest, small) in [
        ("JPY", "999999999999999", "1"),
        ("EUR", "9999999999999.99", "0.01"),
        ("BHD", "999999999999.999", "0.001"),
    ] {
        let id = format!("B-{currency}");
        app.upsert(buyer_in(&id, currency)).await;
        invoice_in(&app, &id, "BIG", currency, largest)
            .await
            .unwrap();
        invoice_in(&app, &id, "SMALL", currency, small)
            .await
            .unwrap();
        let exposure = app.exposure(&id).await;
        let open: Vec<(&str, &str)> = exposure
            .invoices
            .iter()
            .map(|i| (i.invoice_id.as_str(), amount(&i.open_balance)))
            .collect();
        assert!(
            open.contains(&("BIG", largest)) && open.contains(&("SMALL", small)),
            "{open:?}"
        );
        let expected_total = match currency {
            "JPY" => "1000000000000000",
            "EUR" => "10000000000000.00",
            _ => "1000000000000.000",
        };
        assert_eq!(amount(&exposure.total_exposure), expected_total);
        assert_eq!(
            exposure.total_exposure.as_ref().unwrap().currency_code,
            currency
        );
    }
}

#[tokio::test]
async fn exposure_stops_exactly_below_two_to_the_53() {
    let app = TestApp::spawn().await;
    app.upsert(buyer_in("B-1", "JPY")).await;
    for i in 0..9 {
        invoice_in(&app, "B-1", &format!("INV-{i}"), "JPY", "999999999999999")
            .await
            .unwrap();
    }
    // 9 × 999 999 999 999 999 = 8 999 999 999 999 991 < 2^53 − 1 = 9 007 199 254 740 991.
    assert_eq!(
        amount(&app.exposure("B-1").await.total_exposure),
        "8999999999999991"
    );
    let refused = invoice_in(&app, "B-1", "INV-9", "JPY", "999999999999999")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("2^53"), "{}", refused.message());
    let exposure = app.exposure("B-1").await;
    assert_eq!(
        amount(&exposure.total_exposure),
        "8999999999999991",
        "nothing half-written"
    );
    assert_eq!(exposure.invoices.len(), 9);
    // Past 2^53 minor units a single amount is refused outright, never rounded.
    let too_large = invoice_in(&app, "B-1", "INV-X", "JPY", "9007199254740993")
        .await
        .unwrap_err();
    assert_eq!(too_large.code(), Code::InvalidArgument);
    assert!(too_large.message().contains("amount.amount"));
}

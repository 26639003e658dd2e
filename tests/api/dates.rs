//! Plausible ledger dates: issue and due dates within the window around today,
//! payments not in the future and not before the window; refusals write nothing.

use crate::helpers::*;
use creditgate::domain::date::Date;
use creditgate::domain::date_window::DateWindow;
use creditgate::grpc::pb;
use creditgate::service::ServiceSettings;
use tonic::Code;

/// The same day `years` years from `today` (29 February → 28 February), computed
/// here rather than by the rule under test.
fn years_from(today: Date, years: i32) -> Date {
    let (y, m, d) = today.ymd();
    Date::from_ymd(y + years, m, d)
        .or_else(|| Date::from_ymd(y + years, m, d - 1))
        .unwrap()
}

async fn record_invoice(
    app: &TestApp,
    invoice: &str,
    issue_date: &str,
    due_date: &str,
) -> Result<pb::RecordInvoiceResponse, tonic::Status> {
    app.ledger
        .clone()
        .record_invoice(pb::RecordInvoiceRequest {
            buyer_id: "B-1".into(),
            invoice_id: invoice.into(),
            order_id: String::new(),
            amount: eur("100.00"),
            issue_date: issue_date.into(),
            due_date: due_date.into(),
        })
        .await
        .map(|r| r.into_inner())
}

async fn record_payment(
    app: &TestApp,
    invoice: &str,
    paid_date: &str,
) -> Result<pb::RecordPaymentResponse, tonic::Status> {
    app.ledger
        .clone()
        .record_payment(pb::RecordPaymentRequest {
            buyer_id: "B-1".into(),
            invoice_id: invoice.into(),
            amount: eur("100.00"),
            paid_date: paid_date.into(),
            payment_id: format!("PAY-{invoice}-{paid_date}"),
        })
        .await
        .map(|r| r.into_inner())
}

fn assert_refused(result: Result<impl std::fmt::Debug, tonic::Status>, field: &str, says: &str) {
    let status = result.expect_err("expected INVALID_ARGUMENT");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().starts_with(field) && status.message().contains(says),
        "message {:?} does not name {field} or say {says:?}",
        status.message()
    );
}

#[tokio::test]
async fn invoice_issued_9999_12_31_is_refused_naming_issue_date() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    // Without a due date the service would derive 10000-01-30 from the terms.
    assert_refused(
        record_invoice(&app, "INV-1", "9999-12-31", "").await,
        "issue_date",
        "9999-12-31 is more than 5 years after today",
    );
    assert_refused(
        record_invoice(&app, "INV-1", "0001-01-01", &app.day(30)).await,
        "issue_date",
        "0001-01-01 is more than 5 years before today",
    );
    assert_refused(
        record_invoice(&app, "INV-1", &app.day(0), "9999-12-31").await,
        "due_date",
        "9999-12-31 is more than 5 years after today",
    );
    let exposure = app.exposure("B-1").await;
    assert_eq!(amount(&exposure.total_exposure), "0.00");
    assert!(exposure.invoices.is_empty());
}

#[tokio::test]
async fn due_date_derived_from_terms_must_fit_the_window_too() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    let latest = years_from(app.today(), 5);
    // The buyer's 30-day terms push the due date past the window.
    let too_late = latest.add_days(-29).to_string();
    assert_refused(
        record_invoice(&app, "INV-1", &too_late, "").await,
        "issue_date",
        "30-day payment terms",
    );
    assert_eq!(amount(&app.exposure("B-1").await.total_exposure), "0.00");
    let fits = latest.add_days(-30).to_string();
    record_invoice(&app, "INV-1", &fits, "").await.unwrap();
    assert_eq!(
        app.exposure("B-1").await.invoices[0].due_date,
        latest.to_string()
    );
}

#[tokio::test]
async fn payment_dated_in_the_future_is_refused_naming_paid_date() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    record_invoice(&app, "INV-1", &app.day(-10), &app.day(20))
        .await
        .unwrap();
    let today = app.today();
    assert_refused(
        record_payment(&app, "INV-1", &app.day(1)).await,
        "paid_date",
        &format!("{} is in the future (today is {today})", app.day(1)),
    );
    assert_refused(
        record_payment(&app, "INV-1", "9999-12-31").await,
        "paid_date",
        "9999-12-31 is in the future",
    );
    let exposure = app.exposure("B-1").await;
    assert_eq!(amount(&exposure.open_invoices), "100.00");
    assert_eq!(exposure.average_days_beyond_terms, "0");
}

#[tokio::test]
async fn payment_dated_0001_01_01_is_refused_and_the_limit_does_not_move() {
    let app = TestApp::spawn().await;
    app.upsert(scored_buyer("B-1")).await;
    record_invoice(&app, "INV-1", &app.day(-10), &app.day(20))
        .await
        .unwrap();
    let before = app.exposure("B-1").await;
    assert_refused(
        record_payment(&app, "INV-1", "0001-01-01").await,
        "paid_date",
        "0001-01-01 is more than 5 years before today",
    );
    let after = app.exposure("B-1").await;
    assert_eq!(amount(&after.open_invoices), "100.00");
    assert_eq!(after.credit_limit, before.credit_limit);
    assert_eq!(
        after.average_days_beyond_terms,
        before.average_days_beyond_terms
    );
}

#[tokio::test]
async fn dates_on_the_edges_of_the_window_are_accepted_and_a_day_beyond_refused() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    let (earliest, latest) = (years_from(app.today(), -5), years_from(app.today(), 5));
    let day_before = earliest.add_days(-1).to_string();
    let day_after = latest.add_days(1).to_string();
    let (earliest, latest) = (earliest.to_string(), latest.to_string());

    assert_refused(
        record_invoice(&app, "INV-1", &day_before, &latest).await,
        "issue_date",
        &format!("the earliest accepted is {earliest}"),
    );
    assert_refused(
        record_invoice(&app, "INV-1", &earliest, &day_after).await,
        "due_date",
        &format!("the latest accepted is {latest}"),
    );
    record_invoice(&app, "INV-1", &earliest, &latest)
        .await
        .expect("issue and due dates on the edges of the window");

    assert_refused(
        record_payment(&app, "INV-1", &day_before).await,
        "paid_date",
        &format!("the earliest accepted is {earliest}"),
    );
    assert_eq!(amount(&app.exposure("B-1").await.open_invoices), "100.00");
    record_payment(&app, "INV-1", &earliest)
        .await
        .expect("a payment on the earliest day of the window");
    assert_eq!(amount(&app.exposure("B-1").await.open_invoices), "0.00");
}

#[tokio::test]
async fn the_window_is_configurable() {
    let app = TestApp::spawn_with(ServiceSettings {
        ledger_date_window: DateWindow { years: 1 },
        ..test_settings()
    })
    .await;
    app.upsert(buyer("B-1", "10000.00")).await;
    let two_years_ago = years_from(app.today(), -2).to_string();
    assert_refused(
        record_invoice(&app, "INV-1", &two_years_ago, &app.day(0)).await,
        "issue_date",
        "is more than 1 year before today",
    );
    record_invoice(&app, "INV-1", &app.day(-300), &app.day(0))
        .await
        .unwrap();
    assert_eq!(amount(&app.exposure("B-1").await.open_invoices), "100.00");
}

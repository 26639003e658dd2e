//! `creditgate demo-data`, through the real binary: the same arguments write the
//! same bytes, the files have the import columns, and every row loads through
//! the real API with the aging spread, disputes and insolvencies it promises.
//!
//! The rows are sent with a tiny row → protobuf mapping written here; the real
//! importer (`creditgate import`) replaces it once it lands.

use crate::helpers::{Decision, TestApp, codes, decision, process};
use creditgate::cli::demo_data::{BUYERS_HEADER, INVOICES_HEADER, PAYMENTS_HEADER};
use creditgate::grpc::pb;
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

const FILES: [&str; 3] = ["buyers.csv", "invoices.csv", "payments.csv"];

fn demo_data(out: &Path, buyers: u32, seed: u64, today: &str) -> String {
    let (ok, output) = process::run(&[
        "demo-data",
        "--buyers",
        &buyers.to_string(),
        "--out",
        out.to_str().expect("a UTF-8 temp path"),
        "--seed",
        &seed.to_string(),
        "--today",
        today,
    ]);
    assert!(ok, "demo-data failed: {output}");
    output
}

fn read(dir: &Path, file: &str) -> Vec<u8> {
    std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn the_same_seed_and_today_write_the_same_bytes_and_another_seed_does_not() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let summary = demo_data(a.path(), 60, 7, "2026-12-02");
    demo_data(b.path(), 60, 7, "2026-12-02");
    demo_data(c.path(), 60, 8, "2026-12-02");
    assert!(summary.starts_with("demo book: 60 buyers"), "{summary}");
    for file in FILES {
        assert!(summary.contains(file), "{summary}");
        assert_eq!(read(a.path(), file), read(b.path(), file), "{file}");
        assert_ne!(read(a.path(), file), read(c.path(), file), "{file}");
    }
}

#[test]
fn the_files_have_exactly_the_import_columns() {
    let dir = tempfile::tempdir().unwrap();
    demo_data(dir.path(), 5, 1, "2026-12-02");
    for (file, header) in FILES
        .into_iter()
        .zip([BUYERS_HEADER, INVOICES_HEADER, PAYMENTS_HEADER])
    {
        let text = String::from_utf8(read(dir.path(), file)).unwrap();
        assert_eq!(text.lines().next(), Some(header), "{file}");
        let columns = header.split(',').count();
        for line in text.lines().skip(1) {
            assert_eq!(cells(line).len(), columns, "{file}: {line}");
        }
    }
    assert_eq!(
        BUYERS_HEADER,
        "buyer_id,name,country_code,currency_code,risk_tier,credit_limit,payment_terms_days,annual_revenue,net_worth,years_in_business,external_grade,legal_disputes,insolvency,insured_limit,indemnity_percent"
    );
    assert_eq!(
        INVOICES_HEADER,
        "buyer_id,invoice_id,order_id,amount,open_amount,issue_date,due_date,disputed"
    );
    assert_eq!(
        PAYMENTS_HEADER,
        "buyer_id,invoice_id,payment_id,amount,paid_date"
    );
}

#[test]
fn a_bad_argument_is_refused_with_a_message_not_a_panic() {
    let (ok, output) = process::run(&["demo-data", "--buyers", "5", "--today", "2026-13-01"]);
    assert!(!ok);
    assert!(output.contains("--today"), "{output}");
    let (ok, output) = process::run(&["demo-data", "--buyers", "5000000"]);
    assert!(!ok);
    assert!(output.contains("creditgate: --buyers 5000000"), "{output}");
    assert!(!output.contains("panicked"), "{output}");
}

/// RFC 4180 cells of one line (the generator quotes only what needs it).
fn cells(line: &str) -> Vec<String> {
    let (mut cells, mut cell, mut quoted, mut chars) =
        (Vec::new(), String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => cells.push(std::mem::take(&mut cell)),
            (c, _) => cell.push(c),
        }
    }
    cells.push(cell);
    cells
}

type Row = HashMap<String, String>;

fn rows(dir: &Path, file: &str) -> Vec<Row> {
    let text = String::from_utf8(read(dir, file)).unwrap();
    let mut lines = text.lines();
    let header = cells(lines.next().expect("a header"));
    lines
        .map(|line| header.iter().cloned().zip(cells(line)).collect())
        .collect()
}

fn money(currency: &str, amount: &str) -> Option<pb::Money> {
    (!amount.is_empty()).then(|| pb::Money {
        currency_code: currency.into(),
        amount: amount.into(),
    })
}

fn number(text: &str) -> i32 {
    if text.is_empty() {
        0
    } else {
        text.parse()
            .unwrap_or_else(|_| panic!("{text:?} is not a number"))
    }
}

/// A buyers.csv row as UpsertBuyer takes it: an empty cell is an absent value.
fn buyer(row: &Row) -> pb::Buyer {
    let currency = row["currency_code"].as_str();
    let tier = match row["risk_tier"].as_str() {
        "core" => pb::RiskTier::Core,
        "standard" => pb::RiskTier::Standard,
        "new" => pb::RiskTier::New,
        "watch" => pb::RiskTier::Watch,
        other => panic!("risk_tier {other:?}"),
    };
    let has = |column: &str| !row[column].is_empty();
    pb::Buyer {
        buyer_id: row["buyer_id"].clone(),
        name: row["name"].clone(),
        country_code: row["country_code"].clone(),
        currency_code: currency.into(),
        risk_tier: tier as i32,
        credit_limit: money(currency, &row["credit_limit"]),
        payment_terms_days: number(&row["payment_terms_days"]),
        financials: (has("annual_revenue") || has("net_worth") || has("years_in_business")).then(
            || pb::Financials {
                annual_revenue: money(currency, &row["annual_revenue"]),
                net_worth: money(currency, &row["net_worth"]),
                years_in_business: number(&row["years_in_business"]),
            },
        ),
        external_rating: has("external_grade").then(|| pb::ExternalRating {
            grade: number(&row["external_grade"]),
            legal_disputes: number(&row["legal_disputes"]),
            insolvency: row["insolvency"] == "true",
        }),
        insurance: has("insured_limit").then(|| pb::Insurance {
            insured_limit: money(currency, &row["insured_limit"]),
            indemnity_percent: row["indemnity_percent"].clone(),
        }),
        early_payment_discount: None,
    }
}

fn decimal(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap_or_else(|_| panic!("{text:?} is not a decimal"))
}

fn amount(money: &Option<pb::Money>) -> Decimal {
    money.as_ref().map_or(Decimal::ZERO, |m| decimal(&m.amount))
}

/// Loads a book into the server, each row through the API: buyers, invoices,
/// payments.csv, the derived payment of each part-paid invoice, disputes.
async fn load(app: &TestApp, dir: &Path) -> (Vec<Row>, Vec<Row>) {
    let (buyers, invoices, payments) = (
        rows(dir, "buyers.csv"),
        rows(dir, "invoices.csv"),
        rows(dir, "payments.csv"),
    );
    let mut ledger = app.ledger.clone();
    let mut currency = HashMap::new();
    for row in &buyers {
        currency.insert(row["buyer_id"].clone(), row["currency_code"].clone());
        app.try_upsert(buyer(row))
            .await
            .unwrap_or_else(|e| panic!("UpsertBuyer {row:?}: {e:?}"));
    }
    for row in &invoices {
        ledger
            .record_invoice(pb::RecordInvoiceRequest {
                buyer_id: row["buyer_id"].clone(),
                invoice_id: row["invoice_id"].clone(),
                order_id: row["order_id"].clone(),
                amount: money(&currency[&row["buyer_id"]], &row["amount"]),
                issue_date: row["issue_date"].clone(),
                due_date: row["due_date"].clone(),
            })
            .await
            .unwrap_or_else(|e| panic!("RecordInvoice {row:?}: {e:?}"));
    }
    for row in &payments {
        ledger
            .record_payment(pb::RecordPaymentRequest {
                buyer_id: row["buyer_id"].clone(),
                invoice_id: row["invoice_id"].clone(),
                amount: money(&currency[&row["buyer_id"]], &row["amount"]),
                paid_date: row["paid_date"].clone(),
                payment_id: row["payment_id"].clone(),
            })
            .await
            .unwrap_or_else(|e| panic!("RecordPayment {row:?}: {e:?}"));
    }
    for row in &invoices {
        let paid = decimal(&row["amount"]) - decimal(&row["open_amount"]);
        let has_payments = payments
            .iter()
            .any(|p| p.get("invoice_id") == row.get("invoice_id"));
        // The importer's derivation for a part-paid invoice: one payment of
        // amount − open_amount (its date here: the issue date, always valid).
        if paid > Decimal::ZERO && !has_payments {
            ledger
                .record_payment(pb::RecordPaymentRequest {
                    buyer_id: row["buyer_id"].clone(),
                    invoice_id: row["invoice_id"].clone(),
                    amount: money(&currency[&row["buyer_id"]], &paid.to_string()),
                    paid_date: row["issue_date"].clone(),
                    payment_id: format!("{}-DERIVED", row["invoice_id"]),
                })
                .await
                .unwrap_or_else(|e| panic!("derived payment of {row:?}: {e:?}"));
        }
        if row["disputed"] == "true" {
            app.dispute(&row["buyer_id"], &row["invoice_id"], true)
                .await
                .unwrap_or_else(|e| panic!("SetInvoiceDispute {row:?}: {e:?}"));
        }
    }
    (buyers, invoices)
}

#[tokio::test]
async fn every_row_of_a_200_buyer_book_loads_with_every_aging_bucket_disputes_and_insolvencies() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    // Dated on the server's today, so that the aging the server computes is the
    // aging the generator drew.
    let today = app.today().to_string();
    let out = dir.path().to_owned();
    tokio::task::spawn_blocking(move || demo_data(&out, 200, 1, &today))
        .await
        .unwrap();
    let (buyers, invoices) = load(&app, dir.path()).await;
    assert_eq!(buyers.len(), 200);

    // Per bucket: how many buyers have a balance in it.
    let mut buckets = [0usize; 5];
    let (mut disputed, mut open_total_mismatches) = (0, Vec::new());
    for row in &buyers {
        let id = &row["buyer_id"];
        let exposure = app.exposure(id).await;
        let aging = exposure.aging.clone().unwrap_or_default();
        for (count, bucket) in buckets.iter_mut().zip([
            &aging.not_due,
            &aging.overdue_1_to_30,
            &aging.overdue_31_to_60,
            &aging.overdue_61_to_90,
            &aging.overdue_over_90,
        ]) {
            *count += usize::from(amount(bucket) > Decimal::ZERO);
        }
        disputed += usize::from(amount(&exposure.disputed) > Decimal::ZERO);
        // The open balances the server holds are the file's open_amount column:
        // payments.csv and the derived payments cover exactly the paid parts.
        let expected: Decimal = invoices
            .iter()
            .filter(|i| &i["buyer_id"] == id)
            .map(|i| decimal(&i["open_amount"]))
            .sum();
        if amount(&exposure.open_invoices) != expected {
            open_total_mismatches.push((id.clone(), expected, exposure.open_invoices));
        }
    }
    assert!(
        open_total_mismatches.is_empty(),
        "{open_total_mismatches:?}"
    );
    assert!(
        buckets.iter().all(|count| *count > 0),
        "buckets {buckets:?}"
    );
    // Most open balances are not yet due.
    assert!(
        buckets[0] > buckets[1..].iter().max().copied().unwrap_or(0),
        "{buckets:?}"
    );
    assert!(disputed > 0, "no buyer with a disputed invoice");

    let insolvent: Vec<&Row> = buyers
        .iter()
        .filter(|b| b["insolvency"] == "true")
        .collect();
    assert!(!insolvent.is_empty(), "no insolvent buyer among 200");
    for row in insolvent {
        let check = app
            .try_check(
                &row["buyer_id"],
                "DEMO-CHECK-1",
                money(&row["currency_code"], "100"),
            )
            .await
            .unwrap();
        assert_eq!(decision(&check), Decision::Referred);
        assert!(codes(&check).contains(&"INSOLVENCY"), "{:?}", codes(&check));
    }
}

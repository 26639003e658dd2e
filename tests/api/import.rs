//! `creditgate import`, run as the real binary: into a test server through
//! LedgerService, and straight into a private redis-server for a re-seed.

use crate::helpers::redis::{RedisServer, redis_cli};
use crate::helpers::*;
use creditgate::grpc::pb;
use creditgate::store::Store;
use creditgate::store::StoreHealth;
use creditgate::store::redis::{RedisStore, RedisTarget};
use std::path::{Path, PathBuf};
use std::process::Command;

const BUYERS_HEADER: &str = "buyer_id,name,country_code,currency_code,risk_tier,credit_limit,payment_terms_days,annual_revenue,net_worth,years_in_business,external_grade,legal_disputes,insolvency,insured_limit,indemnity_percent";
const INVOICES_HEADER: &str =
    "buyer_id,invoice_id,order_id,amount,open_amount,issue_date,due_date,disputed";
const PAYMENTS_HEADER: &str = "buyer_id,invoice_id,payment_id,amount,paid_date";

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The read / applied / unchanged / rejected counts of one summary line.
    fn counts(&self, kind: &str) -> [u64; 4] {
        let line = self
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(kind))
            .unwrap_or_else(|| panic!("no {kind} line in:\n{}", self.stdout));
        let numbers: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .map(|n| n.parse().expect("a count"))
            .collect();
        numbers.try_into().expect("four counts")
    }

    fn text(&self) -> String {
        format!("stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr)
    }
}

/// Runs `creditgate import <args>` to its end, off the runtime's threads. The
/// environment's Redis settings are removed: only the flags given count.
async fn import(args: Vec<String>) -> Run {
    tokio::task::spawn_blocking(move || {
        let output = Command::new(env!("CARGO_BIN_EXE_creditgate"))
            .arg("import")
            .args(&args)
            .env_remove("CREDITGATE_REDIS_URL")
            .env_remove("CREDITGATE_REDIS_CLUSTER")
            .env_remove("CREDITGATE_TOKEN")
            .output()
            .expect("run creditgate import");
        let run = Run {
            ok: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        assert!(!run.stderr.contains("panicked"), "{}", run.text());
        run
    })
    .await
    .expect("import ran")
}

fn into_server(app: &TestApp, files: &[PathBuf]) -> Vec<String> {
    let mut args = vec!["--server".to_owned(), format!("http://{}", app.addr)];
    args.extend(files.iter().map(|f| f.display().to_string()));
    args
}

fn write(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").expect("write a test file");
    path
}

fn open_invoice<'a>(exposure: &'a pb::BuyerExposure, id: &str) -> &'a pb::OpenInvoice {
    exposure
        .invoices
        .iter()
        .find(|i| i.invoice_id == id)
        .unwrap_or_else(|| panic!("{id} not among {:?}", exposure.invoices))
}

#[tokio::test]
async fn good_csv_loads_buyers_then_invoices_then_payments_and_a_rerun_changes_nothing() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let buyers = write(
        dir.path(),
        "buyers.csv",
        &[
            BUYERS_HEADER.to_owned(),
            "B-1,Hoffmann GmbH,DE,EUR,core,10000.00,30,,,,,,,,".to_owned(),
            "B-2,Lefèvre SARL,FR,EUR,standard,,45,12000000.00,3000000.00,12,3,0,false,50000.00,90"
                .to_owned(),
        ],
    );
    let invoices = write(
        dir.path(),
        "invoices.csv",
        &[
            INVOICES_HEADER.to_owned(),
            // 600.00 paid: derived as a payment.
            format!(
                "B-1,INV-1,O-1,1000.00,400.00,{},{},false",
                app.day(-20),
                app.day(10)
            ),
            // Wholly open, due by the buyer's terms, disputed.
            format!("B-1,INV-2,,500.00,,{},,true", app.day(-5)),
            // 100.00 paid, explained by the payments row below: nothing derived.
            format!("B-1,INV-3,,300.00,200.00,{},{},0", app.day(-3), app.day(27)),
            format!(
                "B-2,INV-9,,2000.00,2000.00,{},{},",
                app.day(-40),
                app.day(-10)
            ),
        ],
    );
    let payments = write(
        dir.path(),
        "payments.csv",
        &[
            PAYMENTS_HEADER.to_owned(),
            format!("B-1,INV-3,P-1,100.00,{}", app.day(-1)),
        ],
    );
    // Payments first on the command line: they still load last.
    let files = [payments, invoices, buyers];
    let run = import(into_server(&app, &files)).await;
    assert!(run.ok, "{}", run.text());
    assert_eq!(run.counts("buyers"), [2, 2, 0, 0], "{}", run.text());
    assert_eq!(run.counts("invoices"), [4, 4, 0, 0], "{}", run.text());
    assert_eq!(run.counts("payments"), [1, 1, 0, 0], "{}", run.text());

    let b1 = app.exposure("B-1").await;
    assert_eq!(amount(&b1.open_invoices), "1100.00");
    assert_eq!(amount(&b1.disputed), "500.00");
    assert_eq!(amount(&open_invoice(&b1, "INV-1").open_balance), "400.00");
    assert_eq!(amount(&open_invoice(&b1, "INV-3").open_balance), "200.00");
    let inv2 = open_invoice(&b1, "INV-2");
    assert!(inv2.disputed);
    assert_eq!(
        inv2.due_date,
        app.day(25),
        "issue date plus 30 days of terms"
    );
    let b2 = app.exposure("B-2").await;
    assert_eq!(b2.payment_terms_days, 45);
    assert_eq!(amount(&b2.insured_limit), "50000.00");
    assert_eq!(amount(&b2.open_invoices), "2000.00");

    let again = import(into_server(&app, &files)).await;
    assert!(again.ok, "{}", again.text());
    assert_eq!(again.counts("invoices"), [4, 0, 4, 0], "{}", again.text());
    assert_eq!(again.counts("payments"), [1, 0, 1, 0], "{}", again.text());
    assert_eq!(app.exposure("B-1").await, b1, "a re-run changes nothing");
    assert_eq!(app.exposure("B-2").await, b2);
}

#[tokio::test]
async fn good_jsonl_with_proto3_json_names_loads_as_csv_does() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let buyers = write(
        dir.path(),
        "buyers.jsonl",
        &[
            r#"{"buyerId":"J-1","name":"Van Dijk B.V.","countryCode":"NL","currencyCode":"EUR","riskTier":"RISK_TIER_WATCH","creditLimit":"5000.00","paymentTermsDays":14}"#.to_owned(),
            String::new(),
            // snake_case names, numbers as JSON numbers, null as absent.
            r#"{"buyer_id":"J-2","name":"Harlow & Finch Ltd","country_code":"GB","currency_code":"GBP","risk_tier":"new","credit_limit":2500,"external_grade":null}"#.to_owned(),
        ],
    );
    let invoices = write(
        dir.path(),
        "open-items.jsonl",
        &[
            format!(
                r#"{{"buyerId":"J-1","invoiceId":"F-1","amount":"1200.00","openAmount":"700.00","issueDate":"{}","dueDate":"{}","disputed":false}}"#,
                app.day(-10),
                app.day(4)
            ),
            format!(
                r#"{{"buyerId":"J-2","invoiceId":"F-2","orderId":"PO-7","amount":"99.95","issueDate":"{}","disputed":true}}"#,
                app.day(-2)
            ),
        ],
    );
    let payments = write(
        dir.path(),
        "payments.jsonl",
        &[format!(
            r#"{{"buyerId":"J-1","invoiceId":"F-1","paymentId":"BANK-1","amount":200,"paidDate":"{}"}}"#,
            app.day(-1)
        )],
    );
    let run = import(into_server(&app, &[invoices, payments, buyers])).await;
    assert!(run.ok, "{}", run.text());
    assert_eq!(run.counts("total"), [5, 5, 0, 0], "{}", run.text());
    let j1 = app.exposure("J-1").await;
    assert_eq!(j1.payment_terms_days, 14);
    // 500.00 paid: 200.00 by BANK-1, 300.00 derived.
    assert_eq!(amount(&open_invoice(&j1, "F-1").open_balance), "700.00");
    let j2 = app.exposure("J-2").await;
    assert_eq!(j2.credit_limit.as_ref().unwrap().currency_code, "GBP");
    let f2 = open_invoice(&j2, "F-2");
    assert!(f2.disputed);
    assert_eq!(f2.order_id, "PO-7");
    assert_eq!(amount(&f2.open_balance), "99.95");
}

#[tokio::test]
async fn bad_rows_are_named_by_file_line_and_column_never_half_apply_nor_stop_the_rest() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let buyers = write(
        dir.path(),
        "buyers.csv",
        &[
            BUYERS_HEADER.to_owned(),
            "G-1,Good GmbH,DE,EUR,core,10000.00,30,,,,,,,,".to_owned(),
            "X-2,Bad GmbH,de,EUR,core,1000,30,,,,,,,,".to_owned(),
            "X-3,Bad GmbH,DE,EUR,gold,1000,30,,,,,,,,".to_owned(),
            "X-4,Bad GmbH,DE,EUR,core,10.001,30,,,,,,,,".to_owned(),
            "X-5,Bad GmbH,DE,EUR,core,1000,thirty,,,,,,,,".to_owned(),
            "X-6,Bad GmbH,DE".to_owned(),
            "X-7,Bad GmbH,DE,EUR,core,1000,30,,,,11,,,,".to_owned(),
        ],
    );
    let good_issue = app.day(-10);
    let invoices = write(
        dir.path(),
        "invoices.csv",
        &[
            INVOICES_HEADER.to_owned(),
            format!("G-1,I-1,,100.00,40.00,{good_issue},,false"),
            format!("G-1,I-2,,100.00,140.00,{good_issue},,false"),
            "G-1,I-3,,100.00,,2026-13-01,,false".to_owned(),
            format!("G-1,I-4,,100.00,,{good_issue},{},false", app.day(-20)),
            format!("NOPE,I-5,,100.00,,{good_issue},,false"),
            format!("G-1,I-6,,100.00,50.00,{},,false", app.day(3)),
            format!("G-1,I-7,,100.00,,{good_issue},,maybe"),
            format!("G-1,I-8,,-5.00,,{good_issue},,false"),
            format!("G-1,I-9,,100.00,1.005,{good_issue},,false"),
            // Wholly open (no open_amount): its payments rows are applied as given.
            format!("G-1,I-10,,100.00,,{good_issue},,false"),
        ],
    );
    let payments = write(
        dir.path(),
        "payments.jsonl",
        &[
            format!(
                r#"{{"buyerId":"G-1","invoiceId":"I-1","paymentId":"P-1","amount":"10.00","paidDate":"{}"}}"#,
                app.day(-1)
            ),
            format!(
                r#"{{"buyerId":"G-1","invoiceId":"I-10","paymentId":"P-2","amount":"500.00","paidDate":"{}"}}"#,
                app.day(-1)
            ),
            r#"{"buyerId":"G-1","invoiceId":"I-1","paymentId":"P-3","ammount":"1"}"#.to_owned(),
            "not json".to_owned(),
            r#"{"buyerId":"G-1","invoiceId":"I-404","paymentId":"P-4","amount":"1.00","paidDate":"2026-01-01"}"#.to_owned(),
        ],
    );
    let run = import(into_server(&app, &[buyers, invoices, payments])).await;
    assert!(!run.ok, "a rejected row makes the exit status non-zero");
    assert_eq!(run.counts("buyers"), [7, 1, 0, 6], "{}", run.text());
    assert_eq!(run.counts("invoices"), [10, 2, 0, 8], "{}", run.text());
    assert_eq!(run.counts("payments"), [5, 1, 0, 4], "{}", run.text());
    let b = |rest: &str| format!("buyers.csv:{rest}");
    let i = |rest: &str| format!("invoices.csv:{rest}");
    let p = |rest: &str| format!("payments.jsonl:{rest}");
    for expected in [
        b("3: column 3 (country_code): \"de\" is not an ISO 3166-1 alpha-2 code"),
        b("4: column 5 (risk_tier): \"gold\" is not a risk tier"),
        b("5: column 6 (credit_limit): has 3 decimals but EUR allows 2"),
        b("6: column 7 (payment_terms_days): \"thirty\" is not a whole number"),
        b("7: has 3 fields, the header has 15"),
        b("8: column 11 (external_grade): must be between 1 and 10, got 11"),
        i("3: column 5 (open_amount): 140.00 EUR is more than the amount 100.00 EUR"),
        i("4: column 6 (issue_date): \"2026-13-01\""),
        i("5: column 7 (due_date):"),
        i("6: column 1 (buyer_id): buyer \"NOPE\" not found"),
        i("7: column 6 (issue_date):"),
        i("8: column 8 (disputed): \"maybe\" is not true or false"),
        i("9: column 4 (amount):"),
        i("10: column 5 (open_amount): \"1.005\" has 3 decimals"),
        p("2: field amount: payment of 500.00 EUR exceeds the open balance 100.00 EUR"),
        p("3: field \"ammount\" is not a payments field"),
        p("4: is not a JSON object"),
        p("5: field invoiceId: invoice I-404 not found"),
    ] {
        assert!(
            run.stderr.contains(&expected),
            "missing {expected:?} in:\n{}",
            run.text()
        );
    }
    // The good rows are in; a rejected invoice left nothing behind, not even
    // the invoice of a row whose paid part was refused.
    let g1 = app.exposure("G-1").await;
    let ids: Vec<&str> = g1.invoices.iter().map(|i| i.invoice_id.as_str()).collect();
    assert_eq!(ids, ["I-1", "I-10"]);
    // 60.00 paid: 10.00 by P-1, 50.00 derived.
    assert_eq!(amount(&open_invoice(&g1, "I-1").open_balance), "40.00");
    for rejected in ["X-2", "X-3", "X-7"] {
        let status = app.try_exposure(rejected).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::NotFound, "{rejected}");
    }
}

#[tokio::test]
async fn a_header_of_no_import_format_stops_the_import_before_any_write() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let buyers = write(
        dir.path(),
        "buyers.csv",
        &[
            BUYERS_HEADER.to_owned(),
            "H-1,Good GmbH,DE,EUR,core,10000.00,30,,,,,,,,".to_owned(),
        ],
    );
    let wrong = write(
        dir.path(),
        "export.csv",
        &[
            "buyer_id,invoice_id,order_id,amount,open_amount,issue_date,duedate,disputed,region"
                .to_owned(),
        ],
    );
    let run = import(into_server(&app, &[buyers, wrong])).await;
    assert!(!run.ok);
    assert!(
        run.stderr.contains("export.csv:1: the header is none of the import formats; closest is invoices, missing column(s): due_date, unknown column(s): duedate, region"),
        "{}",
        run.text()
    );
    let status = app.try_exposure("H-1").await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound, "nothing was written");
}

#[tokio::test]
async fn the_shipped_examples_import_cleanly() {
    let app = TestApp::spawn().await;
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&examples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv" || e == "jsonl"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 4, "{files:?}");
    let run = import(into_server(&app, &files)).await;
    assert!(run.ok, "{}", run.text());
    assert_eq!(run.counts("total")[3], 0, "{}", run.text());
    let u = app.exposure("U-40108").await;
    // 9875.40 invoiced, 7000.00 paid by the two BACS payments rows.
    assert_eq!(
        amount(&open_invoice(&u, "INV-118377").open_balance),
        "2875.40"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reseed_of_an_emptied_redis_stays_exposure_unknown_until_complete_and_reproduces_exposure_and_dso()
 {
    let redis = RedisServer::start();
    let namespace = unique_namespace();
    let options = redis_options(RedisTarget::Url(redis.url()), &namespace);
    let app = TestApp::spawn_on(initialised_redis(&options).await, test_settings()).await;

    // The ledger before the loss, as the ERP fed it.
    app.upsert(buyer("B-1", "20000.00")).await;
    app.upsert(scored_buyer("B-2")).await;
    app.invoice("B-1", "INV-1", "O-1", "1000.00", -60, -30)
        .await
        .unwrap();
    app.invoice("B-1", "INV-2", "", "2500.00", -20, 10)
        .await
        .unwrap();
    app.invoice("B-1", "INV-3", "", "800.00", -10, 20)
        .await
        .unwrap();
    app.invoice("B-1", "INV-4", "", "400.00", -80, -50)
        .await
        .unwrap();
    app.pay_on("B-1", "INV-4", "400.00", "P-4", -52)
        .await
        .unwrap();
    app.pay_on("B-1", "INV-1", "300.00", "P-1", -5)
        .await
        .unwrap();
    app.dispute("B-1", "INV-3", true).await.unwrap();
    app.invoice("B-2", "INV-20", "", "5000.00", -30, 0)
        .await
        .unwrap();
    // Paid on its issue date: what a paid part without a payments row becomes.
    app.pay_on("B-2", "INV-20", "1250.00", "ERP-77", -30)
        .await
        .unwrap();
    let before = [app.exposure("B-1").await, app.exposure("B-2").await];
    assert_ne!(before[0].dso_days, "0", "DSO is part of the comparison");

    let dir = tempfile::tempdir().unwrap();
    let buyers = write(
        dir.path(),
        "buyers.csv",
        &[
            BUYERS_HEADER.to_owned(),
            "B-1,B-1 GmbH,DE,EUR,standard,20000.00,30,,,,,,,,".to_owned(),
            "B-2,B-2 GmbH,DE,EUR,standard,,30,12000000.00,3000000.00,12,3,0,false,,".to_owned(),
        ],
    );
    let invoices = write(
        dir.path(),
        "invoices.csv",
        &[
            INVOICES_HEADER.to_owned(),
            format!(
                "B-1,INV-1,O-1,1000.00,700.00,{},{},false",
                app.day(-60),
                app.day(-30)
            ),
            format!(
                "B-1,INV-2,,2500.00,2500.00,{},{},false",
                app.day(-20),
                app.day(10)
            ),
            format!(
                "B-1,INV-3,,800.00,800.00,{},{},true",
                app.day(-10),
                app.day(20)
            ),
            format!(
                "B-1,INV-4,,400.00,0,{},{},false",
                app.day(-80),
                app.day(-50)
            ),
            format!(
                "B-2,INV-20,,5000.00,3750.00,{},{},false",
                app.day(-30),
                app.day(0)
            ),
        ],
    );
    let payments = write(
        dir.path(),
        "payments.csv",
        &[
            PAYMENTS_HEADER.to_owned(),
            format!("B-1,INV-4,P-4,400.00,{}", app.day(-52)),
            format!("B-1,INV-1,P-1,300.00,{}", app.day(-5)),
        ],
    );
    let bad = write(
        dir.path(),
        "late.csv",
        &[
            PAYMENTS_HEADER.to_owned(),
            format!("B-404,INV-2,P-9,1.00,{}", app.day(-1)),
        ],
    );

    redis_cli(redis.port, &["FLUSHALL"]);
    let unknown = || async {
        app.try_check("B-1", "O-9", eur("100.00"))
            .await
            .is_ok_and(|r| codes(&r) == ["EXPOSURE_UNKNOWN"])
    };
    eventually("EXPOSURE_UNKNOWN after the loss", unknown).await;

    let into_redis = |complete: bool, files: &[&PathBuf]| {
        let mut args = vec![
            "--redis-url".to_owned(),
            redis.url(),
            "--redis-namespace".to_owned(),
            namespace.clone(),
        ];
        if complete {
            args.push("--complete".to_owned());
        }
        args.extend(files.iter().map(|f| f.display().to_string()));
        args
    };
    let seeded = import(into_redis(false, &[&invoices, &payments, &buyers])).await;
    assert!(seeded.ok, "{}", seeded.text());
    assert_eq!(seeded.counts("total"), [9, 9, 0, 0], "{}", seeded.text());
    assert!(
        seeded.stdout.contains("EXPOSURE_UNKNOWN"),
        "{}",
        seeded.text()
    );
    assert!(unknown().await, "no store marker without --complete");

    let refused = import(into_redis(true, &[&invoices, &payments, &buyers, &bad])).await;
    assert!(!refused.ok, "{}", refused.text());
    assert!(
        refused.stdout.contains("--complete refused"),
        "{}",
        refused.text()
    );
    assert!(
        refused
            .stderr
            .contains("late.csv:2: column 1 (buyer_id): buyer \"B-404\" not found"),
        "{}",
        refused.text()
    );
    let store = RedisStore::open(&options).unwrap();
    assert_eq!(store.health().await, StoreHealth::Uninitialised);
    assert!(unknown().await, "a refused --complete writes no marker");

    let complete = import(into_redis(true, &[&buyers, &invoices, &payments])).await;
    assert!(complete.ok, "{}", complete.text());
    // Everything was in already: Redis mode knows the buyers did not change either.
    assert_eq!(
        complete.counts("total"),
        [9, 0, 9, 0],
        "{}",
        complete.text()
    );
    assert!(
        complete.stdout.contains("store complete"),
        "{}",
        complete.text()
    );
    assert_eq!(store.health().await, StoreHealth::Ready);

    let after = [app.exposure("B-1").await, app.exposure("B-2").await];
    assert_eq!(
        after, before,
        "the re-seed reproduces exposure, aging and DSO"
    );
    // Checks decide on the ledger again (B-1 is held for its overdue invoice).
    let check = app.check("B-1", "O-10", "100.00").await;
    assert!(!codes(&check).contains(&"EXPOSURE_UNKNOWN"), "{check:?}");
    assert_eq!(check.exposure, before[0].total_exposure);
}

#[tokio::test]
async fn complete_needs_redis_and_an_unreachable_server_stops_the_import() {
    let dir = tempfile::tempdir().unwrap();
    let buyers = write(
        dir.path(),
        "buyers.csv",
        &[
            BUYERS_HEADER.to_owned(),
            "C-1,Good GmbH,DE,EUR,core,10000.00,30,,,,,,,,".to_owned(),
        ],
    );
    let file = buyers.display().to_string();
    let run = import(vec!["--complete".to_owned(), file.clone()]).await;
    assert!(!run.ok);
    assert!(
        run.stderr
            .contains("--complete writes Redis's store markers: it needs --redis-url"),
        "{}",
        run.text()
    );
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let run = import(vec![
        "--server".to_owned(),
        format!("http://127.0.0.1:{port}"),
        file,
    ])
    .await;
    assert!(!run.ok);
    assert!(
        run.stderr.contains("cannot reach the server"),
        "{}",
        run.text()
    );
}

//! Bounded data per buyer: settled items (sticky orders, tombstones, paid
//! invoices, payment ids) are honoured for the retention window and forgotten
//! after it, on the service's business date; the exposure and score answers do
//! not depend on what was pruned.

use crate::helpers::redis::{RedisServer, redis_cli};
use crate::helpers::*;
use creditgate::clock::Clock;
use creditgate::domain::ids::BuyerId;
use creditgate::domain::retention::Retention;
use creditgate::grpc::pb;
use creditgate::service::ServiceSettings;
use creditgate::store::redis::RedisTarget;
use creditgate::store::redis::keys::KeySchema;
use tonic::Code;

const DAY: i64 = 86_400;

fn retention(days: u32) -> ServiceSettings {
    ServiceSettings {
        ledger_retention: Retention { days },
        // These tests are not about timeouts: a loaded machine (the whole suite
        // in parallel on two cores, a freshly started redis-server loading its
        // scripts) must not fail them.
        store_timeout: std::time::Duration::from_secs(5),
        ..test_settings()
    }
}

/// A payment with an explicit paid date: a replay must carry the original one.
async fn pay_on(
    app: &TestApp,
    invoice: &str,
    amount: &str,
    payment_id: &str,
    paid_date: &str,
) -> Result<pb::RecordPaymentResponse, tonic::Status> {
    app.ledger
        .clone()
        .record_payment(pb::RecordPaymentRequest {
            buyer_id: "B-1".into(),
            invoice_id: invoice.into(),
            amount: eur(amount),
            paid_date: paid_date.into(),
            payment_id: payment_id.into(),
        })
        .await
        .map(|r| r.into_inner())
}

/// An invoice with explicit dates: a replay must carry the original ones.
async fn invoice_on(
    app: &TestApp,
    invoice: &str,
    order: &str,
    amount: &str,
    issue_date: &str,
    due_date: &str,
) -> pb::RecordInvoiceResponse {
    app.ledger
        .clone()
        .record_invoice(pb::RecordInvoiceRequest {
            buyer_id: "B-1".into(),
            invoice_id: invoice.into(),
            order_id: order.into(),
            amount: eur(amount),
            issue_date: issue_date.into(),
            due_date: due_date.into(),
        })
        .await
        .expect("record invoice")
        .into_inner()
}

/// Day 0: an order approved and invoiced in full (sticky), its invoice paid in
/// full (P-1); INV-2 paid in part (P-2, stays open); O-2 approved then
/// cancelled, O-3 cancelled without a check (tombstones). Returns day 0's date
/// and O-1's decision id.
async fn settle_one_of_each(app: &TestApp) -> (String, String) {
    app.upsert(buyer("B-1", "10000.00")).await;
    let day0 = app.day(0);
    let approved = app.check("B-1", "O-1", "1000.00").await;
    assert_eq!(decision(&approved), Decision::Approved);
    invoice_on(app, "INV-1", "O-1", "1000.00", &day0, &app.day(30)).await;
    pay_on(app, "INV-1", "1000.00", "P-1", &day0).await.unwrap();
    invoice_on(app, "INV-2", "", "2000.00", &day0, &app.day(30)).await;
    pay_on(app, "INV-2", "500.00", "P-2", &day0).await.unwrap();
    app.check("B-1", "O-2", "300.00").await;
    assert!(app.cancel("B-1", "O-2").await.unwrap().was_approved);
    app.cancel("B-1", "O-3").await.unwrap();
    (day0, approved.decision_id)
}

#[tokio::test]
async fn settled_items_are_honoured_for_the_whole_window() {
    let app = TestApp::spawn_with(retention(40)).await;
    let (day0, decision_id) = settle_one_of_each(&app).await;
    // Day 40 after they settled: the last day they are kept.
    app.clock.advance_secs(40 * DAY);
    let replay = app.check("B-1", "O-1", "1000.00").await;
    assert_eq!(codes(&replay), ["ALREADY_APPROVED"]);
    assert_eq!(replay.decision_id, decision_id);
    let due = app.day(-10);
    assert!(
        !invoice_on(&app, "INV-1", "O-1", "1000.00", &day0, &due)
            .await
            .created
    );
    let p1 = pay_on(&app, "INV-1", "1000.00", "P-1", &day0)
        .await
        .unwrap();
    assert!(!p1.created);
    let p2 = pay_on(&app, "INV-2", "500.00", "P-2", &day0).await.unwrap();
    assert!(!p2.created);
    assert_eq!(amount(&p2.invoice_open_balance), "1500.00");
    // A paid invoice is still known: it can be disputed, and paying it again is
    // an overpayment, not an unknown invoice.
    let disputed = app.dispute("B-1", "INV-1", true).await.unwrap();
    assert_eq!(amount(&disputed.invoice_open_balance), "0.00");
    let again = pay_on(&app, "INV-1", "1.00", "P-9", &app.day(0)).await;
    assert_eq!(again.unwrap_err().code(), Code::FailedPrecondition);
    for cancelled in ["O-2", "O-3"] {
        let status = app
            .try_check("B-1", cancelled, eur("300.00"))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::FailedPrecondition, "{cancelled}");
    }
    let exposure = app.exposure("B-1").await;
    assert_eq!(amount(&exposure.total_exposure), "1500.00");
}

#[tokio::test]
async fn settled_items_are_forgotten_the_day_after_the_window() {
    let app = TestApp::spawn_with(retention(40)).await;
    let (day0, decision_id) = settle_one_of_each(&app).await;
    app.clock.advance_secs(41 * DAY);
    // Every replay is now a new call. The approved order is evaluated afresh and
    // reserved again.
    let fresh = app.check("B-1", "O-1", "1000.00").await;
    assert_eq!(decision(&fresh), Decision::Approved);
    assert_ne!(codes(&fresh), ["ALREADY_APPROVED"]);
    assert_ne!(fresh.decision_id, decision_id);
    assert_eq!(amount(&fresh.exposure), "2500.00");
    // The payment id of the part-paid invoice counts again.
    let p2 = pay_on(&app, "INV-2", "500.00", "P-2", &day0).await.unwrap();
    assert!(p2.created);
    assert_eq!(amount(&p2.invoice_open_balance), "1000.00");
    // The paid invoice is unknown: its payment's replay and a dispute find nothing.
    let p1 = pay_on(&app, "INV-1", "1000.00", "P-1", &day0).await;
    assert_eq!(p1.unwrap_err().code(), Code::NotFound);
    let dispute = app.dispute("B-1", "INV-1", true).await;
    assert_eq!(dispute.unwrap_err().code(), Code::NotFound);
    // Cancelled ids may be checked again.
    for cancelled in ["O-2", "O-3"] {
        let check = app.check("B-1", cancelled, "300.00").await;
        assert_eq!(decision(&check), Decision::Approved, "{cancelled}");
    }
    // And the invoice's replay records it anew: exposure counts it again.
    let due = app.day(-11);
    let replay = invoice_on(&app, "INV-1", "O-1", "1000.00", &day0, &due).await;
    assert!(replay.created);
    assert_eq!(amount(&replay.reservation_consumed), "1000.00");
    let exposure = app.exposure("B-1").await;
    assert_eq!(amount(&exposure.open_invoices), "2000.00");
    assert_eq!(amount(&exposure.open_orders), "600.00");
}

/// An order lapsed after a partial invoice settles when it lapses, and an order
/// invoiced without approval when it is invoiced; both are kept for the window.
#[tokio::test]
async fn lapsed_and_unapproved_orders_settle_and_are_forgotten() {
    let app = TestApp::spawn_with(ServiceSettings {
        reservation_ttl: std::time::Duration::from_secs(2),
        ..retention(40)
    })
    .await;
    // To 01:00 UTC, so that the seconds moved below never cross midnight.
    let time_of_day = app.clock.now_secs().rem_euclid(DAY);
    app.clock.advance_secs(DAY - time_of_day + 3_600);
    app.upsert(buyer("B-1", "10000.00")).await;
    app.check("B-1", "O-1", "1000.00").await;
    app.invoice("B-1", "INV-1", "O-1", "400.00", 0, 30)
        .await
        .unwrap();
    app.invoice("B-1", "INV-2", "O-9", "100.00", 0, 30)
        .await
        .unwrap();
    // The reservation lapses on the store's clock (Redis TIME on Redis).
    app.clock.advance_secs(3);
    tokio::time::sleep(std::time::Duration::from_millis(3_100)).await;
    assert_eq!(amount(&app.exposure("B-1").await.open_orders), "0.00");
    app.clock.advance_secs(40 * DAY);
    assert_eq!(
        codes(&app.check("B-1", "O-1", "1000.00").await),
        ["ALREADY_APPROVED"]
    );
    let invoiced = app.try_check("B-1", "O-9", eur("100.00")).await.unwrap();
    assert_eq!(codes(&invoiced), ["ALREADY_INVOICED"]);
    app.clock.advance_secs(DAY);
    let fresh = app.check("B-1", "O-1", "1000.00").await;
    assert_ne!(codes(&fresh), ["ALREADY_APPROVED"]);
    let fresh = app.check("B-1", "O-9", "100.00").await;
    assert_ne!(codes(&fresh), ["ALREADY_INVOICED"]);
    assert_eq!(amount(&app.exposure("B-1").await.open_orders), "1100.00");
}

/// A paid, a part-paid, an overdue, a disputed, a future and a not-yet-due
/// invoice, an open order, and paid invoices whose items left the window.
/// The figures are those the implementation before retention gave for this
/// ledger (which read every invoice, paid ones included): DSO's credit sales come
/// from a running sum per issue day, so pruning the paid invoices behind them
/// changes nothing. A retention shorter than the DSO window shows it.
#[tokio::test]
async fn exposure_and_score_figures_survive_pruning() {
    let app = TestApp::spawn_with(retention(20)).await;
    app.upsert(scored_buyer("R-1")).await;
    // Day T0 = T1 − 30: three invoices issued and paid in full.
    for (id, amount, issue, due, payment) in [
        ("INV-5", "500.00", -80, -50, "P-5"),
        ("INV-6", "700.00", -100, -70, "P-6"),
        ("INV-8", "800.00", -90, -60, "P-8"),
    ] {
        app.invoice("R-1", id, "", amount, issue + 30, due + 30)
            .await
            .unwrap();
        app.pay("R-1", id, amount, payment).await.unwrap();
    }
    app.clock.advance_secs(30 * 86_400);
    // Day T1.
    let approved = app.check("R-1", "O-1", "600.00").await;
    assert_eq!(decision(&approved), Decision::Approved);
    for (id, amount, issue, due) in [
        ("INV-1", "1000.00", -120, -90),
        ("INV-10", "100.00", -200, -100),
        ("INV-2", "2000.00", -60, -30),
        ("INV-3", "3000.00", -40, -10),
        ("INV-4", "4000.00", -10, 20),
        ("INV-7", "250.00", -89, 1),
        ("INV-9", "900.00", 5, 35),
    ] {
        app.invoice("R-1", id, "", amount, issue, due)
            .await
            .unwrap();
    }
    app.pay("R-1", "INV-2", "500.00", "P-2").await.unwrap();
    app.dispute("R-1", "INV-3", true).await.unwrap();
    // INV-5 was paid 30 days ago, past the 20-day window: forgotten, while its
    // sales still count toward DSO below.
    let forgotten = app.dispute("R-1", "INV-5", true).await.unwrap_err();
    assert_eq!(forgotten.code(), Code::NotFound);

    let e = app.exposure("R-1").await;
    assert_eq!(amount(&e.open_orders), "600.00");
    assert_eq!(amount(&e.open_invoices), "10750.00");
    assert_eq!(amount(&e.disputed), "3000.00");
    assert_eq!(amount(&e.total_exposure), "11350.00");
    let aging = e.aging.clone().unwrap();
    let buckets = [
        amount(&aging.not_due),
        amount(&aging.overdue_1_to_30),
        amount(&aging.overdue_31_to_60),
        amount(&aging.overdue_61_to_90),
        amount(&aging.overdue_over_90),
    ];
    assert_eq!(buckets, ["5150.00", "4500.00", "0.00", "1000.00", "100.00"]);
    // Sales issued in (T1 − 90, T1]: INV-5 (paid, and pruned below), INV-2, INV-3,
    // INV-4 and INV-7 = 9750.00. DSO = 10750 ÷ 9750 × 90 = 99.23; best possible
    // (not yet due only) = 5150 ÷ 9750 × 90 = 47.54.
    assert_eq!(e.dso_days, "99.2");
    assert_eq!(e.best_possible_dso_days, "47.5");
    assert_eq!(e.oldest_overdue_days, 100);
    // (500 × 20 + 700 × 40 + 800 × 30 + 500 × 30) ÷ 2500 = 30.8 days.
    assert_eq!(e.average_days_beyond_terms, "30.8");
    let lines: Vec<(&str, &str, i32)> = e
        .invoices
        .iter()
        .map(|l| {
            (
                l.invoice_id.as_str(),
                amount(&l.open_balance),
                l.days_overdue,
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("INV-10", "100.00", 100),
            ("INV-1", "1000.00", 90),
            ("INV-2", "1500.00", 30),
            ("INV-3", "3000.00", 10),
            ("INV-7", "250.00", 0),
            ("INV-4", "4000.00", 0),
            ("INV-9", "900.00", 0),
        ]
    );

    let score = app.score("R-1").await.unwrap();
    let reasons: Vec<&str> = score.reasons.iter().map(|r| r.message.as_str()).collect();
    assert_eq!((score.score, score.grade), (305, 7));
    assert_eq!(amount(&score.recommended_limit), "80000.00");
    for expected in [
        "− 120 points: 4 late of 4 payments, 30.8 days beyond terms on average",
        "− 80 points: DSO 99.2 days against 30 days net terms",
        "− 30 points: 24% of the open balance overdue",
        "− 150 points: oldest undisputed invoice 100 days overdue",
        "− 20 points: 1 disputed invoice",
    ] {
        assert!(reasons.contains(&expected), "{expected:?} in {reasons:?}");
    }
}

/// What a Redis store holds for a buyer, key by key (prune's work is not visible
/// through the API: every answer already treats forgotten items as absent).
struct RedisLedger {
    port: u16,
    keys: Vec<String>,
}

impl RedisLedger {
    fn new(redis: &RedisServer, namespace: &str) -> RedisLedger {
        let keys = KeySchema::new(namespace).buyer(&BuyerId::parse("B-1").unwrap());
        RedisLedger {
            port: redis.port,
            keys: keys.keys.to_vec(),
        }
    }

    fn key(&self, suffix: &str) -> &str {
        let suffix = format!("}}:{suffix}");
        self.keys.iter().find(|k| k.ends_with(&suffix)).unwrap()
    }

    fn len(&self, command: &str, suffix: &str) -> usize {
        let reply = redis_cli(self.port, &[command, self.key(suffix)]);
        reply.trim().parse().unwrap()
    }

    fn has_field(&self, suffix: &str, field: &str) -> bool {
        redis_cli(self.port, &["HEXISTS", self.key(suffix), field]).trim() == "1"
    }
}

#[tokio::test]
async fn redis_pruning_removes_forgotten_items_a_batch_per_call() {
    let redis = RedisServer::start();
    let namespace = unique_namespace();
    let store = initialised_redis(&redis_options(RedisTarget::Url(redis.url()), &namespace)).await;
    let app = TestApp::spawn_on(store, retention(40)).await;
    let ledger = RedisLedger::new(&redis, &namespace);
    settle_one_of_each(&app).await;
    // 20 more invoices paid in full: 40 more settled items.
    let day0 = app.day(0);
    for n in 0..20 {
        let id = format!("INV-P{n}");
        invoice_on(&app, &id, "", "10.00", &day0, &app.day(30)).await;
        pay_on(&app, &id, "10.00", &format!("P-P{n}"), &day0)
            .await
            .unwrap();
    }
    // O-1, INV-1, P-1, P-2, O-2, O-3, and 20 × (invoice, payment).
    assert_eq!(ledger.len("LLEN", "ret"), 46);
    assert_eq!(ledger.len("HLEN", "paid"), 21);
    assert_eq!(ledger.len("HLEN", "pay"), 22);
    assert_eq!(ledger.len("HLEN", "inv"), 1);
    assert_eq!(ledger.len("HLEN", "sales"), 1);
    assert!(ledger.has_field("buyer", "o:O-1") && ledger.has_field("buyer", "o:O-3"));
    // The expiry entries of orders invoiced or cancelled are gone before they lapse.
    assert_eq!(ledger.len("LLEN", "oexp"), 0);

    // Inside the window nothing goes.
    app.clock.advance_secs(40 * DAY);
    app.exposure("B-1").await;
    assert_eq!(ledger.len("LLEN", "ret"), 46);
    // Past both the retention and the DSO window: 32 items per call, oldest first.
    app.clock.advance_secs(60 * DAY);
    app.exposure("B-1").await;
    assert_eq!(ledger.len("LLEN", "ret"), 46 - 32);
    assert!(!ledger.has_field("buyer", "o:O-1"));
    assert_eq!(
        ledger.len("HLEN", "sales"),
        0,
        "day 0 is out of every DSO window"
    );
    assert!(!ledger.has_field("buyer", "so"));
    app.exposure("B-1").await;
    assert_eq!(ledger.len("LLEN", "ret"), 0);
    assert_eq!(ledger.len("HLEN", "paid"), 0);
    assert_eq!(ledger.len("HLEN", "pay"), 0);
    assert!(!ledger.has_field("buyer", "o:O-2") && !ledger.has_field("buyer", "o:O-3"));
    // The part-paid invoice is still open: never pruned.
    assert_eq!(ledger.len("HLEN", "inv"), 1);
    assert_eq!(amount(&app.exposure("B-1").await.open_invoices), "1500.00");
}

//! No phantom writes: a call the service answered as failed because Redis was
//! paused must not be applied when Redis wakes up and runs the scripts still
//! queued on the connection. A retry then finds nothing of the failed call.

use crate::helpers::redis::{Frozen, RedisCluster, RedisServer, redis_cli};
use crate::helpers::*;
use creditgate::clock::Clock;
use creditgate::domain::date::Date;
use creditgate::domain::exposure::Invoice;
use creditgate::domain::ids::{BuyerId, InvoiceId, OrderId};
use creditgate::domain::money::{Currency, Money};
use creditgate::domain::policy::ReserveConditions;
use creditgate::domain::retention::Retention;
use creditgate::grpc::pb;
use creditgate::service::ServiceSettings;
use creditgate::store::redis::keys::KeySchema;
use creditgate::store::redis::{RedisOptions, RedisStore, RedisTarget};
use creditgate::store::{ReserveOutcome, ReserveRequest, Store, StoreError, deadline};
use std::time::{Duration, Instant};
use tonic::{Code, Status};
use tonic_health::pb::health_check_response::ServingStatus;

/// Calls of each kind made while Redis is paused.
const CALLS: usize = 6;
/// Long enough for every call made during the pause to have been answered
/// (store timeout 300 ms) well before Redis runs it.
const PAUSE: Duration = Duration::from_secs(2);

fn settings() -> ServiceSettings {
    ServiceSettings {
        store_timeout: Duration::from_millis(300),
        ..test_settings()
    }
}

/// The profile stays cached through the pause, so that each call gets as far as
/// sending its script (rather than failing on the profile read, which writes
/// nothing anyway and would prove nothing).
fn options(target: RedisTarget) -> RedisOptions {
    RedisOptions {
        profile_cache_ttl: Duration::from_secs(600),
        ..redis_options(target, &unique_namespace())
    }
}

/// The answer to one call made while Redis was paused.
enum Answer {
    Check(usize, Box<Result<pb::CheckCreditLimitResponse, Status>>),
    Payment(usize, Result<pb::RecordPaymentResponse, Status>),
}

fn invoice_line<'a>(exposure: &'a pb::BuyerExposure, id: &str) -> &'a pb::OpenInvoice {
    exposure
        .invoices
        .iter()
        .find(|i| i.invoice_id == id)
        .unwrap_or_else(|| panic!("invoice {id} missing from {exposure:?}"))
}

/// A check of order `order` once the store has settled after the pause. Answers
/// that the store was unavailable are retried: they write nothing, which is what
/// this file proves, so a retry cannot hide a write.
async fn settled_check(app: &TestApp, order: &str) -> pb::CheckCreditLimitResponse {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let response = app.check("B-1", order, "100.00").await;
        if codes(&response) != ["STORE_UNAVAILABLE"] {
            return response;
        }
        assert!(Instant::now() < deadline, "store still unavailable");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Payment P-i of 10.00 on INV-i, retried like [`settled_check`].
async fn settled_payment(app: &TestApp, i: usize) -> pb::RecordPaymentResponse {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match app
            .pay("B-1", &format!("INV-{i}"), "10.00", &format!("P-{i}"))
            .await
        {
            Err(status) if status.code() == Code::Unavailable => {
                assert!(Instant::now() < deadline, "store still unavailable");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            answer => return answer.unwrap_or_else(|s| panic!("P-{i}: {s:?}")),
        }
    }
}

/// The scenario on any Redis: `freeze` pauses the node holding buyer B-1 and
/// `barrier` returns once that node has read every command queued before it.
async fn failed_calls_during_a_pause_write_nothing(
    app: &TestApp,
    freeze: impl FnOnce() -> Frozen,
    barrier: impl Fn(),
) {
    app.upsert(buyer("B-1", "1000000.00")).await;
    for i in 0..CALLS {
        app.invoice("B-1", &format!("INV-{i}"), "", "100.00", 0, 30)
            .await
            .unwrap();
    }
    // Redis knows each script only once it has run: a payment made now makes the
    // payments below reach the payment script instead of failing on NOSCRIPT.
    app.invoice("B-1", "INV-W", "", "100.00", 0, 30)
        .await
        .unwrap();
    assert!(
        app.pay("B-1", "INV-W", "10.00", "P-W")
            .await
            .unwrap()
            .created
    );
    // Likewise for the check script; this also caches the profile for the calls below.
    let before = app.check("B-1", "O-0", "100.00").await;
    assert_eq!(decision(&before), Decision::Approved);

    let frozen = freeze();
    let paused_at = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..CALLS {
        let mut decisions = app.decisions.clone();
        calls.spawn(async move {
            let response = decisions
                .check_credit_limit(pb::CheckCreditLimitRequest {
                    buyer_id: "B-1".into(),
                    order_id: format!("D-{i}"),
                    amount: eur("100.00"),
                    payment_terms_days: 0,
                })
                .await;
            Answer::Check(i, Box::new(response.map(|r| r.into_inner())))
        });
        let mut ledger = app.ledger.clone();
        let paid_date = app.day(0);
        calls.spawn(async move {
            let response = ledger
                .record_payment(pb::RecordPaymentRequest {
                    buyer_id: "B-1".into(),
                    invoice_id: format!("INV-{i}"),
                    amount: eur("10.00"),
                    paid_date,
                    payment_id: format!("P-{i}"),
                })
                .await;
            Answer::Payment(i, response.map(|r| r.into_inner()))
        });
    }
    while let Some(joined) = calls.join_next().await {
        match joined.unwrap() {
            Answer::Check(i, check) => {
                let check = (*check).expect("a check is answered, not failed");
                assert_eq!(decision(&check), Decision::Referred, "D-{i}: {check:?}");
                assert_eq!(codes(&check), ["STORE_UNAVAILABLE"], "D-{i}");
            }
            Answer::Payment(i, payment) => {
                let status = payment.expect_err("a payment cannot be booked while paused");
                assert_eq!(status.code(), Code::Unavailable, "P-{i}: {status:?}");
            }
        }
    }
    // Every call has been answered, and Redis has run none of them yet.
    tokio::time::sleep(PAUSE.saturating_sub(paused_at.elapsed())).await;
    frozen.resume();
    // Redis now runs what was queued; after the barrier it has, so whatever the
    // failed calls could still write is visible below.
    barrier();
    eventually("SERVING once redis is back", || async {
        decision_health(app.addr).await == ServingStatus::Serving as i32
    })
    .await;

    eventually("exposure readable after the pause", || async {
        app.try_exposure("B-1").await.is_ok()
    })
    .await;
    let after = app.exposure("B-1").await;
    assert_eq!(
        amount(&after.open_orders),
        "100.00",
        "only O-0, answered APPROVED, may be reserved"
    );
    assert_eq!(
        amount(&after.open_invoices),
        format!("{CALLS}90.00"),
        "a payment answered UNAVAILABLE was booked"
    );
    for i in 0..CALLS {
        let line = invoice_line(&after, &format!("INV-{i}"));
        assert_eq!(amount(&line.open_balance), "100.00", "INV-{i} was paid");
    }

    // Retries meet none of the failed calls.
    for i in 0..CALLS {
        let retry = settled_check(app, &format!("D-{i}")).await;
        assert_eq!(decision(&retry), Decision::Approved, "D-{i}: {retry:?}");
        assert!(
            !codes(&retry).contains(&"ALREADY_APPROVED"),
            "D-{i} was reserved by the failed call: {retry:?}"
        );
        let payment = settled_payment(app, i).await;
        assert!(payment.created, "P-{i} was booked by the failed call");
        assert_eq!(amount(&payment.invoice_open_balance), "90.00");
        let again = settled_payment(app, i).await;
        assert!(!again.created, "P-{i} booked twice");
    }
    let end = app.exposure("B-1").await;
    assert_eq!(
        amount(&end.open_orders),
        format!("{}00.00", CALLS + 1),
        "one reservation per approved order"
    );
    assert_eq!(
        amount(&end.open_invoices),
        format!("{}.00", CALLS * 90 + 90)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_pause_fails_calls_without_writing_them_later() {
    let redis = RedisServer::start();
    let store = initialised_redis(&options(RedisTarget::Url(redis.url()))).await;
    let app = TestApp::spawn_on(store, settings()).await;
    failed_calls_during_a_pause_write_nothing(
        &app,
        || redis.freeze(),
        // A new connection is served after the commands already buffered on the
        // old ones, which Redis reads in its first event-loop turn after SIGCONT.
        || assert_eq!(redis_cli(redis.port, &["PING"]).trim(), "PONG"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_pause_of_the_buyers_master_fails_calls_without_writing_them_later() {
    let cluster = RedisCluster::start();
    let options = options(RedisTarget::Cluster(cluster.seeds()));
    let buyer_key = KeySchema::new(&options.namespace)
        .buyer(&BuyerId::parse("B-1").unwrap())
        .buyer()
        .to_owned();
    let node = cluster.master_of(cluster.key_slot(&buyer_key));
    let app = TestApp::spawn_on(initialised_redis(&options).await, settings()).await;
    failed_calls_during_a_pause_write_nothing(
        &app,
        || node.freeze(),
        || assert_eq!(redis_cli(node.port, &["PING"]).trim(), "PONG"),
    )
    .await;
}

/// Without any pause: a script that reaches Redis after its caller's give-up
/// time refuses to write, and the same call in time does write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_script_run_after_its_deadline_writes_nothing() {
    let redis = RedisServer::start();
    let options = redis_options(RedisTarget::Url(redis.url()), &unique_namespace());
    let app = TestApp::spawn_on(initialised_redis(&options).await, settings()).await;
    app.upsert(buyer("B-1", "1000.00")).await;
    let store = RedisStore::open(&options).unwrap();
    let buyer_id = BuyerId::parse("B-1").unwrap();
    let stored = store.load_buyer(&buyer_id).await.unwrap().unwrap();
    let version = stored.version;
    let eur = Currency::from_code("EUR").unwrap();
    let today = app.today();
    let day = Retention::DEFAULT.on(today);
    let reserve = || ReserveRequest {
        buyer_id: buyer_id.clone(),
        order_id: OrderId::parse("O-1").unwrap(),
        amount: Money::from_minor(eur, 10_000),
        conditions: ReserveConditions {
            blocked: false,
            max_total_after: 100_000,
            max_insurable_after: None,
            earliest_due_allowed: Date::from_days(0),
        },
        buyer_version: version,
        inputs: std::sync::Arc::new(creditgate::domain::decision_record::DecisionInputs::new(
            &creditgate::domain::policy::Policy::default(),
            "d-1".into(),
            stored.record.clone(),
            OrderId::parse("O-1").unwrap(),
            Money::from_minor(eur, 10_000),
            today,
            None,
        )),
        now_secs: app.clock.now_secs(),
        now_ms: app.clock.now_secs() * 1000,
        reservation_ttl_secs: 86_400,
    };
    let invoice = || Invoice {
        id: InvoiceId::parse("INV-1").unwrap(),
        order_id: None,
        amount: 5_000,
        open: 5_000,
        issue_date: today,
        due_date: today.add_days(30),
        disputed: false,
    };

    let gone = Instant::now();
    let late = deadline::within(gone, store.check_and_reserve(reserve(), day)).await;
    assert!(matches!(late, Err(StoreError::Unavailable(_))), "{late:?}");
    let late = deadline::within(gone, store.record_invoice(&buyer_id, invoice(), 0, day)).await;
    assert!(matches!(late, Err(StoreError::Unavailable(_))), "{late:?}");
    let nothing = app.exposure("B-1").await;
    assert_eq!(amount(&nothing.open_orders), "0.00");
    assert_eq!(amount(&nothing.open_invoices), "0.00");

    let in_time = Instant::now() + Duration::from_secs(30);
    let reserved = deadline::within(in_time, store.check_and_reserve(reserve(), day)).await;
    assert!(
        matches!(reserved, Ok(ReserveOutcome::Reserved(_))),
        "{reserved:?}"
    );
    let booked =
        deadline::within(in_time, store.record_invoice(&buyer_id, invoice(), 0, day)).await;
    assert!(booked.is_ok_and(|b| b.created));
    let written = app.exposure("B-1").await;
    assert_eq!(amount(&written.open_orders), "100.00");
    assert_eq!(amount(&written.open_invoices), "50.00");
}

/// A ledger write keeps within the caller's gRPC deadline, not only the store
/// timeout: with a 5 s store timeout and a 300 ms client deadline, a payment
/// sent to a paused Redis is answered as failed and, once Redis resumes, is not
/// booked (its script starts after the caller's give-up time).
#[tokio::test]
async fn redis_payment_past_the_callers_deadline_is_not_booked_later() {
    let redis = RedisServer::start();
    let store = initialised_redis(&options(RedisTarget::Url(redis.url()))).await;
    let patient = ServiceSettings {
        store_timeout: Duration::from_secs(5),
        ..test_settings()
    };
    let app = TestApp::spawn_on(store, patient).await;
    app.upsert(buyer("B-1", "1000.00")).await;
    app.invoice("B-1", "INV-1", "", "100.00", 0, 30)
        .await
        .unwrap();
    // Loads the payment script, so that the paused call reaches its deadline check.
    app.pay("B-1", "INV-1", "1.00", "P-0").await.unwrap();

    let frozen = redis.freeze();
    let mut request = tonic::Request::new(pb::RecordPaymentRequest {
        buyer_id: "B-1".into(),
        invoice_id: "INV-1".into(),
        amount: eur("10.00"),
        paid_date: app.day(0),
        payment_id: "P-1".into(),
    });
    request.set_timeout(Duration::from_millis(300));
    let answer = app.ledger.clone().record_payment(request).await;
    assert!(answer.is_err(), "{answer:?}");
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    drop(frozen);
    assert_eq!(redis_cli(redis.port, &["PING"]).trim(), "PONG");

    let balance = invoice_line(&app.exposure("B-1").await, "INV-1")
        .open_balance
        .clone();
    assert_eq!(
        amount(&balance),
        "99.00",
        "the abandoned payment was booked"
    );
    let retried = app.pay("B-1", "INV-1", "10.00", "P-1").await.unwrap();
    assert!(retried.created);
}

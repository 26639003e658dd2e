//! Fail closed: a Redis that is down, hung or emptied never leads to an approval,
//! and the service recovers by itself when Redis is back.

use crate::helpers::redis::RedisServer;
use crate::helpers::*;
use creditgate::grpc::pb;
use creditgate::store::redis::{RedisOptions, RedisStore, RedisTarget};
use std::time::{Duration, Instant};
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// A check that must be answered within `deadline` (the client gives up after it
/// with DEADLINE_EXCEEDED, so an Ok answer proves it came in time).
async fn check_within(
    app: &TestApp,
    order: &str,
    deadline: Duration,
) -> Result<pb::CheckCreditLimitResponse, tonic::Status> {
    let mut request = tonic::Request::new(pb::CheckCreditLimitRequest {
        buyer_id: "B-1".into(),
        order_id: order.into(),
        amount: eur("100.00"),
        payment_terms_days: 0,
    });
    request.set_timeout(deadline);
    app.decisions
        .clone()
        .check_credit_limit(request)
        .await
        .map(|r| r.into_inner())
}

async fn decision_health(app: &TestApp) -> i32 {
    let mut health = HealthClient::new(connect(app.addr).await);
    health
        .check(HealthCheckRequest {
            service: "creditgate.v1.CreditDecisionService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status
}

/// Polls (bounded) until `done` holds; the bound is a safety net, not a speed claim.
async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn options(redis: &RedisServer, namespace: &str) -> RedisOptions {
    redis_options(RedisTarget::Url(redis.url()), namespace)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_refers_every_check_and_service_resumes_without_restart() {
    let mut redis = RedisServer::start();
    let app = TestApp::spawn_on(
        initialised_redis(&options(&redis, "outage")).await,
        test_settings(),
    )
    .await;
    app.upsert(buyer("B-1", "10000.00")).await;
    assert_eq!(
        decision(&app.check("B-1", "O-1", "100.00").await),
        Decision::Approved
    );
    redis.save();
    redis.kill();

    for i in 0..5 {
        let response = check_within(&app, &format!("DOWN-{i}"), Duration::from_secs(1))
            .await
            .expect("an answer within the deadline, not DEADLINE_EXCEEDED");
        assert_eq!(decision(&response), Decision::Referred);
        assert_eq!(codes(&response), ["STORE_UNAVAILABLE"]);
        assert!(response.exposure.is_none(), "exposure is unknown, not zero");
    }
    let write = app
        .invoice("B-1", "INV-1", "", "10.00", 0, 30)
        .await
        .unwrap_err();
    assert_eq!(write.code(), Code::Unavailable);
    eventually("NOT_SERVING while redis is down", || async {
        decision_health(&app).await == ServingStatus::NotServing as i32
    })
    .await;

    redis.restart(false);
    eventually("SERVING once redis is back", || async {
        decision_health(&app).await == ServingStatus::Serving as i32
    })
    .await;
    let resumed = app.check("B-1", "O-2", "100.00").await;
    assert_eq!(decision(&resumed), Decision::Approved);
    assert_eq!(
        amount(&resumed.exposure),
        "200.00",
        "the reservation from before the outage survived"
    );
    // Nothing from the outage reached the ledger.
    assert_eq!(amount(&app.exposure("B-1").await.open_invoices), "0.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_redis_is_referred_within_the_deadline() {
    let redis = RedisServer::start();
    let app = TestApp::spawn_on(
        initialised_redis(&options(&redis, "hung")).await,
        test_settings(),
    )
    .await;
    app.upsert(buyer("B-1", "10000.00")).await;
    app.check("B-1", "O-0", "100.00").await;
    let pid = redis.pause();
    let response = check_within(&app, "O-1", Duration::from_millis(900)).await;
    RedisServer::resume(&pid);
    let response = response.expect("an answer within the deadline");
    assert_eq!(decision(&response), Decision::Referred);
    assert_eq!(codes(&response), ["STORE_UNAVAILABLE"]);
    // The caller's deadline wins over the store timeout when it is shorter.
    let pid = redis.pause();
    let short = check_within(&app, "O-2", Duration::from_millis(200)).await;
    RedisServer::resume(&pid);
    assert_eq!(
        codes(&short.expect("an answer within 200 ms")),
        ["STORE_UNAVAILABLE"]
    );
    eventually("approvals again after the freeze", || async {
        check_within(&app, "O-3", Duration::from_secs(2))
            .await
            .is_ok_and(|r| decision(&r) == Decision::Approved)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emptied_redis_means_exposure_unknown_until_reseeded_and_initialised() {
    let mut redis = RedisServer::start();
    let opts = options(&redis, "emptied");
    let app = TestApp::spawn_on(initialised_redis(&opts).await, test_settings()).await;
    app.upsert(buyer("B-1", "10000.00")).await;
    app.invoice("B-1", "INV-1", "", "9000.00", 0, 30)
        .await
        .unwrap();
    assert_eq!(
        decision(&app.check("B-1", "O-1", "500.00").await),
        Decision::Approved
    );

    redis.restart(true);
    // Missing keys are not zero exposure: 9500.00 was owed, so 5000.00 must not pass.
    eventually("EXPOSURE_UNKNOWN after an empty restart", || async {
        check_within(&app, "O-2", Duration::from_secs(2))
            .await
            .is_ok_and(|r| codes(&r) == ["EXPOSURE_UNKNOWN"] && decision(&r) == Decision::Referred)
    })
    .await;
    let upsert = app.try_upsert(buyer("B-1", "10000.00")).await.unwrap_err();
    assert_eq!(upsert.code(), Code::FailedPrecondition);
    assert!(
        upsert.message().contains("store-init"),
        "{}",
        upsert.message()
    );
    eventually("NOT_SERVING without a store marker", || async {
        decision_health(&app).await == ServingStatus::NotServing as i32
    })
    .await;

    // Re-seed through a seeding-mode replica, then initialise.
    let seeder_store = RedisStore::open(&RedisOptions {
        allow_uninitialised_writes: true,
        ..opts.clone()
    })
    .unwrap();
    let seeder = TestApp::spawn_on(seeder_store, test_settings()).await;
    seeder.upsert(buyer("B-1", "10000.00")).await;
    seeder
        .invoice("B-1", "INV-1", "", "9000.00", 0, 30)
        .await
        .unwrap();
    let during_seeding = seeder.check("B-1", "O-2", "5000.00").await;
    assert_eq!(
        codes(&during_seeding),
        ["EXPOSURE_UNKNOWN"],
        "seeding mode never approves"
    );
    RedisStore::open(&opts).unwrap().init().await.unwrap();

    let after = app.check("B-1", "O-2", "5000.00").await;
    assert_eq!(decision(&after), Decision::Referred);
    assert_eq!(codes(&after), ["LIMIT_EXCEEDED"]);
    assert_eq!(
        decision(&app.check("B-1", "O-3", "1000.00").await),
        Decision::Approved
    );
    eventually("SERVING after store-init", || async {
        decision_health(&app).await == ServingStatus::Serving as i32
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checks_racing_a_redis_kill_are_referred_never_approved_blind() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let mut redis = RedisServer::start();
    let app = TestApp::spawn_on(
        initialised_redis(&options(&redis, "race")).await,
        test_settings(),
    )
    .await;
    app.upsert(buyer("B-1", "100000000.00")).await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for worker in 0..8 {
        let decisions = app.decisions.clone();
        let stop = stop.clone();
        clients.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            for n in 0..5_000 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let mut request = tonic::Request::new(pb::CheckCreditLimitRequest {
                    buyer_id: "B-1".into(),
                    order_id: format!("W{worker}-{n}"),
                    amount: eur("1.00"),
                    payment_terms_days: 0,
                });
                request.set_timeout(Duration::from_secs(1));
                let sent = Instant::now();
                let result = decisions.clone().check_credit_limit(request).await;
                seen.push((sent, Instant::now(), result.map(|r| r.into_inner())));
            }
            seen
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.save();
    redis.kill();
    let killed = Instant::now();
    // Long enough for whole checks to fit: on a Redis that does not answer, a
    // check waits for the store timeout (500 ms here), then for the release of
    // what it may have reserved (bounded by what is left of its deadline).
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let restarting = Instant::now();
    redis.restart(false);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    stop.store(true, Ordering::SeqCst);

    let (mut during, mut approved_after) = (0, 0);
    for client in clients {
        for (sent, done, result) in client.await.unwrap() {
            let response = result.expect("every check answered within its deadline");
            if sent > killed && done < restarting {
                during += 1;
                assert_eq!(
                    decision(&response),
                    Decision::Referred,
                    "approved while redis was down"
                );
                assert_eq!(codes(&response), ["STORE_UNAVAILABLE"]);
            }
            if sent > restarting && decision(&response) == Decision::Approved {
                approved_after += 1;
            }
        }
    }
    assert!(during > 0, "no check ran during the outage");
    assert!(
        approved_after > 0,
        "service did not resume after redis came back"
    );
}

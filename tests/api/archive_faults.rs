//! The archive's harder cases (found by an adversarial review of the shipper):
//! a record PostgreSQL refuses for good is set aside instead of holding back
//! every later one; on Redis, health stays NOT_SERVING for as long as the
//! outbox is full; GetDecision never misses a record while it is being shipped.

use crate::helpers::postgres::{PostgresServer, shared_postgres};
use crate::helpers::redis::RedisServer;
use crate::helpers::*;
use creditgate::store::memory::MemoryStore;
use creditgate::store::redis::RedisTarget;
use std::time::{Duration, Instant};

async fn pg(url: &str) -> tokio_postgres::Client {
    creditgate::archive::connect::connect(url).await.unwrap()
}

async fn is_archived(url: &str, id: &str) -> bool {
    pg(url)
        .await
        .query(
            "SELECT 1 FROM creditgate.decisions WHERE decision_id::text = $1",
            &[&id],
        )
        .await
        .is_ok_and(|rows| !rows.is_empty())
}

async fn wait_migrated(url: &str) {
    eventually("the archive migrated", || async {
        pg(url)
            .await
            .query("SELECT 1 FROM creditgate.rejected_decisions LIMIT 1", &[])
            .await
            .is_ok()
    })
    .await;
}

async fn redis_store(target: RedisTarget, max: usize) -> creditgate::store::redis::RedisStore {
    let mut options = redis_options(target, &unique_namespace());
    options.settings.outbox = Some((max, Duration::from_secs(1)));
    initialised_redis(&options).await
}

/// A constraint a DBA added refuses one record: it is set aside in
/// creditgate.rejected_decisions with the reason, and the records after it
/// (in the same batch or later) are archived; decisions go on.
async fn poison(app: &TestApp, url: &str) {
    wait_migrated(url).await;
    pg(url)
        .await
        .batch_execute(
            "ALTER TABLE creditgate.decisions ADD CONSTRAINT no_poison \
             CHECK (order_id <> 'SO-POISON')",
        )
        .await
        .unwrap();
    app.upsert(buyer("ACME", "100000.00")).await;
    let poisoned = app.check("ACME", "SO-POISON", "10.00").await;
    let good = app.check("ACME", "SO-GOOD", "10.00").await;
    eventually("the record after the refused one archived", || {
        is_archived(url, &good.decision_id)
    })
    .await;
    let rejected = pg(url)
        .await
        .query(
            "SELECT error, record FROM creditgate.rejected_decisions WHERE decision_id = $1",
            &[&poisoned.decision_id],
        )
        .await
        .unwrap();
    assert_eq!(rejected.len(), 1, "set aside once");
    let error: String = rejected[0].get(0);
    assert!(error.contains("no_poison"), "{error}");
    let record: String = rejected[0].get(1);
    assert!(record.contains("SO-POISON"), "{record}");
    assert!(!is_archived(url, &poisoned.decision_id).await);
    // Nothing waits behind it: more decisions than the outbox holds (5) go on,
    // each archived in turn.
    for i in 0..8 {
        let answer = app.check("ACME", &format!("SO-{i}"), "10.00").await;
        assert_eq!(decision(&answer), Decision::Approved, "{answer:?}");
        eventually("archived", || is_archived(url, &answer.decision_id)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_a_record_postgres_refuses_is_set_aside_not_blocking_embedded() {
    let url = shared_postgres().fresh_database().await;
    let app = TestApp::spawn_archived(MemoryStore::with_outbox(100_000, Some(5)), &url).await;
    poison(&app, &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_a_record_postgres_refuses_is_set_aside_not_blocking_redis() {
    let redis = RedisServer::start();
    let url = shared_postgres().fresh_database().await;
    let store = redis_store(RedisTarget::Url(redis.url()), 5).await;
    let app = TestApp::spawn_archived(store, &url).await;
    poison(&app, &url).await;
}

/// Redis: while the outbox stays full (PostgreSQL still down), the decision
/// service stays NOT_SERVING and checks stay refused; no flapping back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_redis_health_stays_not_serving_while_the_outbox_is_full() {
    let redis = RedisServer::start();
    let mut pg_server = PostgresServer::start();
    let url = pg_server.fresh_database().await;
    let store = redis_store(RedisTarget::Url(redis.url()), 3).await;
    let app = TestApp::spawn_archived(store, &url).await;
    wait_migrated(&url).await;
    app.upsert(buyer("ACME", "100000.00")).await;
    pg_server.stop();
    for i in 0..3 {
        app.check("ACME", &format!("SO-{i}"), "10.00").await;
    }
    let refused = app.check("ACME", "SO-3", "10.00").await;
    assert_eq!(codes(&refused), ["ARCHIVE_BACKLOG"]);
    eventually("decisions not serving", || async {
        decision_health(app.addr).await == 2
    })
    .await;
    // Several sweeps later (every claim-idle/3 = 333 ms here), still full.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(decision_health(app.addr).await, 2, "still NOT_SERVING");
    // Another buyer (another slot) is refused too: the bound is the outbox's
    // as a whole, not one slot's.
    app.upsert(buyer("OTHER", "100000.00")).await;
    let other = app.check("OTHER", "SO-1", "10.00").await;
    assert_eq!(codes(&other), ["ARCHIVE_BACKLOG"]);
    // A retry of an approved order writes no record: still answered.
    let replay = app.check("ACME", "SO-0", "10.00").await;
    assert_eq!(decision(&replay), Decision::Approved, "{replay:?}");
    pg_server.restart();
    eventually("serving again once drained", || async {
        decision_health(app.addr).await == 1
    })
    .await;
    let again = app.check("ACME", "SO-4", "10.00").await;
    assert_eq!(decision(&again), Decision::Approved, "{again:?}");
}

/// GetDecision while records are being shipped (committed, then deleted from
/// the outbox): never NOT_FOUND for a decision that exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_get_decision_never_misses_a_record_being_shipped() {
    let redis = RedisServer::start();
    let url = shared_postgres().fresh_database().await;
    let store = redis_store(RedisTarget::Url(redis.url()), 100_000).await;
    let app = TestApp::spawn_archived(store, &url).await;
    wait_migrated(&url).await;
    app.upsert(buyer("ACME", "100000000.00")).await;
    let mut missed = Vec::new();
    for i in 0..40 {
        let id = app
            .check("ACME", &format!("SO-{i}"), "1.00")
            .await
            .decision_id;
        let until = Instant::now() + Duration::from_millis(250);
        while Instant::now() < until {
            if let Err(status) = app.decision_record(&id).await {
                missed.push((i, status.code(), status.message().to_owned()));
                break;
            }
        }
    }
    assert!(
        missed.is_empty(),
        "{} of 40 missed: {:?}",
        missed.len(),
        missed.first()
    );
}

/// Every replica process is a consumer of its own: the hourly upkeep removes
/// the ones with nothing pending (replicas gone), never one that holds entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_redis_upkeep_removes_idle_consumers_and_keeps_holding_ones() {
    use crate::helpers::redis::redis_cli;
    use creditgate::store::redis::keys::KeySchema;
    let redis = RedisServer::start();
    let namespace = unique_namespace();
    let mut options = redis_options(RedisTarget::Url(redis.url()), &namespace);
    options.settings.outbox = Some((1_000, Duration::from_secs(1)));
    let store = initialised_redis(&options).await;
    let key = KeySchema::new(&namespace).slot(5).decisions;
    let cli = |args: &[&str]| redis_cli(redis.port, args);
    let first = cli(&["XADD", &key, "*", "d", "x"]);
    cli(&["XADD", &key, "*", "d", "y"]);
    cli(&["XGROUP", "CREATE", &key, "archive", "0"]);
    cli(&[
        "XREADGROUP",
        "GROUP",
        "archive",
        "gone",
        "COUNT",
        "1",
        "STREAMS",
        &key,
        ">",
    ]);
    cli(&["XACK", &key, "archive", first.trim()]);
    cli(&[
        "XREADGROUP",
        "GROUP",
        "archive",
        "holding",
        "COUNT",
        "1",
        "STREAMS",
        &key,
        ">",
    ]);
    let removed = store.prune_idle_consumers(Duration::ZERO).await.unwrap();
    assert_eq!(removed, 1);
    let consumers = cli(&["XINFO", "CONSUMERS", &key, "archive"]);
    assert!(consumers.contains("holding"), "{consumers}");
    assert!(!consumers.contains("gone"), "{consumers}");
    // An idle time not reached yet removes nothing.
    let third = cli(&["XADD", &key, "*", "d", "z"]);
    cli(&[
        "XREADGROUP",
        "GROUP",
        "archive",
        "recent",
        "COUNT",
        "1",
        "STREAMS",
        &key,
        ">",
    ]);
    cli(&["XACK", &key, "archive", third.trim()]);
    let none = store
        .prune_idle_consumers(Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(none, 0);
    let consumers = cli(&["XINFO", "CONSUMERS", &key, "archive"]);
    assert!(consumers.contains("recent"), "{consumers}");
}

//! The review data on Redis (docs/redis.md, "Decision history and held
//! orders"): what the contract tests (review*.rs) cannot see from the API —
//! where records are kept, that the history is capped, that an id names its
//! slot — and the held list across a cluster's slots without a buyer filter.

use crate::helpers::redis::{RedisCluster, RedisServer, redis_cli};
use crate::helpers::*;
use creditgate::store::redis::RedisTarget;
use creditgate::store::redis::keys::{KeySchema, slot_of_tag};
use std::collections::BTreeSet;
use std::time::Duration;

async fn app_on(options: creditgate::store::redis::RedisOptions) -> TestApp {
    TestApp::spawn_on(initialised_redis(&options).await, test_settings()).await
}

/// The hash slot as the decision id's last four hex digits carry it.
fn slot_in_id(id: &str) -> usize {
    usize::from_str_radix(&id[id.len() - 4..], 16).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_decision_is_kept_in_its_buyers_slot_and_reads_back_whole() {
    let redis = RedisServer::start();
    let namespace = unique_namespace();
    let app = app_on(redis_options(RedisTarget::Url(redis.url()), &namespace)).await;
    app.upsert(buyer("B|1", "1000.00")).await;
    app.invoice("B|1", "INV|{x}", "", "900.00", -40, -35)
        .await
        .unwrap();
    let refused = app.check("B|1", "O:1|x", "500.00").await;
    assert_ne!(decision(&refused), Decision::Approved);

    let slot = slot_of_tag(&format!("{namespace}:b:B|1"));
    assert_eq!(
        slot_in_id(&refused.decision_id),
        slot,
        "the id names the slot"
    );
    let keys = KeySchema::new(&namespace).slot(slot);
    assert_eq!(
        redis_cli(redis.port, &["XLEN", &keys.decisions]).trim(),
        "1"
    );
    assert_eq!(redis_cli(redis.port, &["ZCARD", &keys.held]).trim(), "1");

    let record = app.decision_record(&refused.decision_id).await.unwrap();
    assert_eq!(record.decision_id, refused.decision_id);
    assert_eq!(record.decision, refused.decision);
    let codes_of = |reasons: &[creditgate::grpc::pb::Reason]| {
        reasons.iter().map(|r| r.code.clone()).collect::<Vec<_>>()
    };
    assert_eq!(codes_of(&record.reasons), codes_of(&refused.reasons));
    let request = record.request.expect("the order as checked");
    assert_eq!(request.order_id, "O:1|x");
    assert_eq!(amount(&request.amount), "500.00");
    let snapshot = format!("{:?}", record.snapshot.expect("the ledger as read"));
    assert!(snapshot.contains("INV|{x}"), "{snapshot}");

    // The held list reads the same record.
    let held = app.held("B|1", 10, "").await.unwrap();
    assert_eq!(held.held_orders.len(), 1);
    assert_eq!(held.held_orders[0].decision_id, refused.decision_id);
    assert_eq!(held.held_orders[0].order_id, "O:1|x");

    // An id of another store (a v4), or of a slot with nothing in it: not found.
    for id in [
        "0193b3c4-5d6e-7f80-9a1b-2c3d4e5f0000",
        "6f1c2d3e-4b5a-4c6d-8e7f-8091a2b30001",
    ] {
        let missing = app.decision_record(id).await.unwrap_err();
        assert_eq!(missing.code(), tonic::Code::NotFound, "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_the_decision_history_keeps_about_its_cap_per_slot() {
    // Small stream nodes, so that trimming by whole nodes ('~') shows at once.
    let redis = RedisServer::start_with(&["--stream-node-max-entries", "4"]);
    let namespace = unique_namespace();
    let mut options = redis_options(RedisTarget::Url(redis.url()), &namespace);
    options.settings.decision_history = 5;
    let app = app_on(options).await;
    app.upsert(buyer("B-1", "1000000.00")).await;
    let mut ids = Vec::new();
    for n in 0..30 {
        let approved = app.check("B-1", &format!("O-{n}"), "1.00").await;
        assert_eq!(decision(&approved), Decision::Approved);
        ids.push(approved.decision_id);
    }
    let key = KeySchema::new(&namespace)
        .slot(slot_of_tag(&format!("{namespace}:b:B-1")))
        .decisions;
    let kept: usize = redis_cli(redis.port, &["XLEN", &key])
        .trim()
        .parse()
        .unwrap();
    assert!((5..=5 + 4).contains(&kept), "kept {kept}");
    let first = app.decision_record(&ids[0]).await.unwrap_err();
    assert_eq!(first.code(), tonic::Code::NotFound, "the oldest aged out");
    for id in &ids[ids.len() - 5..] {
        app.decision_record(id).await.expect("the latest are kept");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_buyers_in_many_slots_list_newest_first_without_a_filter() {
    let cluster = RedisCluster::start();
    let namespace = unique_namespace();
    let options = redis_options(RedisTarget::Cluster(cluster.seeds()), &namespace);
    // An unfiltered page reads all 16,384 slots: 0.3-0.4 s in a debug build on
    // a loaded CI core (docs/redis.md gives the release cost), so this test
    // allows more than the suite's 500 ms; it is about what is listed.
    let settings = creditgate::service::ServiceSettings {
        store_timeout: Duration::from_secs(5),
        ..test_settings()
    };
    let app = TestApp::spawn_on(initialised_redis(&options).await, settings).await;
    let buyers: Vec<String> = (0..6).map(|n| format!("C-{n}")).collect();
    let mut masters = BTreeSet::new();
    let mut expected = Vec::new();
    for id in &buyers {
        app.upsert(buyer(id, "100.00")).await;
        let slot = slot_of_tag(&format!("{namespace}:b:{id}"));
        masters.insert(cluster.master_of(slot).port);
        let refused = app.check(id, &format!("{id}-O"), "500.00").await;
        assert_ne!(decision(&refused), Decision::Approved);
        assert_eq!(slot_in_id(&refused.decision_id), slot);
        expected.push(format!("{id}-O"));
        // Redis times decisions by its own clock: keep them apart.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    assert!(masters.len() >= 2, "the buyers span several masters");
    expected.reverse();

    let mut listed = Vec::new();
    let mut token = String::new();
    loop {
        let page = app.held("", 4, &token).await.unwrap();
        listed.extend(page.held_orders.iter().map(|h| h.order_id.clone()));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(listed, expected, "every slot's orders, newest first, once");

    let one = app.held("C-3", 10, "").await.unwrap();
    assert_eq!(one.held_orders.len(), 1);
    assert_eq!(one.held_orders[0].order_id, "C-3-O");

    // Released on one master, the order leaves the merged list.
    app.release("C-3", "C-3-O", "500.00", "analyst", "known customer")
        .await
        .unwrap();
    let after = app.held("", 10, "").await.unwrap();
    assert_eq!(after.held_orders.len(), buyers.len() - 1);
    assert!(after.held_orders.iter().all(|h| h.order_id != "C-3-O"));
}

/// The figure docs/redis.md quotes: what one record costs in Redis, stream
/// overhead included, for the test suite's bare buyer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_measures_bytes_per_decision_record() {
    let redis = RedisServer::start();
    let namespace = unique_namespace();
    let app = app_on(redis_options(RedisTarget::Url(redis.url()), &namespace)).await;
    app.upsert(buyer("B-MEASURE", "1000000.00")).await;
    let key = KeySchema::new(&namespace)
        .slot(slot_of_tag(&format!("{namespace}:b:B-MEASURE")))
        .decisions;
    let records = 100;
    for n in 0..records {
        app.check("B-MEASURE", &format!("ORDER-{n:06}"), "10.00")
            .await;
    }
    let len: usize = redis_cli(redis.port, &["XLEN", &key])
        .trim()
        .parse()
        .unwrap();
    assert_eq!(len, records);
    let bytes: usize = redis_cli(redis.port, &["MEMORY", "USAGE", &key, "SAMPLES", "0"])
        .trim()
        .parse()
        .unwrap();
    println!(
        "decision stream: {bytes} bytes for {len} records, {} bytes per record",
        bytes / len
    );
    assert!(bytes / len < 2_000, "{bytes} bytes for {len} records");
}

//! Decisions reach the archive (docs/archive.md): every decision's record goes
//! through the store's outbox to a real PostgreSQL once, with the snapshot
//! GetDecision answers; an archive outage neither stops decisions nor loses
//! records, and a full outbox refers orders (ARCHIVE_BACKLOG) instead of
//! deciding without a record; on Redis, replicas share the shipping and take
//! over a dead one's batch; after a Redis store loss the archive still answers.

use crate::helpers::postgres::{PostgresServer, shared_postgres};
use crate::helpers::process::{Replica, store_init};
use crate::helpers::redis::{RedisServer, redis_cli};
use crate::helpers::*;
use creditgate::domain::date::Date;
use creditgate::grpc::pb;
use creditgate::grpc::pb::credit_decision_service_client::CreditDecisionServiceClient;
use creditgate::grpc::pb::ledger_service_client::LedgerServiceClient;
use creditgate::grpc::record_pb::record_to_pb;
use creditgate::store::decision_format::record_from_json;
use creditgate::store::memory::MemoryStore;
use creditgate::store::redis::RedisTarget;
use creditgate::store::redis::keys::KeySchema;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The archived rows: decision id → (decision, reason codes, record).
async fn archived(url: &str) -> BTreeMap<String, (String, Vec<String>, serde_json::Value)> {
    let db = creditgate::archive::connect::connect(url).await.unwrap();
    let rows = db
        .query(
            "SELECT decision_id::text, decision, reason_codes, record FROM creditgate.decisions",
            &[],
        )
        .await
        .unwrap_or_default();
    let mut out = BTreeMap::new();
    for row in rows {
        let id: String = row.get(0);
        let previous = out.insert(id.clone(), (row.get(1), row.get(2), row.get(3)));
        assert!(previous.is_none(), "decision {id} archived twice");
    }
    out
}

/// Waits until the shipper has brought the schema in (before an outage).
async fn migrated(url: &str) {
    eventually("the archive migrated", || async {
        creditgate::archive::connect::connect(url)
            .await
            .unwrap()
            .query("SELECT 1 FROM creditgate.decisions LIMIT 1", &[])
            .await
            .is_ok()
    })
    .await;
}

async fn archived_count(url: &str) -> usize {
    archived(url).await.len()
}

fn decision_name(response: &pb::CheckCreditLimitResponse) -> String {
    decision(response).as_str_name().to_owned()
}

fn memory_with_outbox(max: usize) -> MemoryStore {
    MemoryStore::with_outbox(100_000, Some(max))
}

async fn redis_with_outbox(
    target: RedisTarget,
    max: usize,
) -> (creditgate::store::redis::RedisStore, String) {
    let namespace = unique_namespace();
    let mut options = redis_options(target, &namespace);
    options.settings.outbox = Some((max, Duration::from_secs(1)));
    (initialised_redis(&options).await, namespace)
}

/// Approved, held, referred (invoiced before the check), released, and an
/// unknown buyer (no record: the store never saw it). Answers the responses
/// that have a record.
async fn mixed_run(app: &TestApp) -> Vec<pb::CheckCreditLimitResponse> {
    app.upsert(buyer("ACME", "1000.00")).await;
    let mut answers = Vec::new();
    answers.push(app.check("ACME", "SO-1", "400.00").await);
    answers.push(app.check("ACME", "SO-2", "650.00").await);
    app.invoice("ACME", "INV-9", "SO-3", "50.00", 0, 30)
        .await
        .unwrap();
    answers.push(app.check("ACME", "SO-3", "50.00").await);
    let released = app
        .release("ACME", "SO-2", "650.00", "ana", "long-standing customer")
        .await
        .unwrap();
    answers.push(released.decision.unwrap());
    let decisions: Vec<String> = answers.iter().map(decision_name).collect();
    assert_eq!(
        decisions,
        [
            "DECISION_APPROVED",
            "DECISION_HELD",
            "DECISION_REFERRED",
            "DECISION_APPROVED"
        ],
        "{answers:?}"
    );
    // The unknown buyer's answer has an id but no record: never archived.
    let unknown = app.check("NOBODY", "SO-4", "10.00").await;
    assert_eq!(decision(&unknown), Decision::Referred);
    answers.push(unknown);
    answers
}

/// Each recorded decision exactly once, its columns and replayed record as
/// the live answer, and GetDecision's answer is the archived snapshot.
async fn assert_archived_once(app: &TestApp, url: &str, answers: &[pb::CheckCreditLimitResponse]) {
    let (recorded, unrecorded) = answers.split_at(answers.len() - 1);
    eventually("every recorded decision archived", || async {
        archived_count(url).await >= recorded.len()
    })
    .await;
    // A little longer: nothing more (a duplicate, the unknown buyer) arrives.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rows = archived(url).await;
    let ids: BTreeSet<&String> = rows.keys().collect();
    let expected: BTreeSet<&String> = recorded.iter().map(|a| &a.decision_id).collect();
    assert_eq!(ids, expected);
    assert!(!rows.contains_key(&unrecorded[0].decision_id));
    for answer in recorded {
        let (decision, codes, record) = &rows[&answer.decision_id];
        assert_eq!(decision, &decision_name(answer).replace("DECISION_", ""));
        let live: Vec<String> = codes_of(answer);
        assert_eq!(codes, &live, "{}", answer.decision_id);
        let record = record_from_json(record).expect("an archived record reads back");
        let replayed = record.replay();
        let replayed_codes: Vec<String> = replayed
            .reasons
            .iter()
            .map(|r| r.code.as_str().to_owned())
            .collect();
        assert_eq!(replayed_codes, live);
        let answered = app.decision_record(&answer.decision_id).await.unwrap();
        assert_eq!(answered, record_to_pb(&record));
    }
}

fn codes_of(answer: &pb::CheckCreditLimitResponse) -> Vec<String> {
    answer.reasons.iter().map(|r| r.code.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_every_decision_of_a_mixed_run_lands_once_embedded() {
    let url = shared_postgres().fresh_database().await;
    let app = TestApp::spawn_archived(memory_with_outbox(1_000), &url).await;
    let answers = mixed_run(&app).await;
    assert_archived_once(&app, &url, &answers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_every_decision_of_a_mixed_run_lands_once_redis() {
    let redis = RedisServer::start();
    let url = shared_postgres().fresh_database().await;
    let (store, namespace) = redis_with_outbox(RedisTarget::Url(redis.url()), 1_000).await;
    let app = TestApp::spawn_archived(store, &url).await;
    let answers = mixed_run(&app).await;
    assert_archived_once(&app, &url, &answers).await;
    // Shipped entries leave the outbox.
    let total: usize = answers[..answers.len() - 1]
        .iter()
        .map(|a| slot_in_id(&a.decision_id))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|slot| {
            let key = KeySchema::new(&namespace).slot(slot).decisions;
            redis_cli(redis.port, &["XLEN", &key])
                .trim()
                .parse::<usize>()
                .unwrap()
        })
        .sum();
    assert_eq!(total, 0, "the outbox is empty once shipped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_every_decision_of_a_mixed_run_lands_once_cluster() {
    let url = shared_postgres().fresh_database().await;
    let (store, _) = redis_with_outbox(RedisTarget::Cluster(shared_cluster()), 1_000).await;
    let app = TestApp::spawn_archived(store, &url).await;
    let answers = mixed_run(&app).await;
    assert_archived_once(&app, &url, &answers).await;
}

/// The hash slot a decision id carries (its last four hex digits).
fn slot_in_id(id: &str) -> usize {
    usize::from_str_radix(&id[id.len() - 4..], 16).unwrap()
}

/// Decisions go on while PostgreSQL is down; the records wait and then land,
/// none lost and none twice; the snapshot the store answered during the outage
/// is the one archived.
async fn outage(app: &TestApp, pg: &mut PostgresServer, url: &str) {
    app.upsert(buyer("ACME", "100000.00")).await;
    app.check("ACME", "SO-0", "10.00").await;
    eventually("the first decision archived", || async {
        archived_count(url).await == 1
    })
    .await;
    pg.stop();
    let mut during = Vec::new();
    for i in 1..=30 {
        let answer = app.check("ACME", &format!("SO-{i}"), "100.00").await;
        assert_eq!(decision(&answer), Decision::Approved, "{answer:?}");
        during.push(answer.decision_id);
    }
    assert_eq!(decision_health(app.addr).await, 1, "still serving");
    let mut answered = BTreeMap::new();
    for id in during.iter().step_by(7) {
        answered.insert(id.clone(), app.decision_record(id).await.unwrap());
    }
    pg.restart();
    eventually("the backlog drained", || async {
        archived_count(url).await == 31
    })
    .await;
    let rows = archived(url).await;
    for id in &during {
        assert!(rows.contains_key(id), "{id} lost");
    }
    for (id, before) in answered {
        let record = record_from_json(&rows[&id].2).unwrap();
        assert_eq!(record_to_pb(&record), before, "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_an_outage_keeps_deciding_then_drains_without_loss_embedded() {
    let mut pg = PostgresServer::start();
    let url = pg.fresh_database().await;
    let app = TestApp::spawn_archived(memory_with_outbox(1_000), &url).await;
    outage(&app, &mut pg, &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_an_outage_keeps_deciding_then_drains_without_loss_redis() {
    let redis = RedisServer::start();
    let mut pg = PostgresServer::start();
    let url = pg.fresh_database().await;
    let (store, _) = redis_with_outbox(RedisTarget::Url(redis.url()), 1_000).await;
    let app = TestApp::spawn_archived(store, &url).await;
    outage(&app, &mut pg, &url).await;
}

/// With the archive down and the outbox full, an order is REFERRED with
/// ARCHIVE_BACKLOG and nothing of it is kept; decisions report NOT_SERVING
/// while the ledger serves on; once the archive is back the outbox drains
/// and orders are decided again.
async fn backlog(app: &TestApp, pg: &mut PostgresServer, url: &str) {
    app.upsert(buyer("ACME", "100000.00")).await;
    pg.stop();
    for i in 0..3 {
        let answer = app.check("ACME", &format!("SO-{i}"), "10.00").await;
        assert_eq!(decision(&answer), Decision::Approved, "{answer:?}");
    }
    let refused = app.check("ACME", "SO-3", "10.00").await;
    assert_eq!(decision(&refused), Decision::Referred);
    assert_eq!(codes(&refused), ["ARCHIVE_BACKLOG"]);
    assert!(refused.exposure.is_none(), "no exposure claimed");
    // Nothing of the refused order was written: no reservation, no record.
    let exposure = app.exposure("ACME").await;
    assert_eq!(amount(&exposure.open_orders), "30.00");
    let missing = app.decision_record(&refused.decision_id).await.unwrap_err();
    assert_ne!(missing.code(), tonic::Code::Ok);
    eventually("decisions not serving", || async {
        decision_health(app.addr).await == 2
    })
    .await;
    let ledger = health_of(connect(app.addr).await, "creditgate.v1.LedgerService")
        .await
        .unwrap();
    assert_eq!(ledger, 1, "the ledger still serves");
    app.invoice("ACME", "INV-1", "SO-0", "10.00", 0, 30)
        .await
        .expect("ledger writes go on");
    pg.restart();
    eventually("the backlog drained", || async {
        archived_count(url).await == 3
    })
    .await;
    // Deciding again once the outbox is counted below its bound (on Redis at
    // the next sweep), which health says first.
    eventually("serving again", || async {
        decision_health(app.addr).await == 1
    })
    .await;
    let again = app.check("ACME", "SO-3", "10.00").await;
    assert_eq!(decision(&again), Decision::Approved, "{again:?}");
    eventually("the new decision archived", || async {
        archived_count(url).await == 4
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_a_full_outbox_refers_with_archive_backlog_embedded() {
    let mut pg = PostgresServer::start();
    let url = pg.fresh_database().await;
    let app = TestApp::spawn_archived(memory_with_outbox(3), &url).await;
    // The schema is in place before the outage (the shipper migrated it).
    migrated(&url).await;
    backlog(&app, &mut pg, &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_a_full_outbox_refers_with_archive_backlog_redis() {
    let redis = RedisServer::start();
    let mut pg = PostgresServer::start();
    let url = pg.fresh_database().await;
    // Three records per slot: the buyer's slot fills.
    let (store, _) = redis_with_outbox(RedisTarget::Url(redis.url()), 3).await;
    let app = TestApp::spawn_archived(store, &url).await;
    migrated(&url).await;
    backlog(&app, &mut pg, &url).await;
}

/// After the records shipped, Redis is emptied (a store loss): GetDecision
/// still answers every decision, from the archive, as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_answers_get_decision_after_a_redis_store_loss() {
    let redis = RedisServer::start();
    let url = shared_postgres().fresh_database().await;
    let (store, _) = redis_with_outbox(RedisTarget::Url(redis.url()), 1_000).await;
    let app = TestApp::spawn_archived(store, &url).await;
    let answers = mixed_run(&app).await;
    let recorded = &answers[..answers.len() - 1];
    eventually("shipped", || async {
        archived_count(&url).await == recorded.len()
    })
    .await;
    let mut before = Vec::new();
    for answer in recorded {
        before.push(app.decision_record(&answer.decision_id).await.unwrap());
    }
    assert_eq!(redis_cli(redis.port, &["FLUSHALL"]).trim(), "OK");
    let check = app.try_check("ACME", "SO-9", eur("1.00")).await.unwrap();
    assert_eq!(codes(&check), ["EXPOSURE_UNKNOWN"], "the store is empty");
    for (answer, before) in recorded.iter().zip(before) {
        let after = app.decision_record(&answer.decision_id).await.unwrap();
        assert_eq!(after, before);
    }
    // `creditgate explain` reads the same way.
    let id = recorded[1].decision_id.clone();
    let server = format!("http://{}", app.addr);
    let (ok, output) = tokio::task::spawn_blocking(move || {
        crate::helpers::process::run(&["explain", &id, "--server", &server])
    })
    .await
    .unwrap();
    assert!(ok, "{output}");
    assert!(
        output.starts_with("HELD  order SO-2  buyer ACME"),
        "{output}"
    );
}

/// ListDecisions pages through one buyer's archived decisions, newest first,
/// within a period, with tokens bound to the query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_list_decisions_pages_a_buyers_period_newest_first() {
    let url = shared_postgres().fresh_database().await;
    let app = TestApp::spawn_archived(memory_with_outbox(1_000), &url).await;
    app.upsert(buyer("ACME", "100000.00")).await;
    app.upsert(buyer("OTHER", "100000.00")).await;
    let first_day = app.day(0);
    let mut ids = Vec::new();
    for (day, orders) in [(0, 2), (1, 2), (2, 1)] {
        if day > 0 {
            app.advance_days(1);
        }
        for n in 0..orders {
            let answer = app.check("ACME", &format!("SO-{day}-{n}"), "10.00").await;
            ids.push(answer.decision_id);
        }
    }
    app.check("OTHER", "SO-X", "10.00").await;
    eventually("archived", || async { archived_count(&url).await == 6 }).await;

    // Every page of 2, newest first, nothing twice, nothing of OTHER.
    let (mut token, mut listed) = (String::new(), Vec::new());
    loop {
        let page = app.list_decisions("ACME", "", "", 2, &token).await.unwrap();
        assert!(page.decisions.len() <= 2);
        listed.extend(page.decisions.into_iter().map(|d| d.decision_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(listed, newest_first);

    // The second day only: from its midnight (a date) to the third's.
    let second = Date::parse(&first_day).unwrap().add_days(1);
    let page = app
        .list_decisions(
            "ACME",
            &second.to_string(),
            &format!("{}T00:00:00Z", second.add_days(1)),
            0,
            "",
        )
        .await
        .unwrap();
    let period: Vec<String> = page
        .decisions
        .iter()
        .map(|d| d.decision_id.clone())
        .collect();
    assert_eq!(period, [ids[3].clone(), ids[2].clone()]);
    assert!(page.next_page_token.is_empty());

    // A token answers only the query it was made for; bad bounds are named.
    let page = app.list_decisions("ACME", "", "", 1, "").await.unwrap();
    let other = app
        .list_decisions("OTHER", "", "", 1, &page.next_page_token)
        .await
        .unwrap_err();
    assert_eq!(other.code(), tonic::Code::InvalidArgument);
    assert!(
        other.message().starts_with("page_token"),
        "{}",
        other.message()
    );
    let bad = app
        .list_decisions("ACME", "yesterday", "", 1, "")
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(bad.message().starts_with("from"), "{}", bad.message());
    let reversed = app
        .list_decisions("ACME", "2026-03-02", "2026-03-01", 1, "")
        .await
        .unwrap_err();
    assert!(
        reversed.message().starts_with("to"),
        "{}",
        reversed.message()
    );
}

/// Without an archive there is nothing to page through: said, not an empty list.
#[tokio::test]
async fn archive_list_decisions_without_an_archive_is_a_failed_precondition() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("ACME", "100000.00")).await;
    app.check("ACME", "SO-1", "10.00").await;
    let refused = app.list_decisions("ACME", "", "", 0, "").await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(
        refused.message().contains("--archive-url"),
        "{}",
        refused.message()
    );
}

/// Two replicas (the real binary) on one Redis share the shipping: each
/// decision archived once. One replica holding unarchived entries (the archive
/// went down under it) is SIGKILLed: the other claims them after the idle time
/// and archives them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_two_replicas_ship_once_and_claim_a_killed_ones_batch() {
    let redis = RedisServer::start();
    let mut pg = PostgresServer::start();
    let url = pg.fresh_database().await;
    let namespace = unique_namespace();
    let store_args = ["--redis-url", &redis.url(), "--redis-namespace", &namespace];
    store_init(&store_args);
    let args: Vec<&str> = store_args
        .iter()
        .copied()
        // A loaded test machine must not turn checks into STORE_UNAVAILABLE.
        .chain([
            "--archive-url",
            &url,
            "--outbox-claim-idle",
            "1s",
            "--redis-timeout",
            "2s",
        ])
        .collect();
    let mut a = Replica::start_async(&args).await;
    let b = Replica::start_async(&args).await;
    let (ca, cb) = (connect(a.addr).await, connect(b.addr).await);
    let mut ledger = LedgerServiceClient::new(ca.clone());
    let decide =
        |channel: &tonic::transport::Channel| CreditDecisionServiceClient::new(channel.clone());
    let buyers: Vec<String> = (0..8).map(|i| format!("B{i}")).collect();
    for id in &buyers {
        ledger
            .upsert_buyer(pb::UpsertBuyerRequest {
                buyer: Some(buyer(id, "100000.00")),
                update_mask: None,
            })
            .await
            .unwrap();
    }
    // Approved, retried as a client does while the answer is a transient
    // referral (the approval's id is then the one that has the record).
    let check = |channel: tonic::transport::Channel, buyer: String, order: String| async move {
        for _ in 0..20 {
            let answer = decide(&channel)
                .check_credit_limit(pb::CheckCreditLimitRequest {
                    buyer_id: buyer.clone(),
                    order_id: order.clone(),
                    amount: eur("10.00"),
                    payment_terms_days: 0,
                })
                .await
                .unwrap()
                .into_inner();
            if decision(&answer) == Decision::Approved {
                return answer.decision_id;
            }
            assert_eq!(codes(&answer), ["STORE_UNAVAILABLE"], "{answer:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{order} never approved");
    };
    let all_archived = |ids: BTreeSet<String>| {
        let url = url.clone();
        async move {
            let rows = archived(&url).await;
            ids.iter().all(|id| rows.contains_key(id))
        }
    };
    let mut ids = BTreeSet::new();
    for i in 0..40 {
        let channel = if i % 2 == 0 { ca.clone() } else { cb.clone() };
        ids.insert(check(channel, buyers[i % 8].clone(), format!("SO-{i}")).await);
    }
    eventually("both replicas' decisions archived", || {
        all_archived(ids.clone())
    })
    .await;

    // The archive goes down; A decides and reads its records, and cannot ship.
    pg.stop();
    let mut pending_ids = BTreeSet::new();
    for i in 40..60 {
        pending_ids.insert(check(ca.clone(), buyers[i % 8].clone(), format!("SO-{i}")).await);
    }
    let keys = KeySchema::new(&namespace);
    let slots: BTreeSet<usize> = pending_ids.iter().map(|id| slot_in_id(id)).collect();
    let a_pid = a.pid().to_string();
    eventually("A holds unacknowledged entries", || {
        let slots = slots.clone();
        let keys = &keys;
        let a_pid = a_pid.clone();
        let port = redis.port;
        async move {
            slots.iter().any(|&slot| {
                let consumers =
                    redis_cli(port, &["XPENDING", &keys.slot(slot).decisions, "archive"]);
                consumers.contains(&format!("-{a_pid}-"))
            })
        }
    })
    .await;
    a.kill();
    pg.restart();
    eventually("A's batch claimed and archived by B", || {
        all_archived(pending_ids.clone())
    })
    .await;
    // archived() itself asserts that no decision is there twice.
    let rows = archived(&url).await;
    for id in ids.iter().chain(&pending_ids) {
        assert!(rows.contains_key(id), "{id} not archived");
    }
    eventually("every slot's outbox drained", || {
        let slots = slots.clone();
        let keys = &keys;
        let port = redis.port;
        async move {
            slots
                .iter()
                .all(|&slot| redis_cli(port, &["XLEN", &keys.slot(slot).decisions]).trim() == "0")
        }
    })
    .await;
    drop(b);
}

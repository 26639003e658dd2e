//! Several creditgate processes on one Redis (and on a Redis Cluster): shared
//! exposure, no overspend, one reservation per order, fresh profiles.

use crate::helpers::process::{self, Replica};
use crate::helpers::redis::RedisServer;
use crate::helpers::*;
use creditgate::grpc::pb;
use creditgate::grpc::pb::credit_decision_service_client::CreditDecisionServiceClient;
use creditgate::grpc::pb::ledger_service_client::LedgerServiceClient;
use creditgate::store::redis::RedisTarget;
use rust_decimal::Decimal;
use std::collections::{HashMap, HashSet};
use std::str::FromStr;

const BUYERS: usize = 4;
const ORDERS_PER_BUYER: usize = 150;
const CLIENTS: usize = 48;

fn order_amount(k: usize) -> String {
    format!("{}.00", 40 + (k % 7) * 35)
}

/// Hundreds of orders over a few buyers from 48 concurrent clients spread over
/// two replicas, a third of them retried on the other replica.
async fn no_overspend(store_args: &[&str]) {
    let namespace = unique_namespace();
    let mut args: Vec<&str> = store_args.to_vec();
    args.extend(["--redis-namespace", &namespace]);
    process::store_init(&args);
    let replicas = [Replica::start(&args), Replica::start(&args)];
    let channels = [
        connect(replicas[0].addr).await,
        connect(replicas[1].addr).await,
    ];
    let mut ledger = LedgerServiceClient::new(channels[0].clone());
    for b in 0..BUYERS {
        ledger
            .upsert_buyer(pb::UpsertBuyerRequest {
                buyer: Some(buyer(&format!("B-{b}"), "5000.00")),
                update_mask: None,
            })
            .await
            .unwrap();
    }
    let mut work: Vec<(usize, String, String, Vec<usize>)> = Vec::new();
    for b in 0..BUYERS {
        for k in 0..ORDERS_PER_BUYER {
            let first = k % 2;
            let sends = if k % 3 == 0 {
                vec![first, 1 - first]
            } else {
                vec![first]
            };
            work.push((b, format!("O-{b}-{k}"), order_amount(k), sends));
        }
    }
    let work = std::sync::Arc::new(std::sync::Mutex::new(work));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let work = work.clone();
        let channels = channels.clone();
        clients.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                let Some((b, order, amount, sends)) = work.lock().unwrap().pop() else {
                    return seen;
                };
                for replica in sends {
                    let response = CreditDecisionServiceClient::new(channels[replica].clone())
                        .check_credit_limit(pb::CheckCreditLimitRequest {
                            buyer_id: format!("B-{b}"),
                            order_id: order.clone(),
                            amount: eur(&amount),
                            payment_terms_days: 0,
                        })
                        .await
                        .expect("check")
                        .into_inner();
                    seen.push((b, order.clone(), amount.clone(), response));
                }
            }
        }));
    }
    let mut approvals: HashMap<String, HashSet<String>> = HashMap::new();
    let mut approved_sum = [Decimal::ZERO; BUYERS];
    let mut refused = 0;
    for client in clients {
        for (b, order, amount, response) in client.await.unwrap() {
            if decision(&response) != Decision::Approved {
                refused += 1;
                continue;
            }
            let ids = approvals.entry(order).or_default();
            if ids.is_empty() {
                approved_sum[b] += Decimal::from_str(&amount).unwrap();
            }
            ids.insert(response.decision_id);
        }
    }
    assert!(
        refused > 0,
        "the limits must bind for the test to mean anything"
    );
    assert!(
        approvals.values().all(|ids| ids.len() == 1),
        "an order approved twice"
    );
    for (b, sum) in approved_sum.iter().enumerate() {
        assert!(
            *sum <= Decimal::from(5000),
            "buyer B-{b} approved {sum} over 5000.00"
        );
        let exposure = ledger
            .get_buyer_exposure(pb::GetBuyerExposureRequest {
                buyer_id: format!("B-{b}"),
            })
            .await
            .unwrap()
            .into_inner();
        // Exactly one reservation per approved order: the ledger holds their sum.
        assert_eq!(
            Decimal::from_str(amount(&exposure.open_orders)).unwrap(),
            *sum
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_one_redis_never_overspend() {
    let redis = RedisServer::start();
    no_overspend(&["--redis-url", &redis.url()]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_a_redis_cluster_never_overspend() {
    let seeds = shared_cluster().join(",");
    no_overspend(&["--redis-cluster", &seeds]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_change_on_one_replica_binds_the_other_at_once() {
    let redis = RedisServer::start();
    let options = redis_options(RedisTarget::Url(redis.url()), "profiles");
    let a = TestApp::spawn_on(initialised_redis(&options).await, test_settings()).await;
    let b = TestApp::spawn_on(initialised_redis(&options).await, test_settings()).await;
    a.upsert(buyer("B-1", "10000.00")).await;
    // Replica A has the profile cached now.
    assert_eq!(
        decision(&a.check("B-1", "O-1", "1000.00").await),
        Decision::Approved
    );
    b.upsert(buyer("B-1", "1500.00")).await;
    let after_cut = a.check("B-1", "O-2", "1000.00").await;
    assert_eq!(amount(&after_cut.credit_limit), "1500.00");
    assert_eq!(codes(&after_cut), ["LIMIT_EXCEEDED"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upsert_restoring_a_profile_another_replica_changed_is_written() {
    let redis = RedisServer::start();
    let options = redis_options(RedisTarget::Url(redis.url()), "restore");
    let a = TestApp::spawn_on(initialised_redis(&options).await, test_settings()).await;
    let b = TestApp::spawn_on(initialised_redis(&options).await, test_settings()).await;
    a.upsert(buyer("B-1", "10000.00")).await;
    // Replica A has the profile cached now.
    a.check("B-1", "O-1", "100.00").await;
    b.upsert(buyer("B-1", "1500.00")).await;
    // The analyst's change is undone through A, whose cached copy still shows
    // the old profile: the write is not a no-op, whatever A remembers.
    a.upsert(buyer("B-1", "10000.00")).await;
    assert_eq!(amount(&b.exposure("B-1").await.credit_limit), "10000.00");
    let check = a.check("B-1", "O-2", "5000.00").await;
    assert_eq!(decision(&check), Decision::Approved);
}

#[test]
fn store_init_writes_markers_once_and_needs_redis() {
    let redis = RedisServer::start();
    let url = redis.url();
    let (ok, first) = process::run(&["store-init", "--redis-url", &url]);
    assert!(ok && first.contains("wrote 16384 of 16384"), "{first}");
    let (ok, second) = process::run(&["store-init", "--redis-url", &url]);
    assert!(ok && second.contains("nothing changed"), "{second}");
    let (ok, embedded) = process::run(&["store-init"]);
    assert!(!ok && embedded.contains("--redis-url"), "{embedded}");
}

#[tokio::test]
async fn rediss_with_a_private_ca() {
    let redis = RedisServer::start_tls();
    let url = format!("rediss://127.0.0.1:{}", redis.port);
    let trusted = [
        "--redis-url",
        url.as_str(),
        "--redis-ca-file",
        redis.tls_ca(),
    ];
    let (ok, untrusted) = process::run(&["store-init", "--redis-url", &url]);
    assert!(
        !ok,
        "a certificate from an unknown CA must be refused: {untrusted}"
    );
    let (ok, output) = process::run(&[&["store-init"], trusted.as_slice()].concat());
    assert!(ok, "store-init over TLS failed: {output}");
    let replica = Replica::start(&trusted);
    let app_channel = connect(replica.addr).await;
    LedgerServiceClient::new(app_channel.clone())
        .upsert_buyer(pb::UpsertBuyerRequest {
            buyer: Some(buyer("B-1", "100.00")),
            update_mask: None,
        })
        .await
        .unwrap();
    let response = CreditDecisionServiceClient::new(app_channel)
        .check_credit_limit(pb::CheckCreditLimitRequest {
            buyer_id: "B-1".into(),
            order_id: "O-1".into(),
            amount: eur("60.00"),
            payment_terms_days: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(decision(&response), Decision::Approved);
    assert_eq!(amount(&response.exposure), "60.00");
}

//! Readiness on Redis Cluster speaks for every master: an emptied master (its
//! store markers gone) or a hung one makes the service NOT_SERVING, not just a
//! problem on the master that holds the first slot.

use crate::helpers::redis::{RedisCluster, redis_cli};
use crate::helpers::*;
use creditgate::store::redis::{RedisStore, RedisTarget};
use tonic_health::pb::health_check_response::ServingStatus;

async fn wait_for(app: &TestApp, status: ServingStatus, what: &str) {
    eventually(what, || async {
        decision_health(app.addr).await == status as i32
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_health_covers_every_master() {
    let cluster = RedisCluster::start();
    // The healthy masters keep serving their slots while another is down, as
    // some deployments choose: only the probe can then tell that one is hung.
    for node in &cluster.nodes {
        let set = ["CONFIG", "SET", "cluster-require-full-coverage", "no"];
        assert_eq!(redis_cli(node.port, &set).trim(), "OK");
    }
    let options = redis_options(RedisTarget::Cluster(cluster.seeds()), &unique_namespace());
    let app = TestApp::spawn_on(initialised_redis(&options).await, test_settings()).await;
    wait_for(
        &app,
        ServingStatus::Serving,
        "SERVING on an initialised cluster",
    )
    .await;

    // Not the master of slot 0: a probe that reads one marker reads that one's.
    let first = cluster.master_of(0).port;
    let other = cluster
        .nodes
        .iter()
        .find(|n| n.port != first)
        .expect("three masters");

    // That master loses its data (an emptied node): its markers are gone.
    assert_eq!(redis_cli(other.port, &["FLUSHALL"]).trim(), "OK");
    wait_for(
        &app,
        ServingStatus::NotServing,
        "NOT_SERVING, a master has no marker",
    )
    .await;
    let report = RedisStore::open(&options).unwrap().init().await.unwrap();
    assert!(
        report.written > 0,
        "store-init wrote the lost markers again"
    );
    wait_for(&app, ServingStatus::Serving, "SERVING after store-init").await;

    // That master hangs.
    let frozen = other.freeze();
    wait_for(
        &app,
        ServingStatus::NotServing,
        "NOT_SERVING, a master is hung",
    )
    .await;
    frozen.resume();
    wait_for(
        &app,
        ServingStatus::Serving,
        "SERVING once the master is back",
    )
    .await;
}

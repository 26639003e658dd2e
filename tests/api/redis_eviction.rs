//! A Redis that may evict ledger keys is refused at start: the real binary against
//! real redis-servers with the maxmemory-policy under test.

use crate::helpers::process::{self, Replica};
use crate::helpers::redis::{RedisCluster, RedisServer, redis_cli};
use std::time::Duration;

/// Long enough for a start that should have been refused to reach "listening".
const START_LIMIT: Duration = Duration::from_secs(20);

fn refused_start(args: &[&str]) -> String {
    let args = [&["--listen", "127.0.0.1:0"], args].concat();
    let (ok, output) = process::run_bounded(&args, START_LIMIT)
        .unwrap_or_else(|running| panic!("creditgate started on an evicting redis: {running}"));
    assert!(!ok, "creditgate exited successfully: {output}");
    output
}

fn logged(replica: &Replica, text: &str) -> bool {
    replica.startup_logs.iter().any(|line| line.contains(text))
}

#[test]
fn allkeys_lru_is_refused_naming_maxmemory_policy_and_the_fix() {
    let redis = RedisServer::start_with(&["--maxmemory-policy", "allkeys-lru"]);
    let output = refused_start(&["--redis-url", &redis.url()]);
    for says in [
        "maxmemory-policy allkeys-lru",
        "noeviction",
        "--allow-evicting-redis",
    ] {
        assert!(output.contains(says), "{says:?} missing from: {output}");
    }
}

#[test]
fn noeviction_and_volatile_policies_are_accepted() {
    let redis = RedisServer::start();
    assert_eq!(
        redis_cli(redis.port, &["CONFIG", "GET", "maxmemory-policy"])
            .lines()
            .nth(1),
        Some("noeviction")
    );
    let url = redis.url();
    let replica = Replica::start(&["--redis-url", &url]);
    assert!(!logged(&replica, "maxmemory-policy"));
    drop(replica);
    // No ledger key carries a TTL, so a volatile-* policy never evicts one.
    redis_cli(
        redis.port,
        &["CONFIG", "SET", "maxmemory-policy", "volatile-lru"],
    );
    Replica::start(&["--redis-url", &url]);
}

#[test]
fn allkeys_lru_with_the_override_starts_and_warns() {
    let redis = RedisServer::start_with(&["--maxmemory-policy", "allkeys-lru"]);
    let replica = Replica::start(&["--redis-url", &redis.url(), "--allow-evicting-redis"]);
    assert!(
        logged(&replica, "REDIS MAY EVICT LEDGER KEYS") && logged(&replica, "allkeys-lru"),
        "no warning in {:?}",
        replica.startup_logs
    );
}

#[test]
fn every_master_of_a_cluster_is_checked() {
    let cluster = RedisCluster::start();
    // One master of three: a check of a single (random) node would usually miss it.
    let evicting = cluster.nodes[2].port;
    redis_cli(
        evicting,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"],
    );
    let seeds = cluster.seeds().join(",");
    let output = refused_start(&["--redis-cluster", &seeds]);
    assert!(
        output.contains(&format!(
            "127.0.0.1:{evicting} has maxmemory-policy allkeys-lfu"
        )),
        "the evicting master is not named: {output}"
    );
}

#[test]
fn a_redis_that_hides_config_is_accepted_with_a_warning() {
    // Managed Redis services often rename or deny CONFIG.
    let redis = RedisServer::start_with(&["--rename-command", "CONFIG", ""]);
    let replica = Replica::start(&["--redis-url", &redis.url()]);
    assert!(
        logged(&replica, "not checked"),
        "no warning in {:?}",
        replica.startup_logs
    );
}

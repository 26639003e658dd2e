//! The check's shortcut past the expiry list (the buyer's `ne` field,
//! docs/redis.md) must never hide a lapsed reservation, even for data written by
//! a version that did not keep the field (a rolling deploy, a rollback).

use crate::helpers::redis::{RedisServer, redis_cli};
use crate::helpers::*;
use creditgate::service::ServiceSettings;
use creditgate::store::redis::RedisTarget;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_buyer_without_the_next_expiry_field_still_releases_what_lapsed() {
    let redis = RedisServer::start();
    let namespace = unique_namespace();
    let options = redis_options(RedisTarget::Url(redis.url()), &namespace);
    let settings = ServiceSettings {
        reservation_ttl: Duration::from_secs(2),
        ..test_settings()
    };
    let app = TestApp::spawn_on(initialised_redis(&options).await, settings).await;
    app.upsert(buyer("B-1", "10000.00")).await;
    assert_eq!(
        decision(&app.check("B-1", "O-1", "6000.00").await),
        Decision::Approved
    );
    let key = format!("{{{namespace}:b:B-1}}:buyer");
    assert!(
        !redis_cli(redis.port, &["HGET", &key, "ne"])
            .trim()
            .is_empty(),
        "the reservation recorded when the list's head lapses"
    );
    // As if an older replica had pushed the reservation without the field.
    redis_cli(redis.port, &["HDEL", &key, "ne"]);
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    let after = app.check("B-1", "O-2", "6000.00").await;
    assert_eq!(decision(&after), Decision::Approved);
    assert_eq!(
        amount(&after.exposure),
        "6000.00",
        "O-1's 6000.00 was released"
    );
}

//! One clock for the ledger: reservation expiry runs on Redis's clock, so
//! replicas whose clocks disagree cannot expire each other's reservations.

use crate::helpers::redis::RedisServer;
use crate::helpers::*;
use creditgate::service::ServiceSettings;
use creditgate::store::redis::RedisTarget;
use std::time::Duration;

const DAY: i64 = 86_400;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_replica_with_a_skewed_clock_keeps_the_others_reservations() {
    let redis = RedisServer::start();
    let options = redis_options(RedisTarget::Url(redis.url()), &unique_namespace());
    let settings = ServiceSettings {
        reservation_ttl: Duration::from_secs(DAY as u64),
        ..test_settings()
    };
    let a = TestApp::spawn_on(initialised_redis(&options).await, settings.clone()).await;
    let b = TestApp::spawn_on(initialised_redis(&options).await, settings).await;
    // B's clock runs two days ahead: past the expiry of anything A reserves now,
    // had expiry been measured on the replica's clock.
    b.clock.advance_secs(2 * DAY);
    a.upsert(buyer("B-1", "1000.00")).await;

    let first = a.check("B-1", "O-1", "400.00").await;
    assert_eq!(decision(&first), Decision::Approved);
    let second = b.check("B-1", "O-2", "400.00").await;
    assert_eq!(decision(&second), Decision::Approved);
    assert_eq!(
        amount(&second.exposure),
        "800.00",
        "A's reservation lapsed on B's clock"
    );
    // 800.00 reserved: a third order over the limit is refused on either replica.
    let third = b.check("B-1", "O-3", "400.00").await;
    assert_eq!(codes(&third), ["LIMIT_EXCEEDED"]);
    for replica in [&a, &b] {
        assert_eq!(amount(&replica.exposure("B-1").await.open_orders), "800.00");
    }
}

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

/// Batched ledger rows (`creditgate import` straight into Redis) release lapsed
/// reservations before each write, as each write's own script would: a sweep
/// releases at most 64, so a later write of the batch must not consume a
/// reservation that lapsed but was past the first sweep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_batched_rows_release_what_lapsed_before_each_write() {
    use creditgate::domain::ids::BuyerId;
    use creditgate::grpc::{pb, requests};
    use creditgate::service::LedgerEntry;
    use creditgate::store::LedgerWritten;

    let redis = RedisServer::start();
    let options = redis_options(RedisTarget::Url(redis.url()), &unique_namespace());
    let settings = ServiceSettings {
        reservation_ttl: Duration::from_secs(1),
        ..test_settings()
    };
    let app = TestApp::spawn_on(initialised_redis(&options).await, settings).await;
    app.upsert(buyer("B-1", "100000.00")).await;
    for order in 1..=70 {
        let answer = app.check("B-1", &format!("O-{order}"), "10.00").await;
        assert_eq!(decision(&answer), Decision::Approved);
    }
    // Reservations lapse on Redis's clock, in whole seconds.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let invoice = |id: &str, order: &str| {
        LedgerEntry::Invoice(
            requests::record_invoice(&pb::RecordInvoiceRequest {
                buyer_id: "B-1".into(),
                invoice_id: id.into(),
                order_id: order.into(),
                amount: eur("10.00"),
                issue_date: app.day(0),
                due_date: app.day(30),
            })
            .unwrap(),
        )
    };
    let rows = vec![
        vec![invoice("INV-1", "O-1")],
        vec![invoice("INV-70", "O-70")],
    ];
    let answers = (app.ledger_rows)(BuyerId::parse("B-1").unwrap(), rows)
        .await
        .unwrap();
    for (row, order) in answers.iter().zip(["O-1", "O-70"]) {
        match row.as_deref() {
            Ok([LedgerWritten::Invoice(outcome)]) => {
                assert!(outcome.created);
                assert_eq!(outcome.consumed, 0, "{order}'s lapsed reservation consumed");
            }
            other => panic!("{order}: {other:?}"),
        }
    }
    let exposure = app.exposure("B-1").await;
    assert_eq!(
        amount(&exposure.open_orders),
        "0.00",
        "every reservation lapsed"
    );
    assert_eq!(amount(&exposure.open_invoices), "20.00");
}

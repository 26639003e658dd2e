//! The decision archive's schema in a real PostgreSQL (started by the harness on
//! a free loopback port): migrations from an empty database, idempotent and
//! safe when replicas run them together, monthly partitions and retention by
//! dropping whole partitions.

use crate::helpers::postgres::shared_postgres;
use creditgate::archive::partitions::{self, Month};
use creditgate::archive::{connect, migrate};
use creditgate::domain::date::Date;
use std::process::Command;

async fn client(url: &str) -> tokio_postgres::Client {
    connect::connect(url).await.expect("connect")
}

/// The first column of every row of `sql`, as text.
async fn texts(db: &tokio_postgres::Client, sql: &str) -> Vec<String> {
    db.query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn archive_migrations_build_the_schema_from_an_empty_database() {
    let url = shared_postgres().fresh_database().await;
    let mut db = client(&url).await;
    let migrated = migrate::migrate(&mut db).await.unwrap();
    assert_eq!(
        migrated.applied,
        [
            "V1__decisions",
            "V2__decisions_buyer_time_keyset",
            "V3__rejected_decisions"
        ]
    );
    assert_eq!(migrated.version, Some(3));
    // A range-partitioned table in the creditgate schema, with the columns the
    // archive writes and reads.
    let strategy: String = db
        .query_one(
            "SELECT p.partstrat::text FROM pg_partitioned_table p \
             JOIN pg_class c ON c.oid = p.partrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'creditgate' AND c.relname = 'decisions'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(strategy, "r", "range-partitioned");
    let columns = texts(
        &db,
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = 'creditgate' AND table_name = 'decisions' \
         ORDER BY ordinal_position",
    )
    .await;
    assert_eq!(
        columns,
        [
            "decision_id",
            "buyer_id",
            "order_id",
            "decision",
            "reason_codes",
            "amount_minor",
            "currency",
            "policy_version",
            "decided_at",
            "record"
        ]
    );
    let indexes = texts(
        &db,
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'creditgate' \
         AND tablename = 'decisions' ORDER BY indexname",
    )
    .await;
    assert_eq!(
        indexes,
        [
            "decisions_buyer_time",
            "decisions_buyer_waiting",
            "decisions_pkey"
        ]
    );
    // Both columns after the buyer descending: the order and the row comparison
    // of a keyset page (src/archive/decisions.rs, list).
    let buyer_time = texts(
        &db,
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'creditgate' \
         AND indexname = 'decisions_buyer_time'",
    )
    .await;
    assert_eq!(buyer_time.len(), 1);
    assert!(
        buyer_time[0].ends_with("(buyer_id, decided_at DESC, decision_id DESC)"),
        "{buyer_time:?}"
    );
}

#[tokio::test]
async fn archive_migrations_run_twice_and_together_apply_once() {
    let url = shared_postgres().fresh_database().await;
    // Two replicas starting at once.
    let (mut a, mut b) = (client(&url).await, client(&url).await);
    let (first, second) = tokio::join!(migrate::migrate(&mut a), migrate::migrate(&mut b));
    let (first, second) = (first.unwrap(), second.unwrap());
    let mut applied = [first.applied, second.applied].concat();
    applied.sort();
    assert_eq!(
        applied,
        [
            "V1__decisions",
            "V2__decisions_buyer_time_keyset",
            "V3__rejected_decisions"
        ],
        "applied once between the two"
    );
    assert_eq!((first.version, second.version), (Some(3), Some(3)));
    // And again later: nothing to do.
    let again = migrate::migrate(&mut a).await.unwrap();
    assert!(again.applied.is_empty(), "{:?}", again.applied);
    assert_eq!(again.version, Some(3));
    let history: i64 = a
        .query_one("SELECT count(*) FROM creditgate.schema_history", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(history, 3);
}

#[tokio::test]
async fn archive_retention_drops_only_partitions_wholly_older_than_the_window() {
    let url = shared_postgres().fresh_database().await;
    let mut db = client(&url).await;
    migrate::migrate(&mut db).await.unwrap();
    let today = Date::parse("2026-12-03").unwrap();
    // 400 days back from 2026-12-03 is 2025-10-29: September 2025 lies wholly
    // before it, October 2025 still holds days inside the window and stays.
    let months = [
        Month {
            year: 2025,
            month: 9,
        },
        Month {
            year: 2025,
            month: 10,
        },
        Month {
            year: 2026,
            month: 6,
        },
    ];
    for month in months {
        partitions::ensure(&db, month).await.unwrap();
    }
    let made = partitions::ensure_ahead(&db, today, 2).await.unwrap();
    assert_eq!(
        made,
        [
            "decisions_y2026m12",
            "decisions_y2027m01",
            "decisions_y2027m02"
        ]
    );
    // A decision in the oldest month goes with its partition.
    db.execute(
        "INSERT INTO creditgate.decisions VALUES (gen_random_uuid(), 'B-1', 'O-1', 'APPROVED', \
         '{}', 100, 'EUR', 'p1', '2025-09-15T10:00:00Z', '{}')",
        &[],
    )
    .await
    .unwrap();
    let dropped = partitions::drop_expired(&db, today, 400).await.unwrap();
    assert_eq!(dropped, ["decisions_y2025m09"]);
    let left: Vec<String> = partitions::list(&db)
        .await
        .unwrap()
        .iter()
        .map(|m| m.partition())
        .collect();
    assert_eq!(
        left,
        [
            "decisions_y2025m10",
            "decisions_y2026m06",
            "decisions_y2026m12",
            "decisions_y2027m01",
            "decisions_y2027m02"
        ]
    );
    let rows: i64 = db
        .query_one("SELECT count(*) FROM creditgate.decisions", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 0);
    // Run again: nothing more to drop.
    assert!(
        partitions::drop_expired(&db, today, 400)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn archive_migrate_command_reports_what_it_did_and_hides_the_password() {
    let server = shared_postgres();
    let url = server.fresh_database().await;
    let db = url.rsplit('/').next().unwrap().to_owned();
    // A password in the URL (trust auth ignores it) must not be printed.
    let with_password = format!("postgres://postgres:s3cret@127.0.0.1:{}/{db}", server.port);
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_creditgate"))
            .arg("archive-migrate")
            .env("CREDITGATE_ARCHIVE_URL", &with_password)
            .output()
            .expect("creditgate runs")
    };
    let first = run();
    let text = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        text.contains("applied V1__decisions, V2__decisions_buyer_time_keyset, V3__rejected_decisions (now V3)"),
        "{text}"
    );
    assert!(text.contains("partitions ready: decisions_y"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    let second = run();
    let text = String::from_utf8_lossy(&second.stdout);
    assert!(second.status.success());
    assert!(text.contains("schema up to date (V3)"), "{text}");
    // An archive that cannot be reached: exit 1, named without the password.
    let refused = Command::new(env!("CARGO_BIN_EXE_creditgate"))
        .args(["archive-migrate", "--archive-url"])
        .arg(format!(
            "postgres://postgres:s3cret@127.0.0.1:{}/x",
            crate::helpers::redis::free_port()
        ))
        .output()
        .unwrap();
    let error = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{error}");
    assert!(
        error.contains("cannot connect to the archive at postgres://postgres@127.0.0.1:"),
        "{error}"
    );
    assert!(!error.contains("s3cret"), "{error}");
}

//! Decision records written into and read from the archive in a real
//! PostgreSQL: batches across months (partitions made on demand), written once
//! however often shipped, read back identical, the filter columns as replay
//! derives them, and a buyer's decisions paged newest first.

use crate::helpers::postgres::shared_postgres;
use creditgate::archive::decisions::{self, cursor_after};
use creditgate::archive::partitions::{self, Month};
use creditgate::archive::{connect, migrate};
use creditgate::domain::buyer::{BuyerProfile, BuyerRecord, Grade, Rating, RiskTier};
use creditgate::domain::date::Date;
use creditgate::domain::decision_record::{
    AnalystRelease, DecisionInputs, DecisionRecord, StoreVerdict,
};
use creditgate::domain::exposure::{DueItem, ExposureTotals, LedgerSnapshot};
use creditgate::domain::ids::{BuyerId, InvoiceId, OrderId};
use creditgate::domain::money::{Currency, Money};
use creditgate::domain::policy::{Decision, Policy};
use creditgate::store::decision_format::decision_code;
use rust_decimal::Decimal;
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio_postgres::Client;

const DAY_MS: i64 = 86_400_000;

fn eur() -> Currency {
    Currency::from_code("EUR").unwrap()
}

/// Milliseconds since the epoch of `date` plus `ms` into the day (UTC).
fn at(date: &str, ms: i64) -> i64 {
    i64::from(Date::parse(date).unwrap().days()) * DAY_MS + ms
}

fn buyer(id: &str) -> Arc<BuyerRecord> {
    let today = Date::parse("2026-01-15").unwrap();
    let zero = Money::zero(eur());
    Arc::new(BuyerRecord {
        profile: BuyerProfile {
            id: BuyerId::parse(id).unwrap(),
            name: format!("{id} Trading GmbH"),
            country_code: "DE".into(),
            currency: eur(),
            tier: RiskTier::Standard,
            // 10,000.00 EUR
            manual_limit: Some(Money::from_minor(eur(), 1_000_000)),
            payment_terms_days: 30,
            early_payment_discount: None,
            financials: None,
            external_rating: None,
            insurance: None,
        },
        rating: Rating {
            score: 675,
            grade: Grade::new(4).unwrap(),
            probability_of_default: Decimal::new(15, 4),
            recommended_limit: zero,
            scored_limit: zero,
            insured_limit: zero,
            discretionary_limit: zero,
            rated_on: today,
            valid_until: today.add_days(365),
            reasons: vec![],
        },
        adjustment: Default::default(),
    })
}

/// The outcomes a test asks for; the record's decision follows by replay.
#[derive(Clone, Copy)]
enum Kind {
    /// Within the limit: APPROVED.
    Small,
    /// Over the limit within the tier's tolerance, not reserved: HELD.
    Slight,
    /// Far over the limit, not reserved: REFERRED.
    Large,
    /// Over the limit but released by an analyst: APPROVED with its reason.
    Released,
    /// Invoiced before it was approved: REFERRED.
    Invoiced,
}

/// A decision of `buyer` with id number `n` (a UUID), decided at `decided_at_ms`.
fn record(buyer: &Arc<BuyerRecord>, n: u64, decided_at_ms: i64, kind: Kind) -> Arc<DecisionRecord> {
    let today = Date::from_unix_secs(decided_at_ms.div_euclid(1000));
    // Against a limit of 1,000,000 and an exposure of 350,000.
    let amount = match kind {
        Kind::Small => 12_345,
        Kind::Slight => 680_000,
        _ => 5_000_000,
    };
    let release = matches!(kind, Kind::Released).then(|| AnalystRelease {
        released_by: "analyst@example.com".into(),
        reason: "collateral received".into(),
    });
    let inputs = DecisionInputs::new(
        &Policy::default(),
        format!("0193b3c4-5d6e-7f80-9a1b-{n:012x}"),
        buyer.clone(),
        OrderId::parse(&format!("SO-{n}")).unwrap(),
        Money::from_minor(eur(), amount),
        today,
        release,
    );
    let mut record = DecisionRecord {
        inputs: Arc::new(inputs),
        decided_at_ms,
        snapshot: LedgerSnapshot {
            totals: ExposureTotals {
                open_orders: 100_000,
                open_invoices: 250_000,
                disputed: 0,
            },
            oldest_due: vec![DueItem {
                invoice_id: InvoiceId::parse("INV-7").unwrap(),
                due_date: today.add_days(-3),
            }],
            next_due: Some(DueItem {
                invoice_id: InvoiceId::parse("INV-9").unwrap(),
                due_date: today.add_days(4),
            }),
        },
        verdict: StoreVerdict::NotReserved,
    };
    record.verdict = match kind {
        Kind::Invoiced => StoreVerdict::Invoiced {
            invoice_id: InvoiceId::parse(&format!("INV-{n}")).unwrap(),
            amount: 4_999_999,
        },
        _ if record.replay().decision == Decision::Approved => StoreVerdict::Reserved,
        _ => StoreVerdict::NotReserved,
    };
    Arc::new(record)
}

async fn migrated() -> Client {
    let url = shared_postgres().fresh_database().await;
    let mut db = connect::connect(&url).await.expect("connect");
    migrate::migrate(&mut db).await.unwrap();
    db
}

async fn count(db: &Client) -> i64 {
    db.query_one("SELECT count(*) FROM creditgate.decisions", &[])
        .await
        .unwrap()
        .get(0)
}

fn id_of(record: &DecisionRecord) -> &str {
    &record.inputs.decision_id
}

#[tokio::test]
async fn archive_decisions_are_written_once_across_months_and_read_back_identical() {
    let db = migrated().await;
    let (a, b) = (buyer("B-1"), buyer("B-2"));
    // The last millisecond of January and the first of February fall in
    // different partitions; none exists yet.
    let batch = vec![
        record(&a, 1, at("2026-01-31", DAY_MS - 1), Kind::Small),
        record(&a, 2, at("2026-02-01", 0), Kind::Slight),
        record(&b, 3, at("2026-01-20", 1_234), Kind::Released),
        record(&b, 4, at("2026-02-14", 45_678), Kind::Invoiced),
        record(&a, 5, at("2026-02-14", 45_678), Kind::Small),
        record(&a, 6, at("2026-02-28", 0), Kind::Large),
    ];
    let decisions: BTreeSet<Decision> = batch.iter().map(|r| r.replay().decision).collect();
    assert_eq!(decisions.len(), 3, "the batch covers every decision");
    assert!(partitions::list(&db).await.unwrap().is_empty());

    assert_eq!(decisions::insert(&db, &batch).await.unwrap(), 6);
    assert_eq!(
        partitions::list(&db).await.unwrap(),
        [
            Month {
                year: 2026,
                month: 1
            },
            Month {
                year: 2026,
                month: 2
            }
        ]
    );
    // Shipped again, alone or with a new record: only the new one is written.
    assert_eq!(decisions::insert(&db, &batch).await.unwrap(), 0);
    let mut more = batch.clone();
    more.push(record(&a, 9, at("2026-02-20", 0), Kind::Large));
    more.push(batch[0].clone());
    assert_eq!(decisions::insert(&db, &more).await.unwrap(), 1);
    assert_eq!(count(&db).await, 7);
    assert_eq!(decisions::insert(&db, &[]).await.unwrap(), 0);

    for record in &more {
        let id = id_of(record);
        let found = decisions::get(&db, id).await.unwrap();
        assert_eq!(found.as_ref(), Some(&**record), "{id}");

        // The columns hold what replay says, and the row sits in its month.
        let row = db
            .query_one(
                "SELECT buyer_id, order_id, decision, reason_codes, amount_minor, \
                 currency::text, policy_version, \
                 (extract(epoch FROM decided_at) * 1000)::bigint, \
                 tableoid::regclass::text, record->>'decision', record->>'v' \
                 FROM creditgate.decisions WHERE decision_id = $1::text::uuid",
                &[&id],
            )
            .await
            .unwrap();
        let replayed = record.replay();
        let inputs = &record.inputs;
        let codes: Vec<&str> = replayed.reasons.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(row.get::<_, &str>(0), inputs.buyer.profile.id.as_str());
        assert_eq!(row.get::<_, &str>(1), inputs.order_id.as_str());
        assert_eq!(row.get::<_, &str>(2), decision_code(replayed.decision));
        assert_eq!(row.get::<_, Vec<&str>>(3), codes, "{id}");
        assert_eq!(row.get::<_, i64>(4), inputs.amount.minor());
        assert_eq!(row.get::<_, &str>(5), "EUR");
        assert_eq!(row.get::<_, &str>(6), inputs.policy_version);
        assert_eq!(row.get::<_, i64>(7), record.decided_at_ms, "{id}");
        let month = Month::of(Date::from_unix_secs(record.decided_at_ms / 1000));
        assert_eq!(
            row.get::<_, &str>(8),
            format!("creditgate.{}", month.partition())
        );
        assert_eq!(row.get::<_, &str>(9), decision_code(replayed.decision));
        assert_eq!(row.get::<_, &str>(10), "1");
    }
    let released = decisions::get(&db, id_of(&batch[2]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        released.replay().reasons[0].code.as_str(),
        "RELEASED_BY_ANALYST"
    );

    // Unknown and malformed ids name no decision.
    let unknown = "0193b3c4-5d6e-7f80-9a1b-ffffffffffff";
    assert_eq!(decisions::get(&db, unknown).await.unwrap(), None);
    assert_eq!(decisions::get(&db, "not-a-uuid").await.unwrap(), None);

    // A record whose id is not a UUID refuses the whole batch, naming it.
    let mut bad = (*record(&a, 7, at("2026-02-21", 0), Kind::Small)).clone();
    let mut inputs = (*bad.inputs).clone();
    inputs.decision_id = "SO-7-not-a-uuid".into();
    bad.inputs = Arc::new(inputs);
    let batch = [
        record(&a, 8, at("2026-02-21", 1), Kind::Small),
        Arc::new(bad),
    ];
    // Refused for its content (retrying the same batch cannot help).
    let decisions::InsertError::Refused(error) = decisions::insert(&db, &batch).await.unwrap_err()
    else {
        panic!("a record that is not a UUID is refused, not failed");
    };
    assert!(error.contains("SO-7-not-a-uuid"), "{error}");
    assert_eq!(count(&db).await, 7);
}

#[tokio::test]
async fn archive_decisions_of_a_buyer_page_newest_first_within_the_period() {
    let db = migrated().await;
    let (a, b) = (buyer("B-1"), buyer("B-2"));
    let kinds = [
        Kind::Small,
        Kind::Slight,
        Kind::Large,
        Kind::Released,
        Kind::Invoiced,
    ];
    let mut records = Vec::new();
    // Buyer A across March and April, with two pairs of decisions at the same
    // millisecond (the id breaks the tie); buyer B interleaved.
    let times = [
        at("2026-03-02", 0),
        at("2026-03-10", 500),
        at("2026-03-10", 500),
        at("2026-03-31", DAY_MS - 1),
        at("2026-04-01", 0),
        at("2026-04-01", 0),
        at("2026-04-05", 7),
        at("2026-04-30", 9),
        at("2026-04-30", 10),
    ];
    // Ids out of time order, so that id order and time order differ.
    for (i, &time) in times.iter().enumerate() {
        let n = [5, 2, 9, 1, 4, 8, 3, 7, 6][i];
        records.push(record(&a, n, time, kinds[i % kinds.len()]));
        records.push(record(&b, 100 + n, time + 1, kinds[(i + 1) % kinds.len()]));
    }
    assert_eq!(decisions::insert(&db, &records).await.unwrap(), 18);

    let expected = |from: Option<i64>, to: Option<i64>| -> Vec<String> {
        let mut mine: Vec<&Arc<DecisionRecord>> = records
            .iter()
            .filter(|r| r.inputs.buyer.profile.id.as_str() == "B-1")
            .filter(|r| from.is_none_or(|from| r.decided_at_ms >= from))
            .filter(|r| to.is_none_or(|to| r.decided_at_ms < to))
            .collect();
        // Same-format lowercase UUIDs: text order is PostgreSQL's uuid order.
        mine.sort_by(|x, y| (y.decided_at_ms, id_of(y)).cmp(&(x.decided_at_ms, id_of(x))));
        mine.iter().map(|r| id_of(r).to_owned()).collect()
    };
    let periods = [
        (None, None),
        // Inclusive from, exclusive to: 2026-04-01T00:00Z is in, the 30th's
        // 10 ms is out.
        (Some(at("2026-04-01", 0)), Some(at("2026-04-30", 10))),
        (Some(at("2026-03-10", 500)), None),
        (None, Some(at("2026-03-10", 500))),
        (Some(at("2026-05-01", 0)), None),
    ];
    for (from, to) in periods {
        let want = expected(from, to);
        let mut got = Vec::new();
        let mut after = None;
        let mut pages = 0;
        loop {
            let page = decisions::list(&db, "B-1", from, to, after.clone(), 2)
                .await
                .unwrap();
            assert!(page.len() <= 2);
            for record in &page {
                assert_eq!(record.inputs.buyer.profile.id.as_str(), "B-1");
                let original = records.iter().find(|r| id_of(r) == id_of(record)).unwrap();
                assert_eq!(record, &**original);
                got.push(id_of(record).to_owned());
            }
            pages += 1;
            match page.last() {
                Some(last) if page.len() == 2 => after = Some(cursor_after(last)),
                _ => break,
            }
        }
        assert_eq!(got, want, "from {from:?} to {to:?}");
        assert_eq!(pages, want.len() / 2 + 1, "from {from:?} to {to:?}");
    }
    assert_eq!(expected(None, None).len(), 9);
    assert_eq!(
        expected(Some(at("2026-04-01", 0)), Some(at("2026-04-30", 10))).len(),
        4
    );

    // One page larger than the rest: everything at once, and nothing for a
    // buyer without decisions.
    let all = decisions::list(&db, "B-1", None, None, None, 100)
        .await
        .unwrap();
    let ids: Vec<String> = all.iter().map(|r| id_of(r).to_owned()).collect();
    assert_eq!(ids, expected(None, None));
    assert!(
        decisions::list(&db, "B-3", None, None, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let error = decisions::list(&db, "B-1", None, None, Some((0, "x".into())), 2)
        .await
        .unwrap_err();
    assert!(error.contains("cursor"), "{error}");
}

#[tokio::test]
async fn archive_decision_pages_walk_the_buyer_index_without_a_sort() {
    let db = migrated().await;
    let a = buyer("B-1");
    let records: Vec<_> = (0..40)
        .map(|n| record(&a, n, at("2026-06-01", 0) + n as i64 * DAY_MS, Kind::Small))
        .collect();
    decisions::insert(&db, &records).await.unwrap();
    db.batch_execute("ANALYZE creditgate.decisions; SET enable_seqscan = off")
        .await
        .unwrap();
    // The query list() sends for a page after a cursor, with its values.
    let plan: Vec<String> = db
        .query(
            "EXPLAIN (COSTS OFF) SELECT record FROM creditgate.decisions \
             WHERE buyer_id = 'B-1' \
             AND (decided_at, decision_id) < ('2026-06-20T00:00:00Z', \
             '0193b3c4-5d6e-7f80-9a1b-000000000013') \
             ORDER BY decided_at DESC, decision_id DESC LIMIT 2",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let text = plan.join("\n");
    assert!(text.contains("Index Scan using decisions_y2026m"), "{text}");
    assert!(
        !plan.iter().any(
            |line| line.trim_start_matches([' ', '-', '>']).starts_with("Sort")
                || line.contains("Incremental Sort")
        ),
        "{text}"
    );
    // The cursor bounds the index walk, rather than filtering rows it read.
    assert!(
        plan.iter()
            .any(|line| line.contains("Index Cond:")
                && line.contains("ROW(decided_at, decision_id) <")),
        "{text}"
    );
}

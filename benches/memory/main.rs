//! creditgate-memory: measures what a buyer costs in memory.
//!
//!   creditgate-memory redis --redis-url redis://127.0.0.1:6399   Redis bytes per buyer
//!   creditgate-memory embedded --buyers 1000000                    process RSS after N buyers
//!   creditgate-memory cycles [--redis-url URL]                     one buyer under a steady flow:
//!       [--cycles 100000] [--per-day 10] [--retention-days 400] [--report 10000,100000]
//!     N order cycles (check and reserve, invoice against the order, pay in full
//!     with a payment id), the ledger's today one day later every --per-day
//!     cycles, so that retention windows pass; prints the buyer's Redis bytes key
//!     by key (or the process RSS) at each --report count.
//!
//! It drives the real stores through the library (no gRPC in the way) and prints
//! a Markdown table for BENCHMARKS.md and docs/redis.md.

use creditgate::domain::buyer::{BuyerProfile, BuyerRecord, Grade, Rating, RiskTier};
use creditgate::domain::date::Date;
use creditgate::domain::exposure::Invoice;
use creditgate::domain::ids::{BuyerId, InvoiceId, OrderId, PaymentId};
use creditgate::domain::money::{Currency, Money};
use creditgate::domain::policy::{Policy, reserve_conditions};
use creditgate::domain::retention::Retention;
use creditgate::store::memory::MemoryStore;
use creditgate::store::redis::keys::KeySchema;
use creditgate::store::redis::{RedisOptions, RedisSettings, RedisStore, RedisTarget};
use creditgate::store::{PaymentRequest, ReserveOutcome, ReserveRequest, Store};
use rust_decimal::Decimal;
use std::time::Duration;

fn record(id: &str) -> BuyerRecord {
    let eur = Currency::from_code("EUR").expect("EUR");
    let today = Date::parse("2026-11-28").expect("date");
    BuyerRecord {
        profile: BuyerProfile {
            id: BuyerId::parse(id).expect("id"),
            name: format!("{id} Trading GmbH"),
            country_code: "DE".into(),
            currency: eur,
            tier: RiskTier::Standard,
            manual_limit: Some(Money::from_minor(eur, 100_000_000)),
            payment_terms_days: 30,
            early_payment_discount: None,
            financials: None,
            external_rating: None,
            insurance: None,
        },
        rating: Rating {
            score: 500,
            grade: Grade::new(5).expect("grade"),
            probability_of_default: Decimal::new(40, 4),
            recommended_limit: Money::from_minor(eur, 0),
            scored_limit: Money::from_minor(eur, 0),
            insured_limit: Money::from_minor(eur, 0),
            discretionary_limit: Money::from_minor(eur, 0),
            rated_on: today,
            valid_until: today.add_days(180),
            reasons: vec![],
        },
        adjustment: Default::default(),
    }
}

fn invoice(n: usize) -> Invoice {
    let issue = Date::parse("2026-11-01").expect("date");
    Invoice {
        id: InvoiceId::parse(&format!("INV-2026-{n:06}")).expect("id"),
        order_id: None,
        amount: 125_000,
        open: 125_000,
        issue_date: issue,
        due_date: issue.add_days(30),
        disputed: false,
    }
}

async fn approve<S: Store>(store: &S, id: &str, order: usize) {
    let stored = store
        .load_buyer(&BuyerId::parse(id).expect("id"))
        .await
        .expect("load")
        .expect("buyer");
    let amount = Money::from_minor(stored.record.profile.currency, 10_000);
    let today = Date::parse("2026-11-28").expect("date");
    let request = ReserveRequest {
        buyer_id: stored.record.profile.id.clone(),
        order_id: OrderId::parse(&format!("SO-{order:06}")).expect("id"),
        amount,
        conditions: reserve_conditions(&Policy::default(), &stored.record, amount, today),
        buyer_version: stored.version,
        inputs: std::sync::Arc::new(creditgate::domain::decision_record::DecisionInputs::new(
            &Policy::default(),
            "01a22446-4351-730d-86c6-3dac6d0d20cd".into(),
            stored.record.clone(),
            OrderId::parse(&format!("SO-{order:06}")).expect("id"),
            amount,
            today,
            None,
        )),
        now_secs: 1_795_824_000,
        now_ms: 1_795_824_000_000,
        reservation_ttl_secs: 30 * 86_400,
    };
    store
        .check_and_reserve(request, Retention::DEFAULT.on(today))
        .await
        .expect("reserve");
}

/// `MEMORY USAGE … SAMPLES 0` of each of the buyer's keys (the slot marker
/// left out: it is shared), as (key suffix, bytes).
async fn redis_key_bytes(url: &str, keys: &KeySchema, id: &str) -> Vec<(String, u64)> {
    let client = redis::Client::open(url).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let mut sizes = Vec::new();
    for key in keys
        .buyer(&BuyerId::parse(id).expect("id"))
        .keys
        .iter()
        .skip(1)
    {
        let bytes: Option<u64> = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(key)
            .arg("SAMPLES")
            .arg(0)
            .query_async(&mut conn)
            .await
            .expect("MEMORY USAGE");
        let suffix = key.rsplit(':').next().unwrap_or(key).to_owned();
        sizes.push((suffix, bytes.unwrap_or(0)));
    }
    sizes
}

async fn redis_bytes(url: &str, keys: &KeySchema, id: &str) -> u64 {
    redis_key_bytes(url, keys, id)
        .await
        .iter()
        .map(|(_, bytes)| bytes)
        .sum()
}

async fn redis_report(url: &str) {
    let namespace = format!("mem{}", std::process::id());
    let store = RedisStore::open(&RedisOptions {
        target: RedisTarget::Url(url.to_owned()),
        settings: RedisSettings {
            response_timeout: Duration::from_secs(5),
            ..RedisSettings::default()
        },
        namespace: namespace.clone(),
        profile_cache_ttl: Duration::ZERO,
        allow_uninitialised_writes: false,
    })
    .expect("open");
    store.init().await.expect("init");
    let keys = KeySchema::new(&namespace);
    let now = 1_795_824_000;
    let cases: [(&str, usize, usize); 4] = [
        ("bare profile", 0, 0),
        ("profile + 1 open order", 1, 0),
        ("profile + 10 open invoices", 0, 10),
        ("profile + 100 open invoices", 0, 100),
    ];
    println!("| buyer | Redis bytes (MEMORY USAGE, summed over its keys) |");
    println!("|---|---|");
    for (i, (what, orders, invoices)) in cases.iter().enumerate() {
        let id = format!("MEM-{i}");
        store.upsert_buyer(record(&id), None).await.expect("upsert");
        for n in 0..*orders {
            approve(&store, &id, n).await;
        }
        for n in 0..*invoices {
            store
                .record_invoice(
                    &BuyerId::parse(&id).expect("id"),
                    invoice(n),
                    now,
                    Retention::DEFAULT.on(Date::parse("2026-11-28").expect("date")),
                )
                .await
                .expect("invoice");
        }
        println!("| {what} | {} |", redis_bytes(url, &keys, &id).await);
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

async fn embedded_report(buyers: usize) {
    let store = MemoryStore::new();
    let before = rss_kib();
    for n in 0..buyers {
        let id = format!("B-{n:07}");
        store.upsert_buyer(record(&id), None).await.expect("upsert");
        approve(&store, &id, 0).await;
    }
    let after = rss_kib();
    println!("| buyers (each with 1 open order) | RSS before | RSS after | per buyer |");
    println!("|---|---|---|---|");
    println!(
        "| {buyers} | {} MiB | {} MiB | {} bytes |",
        before / 1024,
        after / 1024,
        (after.saturating_sub(before) * 1024) / buyers.max(1) as u64
    );
}

/// The flow of one steady buyer: how many cycles, how many a day, how long
/// settled items are kept, and after how many cycles to report.
struct Flow {
    cycles: usize,
    per_day: usize,
    retention: Retention,
    report: Vec<usize>,
}

/// One complete order: checked and reserved, invoiced in full against the
/// order, paid in full with a payment id, all on `today`.
async fn order_cycle<S: Store>(store: &S, buyer: &BuyerId, n: usize, today: Date, flow: &Flow) {
    let day = flow.retention.on(today);
    let stored = store.load_buyer(buyer).await.expect("load").expect("buyer");
    let currency = stored.record.profile.currency;
    let amount = Money::from_minor(currency, 10_000);
    let order_id = OrderId::parse(&format!("SO-{n:07}")).expect("id");
    // The embedded store's reservation clock follows the ledger's day here;
    // Redis keeps its own (TIME), and the order is invoiced long before it lapses.
    let now_secs = i64::from(today.days()) * 86_400;
    let request = ReserveRequest {
        buyer_id: buyer.clone(),
        order_id: order_id.clone(),
        amount,
        conditions: reserve_conditions(&Policy::default(), &stored.record, amount, today),
        buyer_version: stored.version,
        inputs: std::sync::Arc::new(creditgate::domain::decision_record::DecisionInputs::new(
            &Policy::default(),
            "01a22446-4351-730d-86c6-3dac6d0d20cd".into(),
            stored.record.clone(),
            order_id.clone(),
            amount,
            today,
            None,
        )),
        now_secs,
        now_ms: now_secs * 1000,
        reservation_ttl_secs: 30 * 86_400,
    };
    let reserved = store.check_and_reserve(request, day).await.expect("check");
    assert!(
        matches!(reserved, ReserveOutcome::Reserved(_)),
        "cycle {n}: {reserved:?}"
    );
    let invoice_id = InvoiceId::parse(&format!("INV-{n:07}")).expect("id");
    let invoice = Invoice {
        id: invoice_id.clone(),
        order_id: Some(order_id),
        amount: 10_000,
        open: 10_000,
        issue_date: today,
        due_date: today.add_days(30),
        disputed: false,
    };
    store
        .record_invoice(buyer, invoice, now_secs, day)
        .await
        .expect("invoice");
    let payment = PaymentRequest {
        invoice_id,
        amount: 10_000,
        paid_date: today,
        payment_id: PaymentId::parse(&format!("PAY-{n:07}")).expect("id"),
        discount_days: None,
        adjustment_rule: Policy::default().adjustment,
    };
    store
        .record_payment(buyer, payment, now_secs, day)
        .await
        .expect("payment");
}

/// Runs the flow on one buyer and calls `report` after each reported count.
async fn run_flow<S: Store>(
    store: &S,
    id: &str,
    flow: &Flow,
    mut report: impl AsyncFnMut(usize, i32),
) {
    let start = Date::parse("2026-01-01").expect("date");
    store.upsert_buyer(record(id), None).await.expect("upsert");
    let buyer = BuyerId::parse(id).expect("id");
    for n in 0..flow.cycles {
        let days = (n / flow.per_day.max(1)) as i32;
        order_cycle(store, &buyer, n, start.add_days(days), flow).await;
        if flow.report.contains(&(n + 1)) {
            report(n + 1, days + 1).await;
        }
    }
}

async fn cycles_redis(url: &str, flow: &Flow) {
    let namespace = format!("cyc{}", std::process::id());
    let store = RedisStore::open(&RedisOptions {
        target: RedisTarget::Url(url.to_owned()),
        settings: RedisSettings {
            response_timeout: Duration::from_secs(5),
            ..RedisSettings::default()
        },
        namespace: namespace.clone(),
        // A steady buyer's profile does not change: read it once a minute.
        profile_cache_ttl: Duration::from_secs(60),
        allow_uninitialised_writes: false,
    })
    .expect("open");
    store.init().await.expect("init");
    let keys = KeySchema::new(&namespace);
    let mut header = false;
    run_flow(&store, "STEADY", flow, async |cycles, days| {
        let sizes = redis_key_bytes(url, &keys, "STEADY").await;
        if !header {
            let names: Vec<&str> = sizes.iter().map(|(k, _)| k.as_str()).collect();
            println!("| cycles | days | bytes | {} |", names.join(" | "));
            println!("|---|---|---|{}", "---|".repeat(names.len()));
            header = true;
        }
        let total: u64 = sizes.iter().map(|(_, b)| b).sum();
        let each: Vec<String> = sizes.iter().map(|(_, b)| b.to_string()).collect();
        println!("| {cycles} | {days} | {total} | {} |", each.join(" | "));
    })
    .await;
}

async fn cycles_embedded(flow: &Flow) {
    let store = MemoryStore::new();
    let before = rss_kib();
    println!("| cycles | days | RSS | growth since start |");
    println!("|---|---|---|---|");
    run_flow(&store, "STEADY", flow, async |cycles, days| {
        let rss = rss_kib();
        println!(
            "| {cycles} | {days} | {} KiB | {} KiB |",
            rss,
            rss.saturating_sub(before)
        );
    })
    .await;
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    match args.get(1).map(String::as_str) {
        Some("redis") => {
            let url = flag("--redis-url").unwrap_or_else(|| "redis://127.0.0.1:6379".into());
            redis_report(&url).await;
        }
        Some("embedded") => {
            let buyers = flag("--buyers")
                .and_then(|b| b.parse().ok())
                .unwrap_or(1_000_000);
            embedded_report(buyers).await;
        }
        Some("cycles") => {
            let number = |name: &str, default: usize| {
                flag(name).map_or(default, |v| v.parse().expect("a number"))
            };
            let flow = Flow {
                cycles: number("--cycles", 100_000),
                per_day: number("--per-day", 10),
                retention: Retention {
                    days: number("--retention-days", 400) as u32,
                },
                report: flag("--report").map_or(vec![10_000, 100_000], |list| {
                    list.split(',')
                        .map(|n| n.parse().expect("a number"))
                        .collect()
                }),
            };
            println!(
                "{} cycles, {} a day, retention {} days",
                flow.cycles, flow.per_day, flow.retention.days
            );
            match flag("--redis-url") {
                Some(url) => cycles_redis(&url, &flow).await,
                None => cycles_embedded(&flow).await,
            }
        }
        _ => {
            eprintln!(
                "usage: creditgate-memory redis --redis-url URL | embedded --buyers N \
                 | cycles [--redis-url URL] [--cycles N] [--per-day K] [--retention-days D] [--report N,M]"
            );
            std::process::exit(2);
        }
    }
}

//! Micro-benchmarks of the pure decision path and of money parsing, so that a
//! regression in domain code shows without a server:
//!
//!   cargo bench --bench decision
//!
//! (`cargo test --all-targets` runs each once, as a smoke test.)

use creditgate::domain::buyer::{BuyerProfile, BuyerRecord, Grade, Rating, RiskTier};
use creditgate::domain::date::Date;
use creditgate::domain::exposure::{DueItem, ExposureTotals, Invoice, LedgerSnapshot};
use creditgate::domain::ids::{BuyerId, InvoiceId, OrderId};
use creditgate::domain::money::{Currency, Money};
use creditgate::domain::policy::{Policy, evaluate, reserve_conditions};
use creditgate::domain::retention::Retention;
use creditgate::store::memory::MemoryStore;
use creditgate::store::{ReserveRequest, Store};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rust_decimal::Decimal;
use std::hint::black_box;

fn eur() -> Currency {
    Currency::from_code("EUR").expect("EUR")
}

fn today() -> Date {
    Date::parse("2026-11-28").expect("date")
}

fn record() -> BuyerRecord {
    let zero = Money::zero(eur());
    BuyerRecord {
        profile: BuyerProfile {
            id: BuyerId::parse("B-1").expect("id"),
            name: "Acme Trading GmbH".into(),
            country_code: "DE".into(),
            currency: eur(),
            tier: RiskTier::Standard,
            manual_limit: Some(Money::from_minor(eur(), 1_000_000_000)),
            payment_terms_days: 30,
            early_payment_discount: None,
            financials: None,
            external_rating: None,
            insurance: None,
        },
        rating: Rating {
            score: 675,
            grade: Grade::new(4).expect("grade"),
            probability_of_default: Decimal::new(15, 4),
            recommended_limit: zero,
            scored_limit: zero,
            insured_limit: zero,
            discretionary_limit: zero,
            rated_on: today(),
            valid_until: today().add_days(180),
            reasons: vec![],
        },
        adjustment: Default::default(),
    }
}

fn snapshot() -> LedgerSnapshot {
    LedgerSnapshot {
        totals: ExposureTotals {
            open_orders: 2_500_000,
            open_invoices: 12_000_000,
            disputed: 0,
        },
        oldest_due: vec![DueItem {
            invoice_id: InvoiceId::parse("INV-7").expect("id"),
            due_date: today().add_days(-5),
        }],
        next_due: Some(DueItem {
            invoice_id: InvoiceId::parse("INV-9").expect("id"),
            due_date: today().add_days(3),
        }),
    }
}

fn policy(c: &mut Criterion) {
    let policy = Policy::default();
    let record = record();
    let snapshot = snapshot();
    let amount = Money::from_minor(eur(), 250_000);
    c.bench_function("policy/evaluate (approval, 2 reasons)", |b| {
        b.iter(|| {
            evaluate(
                &policy,
                black_box(&record),
                black_box(&snapshot),
                amount,
                today(),
            )
        })
    });
    c.bench_function("policy/reserve_conditions", |b| {
        b.iter(|| reserve_conditions(&policy, black_box(&record), amount, today()))
    });
    // A refusal: what the counter-offer adds to it (docs/policy.md, "Counter-offers").
    let over = Money::from_minor(eur(), 1_000_000_000);
    c.bench_function("policy/evaluate (refusal over the limit)", |b| {
        b.iter(|| {
            evaluate(
                &policy,
                black_box(&record),
                black_box(&snapshot),
                over,
                today(),
            )
        })
    });
    c.bench_function("policy/counter_offer (refusal over the limit)", |b| {
        b.iter(|| {
            creditgate::domain::policy::admission(&policy, black_box(&record), over, today())
                .counter_offer(black_box(&snapshot))
        })
    });
}

fn money(c: &mut Criterion) {
    let eur = eur();
    c.bench_function("money/parse \"1250.00\"", |b| {
        b.iter(|| Money::parse_positive(eur, black_box("1250.00")))
    });
    c.bench_function("money/render 1250.00", |b| {
        let m = Money::from_minor(eur, 125_000);
        b.iter(|| black_box(m).amount_string())
    });
}

/// Check-and-reserve on the embedded store with 1 and 10,000 open invoices: the
/// cost must not grow with the ledger.
fn store(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("memory store/check_and_reserve");
    for open_invoices in [1usize, 10_000] {
        let store = MemoryStore::new();
        let buyer = BuyerId::parse("B-1").expect("id");
        runtime.block_on(async {
            store.upsert_buyer(record(), None).await.expect("upsert");
            for n in 0..open_invoices {
                let invoice = Invoice {
                    id: InvoiceId::parse(&format!("INV-{n}")).expect("id"),
                    order_id: None,
                    amount: 100,
                    open: 100,
                    issue_date: today(),
                    due_date: today().add_days(30),
                    disputed: false,
                };
                store
                    .record_invoice(&buyer, invoice, 0, Retention::DEFAULT.on(today()))
                    .await
                    .expect("invoice");
            }
        });
        let policy = Policy::default();
        let mut order = 0u64;
        group.bench_with_input(
            BenchmarkId::from_parameter(open_invoices),
            &open_invoices,
            |b, _| {
                b.iter(|| {
                    order += 1;
                    runtime.block_on(async {
                        let stored = store
                            .load_buyer(&buyer)
                            .await
                            .expect("load")
                            .expect("buyer");
                        let amount = Money::from_minor(eur(), 1);
                        let request = ReserveRequest {
                            buyer_id: buyer.clone(),
                            order_id: OrderId::parse(&format!("O-{order}")).expect("id"),
                            amount,
                            conditions: reserve_conditions(
                                &policy,
                                &stored.record,
                                amount,
                                today(),
                            ),
                            buyer_version: stored.version,
                            inputs: std::sync::Arc::new(
                                creditgate::domain::decision_record::DecisionInputs::new(
                                    &policy,
                                    "bench".into(),
                                    stored.record.clone(),
                                    OrderId::parse(&format!("O-{order}")).expect("id"),
                                    amount,
                                    today(),
                                    None,
                                ),
                            ),
                            now_secs: 1,
                            now_ms: 1_000,
                            reservation_ttl_secs: 1_000_000,
                        };
                        store
                            .check_and_reserve(request, Retention::DEFAULT.on(today()))
                            .await
                            .expect("reserve")
                    })
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, policy, money, store);
criterion_main!(benches);

//! Fixed sequences through the model runner: the four that broke the ledger's
//! promise before the admission rule was one (issue "ledger invariants"), and
//! any sequence the random test finds failing, kept verbatim once shrunk, so
//! that each stays right on every store.

use super::reference::Tier;
use super::{Amount, Field, Op, ProfileSpec, Runner};

/// Buyer 0 created with `standard_10k`.
fn upsert_standard_10k() -> Op {
    Op::Upsert {
        buyer: 0,
        spec: standard_10k(),
        mask: None,
    }
}

fn standard_10k() -> ProfileSpec {
    // LIMITS[2]: a 10,000.00 EUR manual limit.
    ProfileSpec {
        tier: Tier::Standard,
        limit: 2,
        insured: None,
        insolvent: false,
        name: 0,
    }
}

fn per_mille(per_mille: i64) -> Amount {
    Amount {
        per_mille,
        cents: 0,
    }
}

async fn run(ops: Vec<Op>) {
    let mut runner = Runner::start().await;
    if let Err(error) = runner.run(&ops).await {
        panic!("{error}");
    }
}

/// A referral on an expired rating reserved 5,000.00, and its retry came back
/// APPROVED / ALREADY_APPROVED.
#[tokio::test]
async fn expired_rating_referral_reserves_nothing_and_stays_referred() {
    run(vec![
        upsert_standard_10k(),
        Op::Advance { days: 181 },
        Op::Check {
            buyer: 0,
            order: 1,
            amount: per_mille(500),
        },
        Op::Retry,
        Op::Check {
            buyer: 0,
            order: 2,
            amount: per_mille(100),
        },
    ])
    .await;
}

/// RecordInvoice(ORD-1, 3,000.00) before CheckCreditLimit(ORD-1, 3,000.00)
/// counted the order twice.
#[tokio::test]
async fn an_order_invoiced_before_its_check_counts_once() {
    run(vec![
        upsert_standard_10k(),
        Op::Invoice {
            buyer: 0,
            invoice: 1,
            order: Some(1),
            amount: per_mille(1_200),
            issued_days_ago: 0,
        },
        Op::Check {
            buyer: 0,
            order: 1,
            amount: per_mille(300),
        },
        Op::Retry,
        Op::Cancel { buyer: 0, order: 1 },
    ])
    .await;
}

/// A payment retried after a timeout lowered the open balance twice.
#[tokio::test]
async fn a_retried_payment_counts_once() {
    run(vec![
        upsert_standard_10k(),
        Op::Invoice {
            buyer: 0,
            invoice: 1,
            order: None,
            amount: per_mille(1_000),
            issued_days_ago: 10,
        },
        Op::Pay {
            buyer: 0,
            payment: 1,
            invoice: 1,
            share: per_mille(400),
            paid_days_ago: 0,
        },
        Op::Retry,
        Op::Retry,
    ])
    .await;
}

/// The nightly ERP sync re-rated every buyer (RATING_EXPIRED never fired), and a
/// sync without credit_limit erased the analyst's limit.
#[tokio::test]
async fn a_sync_that_changes_nothing_keeps_the_rating_and_a_masked_one_the_limit() {
    let mut renamed = standard_10k();
    renamed.name = 1;
    renamed.limit = 0;
    run(vec![
        upsert_standard_10k(),
        Op::Advance { days: 181 },
        upsert_standard_10k(),
        Op::Check {
            buyer: 0,
            order: 1,
            amount: per_mille(500),
        },
        Op::Upsert {
            buyer: 0,
            spec: renamed,
            mask: Some(vec![Field::Name]),
        },
        Op::Check {
            buyer: 0,
            order: 2,
            amount: per_mille(500),
        },
    ])
    .await;
}

//! Hundreds of concurrent checks for one buyer never approve past its limit.

use crate::helpers::*;
use rust_decimal::Decimal;
use std::collections::{HashMap, HashSet};
use std::str::FromStr;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_checks_never_overspend_and_reserve_once_per_order() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "10000.00")).await;
    // 400 checks of 100.00 over 200 distinct order ids, each sent twice: at most
    // 100 can fit under the limit.
    let mut tasks = Vec::new();
    for i in 0..400 {
        let decisions = app.decisions.clone();
        let order = format!("O-{}", i % 200);
        tasks.push(tokio::spawn(async move {
            let response = decisions
                .clone()
                .check_credit_limit(creditgate::grpc::pb::CheckCreditLimitRequest {
                    buyer_id: "B-1".into(),
                    order_id: order.clone(),
                    amount: eur("100.00"),
                    payment_terms_days: 0,
                })
                .await
                .expect("check")
                .into_inner();
            (order, response)
        }));
    }
    let mut approvals: HashMap<String, HashSet<String>> = HashMap::new();
    for task in tasks {
        let (order, response) = task.await.unwrap();
        if decision(&response) == Decision::Approved {
            approvals
                .entry(order)
                .or_default()
                .insert(response.decision_id);
        }
    }
    // Exactly one approval (one decision id) per approved order id.
    assert!(approvals.values().all(|ids| ids.len() == 1));
    assert_eq!(approvals.len(), 100, "the limit fits exactly 100 orders");
    let exposure = app.exposure("B-1").await;
    assert_eq!(amount(&exposure.open_orders), "10000.00");
    assert_eq!(amount(&exposure.available), "0.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_limit_changes_never_let_an_order_past_the_new_limit() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "100000.00")).await;
    let cutter = {
        let ledger = app.ledger.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            ledger
                .clone()
                .upsert_buyer(creditgate::grpc::pb::UpsertBuyerRequest {
                    buyer: Some(buyer("B-1", "1000.00")),
                    update_mask: None,
                })
                .await
                .expect("cut limit");
        })
    };
    let mut tasks = Vec::new();
    for i in 0..300 {
        let decisions = app.decisions.clone();
        tasks.push(tokio::spawn(async move {
            decisions
                .clone()
                .check_credit_limit(creditgate::grpc::pb::CheckCreditLimitRequest {
                    buyer_id: "B-1".into(),
                    order_id: format!("O-{i}"),
                    amount: eur("100.00"),
                    payment_terms_days: 0,
                })
                .await
                .expect("check")
                .into_inner()
        }));
    }
    cutter.await.unwrap();
    let mut approvals = 0;
    for task in tasks {
        let response = task.await.unwrap();
        if decision(&response) == Decision::Approved {
            approvals += 1;
            let limit = Decimal::from_str(amount(&response.credit_limit)).unwrap();
            let exposure = Decimal::from_str(amount(&response.exposure)).unwrap();
            assert!(
                exposure <= limit,
                "approved to {exposure} under a limit of {limit}"
            );
        }
    }
    assert!(approvals >= 10, "the 1000.00 limit alone admits 10 orders");
    assert_eq!(amount(&app.exposure("B-1").await.credit_limit), "1000.00");
}

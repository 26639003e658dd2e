//! The logs of the real binary with `--log-format json`: every line is JSON,
//! every decision has one info event with the fields a search needs, ledger
//! writes name their caller, and no line ever holds a secret.

use crate::auth_roles::{tokens_file, with_token};
use crate::helpers::process::Replica;
use crate::helpers::redis::RedisServer;
use crate::helpers::*;
use creditgate::grpc::pb;
use creditgate::grpc::pb::credit_decision_service_client::CreditDecisionServiceClient;
use creditgate::grpc::pb::ledger_service_client::LedgerServiceClient;
use serde_json::Value;
use std::time::Duration;

const PASSWORD: &str = "redis-pw-7f3a9c";
const LEDGER_TOKEN: &str = "tok-ledger-0123456789";
const DECIDE_TOKEN: &str = "tok-decide-0123456789";

/// Creates buyer B-1 (limit 1,000.00) through the ledger, as `token`'s caller.
async fn upsert_b1(channel: &tonic::transport::Channel, token: Option<&str>) {
    LedgerServiceClient::new(channel.clone())
        .upsert_buyer(with_token(
            pb::UpsertBuyerRequest {
                buyer: Some(buyer("B-1", "1000.00")),
                update_mask: None,
            },
            token,
        ))
        .await
        .unwrap();
}

fn parsed(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_line_is_json_each_decision_is_one_event_and_no_secret_is_logged() {
    let redis = RedisServer::start_with(&["--requirepass", PASSWORD]);
    let url = format!("redis://:{PASSWORD}@127.0.0.1:{}", redis.port);
    let dir = tempfile::tempdir().unwrap();
    let tokens = tokens_file(
        dir.path(),
        &[
            ("erp", LEDGER_TOKEN, &["ledger"]),
            ("checkout", DECIDE_TOKEN, &["decide"]),
        ],
    );
    let tokens = tokens.display().to_string();
    let store = ["--redis-url", url.as_str(), "--redis-namespace", "logs"];
    crate::helpers::process::store_init(&store);
    let args = [&store[..], &["--auth-tokens-file", tokens.as_str()]].concat();
    let replica = Replica::start_async(&args).await;
    let channel = connect(replica.addr).await;
    upsert_b1(&channel, Some(LEDGER_TOKEN)).await;
    let mut decisions = CreditDecisionServiceClient::new(channel);
    let mut answers = Vec::new();
    for (order, amount) in [("O-1", "600.00"), ("O-2", "600.00")] {
        let request = pb::CheckCreditLimitRequest {
            buyer_id: "B-1".into(),
            order_id: order.into(),
            amount: eur(amount),
            payment_terms_days: 0,
        };
        let answer = decisions
            .check_credit_limit(with_token(request, Some(DECIDE_TOKEN)))
            .await
            .unwrap();
        answers.push(answer.into_inner());
    }
    let lines = [
        replica.startup_logs.clone(),
        replica.lines_until_quiet(Duration::from_millis(500)),
    ]
    .concat();
    for line in &lines {
        for secret in [PASSWORD, LEDGER_TOKEN, DECIDE_TOKEN] {
            assert!(!line.contains(secret), "a secret in the log: {line}");
        }
    }
    let events = parsed(&lines);
    assert!(
        events.iter().any(|e| e["message"] == "redis store"),
        "the store's address is logged (without its password)"
    );
    let decision_events: Vec<&Value> = events
        .iter()
        .filter(|e| e["target"] == "creditgate::decision")
        .collect();
    assert_eq!(decision_events.len(), answers.len(), "{lines:#?}");
    for (answer, event) in answers.iter().zip(&decision_events) {
        assert_eq!(event["level"], "INFO");
        assert_eq!(event["message"], "decision");
        assert_eq!(event["decision_id"], answer.decision_id.as_str());
        assert_eq!(event["buyer_id"], "B-1");
        assert_eq!(event["amount"], "600.00");
        assert_eq!(event["currency"], "EUR");
        let decision = match answer.decision() {
            pb::Decision::Approved => "approved",
            pb::Decision::Held => "held",
            _ => "referred",
        };
        assert_eq!(event["decision"], decision);
        let codes: Vec<&str> = answer.reasons.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(event["reasons"], codes.join(","));
        assert_eq!(event["credit_limit"], amount(&answer.credit_limit));
        assert_eq!(event["limit_source"], "manual");
        assert_eq!(event["exposure"], amount(&answer.exposure));
        assert_eq!(event["policy_version"], answer.policy_version.as_str());
        match &answer.counter_offer {
            Some(offer) => {
                assert_eq!(event["offer_approvable"], amount(&offer.approvable_amount));
                match offer.payment_terms_days {
                    0 => assert!(event.get("offer_terms_days").is_none(), "{event}"),
                    days => assert_eq!(event["offer_terms_days"], days, "{event}"),
                }
            }
            None => assert!(event.get("offer_approvable").is_none(), "{event}"),
        }
        assert_eq!(event["caller"], "checkout");
        assert!(event["latency_us"].as_u64().is_some(), "{event}");
        let span = &event["span"];
        assert_eq!(span["rpc"], "CheckCreditLimit", "{event}");
        assert_eq!(span["buyer_id"], "B-1", "{event}");
    }
    assert_eq!(event_order(&decision_events), ["O-1", "O-2"]);
    assert!(
        answers[1].counter_offer.is_some(),
        "the second order is refused with a counter-offer: {:?}",
        answers[1]
    );
    let write = events
        .iter()
        .find(|e| e["message"] == "ledger write")
        .expect("the upsert's ledger write event");
    assert_eq!(write["target"], "creditgate::ledger");
    assert_eq!(write["rpc"], "UpsertBuyer");
    assert_eq!(write["caller"], "erp");
    assert_eq!(write["code"], "OK");
}

fn event_order<'a>(events: &[&'a Value]) -> Vec<&'a str> {
    events
        .iter()
        .map(|e| e["order_id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_decision_event_can_be_silenced_by_its_target() {
    let replica = Replica::start(&["--log", "info,creditgate::decision=off"]);
    let channel = connect(replica.addr).await;
    upsert_b1(&channel, None).await;
    CreditDecisionServiceClient::new(channel)
        .check_credit_limit(pb::CheckCreditLimitRequest {
            buyer_id: "B-1".into(),
            order_id: "O-1".into(),
            amount: eur("10.00"),
            payment_terms_days: 0,
        })
        .await
        .unwrap();
    let events = parsed(&replica.lines_until_quiet(Duration::from_millis(500)));
    assert!(events.iter().any(|e| e["message"] == "ledger write"));
    assert!(!events.iter().any(|e| e["target"] == "creditgate::decision"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_its_caller_abandons_is_logged_with_its_outcome_unknown() {
    let redis = RedisServer::start();
    let url = redis.url();
    let store = ["--redis-url", url.as_str(), "--redis-namespace", "abandon"];
    crate::helpers::process::store_init(&store);
    let args = [&store[..], &["--redis-timeout", "2s"]].concat();
    let replica = Replica::start_async(&args).await;
    let channel = connect(replica.addr).await;
    upsert_b1(&channel, None).await;
    let frozen = redis.freeze();
    // The caller gives up (its stream is reset) while the store hangs.
    let mut client = CreditDecisionServiceClient::new(channel);
    let check = client.check_credit_limit(pb::CheckCreditLimitRequest {
        buyer_id: "B-1".into(),
        order_id: "O-LOST".into(),
        amount: eur("10.00"),
        payment_terms_days: 0,
    });
    assert!(
        tokio::time::timeout(Duration::from_millis(300), check)
            .await
            .is_err()
    );
    let line = tokio::task::spawn_blocking(move || {
        replica.log_line("check abandoned", Duration::from_secs(10))
    })
    .await
    .unwrap();
    frozen.resume();
    let event: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["target"], "creditgate::decision");
    assert_eq!(event["level"], "WARN");
    assert_eq!(event["order_id"], "O-LOST");
    assert_eq!(event["caller"], "-");
}

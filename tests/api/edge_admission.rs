//! Admission at the network edge: oversized requests, calls without a deadline,
//! and a burst above the concurrency limit, shed at once instead of queued.

use crate::helpers::edge::*;
use crate::helpers::process::Replica;
use crate::helpers::redis::RedisServer;
use crate::helpers::*;
use creditgate::grpc::admission::AdmissionLimits;
use creditgate::grpc::pb::credit_decision_service_client::CreditDecisionServiceClient;
use creditgate::grpc::server::ServerOptions;
use std::time::Duration;
use tonic::Code;

const CHECK: &str = "/creditgate.v1.CreditDecisionService/CheckCreditLimit";

#[tokio::test]
async fn a_request_over_the_size_limit_is_resource_exhausted_naming_the_limit() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "1000.00")).await;
    // 100 KiB is over the default 64 KiB; 5 MiB is over tonic's own 4 MiB limit,
    // which answered OUT_OF_RANGE before.
    for size in [100 * 1024, 5 * 1024 * 1024] {
        let error = app
            .try_check("B-1", &"X".repeat(size), eur("1.00"))
            .await
            .unwrap_err();
        assert_eq!(error.code(), Code::ResourceExhausted, "{size}: {error:?}");
        assert!(
            error.message().contains("--max-request-bytes") && error.message().contains("65536"),
            "{}",
            error.message()
        );
    }
    // Under the limit the same call is judged by the API's rules instead.
    let error = app
        .try_check("B-1", &"X".repeat(1024), eur("1.00"))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument, "{error:?}");
    assert_eq!(
        decision(&app.check("B-1", "ORD-1", "1.00").await),
        Decision::Approved
    );
}

#[tokio::test]
async fn a_call_without_a_deadline_gets_the_servers_default() {
    let app = TestApp::spawn_edge(ServerOptions {
        admission: AdmissionLimits {
            default_deadline: Duration::from_millis(300),
            ..AdmissionLimits::default()
        },
        ..ServerOptions::default()
    })
    .await;
    // A client that announces a message and never sends it, with no grpc-timeout:
    // without a server default it would hold its call (and its permit) forever.
    let (mut send, _connection) = h2_connect(app.addr).await;
    let (response, mut body) = send
        .send_request(grpc_head(app.addr, CHECK, None), false)
        .unwrap();
    body.send_data(message_header(40), false).unwrap();
    let status = grpc_status(response, Duration::from_secs(10)).await;
    let (code, _) = status.expect("the server answered a call that never finished");
    assert_eq!(code, Code::DeadlineExceeded as i32);
    // A caller's longer deadline does not let its message take longer to arrive.
    let (response, mut body) = send
        .send_request(grpc_head(app.addr, CHECK, Some("20S")), false)
        .unwrap();
    body.send_data(message_header(40), false).unwrap();
    let (code, _) = grpc_status(response, Duration::from_secs(10))
        .await
        .expect("cut off at the default deadline, not the caller's 20 s");
    assert_eq!(code, Code::DeadlineExceeded as i32);
}

#[tokio::test]
async fn redis_a_burst_above_the_concurrency_limit_is_shed_at_once_and_the_server_recovers() {
    let redis = RedisServer::start();
    let namespace = unique_namespace();
    let url = redis.url();
    let store = ["--redis-url", &url, "--redis-namespace", &namespace];
    crate::helpers::process::store_init(&store);
    // A Redis that answers late keeps every admitted call in flight.
    let replica = Replica::start(
        &[
            &store[..],
            &["--max-concurrent-requests", "8", "--redis-timeout", "30s"],
        ]
        .concat(),
    );
    let channel = connect(replica.addr).await;
    let mut ledger =
        creditgate::grpc::pb::ledger_service_client::LedgerServiceClient::new(channel.clone());
    ledger
        .upsert_buyer(creditgate::grpc::pb::UpsertBuyerRequest {
            buyer: Some(buyer("B-1", "100000.00")),
            update_mask: None,
        })
        .await
        .unwrap();
    let rss_before = replica.rss_kib();
    let frozen = redis.freeze();
    const BURST: usize = 400;
    let (answers, mut answered) = tokio::sync::mpsc::unbounded_channel();
    let mut calls = Vec::new();
    for k in 0..BURST {
        let mut client = CreditDecisionServiceClient::new(channel.clone());
        let answers = answers.clone();
        calls.push(tokio::spawn(async move {
            let mut request = tonic::Request::new(creditgate::grpc::pb::CheckCreditLimitRequest {
                buyer_id: "B-1".into(),
                order_id: format!("ORD-{k}"),
                amount: eur("1.00"),
                payment_terms_days: 0,
            });
            request.set_timeout(Duration::from_secs(60));
            let result = client.check_credit_limit(request).await;
            let _ = answers.send(result.map(|r| r.into_inner().decision));
        }));
    }
    // Everything beyond the 8 admitted calls is answered while those 8 still
    // wait for the frozen Redis: shed at once, not queued behind them.
    let mut shed = 0;
    while shed < BURST - 8 {
        let answer = tokio::time::timeout(Duration::from_secs(20), answered.recv())
            .await
            .expect("shed answers arrive while Redis is frozen")
            .unwrap();
        let status = answer.expect_err("no call completes while Redis is frozen");
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert!(
            status.message().contains("--max-concurrent-requests"),
            "{}",
            status.message()
        );
        shed += 1;
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(300), answered.recv())
            .await
            .is_err(),
        "the 8 admitted calls are still waiting for Redis"
    );
    // Health is never shed: it answers while the limit is taken.
    let health = tokio::time::timeout(Duration::from_secs(5), decision_health(replica.addr)).await;
    assert!(health.is_ok(), "health answered while shedding");
    let rss_during = replica.rss_kib();
    frozen.resume();
    for _ in 0..8 {
        let answer = tokio::time::timeout(Duration::from_secs(20), answered.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            answer.expect("admitted call completes"),
            Decision::Approved as i32
        );
    }
    for call in calls {
        call.await.unwrap();
    }
    // Healthy afterwards: a new call is admitted and answered.
    let after = CreditDecisionServiceClient::new(channel)
        .check_credit_limit(creditgate::grpc::pb::CheckCreditLimitRequest {
            buyer_id: "B-1".into(),
            order_id: "ORD-after".into(),
            amount: eur("1.00"),
            payment_terms_days: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.decision, Decision::Approved as i32);
    // Shedding holds no per-call state: memory stays where it was (+ 64 MiB slack).
    assert!(
        rss_during < rss_before + 64 * 1024,
        "RSS grew from {rss_before} KiB to {rss_during} KiB while shedding"
    );
}

#[tokio::test]
async fn a_caller_sending_its_request_slowly_holds_a_permit_no_longer_than_the_default_deadline() {
    let replica = Replica::start(&["--max-concurrent-requests", "4", "--default-deadline", "1s"]);
    let channel = connect(replica.addr).await;
    creditgate::grpc::pb::ledger_service_client::LedgerServiceClient::new(channel.clone())
        .upsert_buyer(creditgate::grpc::pb::UpsertBuyerRequest {
            buyer: Some(buyer("B-1", "1000.00")),
            update_mask: None,
        })
        .await
        .unwrap();
    // Four calls with the longest deadline gRPC can state, whose messages never
    // come: they take every permit.
    let (send, _connection) = h2_connect(replica.addr).await;
    let mut send = send.ready().await.unwrap();
    let mut held = Vec::new();
    for _ in 0..4 {
        let (response, mut body) = send
            .send_request(grpc_head(replica.addr, CHECK, Some("99999999H")), false)
            .unwrap();
        body.send_data(message_header(40), false).unwrap();
        held.push((response, body));
    }
    for (response, _body) in held {
        let (code, _) = grpc_status(response, Duration::from_secs(20))
            .await
            .expect("the slow request was cut off by the default deadline");
        assert_eq!(code, Code::DeadlineExceeded as i32);
    }
    // The permits are free again.
    let answer = CreditDecisionServiceClient::new(channel)
        .check_credit_limit(creditgate::grpc::pb::CheckCreditLimitRequest {
            buyer_id: "B-1".into(),
            order_id: "ORD-1".into(),
            amount: eur("1.00"),
            payment_terms_days: 0,
        })
        .await
        .expect("admitted once the slow calls were cut off");
    assert_eq!(answer.into_inner().decision, Decision::Approved as i32);
}

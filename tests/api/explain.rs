//! `creditgate explain`, through the real binary against a real server.

use crate::helpers::{Decision, TestApp, buyer, connect, decision, eur, process};
use creditgate::grpc::pb;
use creditgate::grpc::pb::credit_review_service_client::CreditReviewServiceClient;

/// Runs the binary off the runtime's threads: the server it talks to is served
/// by this test's runtime.
async fn explain(args: Vec<String>) -> (bool, String) {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        process::run(&args)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn explain_prints_a_held_decision_with_its_reason_and_limit() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("ACME", "100000.00")).await;
    // 3 000 over a 100 000 limit: within the standard tier's 5% tolerance, HELD.
    let held = app.check("ACME", "SO-1", "103000.00").await;
    assert_eq!(decision(&held), Decision::Held);

    let (ok, output) = explain(vec![
        "explain".into(),
        held.decision_id.clone(),
        "--server".into(),
        format!("http://{}", app.addr),
    ])
    .await;
    assert!(ok, "{output}");
    assert!(
        output.starts_with("HELD  order SO-1  buyer ACME"),
        "{output}"
    );
    assert!(output.contains("LIMIT_EXCEEDED"), "{output}");
    assert!(output.contains("remedy: "), "{output}");
    assert!(output.contains("100,000.00 EUR"), "{output}");
    assert!(output.contains(&held.decision_id), "{output}");
}

#[tokio::test]
async fn explain_of_a_released_order_names_the_analyst_and_why() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("ACME", "100000.00")).await;
    let held = app.check("ACME", "SO-2", "103000.00").await;
    assert_eq!(decision(&held), Decision::Held);
    let released = CreditReviewServiceClient::new(connect(app.addr).await)
        .release_order(pb::ReleaseOrderRequest {
            buyer_id: "ACME".into(),
            order_id: "SO-2".into(),
            amount: eur("103000.00"),
            released_by: "j.doe".into(),
            reason: "prepayment received".into(),
        })
        .await
        .expect("release order")
        .into_inner();
    let decision_id = released.decision.expect("a decision").decision_id;

    let (ok, output) = explain(vec![
        "explain".into(),
        decision_id,
        "--server".into(),
        format!("http://{}", app.addr),
    ])
    .await;
    assert!(ok, "{output}");
    assert!(output.starts_with("APPROVED  order SO-2"), "{output}");
    assert!(
        output.contains("Released by j.doe because prepayment received"),
        "{output}"
    );
    assert!(output.contains("1. RELEASED_BY_ANALYST"), "{output}");
    assert!(output.contains("LIMIT_EXCEEDED"), "{output}");
    assert!(output.contains("(with this order)"), "{output}");
}

#[tokio::test]
async fn explain_of_an_unknown_decision_says_it_aged_out_or_never_existed() {
    let app = TestApp::spawn().await;
    let (ok, output) = explain(vec![
        "explain".into(),
        "0193a1b2-0000-7000-8000-000000000000".into(),
        "--server".into(),
        format!("http://{}", app.addr),
    ])
    .await;
    assert!(!ok, "{output}");
    assert!(
        output.contains("decision 0193a1b2-0000-7000-8000-000000000000 not found: it aged out"),
        "{output}"
    );
}

#[tokio::test]
async fn explain_without_a_server_names_the_address_it_tried() {
    // Port 9 (discard) on loopback: nothing listens there in a test sandbox.
    let (ok, output) = explain(vec![
        "explain".into(),
        "any".into(),
        "--server".into(),
        "http://127.0.0.1:9".into(),
    ])
    .await;
    assert!(!ok, "{output}");
    assert!(
        output.contains("creditgate: cannot reach the server at http://127.0.0.1:9"),
        "{output}"
    );
    let (ok, output) = explain(vec![
        "explain".into(),
        "any".into(),
        "--server".into(),
        "ftp://127.0.0.1:9".into(),
    ])
    .await;
    assert!(!ok, "{output}");
    assert!(
        output.contains("expected http://HOST:PORT or https://HOST:PORT"),
        "{output}"
    );
}

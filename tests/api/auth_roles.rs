//! Bearer tokens and roles against the real server: every role against every
//! RPC, the refusal to serve beyond loopback without tokens, the tokens file
//! reloaded on SIGHUP, and the caller's name in the decision log.

use crate::helpers::process::{self, Replica};
use crate::helpers::*;
use creditgate::auth::Authenticator;
use creditgate::grpc::pb;
use creditgate::grpc::pb::credit_decision_service_client::CreditDecisionServiceClient;
use creditgate::grpc::pb::credit_review_service_client::CreditReviewServiceClient;
use creditgate::grpc::pb::ledger_service_client::LedgerServiceClient;
use creditgate::grpc::server::ServerOptions;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tonic::Code;
use tonic::transport::Channel;

/// Tokens of the test: one per role, one with all four.
const TOKENS: &[(&str, &str, &[&str])] = &[
    ("checkout", "tok-decide-0123456789", &["decide"]),
    ("risk", "tok-score-0123456789", &["score"]),
    ("erp", "tok-ledger-0123456789", &["ledger"]),
    ("analyst", "tok-analyst-0123456789", &["analyst"]),
    (
        "admin",
        "tok-all-0123456789",
        &["decide", "score", "ledger", "analyst"],
    ),
];

/// Who may call what, written out here independently of src/auth/roles.rs.
const MATRIX: &[(&str, &[&str])] = &[
    ("CheckCreditLimit", &["decide"]),
    ("ScoreBuyer", &["score"]),
    ("UpsertBuyer", &["ledger"]),
    ("CancelOrder", &["ledger"]),
    ("RecordInvoice", &["ledger"]),
    ("RecordPayment", &["ledger"]),
    ("SetInvoiceDispute", &["ledger"]),
    ("GetBuyerExposure", &["ledger", "analyst"]),
    ("ListHeldOrders", &["analyst"]),
    ("ReleaseOrder", &["analyst"]),
    ("GetDecision", &["analyst"]),
    ("WhatIf", &["analyst"]),
];

fn sha256_hex(token: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn tokens_file(dir: &Path, tokens: &[(&str, &str, &[&str])]) -> std::path::PathBuf {
    let mut text = String::new();
    for (name, token, roles) in tokens {
        let roles: Vec<String> = roles.iter().map(|r| format!("{r:?}")).collect();
        text += &format!(
            "[[tokens]]\nname = {name:?}\nsha256 = \"{}\"\nroles = [{}]\n\n",
            sha256_hex(token),
            roles.join(", ")
        );
    }
    let path = dir.join("tokens.toml");
    std::fs::write(&path, text).unwrap();
    path
}

pub(crate) fn with_token<T>(message: T, token: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    request
}

/// Calls `rpc` with an empty request: the status says whether it got past
/// authentication (then the API's own validation answers).
async fn call(channel: &Channel, rpc: &str, token: Option<&str>) -> Result<(), tonic::Status> {
    let mut decisions = CreditDecisionServiceClient::new(channel.clone());
    let mut ledger = LedgerServiceClient::new(channel.clone());
    let mut review = CreditReviewServiceClient::new(channel.clone());
    match rpc {
        "CheckCreditLimit" => decisions
            .check_credit_limit(with_token(Default::default(), token))
            .await
            .map(drop),
        "ScoreBuyer" => decisions
            .score_buyer(with_token(Default::default(), token))
            .await
            .map(drop),
        "UpsertBuyer" => ledger
            .upsert_buyer(with_token(Default::default(), token))
            .await
            .map(drop),
        "CancelOrder" => ledger
            .cancel_order(with_token(Default::default(), token))
            .await
            .map(drop),
        "RecordInvoice" => ledger
            .record_invoice(with_token(Default::default(), token))
            .await
            .map(drop),
        "RecordPayment" => ledger
            .record_payment(with_token(Default::default(), token))
            .await
            .map(drop),
        "SetInvoiceDispute" => ledger
            .set_invoice_dispute(with_token(Default::default(), token))
            .await
            .map(drop),
        "GetBuyerExposure" => ledger
            .get_buyer_exposure(with_token(Default::default(), token))
            .await
            .map(drop),
        "ListHeldOrders" => review
            .list_held_orders(with_token(Default::default(), token))
            .await
            .map(drop),
        "ReleaseOrder" => review
            .release_order(with_token(Default::default(), token))
            .await
            .map(drop),
        "GetDecision" => review
            .get_decision(with_token(Default::default(), token))
            .await
            .map(drop),
        "WhatIf" => review
            .what_if(with_token(Default::default(), token))
            .await
            .map(drop),
        other => panic!("no such RPC in the matrix: {other}"),
    }
}

async fn app_with_tokens(dir: &Path) -> TestApp {
    let auth = Authenticator::load(&tokens_file(dir, TOKENS)).unwrap();
    TestApp::spawn_edge(ServerOptions {
        auth: Some(Arc::new(auth)),
        ..ServerOptions::default()
    })
    .await
}

#[tokio::test]
async fn every_role_against_every_rpc() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_tokens(dir.path()).await;
    let channel = connect(app.addr).await;
    for (rpc, allowed) in MATRIX {
        for (name, token, roles) in TOKENS {
            let outcome = call(&channel, rpc, Some(token)).await;
            let permitted = roles.iter().any(|r| allowed.contains(r));
            match outcome {
                Err(status) if status.code() == Code::PermissionDenied => {
                    assert!(!permitted, "{name} was denied {rpc}: {status:?}");
                    // Names the role needed, never the token.
                    for role in *allowed {
                        assert!(status.message().contains(role), "{status:?}");
                    }
                    assert!(!status.message().contains(token), "{status:?}");
                }
                Err(status) if status.code() == Code::Unauthenticated => {
                    panic!("{name}'s known token was unauthenticated on {rpc}: {status:?}")
                }
                // Past authentication: the API judged the (empty) request itself.
                _ => assert!(permitted, "{name} was let through to {rpc}: {outcome:?}"),
            }
        }
        for token in [None, Some("tok-unknown-0123456789"), Some("")] {
            let status = call(&channel, rpc, token).await.unwrap_err();
            assert_eq!(status.code(), Code::Unauthenticated, "{rpc} {token:?}");
        }
        // Malformed: another scheme, or a token that is not visible ASCII.
        let mut request = tonic::Request::new(pb::GetBuyerExposureRequest::default());
        request
            .metadata_mut()
            .insert("authorization", "Basic dXNlcjpwYXNz".parse().unwrap());
        let status = LedgerServiceClient::new(channel.clone())
            .get_buyer_exposure(request)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
    }
    // Health and reflection stay open.
    assert_eq!(decision_health(app.addr).await, 1);
}

#[tokio::test]
async fn a_check_with_a_token_records_the_callers_name_in_the_decision_log() {
    let dir = tempfile::tempdir().unwrap();
    let file = tokens_file(dir.path(), TOKENS);
    let file = file.display().to_string();
    let replica = Replica::start(&["--auth-tokens-file", &file]);
    let channel = connect(replica.addr).await;
    LedgerServiceClient::new(channel.clone())
        .upsert_buyer(with_token(
            pb::UpsertBuyerRequest {
                buyer: Some(buyer("B-1", "1000.00")),
                update_mask: None,
            },
            Some("tok-ledger-0123456789"),
        ))
        .await
        .unwrap();
    CreditDecisionServiceClient::new(channel)
        .check_credit_limit(with_token(
            pb::CheckCreditLimitRequest {
                buyer_id: "B-1".into(),
                order_id: "ORD-1".into(),
                amount: eur("10.00"),
                payment_terms_days: 0,
            },
            Some("tok-decide-0123456789"),
        ))
        .await
        .unwrap();
    let line = replica.log_line("\"message\":\"decision\"", Duration::from_secs(10));
    assert!(line.contains("\"caller\":\"checkout\""), "{line}");
    assert!(!line.contains("tok-decide"), "{line}");
}

#[test]
fn without_tokens_the_server_refuses_to_listen_beyond_loopback() {
    let refused = process::run_bounded(
        &["--listen", "0.0.0.0:0", "--log-format", "json"],
        Duration::from_secs(20),
    )
    .expect("the start is refused");
    assert!(!refused.0, "{}", refused.1);
    assert!(
        refused.1.contains("--auth-tokens-file") && refused.1.contains("--allow-unauthenticated"),
        "{}",
        refused.1
    );
    // Loopback without tokens is the safe default and starts.
    drop(Replica::start(&[]));
    // Told to, it starts anyway, saying so.
    let open = Replica::start_on("0.0.0.0:0", &["--allow-unauthenticated"]);
    let warned = |l: &String| l.contains("WARN") && l.contains("unauthenticated");
    if !open.startup_logs.iter().any(warned) {
        // The warning task may log just after the "listening" line.
        let line = open.log_line("unauthenticated", Duration::from_secs(10));
        assert!(warned(&line), "{line}");
    }
}

#[tokio::test]
async fn sighup_reloads_the_tokens_file_and_a_bad_file_keeps_the_tokens_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let file = tokens_file(dir.path(), &TOKENS[2..3]);
    let path = file.display().to_string();
    let replica = Replica::start(&["--auth-tokens-file", &path]);
    let channel = connect(replica.addr).await;
    let old = Some("tok-ledger-0123456789");
    let new = Some("tok-analyst-0123456789");
    let allowed = |result: Result<(), tonic::Status>| !matches!(result, Err(s) if s.code() == Code::Unauthenticated);
    assert!(allowed(call(&channel, "GetBuyerExposure", old).await));
    assert!(!allowed(call(&channel, "GetBuyerExposure", new).await));
    // Rotation: the new token in, the old one out, then SIGHUP.
    tokens_file(dir.path(), &TOKENS[3..4]);
    replica.signal("HUP");
    eventually("the new token is accepted", || async {
        allowed(call(&channel, "GetBuyerExposure", new).await)
    })
    .await;
    assert!(!allowed(call(&channel, "GetBuyerExposure", old).await));
    // A broken file keeps the tokens in use.
    std::fs::write(&file, "[[tokens]]\nname = \"x\"\n").unwrap();
    replica.signal("HUP");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(allowed(call(&channel, "GetBuyerExposure", new).await));
}

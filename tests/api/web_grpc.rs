//! gRPC-Web on the gRPC port, through a real gRPC-Web client (sonora, from
//! PyPI, over HTTP/1.1): every RPC, the codes the service answers with, tokens
//! and roles, the request size bound, and CORS for gRPC-Web requests.

use crate::auth_roles::tokens_file;
use crate::helpers::curl::{self, BOTH};
use crate::helpers::grpc_web::{WebAnswer, grpc_web, web_call};
use crate::helpers::*;
use creditgate::auth::Authenticator;
use creditgate::grpc::admission::AdmissionLimits;
use creditgate::grpc::pb;
use creditgate::grpc::server::ServerOptions;
use std::sync::Arc;
use tonic::Code;

// Fields the request gains later (a counter-offer's terms) keep their defaults.
#[allow(clippy::needless_update)]
fn check(buyer: &str, order: &str, amount: &str) -> pb::CheckCreditLimitRequest {
    pb::CheckCreditLimitRequest {
        buyer_id: buyer.into(),
        order_id: order.into(),
        amount: eur(amount),
        ..Default::default()
    }
}

fn failed(answer: &WebAnswer, code: Code, what: &str) {
    assert_eq!(answer.code, code, "{what}: {answer:?}");
}

#[tokio::test]
async fn web_every_rpc_through_a_grpc_web_client() {
    let app = TestApp::spawn().await;
    let id = "W-1";
    let mut scored = scored_buyer(id);
    scored.credit_limit = eur("1000.00");
    let calls = vec![
        web_call(
            "LedgerService/UpsertBuyer",
            &pb::UpsertBuyerRequest {
                buyer: Some(scored),
                update_mask: None,
            },
            None,
        ),
        web_call(
            "CreditDecisionService/CheckCreditLimit",
            &check(id, "SO-1", "100.00"),
            None,
        ),
        web_call(
            "CreditDecisionService/CheckCreditLimit",
            &check(id, "SO-2", "5000.00"),
            None,
        ),
        web_call(
            "CreditDecisionService/ScoreBuyer",
            &pb::ScoreBuyerRequest {
                buyer_id: id.into(),
            },
            None,
        ),
        web_call(
            "LedgerService/RecordInvoice",
            &pb::RecordInvoiceRequest {
                buyer_id: id.into(),
                invoice_id: "INV-1".into(),
                order_id: "SO-1".into(),
                amount: eur("100.00"),
                issue_date: "2026-11-01".into(),
                due_date: "2026-12-31".into(),
            },
            None,
        ),
        web_call(
            "LedgerService/SetInvoiceDispute",
            &pb::SetInvoiceDisputeRequest {
                buyer_id: id.into(),
                invoice_id: "INV-1".into(),
                disputed: true,
            },
            None,
        ),
        web_call(
            "LedgerService/RecordPayment",
            &pb::RecordPaymentRequest {
                buyer_id: id.into(),
                invoice_id: "INV-1".into(),
                amount: eur("40.00"),
                paid_date: "2026-11-20".into(),
                payment_id: "PAY-1".into(),
            },
            None,
        ),
        web_call(
            "LedgerService/GetBuyerExposure",
            &pb::GetBuyerExposureRequest {
                buyer_id: id.into(),
            },
            None,
        ),
        web_call(
            "CreditReviewService/ListHeldOrders",
            &pb::ListHeldOrdersRequest {
                buyer_id: id.into(),
                ..Default::default()
            },
            None,
        ),
        web_call(
            "CreditReviewService/ReleaseOrder",
            &pb::ReleaseOrderRequest {
                buyer_id: id.into(),
                order_id: "SO-2".into(),
                amount: eur("5000.00"),
                released_by: "jane".into(),
                reason: "prepaid".into(),
            },
            None,
        ),
        web_call(
            "CreditReviewService/ListDecisions",
            &pb::ListDecisionsRequest {
                buyer_id: id.into(),
                ..Default::default()
            },
            None,
        ),
        web_call(
            "LedgerService/CancelOrder",
            &pb::CancelOrderRequest {
                buyer_id: id.into(),
                order_id: "SO-2".into(),
            },
            None,
        ),
    ];
    let answers = grpc_web(app.addr, calls).await;
    let [
        upserted,
        approved,
        refused,
        score,
        invoiced,
        disputed,
        paid,
        exposure,
        held,
        released,
        listed,
        cancelled,
    ] = &answers[..]
    else {
        panic!("{answers:?}")
    };
    assert_eq!(upserted.decode::<pb::Buyer>().buyer_id, id);
    let approved = approved.decode::<pb::CheckCreditLimitResponse>();
    assert_eq!(approved.decision, pb::Decision::Approved as i32);
    let refused = refused.decode::<pb::CheckCreditLimitResponse>();
    assert_ne!(refused.decision, pb::Decision::Approved as i32);
    // The counter-offer arrives as the structured message.
    assert!(refused.counter_offer.is_some(), "{refused:?}");
    assert!(score.decode::<pb::ScoreBuyerResponse>().score > 0);
    assert!(invoiced.decode::<pb::RecordInvoiceResponse>().created);
    assert!(disputed.decode::<pb::SetInvoiceDisputeResponse>().disputed);
    assert_eq!(
        amount(
            &paid
                .decode::<pb::RecordPaymentResponse>()
                .invoice_open_balance
        ),
        "60.00"
    );
    assert_eq!(exposure.decode::<pb::BuyerExposure>().invoices.len(), 1);
    assert_eq!(
        held.decode::<pb::ListHeldOrdersResponse>().held_orders[0].order_id,
        "SO-2"
    );
    let released = released.decode::<pb::ReleaseOrderResponse>();
    assert_eq!(
        released.decision.unwrap().decision,
        pb::Decision::Approved as i32
    );
    failed(
        listed,
        Code::FailedPrecondition,
        "ListDecisions without an archive",
    );
    assert!(cancelled.decode::<pb::CancelOrderResponse>().was_approved);

    let answers = grpc_web(
        app.addr,
        vec![
            web_call(
                "CreditReviewService/GetDecision",
                &pb::GetDecisionRequest {
                    decision_id: approved.decision_id.clone(),
                },
                None,
            ),
            web_call(
                "CreditReviewService/WhatIf",
                &pb::WhatIfRequest {
                    policy_toml: include_str!("../../policy/default.toml").into(),
                    ..Default::default()
                },
                None,
            ),
        ],
    )
    .await;
    let record = &answers[0];
    // What-if with the policy in force: nothing changes.
    let report = answers[1].decode::<pb::WhatIfReport>();
    assert_eq!(report.policy_version, "2026-11-default-1");
    assert!(report.decisions > 0 && report.changed == 0, "{report:?}");
    assert_eq!(
        record
            .decode::<pb::DecisionRecord>()
            .request
            .unwrap()
            .order_id,
        "SO-1"
    );
}

#[tokio::test]
async fn web_errors_keep_their_grpc_codes() {
    let app = TestApp::spawn_edge(ServerOptions {
        admission: AdmissionLimits {
            max_request_bytes: 1024,
            ..AdmissionLimits::default()
        },
        ..ServerOptions::default()
    })
    .await;
    app.upsert(buyer("W-ERR", "1000.00")).await;
    let calls = vec![
        web_call(
            "CreditDecisionService/CheckCreditLimit",
            &check("W-ERR", "SO-1", "-5"),
            None,
        ),
        web_call(
            "CreditReviewService/GetDecision",
            &pb::GetDecisionRequest {
                decision_id: "01a23b9c-cdfa-7149-a8fb-968504b18b29".into(),
            },
            None,
        ),
        web_call(
            "CreditDecisionService/CheckCreditLimit",
            &check("W-ERR", "SO-2", "100.00"),
            None,
        ),
        web_call(
            "CreditDecisionService/CheckCreditLimit",
            &check("W-ERR", "SO-2", "200.00"),
            None,
        ),
        web_call(
            "CreditDecisionService/ScoreBuyer",
            &pb::ScoreBuyerRequest {
                buyer_id: "x".repeat(2_000),
            },
            None,
        ),
    ];
    let answers = grpc_web(app.addr, calls).await;
    failed(&answers[0], Code::InvalidArgument, "a negative amount");
    assert!(answers[0].message.contains("amount"), "{:?}", answers[0]);
    failed(&answers[1], Code::NotFound, "an unknown decision");
    assert_eq!(answers[2].code, Code::Ok);
    failed(
        &answers[3],
        Code::AlreadyExists,
        "the same order for another amount",
    );
    failed(
        &answers[4],
        Code::ResourceExhausted,
        "a message over --max-request-bytes",
    );
}

#[tokio::test]
async fn web_tokens_and_roles_are_those_of_grpc() {
    let dir = tempfile::tempdir().unwrap();
    let tokens: &[(&str, &str, &[&str])] = &[
        ("checkout", "tok-decide-0123456789", &["decide"]),
        ("erp", "tok-ledger-0123456789", &["ledger"]),
    ];
    let auth = Authenticator::load(&tokens_file(dir.path(), tokens)).unwrap();
    let app = TestApp::spawn_edge(ServerOptions {
        auth: Some(Arc::new(auth)),
        ..ServerOptions::default()
    })
    .await;
    let upsert = pb::UpsertBuyerRequest {
        buyer: Some(buyer("W-AUTH", "1000.00")),
        update_mask: None,
    };
    let calls = vec![
        web_call(
            "LedgerService/UpsertBuyer",
            &upsert,
            Some("tok-ledger-0123456789"),
        ),
        web_call(
            "CreditDecisionService/CheckCreditLimit",
            &check("W-AUTH", "SO-1", "10.00"),
            Some("tok-decide-0123456789"),
        ),
        web_call(
            "LedgerService/UpsertBuyer",
            &upsert,
            Some("tok-decide-0123456789"),
        ),
        web_call(
            "CreditDecisionService/CheckCreditLimit",
            &check("W-AUTH", "SO-1", "10.00"),
            None,
        ),
        web_call(
            "CreditDecisionService/CheckCreditLimit",
            &check("W-AUTH", "SO-1", "10.00"),
            Some("tok-unknown-0123456789"),
        ),
    ];
    let answers = grpc_web(app.addr, calls).await;
    assert_eq!(answers[0].code, Code::Ok, "{:?}", answers[0]);
    assert_eq!(
        answers[1].decode::<pb::CheckCreditLimitResponse>().decision,
        pb::Decision::Approved as i32
    );
    failed(&answers[2], Code::PermissionDenied, "checkout upserting");
    failed(&answers[3], Code::Unauthenticated, "no token");
    failed(&answers[4], Code::Unauthenticated, "an unknown token");
}

/// gRPC-Web requests from a browser page: CORS headers only for the named origins.
#[tokio::test]
async fn web_cors_applies_to_grpc_web_requests() {
    let off = TestApp::spawn().await;
    let on = TestApp::spawn_edge(ServerOptions {
        cors_allow_origins: vec!["https://shop.example.com".into()],
        ..ServerOptions::default()
    })
    .await;
    let path = "/creditgate.v1.CreditDecisionService/ScoreBuyer";
    let headers = [
        ("origin", "https://shop.example.com"),
        ("content-type", "application/grpc-web-text"),
        ("x-grpc-web", "1"),
    ];
    // An empty message, base64 (gRPC-Web's text form): the call fails (no
    // buyer id), CORS headers or not.
    let frame = "AAAAAAA=";
    for http in BOTH {
        let plain = curl::curl(off.addr, http, "POST", path, &headers, Some(frame)).await;
        assert_eq!(plain.status, 200, "{plain:?}");
        assert_eq!(
            plain.header("access-control-allow-origin"),
            None,
            "{plain:?}"
        );
        let allowed = curl::curl(on.addr, http, "POST", path, &headers, Some(frame)).await;
        assert_eq!(
            allowed.header("access-control-allow-origin"),
            Some("https://shop.example.com"),
            "{allowed:?}"
        );
        let exposed = allowed
            .header("access-control-expose-headers")
            .unwrap_or_default();
        assert!(exposed.contains("grpc-status"), "{allowed:?}");
    }
}

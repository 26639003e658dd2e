//! JSON in the Connect protocol's unary shape, called with the real curl over
//! HTTP/1.1 and HTTP/2 on the gRPC port: every RPC, the proto3 JSON mapping both
//! ways, Connect's error codes and HTTP statuses, tokens and roles, the size
//! and time bounds, and CORS off by default.

use crate::auth_roles::tokens_file;
use crate::helpers::TestApp;
use crate::helpers::curl::{self, Answer, BOTH, Http, call};
use crate::helpers::process::Replica;
use crate::helpers::tls::TestCa;
use creditgate::auth::Authenticator;
use creditgate::grpc::admission::AdmissionLimits;
use creditgate::grpc::server::ServerOptions;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn eur(amount: &str) -> Value {
    json!({"currencyCode": "EUR", "amount": amount})
}

fn ok(answer: &Answer, what: &str) -> Value {
    assert_eq!(answer.status, 200, "{what}: {answer:?}");
    assert_eq!(
        answer.header("content-type"),
        Some("application/json"),
        "{what}"
    );
    answer.json.clone()
}

fn failed(answer: &Answer, status: u16, code: &str, what: &str) {
    assert_eq!(
        (answer.status, answer.code()),
        (status, code),
        "{what}: {answer:?}"
    );
    assert_eq!(answer.header("content-type"), Some("application/json"));
}

/// The buyer of the walk: a scored one (ScoreBuyer needs financials).
fn scored_buyer(id: &str) -> Value {
    json!({
        "buyerId": id,
        "name": format!("{id} GmbH"),
        "countryCode": "DE",
        "currencyCode": "EUR",
        "riskTier": "RISK_TIER_STANDARD",
        "creditLimit": eur("1000.00"),
        "paymentTermsDays": 30,
        "financials": {
            "annualRevenue": eur("12000000.00"),
            "netWorth": eur("3000000.00"),
            "yearsInBusiness": 12
        },
        "externalRating": {"grade": 3}
    })
}

/// Every RPC of the three services, in the order a book would see them.
async fn walk(addr: SocketAddr, http: Http, id: &str) {
    let buyer = ok(
        &call(
            addr,
            http,
            "LedgerService/UpsertBuyer",
            None,
            &json!({"buyer": scored_buyer(id)}),
        )
        .await,
        "UpsertBuyer",
    );
    assert_eq!(buyer["buyerId"], id);
    assert_eq!(buyer["riskTier"], "RISK_TIER_STANDARD");
    // A FieldMask is a comma-separated string of camelCase paths in JSON.
    let renamed = ok(
        &call(
            addr,
            http,
            "LedgerService/UpsertBuyer",
            None,
            &json!({"buyer": {"buyerId": id, "name": "Renamed AG"}, "updateMask": "name"}),
        )
        .await,
        "UpsertBuyer with a mask",
    );
    assert_eq!(renamed["name"], "Renamed AG");
    assert_eq!(renamed["creditLimit"], eur("1000.00"));

    let check = |order: &'static str, amount: &'static str| json!({"buyerId": id, "orderId": order, "amount": eur(amount)});
    let approved = ok(
        &call(
            addr,
            http,
            "CreditDecisionService/CheckCreditLimit",
            None,
            &check("SO-1", "100.00"),
        )
        .await,
        "CheckCreditLimit",
    );
    assert_eq!(approved["decision"], "DECISION_APPROVED", "{approved}");
    assert_eq!(approved["available"], eur("900.00"));
    let decision_id = approved["decisionId"].as_str().unwrap().to_owned();
    let refused = ok(
        &call(
            addr,
            http,
            "CreditDecisionService/CheckCreditLimit",
            None,
            &check("SO-2", "5000.00"),
        )
        .await,
        "CheckCreditLimit over the limit",
    );
    assert_ne!(refused["decision"], "DECISION_APPROVED", "{refused}");
    // The counter-offer in the proto3 JSON mapping, acted on over JSON: the
    // approvable part under a new order id is approved.
    let offer = &refused["counterOffer"];
    assert_eq!(offer["approvableAmount"], eur("900.00"), "{refused}");
    assert_eq!(offer["prepaymentRequired"], eur("4100.00"), "{refused}");
    let split = ok(
        &call(
            addr,
            http,
            "CreditDecisionService/CheckCreditLimit",
            None,
            &check("SO-2-A", "900.00"),
        )
        .await,
        "CheckCreditLimit for the offered part",
    );
    assert_eq!(split["decision"], "DECISION_APPROVED", "{split}");

    let score = ok(
        &call(
            addr,
            http,
            "CreditDecisionService/ScoreBuyer",
            None,
            &json!({"buyerId": id}),
        )
        .await,
        "ScoreBuyer",
    );
    assert_eq!(score["buyerId"], id);
    assert!(score["score"].as_i64().unwrap() > 0, "{score}");

    let invoice = json!({
        "buyerId": id, "invoiceId": "INV-1", "orderId": "SO-1", "amount": eur("100.00"),
        "issueDate": "2026-11-01", "dueDate": "2026-12-31"
    });
    let invoiced = ok(
        &call(addr, http, "LedgerService/RecordInvoice", None, &invoice).await,
        "RecordInvoice",
    );
    assert_eq!(invoiced["created"], true, "{invoiced}");
    let disputed = ok(
        &call(
            addr,
            http,
            "LedgerService/SetInvoiceDispute",
            None,
            &json!({"buyerId": id, "invoiceId": "INV-1", "disputed": true}),
        )
        .await,
        "SetInvoiceDispute",
    );
    assert_eq!(disputed["disputed"], true);
    let paid = ok(
        &call(
            addr,
            http,
            "LedgerService/RecordPayment",
            None,
            &json!({"buyerId": id, "invoiceId": "INV-1", "amount": eur("40.00"), "paidDate": "2026-11-20", "paymentId": "PAY-1"}),
        )
        .await,
        "RecordPayment",
    );
    assert_eq!(paid["invoiceOpenBalance"], eur("60.00"), "{paid}");
    let exposure = ok(
        &call(
            addr,
            http,
            "LedgerService/GetBuyerExposure",
            None,
            &json!({"buyerId": id}),
        )
        .await,
        "GetBuyerExposure",
    );
    assert_eq!(exposure["buyerId"], id);
    assert_eq!(exposure["invoices"][0]["invoiceId"], "INV-1", "{exposure}");

    let held = ok(
        &call(
            addr,
            http,
            "CreditReviewService/ListHeldOrders",
            None,
            &json!({"buyerId": id}),
        )
        .await,
        "ListHeldOrders",
    );
    assert_eq!(held["heldOrders"][0]["orderId"], "SO-2", "{held}");
    let released = ok(
        &call(
            addr,
            http,
            "CreditReviewService/ReleaseOrder",
            None,
            &json!({"buyerId": id, "orderId": "SO-2", "amount": eur("5000.00"), "releasedBy": "jane", "reason": "prepaid"}),
        )
        .await,
        "ReleaseOrder",
    );
    assert_eq!(
        released["decision"]["decision"], "DECISION_APPROVED",
        "{released}"
    );
    let record = ok(
        &call(
            addr,
            http,
            "CreditReviewService/GetDecision",
            None,
            &json!({"decisionId": decision_id}),
        )
        .await,
        "GetDecision",
    );
    assert_eq!(record["request"]["orderId"], "SO-1", "{record}");
    // What-if with the policy in force: the store's history replays unchanged
    // (a zero count is left out in proto3 JSON).
    let report = ok(
        &call(
            addr,
            http,
            "CreditReviewService/WhatIf",
            None,
            &json!({"policyToml": include_str!("../../policy/default.toml")}),
        )
        .await,
        "WhatIf",
    );
    assert_eq!(report["policyVersion"], "2026-11-default-1", "{report}");
    assert!(report.get("changed").is_none(), "{report}");
    assert!(
        report["text"].as_str().unwrap().starts_with("What-if"),
        "{report}"
    );
    // No archive on this server: the RPC says so.
    failed(
        &call(
            addr,
            http,
            "CreditReviewService/ListDecisions",
            None,
            &json!({"buyerId": id}),
        )
        .await,
        400,
        "failed_precondition",
        "ListDecisions",
    );
    let cancelled = ok(
        &call(
            addr,
            http,
            "LedgerService/CancelOrder",
            None,
            &json!({"buyerId": id, "orderId": "SO-2"}),
        )
        .await,
        "CancelOrder",
    );
    assert_eq!(cancelled["wasApproved"], true, "{cancelled}");
}

#[tokio::test]
async fn json_every_rpc_answers_over_http1_and_http2() {
    let app = TestApp::spawn().await;
    for (http, id) in [(Http::One, "J-H1"), (Http::Two, "J-H2")] {
        walk(app.addr, http, id).await;
    }
    // curl really spoke each version.
    let one = call(
        app.addr,
        Http::One,
        "CreditDecisionService/ScoreBuyer",
        None,
        &json!({"buyerId": "J-H1"}),
    )
    .await;
    let two = call(
        app.addr,
        Http::Two,
        "CreditDecisionService/ScoreBuyer",
        None,
        &json!({"buyerId": "J-H1"}),
    )
    .await;
    assert_eq!(
        (one.version.as_str(), two.version.as_str()),
        ("HTTP/1.1", "HTTP/2")
    );
    // The JSON calls met the gRPC service: a gRPC client sees their ledger.
    assert_eq!(app.exposure("J-H2").await.invoices.len(), 1);
}

#[tokio::test]
async fn json_errors_carry_connects_code_and_http_status() {
    let app = TestApp::spawn_edge(ServerOptions {
        admission: AdmissionLimits {
            max_request_bytes: 1024,
            default_deadline: Duration::from_secs(2),
            ..AdmissionLimits::default()
        },
        ..ServerOptions::default()
    })
    .await;
    let addr = app.addr;
    app.upsert(crate::helpers::buyer("J-ERR", "1000.00")).await;
    let check = |order: &str, amount: &str| json!({"buyerId": "J-ERR", "orderId": order, "amount": eur(amount)});
    for http in BOTH {
        // JSON that does not fit the message: invalid_argument naming the field.
        let bad = call(
            addr,
            http,
            "CreditDecisionService/CheckCreditLimit",
            None,
            &json!({"buyerId": "J-ERR", "amount": {"currencyCode": 978}}),
        )
        .await;
        failed(&bad, 400, "invalid_argument", "a number for a string");
        assert!(bad.message().contains("amount.currencyCode"), "{bad:?}");
        let unknown = call(
            addr,
            http,
            "CreditDecisionService/CheckCreditLimit",
            None,
            &json!({"buyerId": "J-ERR", "colour": "red"}),
        )
        .await;
        failed(&unknown, 400, "invalid_argument", "an unknown field");
        assert!(unknown.message().contains("colour"), "{unknown:?}");
        let not_json = curl::curl(
            addr,
            http,
            "POST",
            "/creditgate.v1.CreditDecisionService/CheckCreditLimit",
            &[("content-type", "application/json")],
            Some("{\"buyerId\":"),
        )
        .await;
        failed(&not_json, 400, "invalid_argument", "truncated JSON");
        // The service's own validation, through JSON as through gRPC.
        let invalid = call(
            addr,
            http,
            "CreditDecisionService/CheckCreditLimit",
            None,
            &check("SO-X", "-5"),
        )
        .await;
        failed(&invalid, 400, "invalid_argument", "a negative amount");
        assert!(invalid.message().contains("amount"), "{invalid:?}");
        // not_found, already_exists, failed_precondition.
        let missing = call(
            addr,
            http,
            "CreditReviewService/GetDecision",
            None,
            &json!({"decisionId": "01a23b9c-cdfa-7149-a8fb-968504b18b29"}),
        )
        .await;
        failed(&missing, 404, "not_found", "GetDecision of an unknown id");
        let order = match http {
            Http::One => "SO-1",
            Http::Two => "SO-2",
        };
        let first = call(
            addr,
            http,
            "CreditDecisionService/CheckCreditLimit",
            None,
            &check(order, "100.00"),
        )
        .await;
        assert_eq!(first.json["decision"], "DECISION_APPROVED", "{first:?}");
        let again = call(
            addr,
            http,
            "CreditDecisionService/CheckCreditLimit",
            None,
            &check(order, "200.00"),
        )
        .await;
        failed(
            &again,
            409,
            "already_exists",
            "the same order for another amount",
        );
        let archive = call(
            addr,
            http,
            "CreditReviewService/ListDecisions",
            None,
            &json!({"buyerId": "J-ERR"}),
        )
        .await;
        failed(
            &archive,
            400,
            "failed_precondition",
            "ListDecisions without an archive",
        );
        // resource_exhausted: a body over --max-request-bytes (1024 here).
        let name = "x".repeat(2_000);
        let large = call(
            addr,
            http,
            "CreditDecisionService/ScoreBuyer",
            None,
            &json!({"buyerId": name}),
        )
        .await;
        failed(&large, 429, "resource_exhausted", "a body over the limit");
        assert!(large.message().contains("--max-request-bytes"), "{large:?}");
        // The protocol's own refusals.
        let nowhere = call(addr, http, "CreditDecisionService/Nope", None, &json!({})).await;
        failed(&nowhere, 404, "unimplemented", "an unknown RPC");
        let get = curl::curl(
            addr,
            http,
            "GET",
            "/creditgate.v1.CreditDecisionService/ScoreBuyer",
            &[],
            None,
        )
        .await;
        failed(&get, 405, "unimplemented", "GET");
        assert_eq!(get.header("allow"), Some("POST"));
        let text = curl::curl(
            addr,
            http,
            "POST",
            "/creditgate.v1.CreditDecisionService/ScoreBuyer",
            &[("content-type", "text/plain")],
            Some("{}"),
        )
        .await;
        failed(&text, 415, "unimplemented", "text/plain");
        let timeout = curl::curl(
            addr,
            http,
            "POST",
            "/creditgate.v1.CreditDecisionService/ScoreBuyer",
            &[
                ("content-type", "application/json"),
                ("connect-timeout-ms", "soon"),
            ],
            Some("{}"),
        )
        .await;
        failed(
            &timeout,
            400,
            "invalid_argument",
            "a malformed Connect-Timeout-Ms",
        );
    }
}

/// deadline_exceeded: a body that never arrives within Connect-Timeout-Ms (curl
/// sends its body at once, so a raw HTTP/1.1 client holds it back).
#[tokio::test]
async fn json_a_body_that_does_not_arrive_in_time_is_deadline_exceeded() {
    let app = TestApp::spawn().await;
    let mut tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = "POST /creditgate.v1.CreditDecisionService/ScoreBuyer HTTP/1.1\r\nhost: x\r\n\
                content-type: application/json\r\nconnect-timeout-ms: 200\r\ncontent-length: 20\r\n\r\n{";
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0; 4096];
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut answer))
        .await
        .expect("answered before the body came")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 504"), "{answer}");
    assert!(answer.contains(r#""code":"deadline_exceeded""#), "{answer}");
}

const TOKENS: &[(&str, &str, &[&str])] = &[
    ("checkout", "tok-decide-0123456789", &["decide"]),
    ("erp", "tok-ledger-0123456789", &["ledger"]),
];

#[tokio::test]
async fn json_tokens_and_roles_are_those_of_grpc() {
    let dir = tempfile::tempdir().unwrap();
    let auth = Authenticator::load(&tokens_file(dir.path(), TOKENS)).unwrap();
    let app = TestApp::spawn_edge(ServerOptions {
        auth: Some(Arc::new(auth)),
        ..ServerOptions::default()
    })
    .await;
    let addr = app.addr;
    let buyer = json!({"buyer": {"buyerId": "J-AUTH", "name": "Auth GmbH", "countryCode": "DE", "currencyCode": "EUR",
        "riskTier": "RISK_TIER_STANDARD", "creditLimit": eur("1000.00"), "paymentTermsDays": 30}});
    let check = json!({"buyerId": "J-AUTH", "orderId": "SO-1", "amount": eur("10.00")});
    for http in BOTH {
        ok(
            &call(
                addr,
                http,
                "LedgerService/UpsertBuyer",
                Some("tok-ledger-0123456789"),
                &buyer,
            )
            .await,
            "erp upserts",
        );
        let decided = ok(
            &call(
                addr,
                http,
                "CreditDecisionService/CheckCreditLimit",
                Some("tok-decide-0123456789"),
                &check,
            )
            .await,
            "checkout checks",
        );
        assert_eq!(decided["decision"], "DECISION_APPROVED");
        let denied = call(
            addr,
            http,
            "LedgerService/UpsertBuyer",
            Some("tok-decide-0123456789"),
            &buyer,
        )
        .await;
        failed(&denied, 403, "permission_denied", "checkout upserting");
        assert!(denied.message().contains("ledger"), "{denied:?}");
        for token in [None, Some("tok-unknown-0123456789")] {
            let refused = call(
                addr,
                http,
                "CreditDecisionService/CheckCreditLimit",
                token,
                &check,
            )
            .await;
            failed(&refused, 401, "unauthenticated", "no or an unknown token");
        }
    }
}

#[tokio::test]
async fn json_cors_is_off_by_default() {
    let app = TestApp::spawn().await;
    let origin = [
        ("origin", "https://shop.example.com"),
        ("content-type", "application/json"),
    ];
    for http in BOTH {
        let answer = curl::curl(
            app.addr,
            http,
            "POST",
            "/creditgate.v1.CreditDecisionService/ScoreBuyer",
            &origin,
            Some("{}"),
        )
        .await;
        assert_eq!(answer.status, 400, "{answer:?}");
        assert!(
            answer
                .headers
                .iter()
                .all(|(n, _)| !n.starts_with("access-control-")),
            "{answer:?}"
        );
        let preflight = curl::curl(
            app.addr,
            http,
            "OPTIONS",
            "/creditgate.v1.CreditDecisionService/ScoreBuyer",
            &[
                ("origin", "https://shop.example.com"),
                ("access-control-request-method", "POST"),
            ],
            None,
        )
        .await;
        assert_eq!(preflight.status, 405, "{preflight:?}");
        assert!(
            preflight
                .headers
                .iter()
                .all(|(n, _)| !n.starts_with("access-control-")),
            "{preflight:?}"
        );
    }
}

#[tokio::test]
async fn json_cors_answers_the_named_origins_only() {
    let app = TestApp::spawn_edge(ServerOptions {
        cors_allow_origins: vec!["https://shop.example.com".into()],
        ..ServerOptions::default()
    })
    .await;
    let path = "/creditgate.v1.CreditDecisionService/CheckCreditLimit";
    for http in BOTH {
        let preflight = curl::curl(
            app.addr,
            http,
            "OPTIONS",
            path,
            &[
                ("origin", "https://shop.example.com"),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "content-type,authorization,connect-protocol-version",
                ),
            ],
            None,
        )
        .await;
        assert_eq!(preflight.status, 200, "{preflight:?}");
        assert_eq!(
            preflight.header("access-control-allow-origin"),
            Some("https://shop.example.com")
        );
        let headers = preflight
            .header("access-control-allow-headers")
            .unwrap_or_default();
        assert!(
            headers.contains("authorization") && headers.contains("x-grpc-web"),
            "{preflight:?}"
        );
        let call = curl::curl(
            app.addr,
            http,
            "POST",
            path,
            &[
                ("origin", "https://shop.example.com"),
                ("content-type", "application/json"),
            ],
            Some("{}"),
        )
        .await;
        assert_eq!(
            call.header("access-control-allow-origin"),
            Some("https://shop.example.com"),
            "{call:?}"
        );
        let stranger = curl::curl(
            app.addr,
            http,
            "POST",
            path,
            &[
                ("origin", "https://evil.example.net"),
                ("content-type", "application/json"),
            ],
            Some("{}"),
        )
        .await;
        assert_eq!(
            stranger.header("access-control-allow-origin"),
            None,
            "{stranger:?}"
        );
    }
}

/// Over TLS, ALPN offers `h2` and `http/1.1`: curl gets JSON answers on both.
#[tokio::test]
async fn json_over_tls_on_http1_and_http2() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("creditgate test CA");
    let (cert, key) = ca.server().write(dir.path());
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let replica = Replica::start_async(&["--tls-cert", &cert, "--tls-key", &key]).await;
    let check = json!({"buyerId": "J-TLS", "orderId": "SO-1", "amount": eur("10.00")});
    for (http, version) in [(Http::One, "HTTP/1.1"), (Http::Two, "HTTP/2")] {
        let answer = curl::post_tls(
            replica.addr,
            http,
            &ca_file,
            "/creditgate.v1.CreditDecisionService/CheckCreditLimit",
            &check.to_string(),
        )
        .await;
        assert_eq!(answer.version, version, "{answer:?}");
        let referred = ok(&answer, "CheckCreditLimit over TLS");
        assert_eq!(
            referred["reasons"][0]["code"], "UNKNOWN_BUYER",
            "{referred}"
        );
    }
}

/// JSON calls are counted as the gRPC calls they become, by RPC and gRPC code.
#[tokio::test]
async fn json_calls_are_counted_with_the_grpc_ones() {
    use crate::ops_metrics::{scrape, value};
    let replica = Replica::start_async(&["--metrics-listen", "127.0.0.1:0"]).await;
    let metrics = replica.logged_addr("metrics listening");
    let check = |amount: &str| json!({"buyerId": "J-M", "orderId": "SO-1", "amount": eur(amount)});
    let path = "CreditDecisionService/CheckCreditLimit";
    let referred = call(replica.addr, Http::One, path, None, &check("10.00")).await;
    ok(&referred, "an unknown buyer's check");
    let invalid = call(replica.addr, Http::Two, path, None, &check("-5")).await;
    failed(&invalid, 400, "invalid_argument", "a negative amount");
    let samples = tokio::task::spawn_blocking(move || scrape(metrics))
        .await
        .unwrap();
    let requests = |code: &str| {
        value(
            &samples,
            "creditgate_requests_total",
            &[("rpc", "CheckCreditLimit"), ("code", code)],
        )
    };
    assert_eq!(requests("OK"), Some(1.0));
    assert_eq!(requests("INVALID_ARGUMENT"), Some(1.0));
}

/// The concurrency limit is shared: a gRPC call holding the only permit sheds
/// the JSON call, with Connect's resource_exhausted (429).
#[tokio::test]
async fn json_calls_share_the_concurrency_limit_with_grpc() {
    use crate::helpers::edge::{grpc_head, h2_connect, message_header};
    let app = TestApp::spawn_edge(ServerOptions {
        admission: AdmissionLimits {
            max_concurrent_requests: 1,
            default_deadline: Duration::from_secs(5),
            ..AdmissionLimits::default()
        },
        ..ServerOptions::default()
    })
    .await;
    let path = "/creditgate.v1.CreditDecisionService/ScoreBuyer";
    // A gRPC call whose message never finishes holds the permit while it waits.
    let (mut send, _connection) = h2_connect(app.addr).await;
    let (_response, mut body) = send
        .send_request(grpc_head(app.addr, path, None), false)
        .unwrap();
    body.send_data(message_header(40), false).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    for http in BOTH {
        let shed = call(
            app.addr,
            http,
            "CreditDecisionService/ScoreBuyer",
            None,
            &json!({"buyerId": "J-1"}),
        )
        .await;
        failed(
            &shed,
            429,
            "resource_exhausted",
            "a JSON call beyond the limit",
        );
        assert!(
            shed.message().contains("--max-concurrent-requests"),
            "{shed:?}"
        );
    }
}

/// unavailable (503): a ledger write while the store is down, through JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_json_a_write_while_the_store_is_down_is_unavailable() {
    use crate::helpers::redis::RedisServer;
    use crate::helpers::{initialised_redis, redis_options, test_settings};
    use creditgate::store::redis::RedisTarget;
    let mut redis = RedisServer::start();
    let options = redis_options(RedisTarget::Url(redis.url()), "json-outage");
    let app = TestApp::spawn_on(initialised_redis(&options).await, test_settings()).await;
    app.upsert(crate::helpers::buyer("J-DOWN", "1000.00")).await;
    redis.kill();
    let invoice = json!({
        "buyerId": "J-DOWN", "invoiceId": "INV-1", "amount": eur("10.00"),
        "issueDate": app.day(0), "dueDate": app.day(30)
    });
    for http in BOTH {
        let down = call(
            app.addr,
            http,
            "LedgerService/RecordInvoice",
            None,
            &invoice,
        )
        .await;
        failed(
            &down,
            503,
            "unavailable",
            "a ledger write with the store down",
        );
    }
}

//! Prometheus metrics through the real binary (`--metrics-listen`): after a
//! known sequence of calls, the scraped series match it exactly, and the
//! exposition parses as Prometheus text.

use crate::helpers::process::Replica;
use crate::helpers::*;
use creditgate::grpc::pb;
use creditgate::grpc::pb::credit_decision_service_client::CreditDecisionServiceClient;
use creditgate::grpc::pb::ledger_service_client::LedgerServiceClient;
use prometheus_parse::{Sample, Scrape, Value};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use tonic::Code;
use tonic::transport::Channel;

/// One HTTP/1.1 request; the status line and the body.
fn http_get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut tcp = TcpStream::connect(addr).unwrap();
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a header block");
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

pub(crate) fn scrape(addr: SocketAddr) -> Vec<Sample> {
    let (status, body) = http_get(addr, "/metrics");
    assert!(status.contains("200"), "{status}");
    let lines = body.lines().map(|l| Ok(l.to_owned()));
    Scrape::parse(lines)
        .expect("Prometheus text format")
        .samples
}

/// The value of the one sample of `name` whose labels include `labels`.
pub(crate) fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
        .collect();
    assert!(
        found.len() <= 1,
        "{name} {labels:?}: {} samples",
        found.len()
    );
    found.first().map(|s| match &s.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
        Value::Histogram(buckets) => buckets.iter().map(|b| b.count).fold(0.0, f64::max),
        Value::Summary(_) => panic!("{name} is a summary, not a histogram"),
    })
}

fn check(buyer: &str, order: &str, amount: &str) -> pb::CheckCreditLimitRequest {
    pb::CheckCreditLimitRequest {
        buyer_id: buyer.into(),
        order_id: order.into(),
        amount: eur(amount),
        payment_terms_days: 0,
    }
}

#[tokio::test]
async fn the_scraped_series_match_a_known_sequence_of_calls() {
    let replica = Replica::start(&["--metrics-listen", "127.0.0.1:0"]);
    let metrics = replica.logged_addr("metrics listening");
    let channel = connect(replica.addr).await;
    let mut decisions = CreditDecisionServiceClient::new(channel.clone());
    let mut ledger = LedgerServiceClient::new(channel.clone());
    ledger
        .upsert_buyer(pb::UpsertBuyerRequest {
            buyer: Some(buyer("B-1", "10000.00")),
            update_mask: None,
        })
        .await
        .unwrap();
    let mut answers = Vec::new();
    for request in [
        check("B-1", "O-1", "9000.00"),  // approved
        check("B-1", "O-2", "1500.00"),  // held: within the tier's tolerance
        check("B-1", "O-3", "50000.00"), // referred: far beyond the limit
        check("NOBODY", "O-1", "10.00"), // referred: unknown buyer
        check("B-1", "O-1", "9000.00"),  // the retry of O-1: approved again
    ] {
        answers.push(
            decisions
                .check_credit_limit(request)
                .await
                .unwrap()
                .into_inner(),
        );
    }
    let bad = decisions.check_credit_limit(check("", "O-9", "1.00")).await;
    assert_eq!(bad.unwrap_err().code(), Code::InvalidArgument);
    let missing = ledger
        .get_buyer_exposure(pb::GetBuyerExposureRequest {
            buyer_id: "NOBODY".into(),
        })
        .await;
    assert_eq!(missing.unwrap_err().code(), Code::NotFound);
    assert_eq!(unimplemented_call(channel).await, Code::Unimplemented);

    let samples = scrape(metrics);
    let requests = |rpc: &str, code: &str| {
        value(
            &samples,
            "creditgate_requests_total",
            &[("rpc", rpc), ("code", code)],
        )
    };
    assert_eq!(requests("UpsertBuyer", "OK"), Some(1.0));
    assert_eq!(requests("CheckCreditLimit", "OK"), Some(5.0));
    assert_eq!(requests("CheckCreditLimit", "INVALID_ARGUMENT"), Some(1.0));
    assert_eq!(requests("GetBuyerExposure", "NOT_FOUND"), Some(1.0));
    assert_eq!(requests("other", "UNIMPLEMENTED"), Some(1.0));
    assert_eq!(requests("ScoreBuyer", "OK"), None, "no call, no series");
    assert_eq!(
        value(&samples, "creditgate_archive_up", &[]),
        None,
        "no archive, no archive series"
    );
    let total: f64 = samples
        .iter()
        .filter(|s| s.metric == "creditgate_requests_total")
        .map(|s| match s.value {
            Value::Counter(v) => v,
            _ => panic!("a counter"),
        })
        .sum();
    assert_eq!(total, 9.0, "every call counted once");

    // The histogram: one observation per call, buckets cumulative up to +Inf.
    let count = |rpc: &str| {
        value(
            &samples,
            "creditgate_request_duration_seconds_count",
            &[("rpc", rpc)],
        )
    };
    assert_eq!(count("CheckCreditLimit"), Some(6.0));
    assert_eq!(count("UpsertBuyer"), Some(1.0));
    let buckets = samples
        .iter()
        .find(|s| {
            s.metric == "creditgate_request_duration_seconds"
                && s.labels.get("rpc") == Some("CheckCreditLimit")
        })
        .expect("the CheckCreditLimit histogram");
    let Value::Histogram(buckets) = &buckets.value else {
        panic!("a histogram");
    };
    assert!(
        buckets.iter().any(|b| b.less_than == 0.00005),
        "a bucket at 50 µs"
    );
    assert!(
        buckets.windows(2).all(|w| w[0].count <= w[1].count),
        "cumulative"
    );
    assert_eq!(buckets.last().unwrap().count, 6.0, "+Inf holds every call");

    let decided = |d: &str| value(&samples, "creditgate_decisions_total", &[("decision", d)]);
    assert_eq!(decided("approved"), Some(2.0));
    assert_eq!(decided("held"), Some(1.0));
    assert_eq!(decided("referred"), Some(2.0));
    let mut reasons: HashMap<String, f64> = HashMap::new();
    for answer in &answers {
        for reason in &answer.reasons {
            *reasons.entry(reason.code.clone()).or_default() += 1.0;
        }
    }
    assert!(reasons.contains_key("ALREADY_APPROVED"), "{reasons:?}");
    for (reason, n) in &reasons {
        let scraped = value(
            &samples,
            "creditgate_decision_reasons_total",
            &[("reason", reason)],
        );
        assert_eq!(scraped, Some(*n), "{reason}");
    }
    let reason_series = samples
        .iter()
        .filter(|s| s.metric == "creditgate_decision_reasons_total")
        .count();
    assert_eq!(
        reason_series,
        reasons.len(),
        "no reason counted that was not given"
    );

    // Four checks of a known buyer reached the store's check; five loaded a buyer.
    let store = |op: &str| {
        value(
            &samples,
            "creditgate_store_duration_seconds_count",
            &[("op", op)],
        )
    };
    assert_eq!(store("check_and_reserve"), Some(4.0));
    assert!(store("load_buyer").unwrap() >= 5.0);
    assert_eq!(value(&samples, "creditgate_store_up", &[]), Some(1.0));
    assert_eq!(
        value(&samples, "creditgate_in_flight_requests", &[]),
        Some(0.0)
    );
    let version = env!("CARGO_PKG_VERSION");
    let policy = answers[0].policy_version.as_str();
    let info = [("version", version), ("policy_version", policy)];
    assert_eq!(value(&samples, "creditgate_build_info", &info), Some(1.0));
}

/// A method no service has: counted under `rpc="other"`.
/// With an archive: every recorded decision counted as shipped, the archive
/// up, and the outbox empty once shipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_archive_series_follow_the_shipper() {
    let url = crate::helpers::postgres::shared_postgres()
        .fresh_database()
        .await;
    let replica =
        Replica::start_async(&["--metrics-listen", "127.0.0.1:0", "--archive-url", &url]).await;
    let metrics = replica.logged_addr("metrics listening");
    let channel = connect(replica.addr).await;
    let mut decisions = CreditDecisionServiceClient::new(channel.clone());
    LedgerServiceClient::new(channel)
        .upsert_buyer(pb::UpsertBuyerRequest {
            buyer: Some(buyer("B-1", "10000.00")),
            update_mask: None,
        })
        .await
        .unwrap();
    for request in [
        check("B-1", "O-1", "9000.00"),  // approved: a record
        check("B-1", "O-2", "1500.00"),  // held: a record
        check("NOBODY", "O-1", "10.00"), // unknown buyer: none
        check("B-1", "O-1", "9000.00"),  // a retry answered from the approval: none
    ] {
        decisions.check_credit_limit(request).await.unwrap();
    }
    eventually("two records shipped", || async {
        let samples = tokio::task::spawn_blocking(move || scrape(metrics))
            .await
            .unwrap();
        value(&samples, "creditgate_archive_shipped_total", &[]) == Some(2.0)
            && value(&samples, "creditgate_archive_outbox_records", &[]) == Some(0.0)
    })
    .await;
    let samples = scrape(metrics);
    assert_eq!(value(&samples, "creditgate_archive_up", &[]), Some(1.0));
}

async fn unimplemented_call(channel: Channel) -> Code {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static("/creditgate.v1.CreditDecisionService/Nope");
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    grpc.unary(tonic::Request::new(()), path, codec)
        .await
        .unwrap_err()
        .code()
}

#[tokio::test]
async fn metrics_are_served_at_metrics_only_and_are_off_unless_asked_for() {
    let replica = Replica::start(&["--metrics-listen", "127.0.0.1:0"]);
    let metrics = replica.logged_addr("metrics listening");
    let (status, _) = http_get(metrics, "/");
    assert!(status.contains("404"), "{status}");
    let (status, body) = http_get(metrics, "/metrics");
    assert!(status.contains("200"), "{status}");
    // The scrape port opens before the first store probe: 0 until it is known.
    assert!(body.contains("creditgate_store_up "), "{body}");
    eventually("store_up 1 after the first probe", || async move {
        http_get(metrics, "/metrics")
            .1
            .contains("creditgate_store_up 1")
    })
    .await;
    let off = Replica::start(&[]);
    assert!(
        !off.startup_logs
            .iter()
            .any(|l| l.contains("metrics listening")),
        "{:?}",
        off.startup_logs
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_up_follows_a_redis_that_hangs_and_comes_back() {
    let redis = crate::helpers::redis::RedisServer::start();
    let url = redis.url();
    let store = ["--redis-url", url.as_str(), "--redis-namespace", "up"];
    crate::helpers::process::store_init(&store);
    let args = [
        &store[..],
        &[
            "--metrics-listen",
            "127.0.0.1:0",
            "--health-interval",
            "100ms",
        ],
        &["--redis-timeout", "200ms"],
    ]
    .concat();
    let replica = Replica::start_async(&args).await;
    let metrics = replica.logged_addr("metrics listening");
    let up = |v: &'static str| {
        move || async move {
            http_get(metrics, "/metrics")
                .1
                .contains(&format!("creditgate_store_up {v}\n"))
        }
    };
    eventually("store_up 1", up("1")).await;
    // A hung Redis: the probe times out, it never answers "down" by itself.
    let frozen = redis.freeze();
    eventually("store_up 0 while redis hangs", up("0")).await;
    frozen.resume();
    eventually("store_up 1 once redis answers again", up("1")).await;
}

//! Hostile input through the real server: bodies no generated client would send
//! (strings that are not UTF-8), huge and invisible values, for every RPC. The
//! answer is always a proper status — OK, INVALID_ARGUMENT starting with a field
//! of the request, or a domain status — never INTERNAL or UNKNOWN, and the
//! server stays healthy.

use crate::helpers::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use prost::bytes::{Buf, BufMut};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// Sends and receives message bodies as raw bytes, so a test can put into a
/// string field what prost would refuse to build.
#[derive(Default)]
struct RawCodec;
struct RawEncoder;
struct RawDecoder;

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut out = vec![0; buf.remaining()];
        buf.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

async fn call_raw(channel: &Channel, path: &'static str, body: Vec<u8>) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| Status::unknown(format!("channel not ready: {e}")))?;
    grpc.unary(
        tonic::Request::new(body),
        PathAndQuery::from_static(path),
        RawCodec,
    )
    .await
    .map(drop)
}

/// A protobuf body written field by field; a string field is any bytes.
#[derive(Default)]
struct Body(Vec<u8>);

impl Body {
    fn varint(mut value: u64, out: &mut Vec<u8>) {
        while value >= 0x80 {
            out.push((value as u8) | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }

    fn bytes(mut self, tag: u64, value: &[u8]) -> Body {
        Body::varint((tag << 3) | 2, &mut self.0);
        Body::varint(value.len() as u64, &mut self.0);
        self.0.extend_from_slice(value);
        self
    }

    fn message(self, tag: u64, inner: Body) -> Body {
        self.bytes(tag, &inner.0)
    }

    fn number(mut self, tag: u64, value: u64) -> Body {
        Body::varint(tag << 3, &mut self.0);
        Body::varint(value, &mut self.0);
        self
    }

    fn money(self, tag: u64, currency: &[u8], amount: &[u8]) -> Body {
        self.message(tag, Body::default().bytes(1, currency).bytes(2, amount))
    }
}

/// One RPC: its path, request message, the field path each value goes to
/// (what an INVALID_ARGUMENT about that value must start with), a valid value
/// for each (`TODAY`, `TODAY+30` stand for dates), and how the values make a
/// body.
struct Rpc {
    path: &'static str,
    message: &'static str,
    paths: &'static [&'static str],
    valid: &'static [&'static str],
    build: fn(&[Vec<u8>]) -> Vec<u8>,
}

impl Rpc {
    /// The top-level request fields an INVALID_ARGUMENT may start with.
    fn names_a_field(&self, message: &str) -> bool {
        let first = message.split(' ').next().unwrap_or_default();
        let top = first.split('.').next().unwrap_or_default();
        first == self.message || self.paths.iter().any(|p| p.split('.').next() == Some(top))
    }
}

const RPCS: &[Rpc] = &[
    Rpc {
        path: "/creditgate.v1.CreditDecisionService/CheckCreditLimit",
        message: "CheckCreditLimitRequest",
        paths: &[
            "buyer_id",
            "order_id",
            "amount.currency_code",
            "amount.amount",
        ],
        valid: &["B-1", "O-1", "EUR", "10.00"],
        build: |v| {
            Body::default()
                .bytes(1, &v[0])
                .bytes(2, &v[1])
                .money(3, &v[2], &v[3])
                .0
        },
    },
    Rpc {
        path: "/creditgate.v1.CreditDecisionService/ScoreBuyer",
        message: "ScoreBuyerRequest",
        paths: &["buyer_id"],
        valid: &["B-1"],
        build: |v| Body::default().bytes(1, &v[0]).0,
    },
    Rpc {
        path: "/creditgate.v1.LedgerService/UpsertBuyer",
        message: "UpsertBuyerRequest",
        paths: &[
            "buyer.buyer_id",
            "buyer.name",
            "buyer.country_code",
            "buyer.currency_code",
            "buyer.credit_limit.currency_code",
            "buyer.credit_limit.amount",
            "buyer.insurance.insured_limit.currency_code",
            "buyer.insurance.insured_limit.amount",
            "buyer.insurance.indemnity_percent",
            "buyer.early_payment_discount.percent",
            "update_mask.paths",
        ],
        valid: &[
            "B-1",
            "B-1 GmbH",
            "DE",
            "EUR",
            "EUR",
            "100000.00",
            "EUR",
            "500.00",
            "90",
            "2",
            "",
        ],
        build: |v| {
            let insurance = Body::default().money(1, &v[6], &v[7]).bytes(2, &v[8]);
            let discount = Body::default().bytes(1, &v[9]).number(2, 10);
            let buyer = Body::default()
                .bytes(1, &v[0])
                .bytes(2, &v[1])
                .bytes(3, &v[2])
                .bytes(4, &v[3])
                .money(6, &v[4], &v[5])
                .message(10, insurance)
                .message(11, discount);
            let body = Body::default().message(1, buyer);
            // An empty path means "no mask": a full write.
            if v[10].is_empty() {
                body.0
            } else {
                body.message(2, Body::default().bytes(1, &v[10])).0
            }
        },
    },
    Rpc {
        path: "/creditgate.v1.LedgerService/CancelOrder",
        message: "CancelOrderRequest",
        paths: &["buyer_id", "order_id"],
        valid: &["B-1", "O-1"],
        build: |v| Body::default().bytes(1, &v[0]).bytes(2, &v[1]).0,
    },
    Rpc {
        path: "/creditgate.v1.LedgerService/RecordInvoice",
        message: "RecordInvoiceRequest",
        paths: &[
            "buyer_id",
            "invoice_id",
            "order_id",
            "amount.currency_code",
            "amount.amount",
            "issue_date",
            "due_date",
        ],
        valid: &["B-1", "INV-2", "", "EUR", "10.00", "TODAY", "TODAY+30"],
        build: |v| {
            Body::default()
                .bytes(1, &v[0])
                .bytes(2, &v[1])
                .bytes(3, &v[2])
                .money(4, &v[3], &v[4])
                .bytes(5, &v[5])
                .bytes(6, &v[6])
                .0
        },
    },
    Rpc {
        path: "/creditgate.v1.LedgerService/RecordPayment",
        message: "RecordPaymentRequest",
        paths: &[
            "buyer_id",
            "invoice_id",
            "amount.currency_code",
            "amount.amount",
            "paid_date",
            "payment_id",
        ],
        valid: &["B-1", "INV-1", "EUR", "1.00", "TODAY", "P-1"],
        build: |v| {
            Body::default()
                .bytes(1, &v[0])
                .bytes(2, &v[1])
                .money(3, &v[2], &v[3])
                .bytes(4, &v[4])
                .bytes(5, &v[5])
                .0
        },
    },
    Rpc {
        path: "/creditgate.v1.LedgerService/SetInvoiceDispute",
        message: "SetInvoiceDisputeRequest",
        paths: &["buyer_id", "invoice_id"],
        valid: &["B-1", "INV-1"],
        build: |v| {
            Body::default()
                .bytes(1, &v[0])
                .bytes(2, &v[1])
                .number(3, 1)
                .0
        },
    },
    Rpc {
        path: "/creditgate.v1.LedgerService/GetBuyerExposure",
        message: "GetBuyerExposureRequest",
        paths: &["buyer_id"],
        valid: &["B-1"],
        build: |v| Body::default().bytes(1, &v[0]).0,
    },
];

/// The most values any RPC takes (UpsertBuyer).
const VALUES: usize = 11;

/// Values that pass one check and reach the next, so that random requests also
/// get to the service and the store.
const PLAUSIBLE: &[&str] = &[
    "B-1",
    "O-1",
    "INV-1",
    "P-1",
    "EUR",
    "USD",
    "DE",
    "10.00",
    "1",
    "90",
    "2",
    "name",
    "credit_limit",
    "Müller-GmbH",
    "株式会社-1",
    "SO-4711/2",
    "{B-1}",
];

/// Characters the id rule refuses, and ones it allows that are unusual.
const ODD_CHARS: &[char] = &[
    '\0', '\n', '\u{7F}', '\u{202E}', '\u{2066}', '\u{200B}', '\u{200D}', '\u{FEFF}', '\u{00AD}',
    '\u{00A0}', '\u{2028}', '\u{E000}', '\u{FFFF}', '\u{0301}', '\u{FE0F}', '😀', '{', '}', '%',
];

fn value(plausible: Vec<String>) -> impl Strategy<Value = Vec<u8>> {
    let pick = prop::sample::select(plausible);
    prop_oneof![
        4 => pick.clone().prop_map(String::into_bytes),
        1 => prop::sample::select(&["", " ", "  ", "\t", "\u{3000}", "\0"][..])
            .prop_map(|s| s.as_bytes().to_vec()),
        1 => "\\PC{0,32}".prop_map(String::into_bytes),
        // A plausible value with an odd character somewhere in it.
        2 => (pick.clone(), prop::sample::select(ODD_CHARS), any::<prop::sample::Index>())
            .prop_map(|(s, c, at)| {
                let chars: Vec<char> = s.chars().collect();
                let at = at.index(chars.len() + 1);
                let mut out: String = chars[..at].iter().collect();
                out.push(c);
                out.extend(&chars[at..]);
                out.into_bytes()
            }),
        // Huge: up to 6 KB.
        1 => (prop::sample::select(&["x", "€", "😀", "e\u{0301}", "\u{200B}"][..]), 100..1500usize)
            .prop_map(|(s, n)| s.repeat(n).into_bytes()),
        // Not UTF-8.
        1 => (pick, 0x80u8..=0xff).prop_map(|(s, b)| {
            let mut out = s.into_bytes();
            out.push(b);
            out
        }),
        1 => prop::collection::vec(any::<u8>(), 0..16),
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn assert_healthy(app: &TestApp) {
    let mut health = HealthClient::new(connect(app.addr).await);
    let status = health
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health check")
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);
    app.upsert(buyer("B-OK", "100000.00")).await;
    let answer = app.check("B-OK", "O-OK", "1.00").await;
    assert_eq!(decision(&answer), Decision::Approved, "{answer:?}");
}

#[test]
fn every_rpc_answers_hostile_values_with_a_proper_status() {
    let rt = runtime();
    let app = rt.block_on(async {
        let app = TestApp::spawn().await;
        app.upsert(buyer("B-1", "100000.00")).await;
        app.invoice("B-1", "INV-1", "", "50.00", -1, 29)
            .await
            .expect("invoice");
        app
    });
    let channel = rt.block_on(connect(app.addr));
    let mut plausible: Vec<String> = PLAUSIBLE.iter().map(|s| (*s).to_owned()).collect();
    plausible.extend([app.day(0), app.day(-1), app.day(30)]);
    // Each case keeps some of the RPC's valid values and replaces the others,
    // so that requests get past validation to the service and the store too.
    let cases = (
        prop::collection::vec(value(plausible), VALUES),
        prop::collection::vec(prop::bool::weighted(0.3), VALUES),
    );
    for rpc in RPCS {
        let valid: Vec<Vec<u8>> = rpc
            .valid
            .iter()
            .map(|v| match *v {
                "TODAY" => app.day(0),
                "TODAY+30" => app.day(30),
                v => v.to_owned(),
            })
            .map(String::into_bytes)
            .collect();
        // No persistence: a failure prints its (shrunk) values.
        let mut runner = TestRunner::new(Config {
            cases: 64,
            failure_persistence: None,
            ..Config::default()
        });
        let outcome = runner.run(&cases, |(hostile, replace)| {
            let values: Vec<Vec<u8>> = valid
                .iter()
                .zip(hostile.into_iter().zip(replace))
                .map(|(valid, (hostile, replace))| if replace { hostile } else { valid.clone() })
                .collect();
            let answer = rt.block_on(call_raw(&channel, rpc.path, (rpc.build)(&values)));
            eprintln!(
                "STAT {} {:?}",
                rpc.path,
                answer.as_ref().map_err(|s| s.code())
            );
            let Err(status) = answer else {
                return Ok(());
            };
            match status.code() {
                Code::InvalidArgument => prop_assert!(
                    rpc.names_a_field(status.message()),
                    "{}: {:?} names no field of the request",
                    rpc.path,
                    status.message()
                ),
                Code::NotFound | Code::FailedPrecondition | Code::AlreadyExists => {}
                _ => prop_assert!(false, "{}: {status:?}", rpc.path),
            }
            Ok(())
        });
        if let Err(failure) = outcome {
            panic!("{}: {failure}", rpc.path);
        }
    }
    rt.block_on(assert_healthy(&app));
}

#[tokio::test]
async fn a_string_that_is_not_utf8_is_invalid_argument_naming_its_field() {
    let app = TestApp::spawn().await;
    let channel = connect(app.addr).await;
    for rpc in RPCS {
        for (i, path) in rpc.paths.iter().enumerate() {
            let mut values = vec![b"x".to_vec(); VALUES];
            values[i] = b"B-\xff1".to_vec();
            let status = call_raw(&channel, rpc.path, (rpc.build)(&values))
                .await
                .expect_err("must be refused");
            assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
            assert!(
                status
                    .message()
                    .starts_with(&format!("{path} is not valid UTF-8")),
                "{}: {:?}",
                rpc.path,
                status.message()
            );
        }
    }
    assert_healthy(&app).await;
}

#[tokio::test]
async fn a_huge_echoed_value_still_answers_invalid_argument() {
    let app = TestApp::spawn().await;
    let status = app
        .try_check("B-1", "O-1", money(&"€".repeat(3000), "1.00"))
        .await
        .expect_err("must be refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().starts_with("amount.currency_code "),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn ids_must_be_visible_nfc_text_and_names_must_not_rearrange_the_display() {
    let app = TestApp::spawn().await;
    app.upsert(buyer("B-1", "1000.00")).await;
    let refused = [
        (
            "SO-\u{202E}1",
            "order_id contains U+202E (a bidi override) at byte 3",
        ),
        (
            "SO\u{200B}1",
            "order_id contains U+200B (a zero-width character) at byte 2",
        ),
        (
            "SO\u{00A0}1",
            "order_id contains U+00A0 (a space other than U+0020) at byte 2",
        ),
        (
            "Mu\u{0308}ller",
            "order_id is not in Unicode normalization form C",
        ),
    ];
    for (order, message) in refused {
        let status = app
            .try_check("B-1", order, eur("1.00"))
            .await
            .expect_err("must be refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().starts_with(message), "{status:?}");
    }
    for id in ["Müller-GmbH", "株式会社-1", "SO-4711/2"] {
        app.upsert(buyer(id, "1000.00")).await;
        let answer = app.check(id, id, "1.00").await;
        assert_eq!(decision(&answer), Decision::Approved, "{id}: {answer:?}");
        assert_eq!(app.exposure(id).await.buyer_id, id);
    }
    let mut spoofed = buyer("B-2", "1000.00");
    spoofed.name = "Acme \u{202E}HbmG".into();
    let status = app.try_upsert(spoofed).await.expect_err("must be refused");
    assert!(
        status
            .message()
            .starts_with("buyer.name contains U+202E (a bidi override)"),
        "{status:?}"
    );
    let mut arabic = buyer("B-3", "1000.00");
    arabic.name = "شركة\u{200F} ACME \u{200D}".into();
    assert_eq!(app.upsert(arabic.clone()).await.name, arabic.name);
}

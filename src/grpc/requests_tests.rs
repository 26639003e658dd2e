//! Hostile bodies for every request type: decoding (the server's codec) and the
//! API's validation never panic, and every failure is INVALID_ARGUMENT whose
//! message starts with a field of that request (or, for damage outside any
//! field, the request's message name).

use super::*;
use crate::grpc::codec;
use proptest::prelude::*;
use prost::Message;
use tonic::{Code, Status};

/// One field of a protobuf-shaped body; tags 1–12 cover every field of every
/// request and of the messages nested in them (Buyer has 11).
#[derive(Clone, Debug)]
enum Field {
    Varint(u32, u64),
    Fixed32(u32, [u8; 4]),
    Fixed64(u32, [u8; 8]),
    Bytes(u32, Vec<u8>),
    Nested(u32, Vec<Field>),
    /// Bytes that are not a field at all.
    Garbage(Vec<u8>),
}

fn varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn encode(fields: &[Field], out: &mut Vec<u8>) {
    let key = |tag: u32, wire: u64, out: &mut Vec<u8>| varint((u64::from(tag) << 3) | wire, out);
    for field in fields {
        match field {
            Field::Varint(tag, value) => {
                key(*tag, 0, out);
                varint(*value, out);
            }
            Field::Fixed64(tag, bytes) => {
                key(*tag, 1, out);
                out.extend_from_slice(bytes);
            }
            Field::Fixed32(tag, bytes) => {
                key(*tag, 5, out);
                out.extend_from_slice(bytes);
            }
            Field::Bytes(tag, bytes) => {
                key(*tag, 2, out);
                varint(bytes.len() as u64, out);
                out.extend_from_slice(bytes);
            }
            Field::Nested(tag, inner) => {
                let mut body = Vec::new();
                encode(inner, &mut body);
                key(*tag, 2, out);
                varint(body.len() as u64, out);
                out.extend_from_slice(&body);
            }
            Field::Garbage(bytes) => out.extend_from_slice(bytes),
        }
    }
}

/// Values that get past one check and into the next: plausible ids, codes,
/// amounts, dates, mask paths, and the characters the id rule refuses.
const PLAUSIBLE: &[&str] = &[
    "",
    " ",
    "B-1",
    "O-1",
    "INV-1",
    "P-1",
    "EUR",
    "JPY",
    "BHD",
    "USD",
    "DE",
    "de",
    "10.00",
    "1",
    "0",
    "0.001",
    "-1.00",
    "1e3",
    "99999999999999999999",
    "2026-12-02",
    "2026-02-30",
    "9999-12-31",
    "0001-01-01",
    "name",
    "credit_limit",
    "financials",
    "buyer_id",
    "*",
    "90",
    "2",
    "100",
    "Müller-GmbH",
    "株式会社-1",
    "SO-4711/2",
    "Mu\u{0308}ller",
    "\u{202E}1-B",
    "B\u{200B}-1",
    "\u{FEFF}B-1",
    "B-1\0",
    "B-1 ",
    "\u{00A0}",
    "😀",
    "e\u{0301}",
];

fn text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::sample::select(PLAUSIBLE).prop_map(|s| s.as_bytes().to_vec()),
        "\\PC{0,24}".prop_map(String::into_bytes),
        ".{0,24}".prop_map(String::into_bytes),
        // Mostly not UTF-8.
        prop::collection::vec(any::<u8>(), 0..24),
        // A plausible value with one byte that makes it invalid UTF-8.
        (prop::sample::select(PLAUSIBLE), 0x80u8..=0xff).prop_map(|(s, b)| {
            let mut bytes = s.as_bytes().to_vec();
            bytes.push(b);
            bytes
        }),
    ]
}

fn field() -> impl Strategy<Value = Field> {
    let tag = 1u32..=12;
    let leaf = prop_oneof![
        (tag.clone(), prop_oneof![0u64..12, any::<u64>()]).prop_map(|(t, v)| Field::Varint(t, v)),
        (tag.clone(), any::<[u8; 4]>()).prop_map(|(t, b)| Field::Fixed32(t, b)),
        (tag.clone(), any::<[u8; 8]>()).prop_map(|(t, b)| Field::Fixed64(t, b)),
        (tag.clone(), text()).prop_map(|(t, b)| Field::Bytes(t, b)),
        prop::collection::vec(any::<u8>(), 1..6).prop_map(Field::Garbage),
    ];
    leaf.prop_recursive(3, 48, 8, move |inner| {
        prop_oneof![
            inner.clone(),
            (1u32..=12, prop::collection::vec(inner, 0..8)).prop_map(|(t, f)| Field::Nested(t, f)),
        ]
    })
}

/// A body: protobuf-shaped fields (sometimes cut short), or plain random bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let shaped = || {
        prop::collection::vec(field(), 0..10).prop_map(|fields| {
            let mut out = Vec::new();
            encode(&fields, &mut out);
            out
        })
    };
    prop_oneof![
        4 => shaped(),
        1 => (shaped(), any::<prop::sample::Index>()).prop_map(|(body, cut)| {
            let end = if body.is_empty() { 0 } else { cut.index(body.len()) };
            body[..end].to_vec()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..256),
    ]
}

/// A valid stored buyer for UpsertBuyer patches to merge into.
fn stored_buyer() -> BuyerProfile {
    convert::buyer_profile(Some(pb::Buyer {
        buyer_id: "B-1".into(),
        name: "B-1 GmbH".into(),
        country_code: "DE".into(),
        currency_code: "EUR".into(),
        credit_limit: Some(pb::Money {
            currency_code: "EUR".into(),
            amount: "1000.00".into(),
        }),
        ..Default::default()
    }))
    .expect("a valid buyer")
}

/// Decodes `body` as the server does and validates it as the handler does;
/// checks the failure, if any. Returns whether the request was accepted.
fn run<M: Message + Default>(
    body: &[u8],
    message: &str,
    fields: &[&str],
    validate: impl FnOnce(M) -> std::result::Result<(), ServiceError>,
) -> std::result::Result<bool, TestCaseError> {
    let result = codec::decode::<M>(body).and_then(|m| validate(m).map_err(Status::from));
    let Err(status) = result else {
        return Ok(true);
    };
    prop_assert_eq!(status.code(), Code::InvalidArgument, "{}", status.message());
    let first = status.message().split(' ').next().unwrap_or_default();
    let top = first.split('.').next().unwrap_or_default();
    prop_assert!(
        fields.contains(&top) || first == message,
        "{message}: {:?} does not start with one of its fields {fields:?}",
        status.message()
    );
    Ok(false)
}

fn every_request(body: &[u8]) -> std::result::Result<(), TestCaseError> {
    let stored = stored_buyer();
    run::<pb::CheckCreditLimitRequest>(
        body,
        "CheckCreditLimitRequest",
        &["buyer_id", "order_id", "amount", "payment_terms_days"],
        |r| check_credit_limit(&r).map(drop),
    )?;
    run::<pb::ScoreBuyerRequest>(body, "ScoreBuyerRequest", &["buyer_id"], |r| {
        score_buyer(&r).map(drop)
    })?;
    run::<pb::UpsertBuyerRequest>(body, "UpsertBuyerRequest", &["buyer", "update_mask"], |r| {
        match upsert_buyer(r)? {
            Upsert::Replace(_) => Ok(()),
            Upsert::Patch { update, paths, .. } => {
                merged_profile(&stored, &update, &paths).map(drop)
            }
        }
    })?;
    run::<pb::CancelOrderRequest>(body, "CancelOrderRequest", &["buyer_id", "order_id"], |r| {
        cancel_order(&r).map(drop)
    })?;
    run::<pb::RecordInvoiceRequest>(
        body,
        "RecordInvoiceRequest",
        &[
            "buyer_id",
            "invoice_id",
            "order_id",
            "amount",
            "issue_date",
            "due_date",
        ],
        |r| record_invoice(&r).map(drop),
    )?;
    run::<pb::RecordPaymentRequest>(
        body,
        "RecordPaymentRequest",
        &[
            "buyer_id",
            "invoice_id",
            "amount",
            "paid_date",
            "payment_id",
        ],
        |r| record_payment(&r).map(drop),
    )?;
    run::<pb::SetInvoiceDisputeRequest>(
        body,
        "SetInvoiceDisputeRequest",
        &["buyer_id", "invoice_id", "disputed"],
        |r| set_invoice_dispute(&r).map(drop),
    )?;
    run::<pb::GetBuyerExposureRequest>(body, "GetBuyerExposureRequest", &["buyer_id"], |r| {
        get_buyer_exposure(&r).map(drop)
    })?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn hostile_bodies_fail_only_with_invalid_argument_naming_a_field(body in body()) {
        every_request(&body)?;
    }
}

/// The generator reaches the end of validation, not only the decoder: a
/// well-formed request built from the same pieces is accepted.
#[test]
fn a_well_formed_body_is_accepted() {
    let body = pb::CheckCreditLimitRequest {
        buyer_id: "Müller-GmbH".into(),
        order_id: "SO-4711/2".into(),
        amount: Some(pb::Money {
            currency_code: "EUR".into(),
            amount: "10.00".into(),
        }),
        payment_terms_days: 14,
    }
    .encode_to_vec();
    let accepted = run::<pb::CheckCreditLimitRequest>(&body, "CheckCreditLimitRequest", &[], |r| {
        check_credit_limit(&r).map(drop)
    });
    assert!(matches!(accepted, Ok(true)), "{accepted:?}");
}

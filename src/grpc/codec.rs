//! The protobuf codec of both services (build.rs names it for every method).
//!
//! It is tonic-prost's codec with one change: a message prost cannot decode is
//! answered INVALID_ARGUMENT naming the field, because a request body that is not
//! valid protobuf (a string field holding bytes that are not UTF-8, a truncated
//! length) is the caller's fault. tonic-prost answers INTERNAL with prost's
//! wording, which names no field the caller knows and pages the service's owner
//! for a client bug. Encoding stays prost's, and decoding still reads straight
//! from tonic's buffer: the only added work is on the failure path.
//!
//! The generated clients (tests, the load generator) share the codec, so a
//! response a client cannot decode is INVALID_ARGUMENT there too; this server
//! only ever sends what prost encoded.

use prost::{DecodeError, Message};
use std::marker::PhantomData;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::ProstEncoder;

/// What prost's `Display` puts before the error's location stack.
const PROST_PREFIX: &str = "failed to decode Protobuf message: ";
/// prost's description of a string field that is not UTF-8.
const PROST_NOT_UTF8: &str = "invalid string value: data is not UTF-8 encoded";

/// Encodes `T` with prost, decodes `U` with prost; see the module doc.
#[derive(Debug)]
pub struct ApiCodec<T, U> {
    _types: PhantomData<(T, U)>,
}

impl<T, U> Default for ApiCodec<T, U> {
    fn default() -> Self {
        ApiCodec {
            _types: PhantomData,
        }
    }
}

impl<T, U> Codec for ApiCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ApiDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(BufferSettings::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        ApiDecoder { _type: PhantomData }
    }
}

/// prost's decoding, with failures mapped by [`invalid_message`].
#[derive(Debug)]
pub struct ApiDecoder<U> {
    _type: PhantomData<U>,
}

impl<U: Message + Default> Decoder for ApiDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        decode(buf).map(Some)
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

/// What the server does with a request body: prost's decoding, failures mapped
/// by [`invalid_message`].
pub fn decode<U: Message + Default>(body: impl prost::bytes::Buf) -> Result<U, Status> {
    U::decode(body).map_err(|error| invalid_message(message_name::<U>(), &error))
}

/// The protobuf name of a generated message: its Rust type's last path segment.
fn message_name<U>() -> &'static str {
    let full = std::any::type_name::<U>();
    full.rsplit("::").next().unwrap_or(full)
}

/// INVALID_ARGUMENT for a `message` body prost refused, starting with the field
/// path in proto terms (as every INVALID_ARGUMENT of this API does), e.g.
/// `buyer.name is not valid UTF-8 (UpsertBuyerRequest.buyer.name)`.
///
/// prost keeps the failing field only in its `Display` text: the stack of
/// `Message.field: ` frames, innermost first. Damage outside any known field (a
/// broken tag, an unknown field cut short) has no frame; then the message type
/// is named instead.
pub fn invalid_message(message: &str, error: &DecodeError) -> Status {
    let text = error.to_string();
    let mut rest = text.strip_prefix(PROST_PREFIX).unwrap_or(&text);
    let mut fields = Vec::new();
    while let Some((frame, tail)) = rest.split_once(": ") {
        match frame.split_once('.') {
            Some((owner, field)) if is_identifier(owner) && is_identifier(field) => {
                fields.push(field);
                rest = tail;
            }
            _ => break,
        }
    }
    let what = if rest == PROST_NOT_UTF8 {
        "is not valid UTF-8".to_owned()
    } else {
        format!("is not valid protobuf ({rest})")
    };
    if fields.is_empty() {
        return Status::invalid_argument(format!("{message} {what}"));
    }
    fields.reverse();
    let path = fields.join(".");
    Status::invalid_argument(format!("{path} {what} ({message}.{path})"))
}

fn is_identifier(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpc::pb;
    use tonic::Code;

    /// `tag` as a length-delimited field holding `bytes`, as a client whose
    /// string is really bytes would send it.
    fn field(tag: u8, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![(tag << 3) | 2, bytes.len() as u8];
        out.extend_from_slice(bytes);
        out
    }

    fn decode<U: Message + Default + std::fmt::Debug>(body: &[u8]) -> Status {
        let error = U::decode(body).expect_err("body must not decode");
        invalid_message(message_name::<U>(), &error)
    }

    #[test]
    fn invalid_utf8_in_a_string_names_the_field() {
        let status = decode::<pb::CheckCreditLimitRequest>(&field(2, b"SO-\xff"));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(
            status.message(),
            "order_id is not valid UTF-8 (CheckCreditLimitRequest.order_id)"
        );
    }

    #[test]
    fn nested_fields_are_named_by_their_path() {
        let buyer = field(2, b"\xc3\x28");
        let status = decode::<pb::UpsertBuyerRequest>(&field(1, &buyer));
        assert_eq!(
            status.message(),
            "buyer.name is not valid UTF-8 (UpsertBuyerRequest.buyer.name)"
        );
        let amount = field(1, b"E\xffR");
        let status = decode::<pb::RecordPaymentRequest>(&field(3, &amount));
        assert_eq!(
            status.message(),
            "amount.currency_code is not valid UTF-8 (RecordPaymentRequest.amount.currency_code)"
        );
    }

    #[test]
    fn a_truncated_field_names_it() {
        // buyer_id announces 9 bytes, 2 follow.
        let status = decode::<pb::ScoreBuyerRequest>(&[0x0a, 9, b'B', b'1']);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status
                .message()
                .starts_with("buyer_id is not valid protobuf ("),
            "{}",
            status.message()
        );
    }

    #[test]
    fn damage_outside_any_field_names_the_message() {
        // Wire type 7 does not exist.
        let status = decode::<pb::GetBuyerExposureRequest>(&[0x0f]);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status
                .message()
                .starts_with("GetBuyerExposureRequest is not valid protobuf ("),
            "{}",
            status.message()
        );
    }
}

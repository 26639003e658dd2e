//! The proto3 JSON mapping, both directions, with the serde code pbjson-build
//! generated for every message (no hand-written field mapping).

use bytes::{BufMut, Bytes, BytesMut};
use tonic::Status;

/// gRPC framing: an uncompressed flag and the message's 4-byte length.
const FRAME_HEADER: usize = 5;

/// A JSON request body as the one gRPC frame the routes expect. An empty body
/// is the empty message (`{}`), as curl without `-d '{}'` would send it.
pub fn request_frame<T>(json: &[u8]) -> Result<Bytes, Status>
where
    T: prost::Message + Default + serde::de::DeserializeOwned,
{
    let message: T = if json.iter().all(u8::is_ascii_whitespace) {
        T::default()
    } else {
        parse(json)?
    };
    let len = message.encoded_len();
    let mut frame = BytesMut::with_capacity(FRAME_HEADER + len);
    frame.put_u8(0);
    frame.put_u32(u32::try_from(len).map_err(|_| Status::invalid_argument("request too large"))?);
    message
        .encode(&mut frame)
        .map_err(|e| Status::internal(format!("encoding the request: {e}")))?;
    Ok(frame.freeze())
}

/// Parses `json`; a failure names the field it happened in, as the caller
/// spelled it (`amount.currencyCode`), so that it reads like the gRPC
/// INVALID_ARGUMENT answers.
fn parse<T: serde::de::DeserializeOwned>(json: &[u8]) -> Result<T, Status> {
    let mut reader = serde_json::Deserializer::from_slice(json);
    let message = serde_path_to_error::deserialize(&mut reader).map_err(|error| {
        let path = error.path().to_string();
        let error = error.into_inner();
        if path == "." {
            Status::invalid_argument(format!("request body is not a valid JSON message: {error}"))
        } else {
            Status::invalid_argument(format!("{path}: {error}"))
        }
    })?;
    reader.end().map_err(|error| {
        Status::invalid_argument(format!(
            "request body has more than one JSON value: {error}"
        ))
    })?;
    Ok(message)
}

/// A response message (prost's encoding, from the routes) as proto3 JSON.
pub fn response_json<T>(protobuf: &[u8]) -> Result<Vec<u8>, Status>
where
    T: prost::Message + Default + serde::Serialize,
{
    let message =
        T::decode(protobuf).map_err(|e| Status::internal(format!("decoding the response: {e}")))?;
    serde_json::to_vec(&message).map_err(|e| Status::internal(format!("encoding JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpc::pb;

    #[test]
    fn a_bad_value_is_invalid_argument_naming_its_field() {
        let error = request_frame::<pb::CheckCreditLimitRequest>(
            br#"{"buyerId":"ACME","amount":{"currencyCode":7}}"#,
        )
        .unwrap_err();
        assert_eq!(error.code(), tonic::Code::InvalidArgument);
        assert!(
            error.message().starts_with("amount.currencyCode: "),
            "{}",
            error.message()
        );
    }

    #[test]
    fn an_empty_body_is_the_empty_message() {
        assert_eq!(
            &request_frame::<pb::ListHeldOrdersRequest>(b"").unwrap()[..],
            &[0, 0, 0, 0, 0]
        );
    }
}

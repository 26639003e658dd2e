//! A Connect unary call over JSON (HTTP/1.1 or HTTP/2): checked, its body read
//! within the request size and deadline bounds, converted to a gRPC frame and
//! passed to the same routes as native gRPC; the gRPC answer converted back.
//!
//! The caller's headers go along unchanged (Authorization: the same tokens and
//! roles), `Connect-Timeout-Ms` becomes `grpc-timeout`, so admission applies its
//! limits and deadlines exactly as for gRPC.

use super::errors::ConnectError;
use super::methods::{self, Method};
use crate::grpc::admission::AdmissionLimits;
use bytes::{Buf, Bytes};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tonic::body::Body;
use tonic::{Code, Status};
use tower::ServiceExt;

const CONNECT_TIMEOUT: &str = "connect-timeout-ms";
/// The largest `grpc-timeout` in milliseconds (eight digits).
const MAX_GRPC_TIMEOUT_MS: u64 = 99_999_999;

#[derive(Clone)]
pub struct Connect<S> {
    inner: S,
    limits: Arc<AdmissionLimits>,
}

impl<S> Connect<S> {
    pub fn new(inner: S, limits: Arc<AdmissionLimits>) -> Connect<S> {
        Connect { inner, limits }
    }
}

impl<S> tower::Service<Request<Incoming>> for Connect<S>
where
    S: tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let inner = self.inner.clone();
        let limits = self.limits.clone();
        Box::pin(async move {
            Ok(unary(inner, &limits, request)
                .await
                .unwrap_or_else(ConnectError::into_response))
        })
    }
}

async fn unary<S>(
    inner: S,
    limits: &AdmissionLimits,
    request: Request<Incoming>,
) -> Result<Response<Body>, ConnectError>
where
    S: tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    let received = Instant::now();
    let (mut parts, body) = request.into_parts();
    let (method, timeout) =
        match check(&parts).and_then(|m| Ok((m, connect_timeout(&parts.headers)?))) {
            Ok(checked) => checked,
            Err(refusal) => {
                // Read (a bounded part of) the body first, as read_within says why.
                let _ = tokio::time::timeout_at(
                    (received + limits.default_deadline).into(),
                    read_within(body, 0, None),
                )
                .await;
                return Err(refusal);
            }
        };
    // As admission bounds a gRPC body: within the call's deadline, never longer
    // than the default one, and no larger than --max-request-bytes.
    let read_by = received
        + timeout
            .unwrap_or(limits.default_deadline)
            .min(limits.default_deadline);
    let json = read_body(body, &parts.headers, limits.max_request_bytes, read_by).await?;
    let frame = (method.request)(&json)?;
    grpc_headers(&mut parts.headers, timeout);
    let call = Request::from_parts(parts, Body::new(Full::new(frame)));
    let Ok(response) = inner.oneshot(call).await;
    let message = answer(response).await?;
    let json = (method.response)(&message)?;
    let mut response = Response::new(Body::new(Full::new(Bytes::from(json))));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// The RPC the path names, if the request is one Connect's unary JSON allows:
/// an unknown path is 404, a method other than POST 405 (GET calls are not
/// offered), any body but JSON 415.
fn check(request: &http::request::Parts) -> Result<Method, ConnectError> {
    let path = request.uri.path();
    let Some(method) = methods::lookup(path) else {
        return Err(ConnectError::http(
            StatusCode::NOT_FOUND,
            Code::Unimplemented,
            format!("no RPC at {path}: JSON calls are POST /creditgate.v1.<Service>/<Method>"),
        ));
    };
    if request.method != http::Method::POST {
        return Err(ConnectError::http(
            StatusCode::METHOD_NOT_ALLOWED,
            Code::Unimplemented,
            format!("{} is not allowed: calls are POST", request.method),
        )
        .with_hint(header::ALLOW, "POST"));
    }
    if !is_json(&request.headers) {
        return Err(ConnectError::http(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::Unimplemented,
            "the request body must be Content-Type: application/json (or a gRPC or gRPC-Web call)"
                .into(),
        )
        .with_hint(
            header::HeaderName::from_static("accept-post"),
            "application/json",
        ));
    }
    if let Some(encoding) = request.headers.get(header::CONTENT_ENCODING)
        && encoding != "identity"
    {
        return Err(ConnectError::from(Status::unimplemented(
            "compressed request bodies are not accepted (Content-Encoding)",
        )));
    }
    Ok(method)
}

/// `application/json`, with at most a UTF-8 charset parameter.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut parts = value.split(';').map(str::trim);
    let essence = parts.next().unwrap_or_default();
    essence.eq_ignore_ascii_case("application/json")
        && parts.all(|p| {
            p.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("charset")
                    && v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            })
        })
}

/// `Connect-Timeout-Ms`: at most ten digits, as the protocol says.
fn connect_timeout(headers: &HeaderMap) -> Result<Option<Duration>, ConnectError> {
    let Some(value) = headers.get(CONNECT_TIMEOUT) else {
        return Ok(None);
    };
    let millis = value
        .to_str()
        .ok()
        .filter(|v| (1..=10).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| {
            Status::invalid_argument(
                "Connect-Timeout-Ms: expected a positive number of milliseconds, at most 10 digits",
            )
        })?;
    Ok(Some(Duration::from_millis(millis)))
}

/// The body, whole, bounded in size and time as a gRPC request's is.
async fn read_body(
    body: Incoming,
    headers: &HeaderMap,
    max: usize,
    read_by: Instant,
) -> Result<Bytes, ConnectError> {
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let read = tokio::time::timeout_at(read_by.into(), read_within(body, max, announced)).await;
    let too_large = |bytes: String| {
        Status::resource_exhausted(format!(
            "request message of {bytes} bytes is larger than the server's limit of {max} bytes (--max-request-bytes)"
        ))
    };
    match read {
        Err(_) => Err(Status::deadline_exceeded(
            "the request body did not arrive within the call's deadline",
        )
        .into()),
        Ok(Read::Whole(bytes)) => Ok(bytes),
        Ok(Read::TooLarge(seen)) => Err(too_large(match announced {
            Some(length) => length.to_string(),
            None => format!("at least {seen}"),
        })
        .into()),
        Ok(Read::Failed(error)) => {
            Err(Status::cancelled(format!("reading the request body: {error}")).into())
        }
    }
}

enum Read {
    Whole(Bytes),
    /// Over the limit, after this many bytes.
    TooLarge(usize),
    Failed(hyper::Error),
}

/// Reads up to `max` bytes. Past it (or past a Content-Length over it) nothing
/// more is kept, but up to DRAIN_BYTES are still read and dropped before the
/// answer: an HTTP/2 client still sending its body when the stream is reset
/// (curl) reports a transport error instead of the 429.
async fn read_within(mut body: Incoming, max: usize, announced: Option<u64>) -> Read {
    let mut kept = bytes::BytesMut::new();
    let mut seen = 0usize;
    let mut over = announced.is_some_and(|length| length > max as u64);
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(error) => return Read::Failed(error),
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        over |= seen > max;
        if over {
            if seen > DRAIN_BYTES {
                break;
            }
        } else {
            kept.extend_from_slice(&data);
        }
    }
    if over {
        Read::TooLarge(seen)
    } else {
        Read::Whole(kept.freeze())
    }
}

/// Request bytes past the limit read (and dropped) before a 429; a larger
/// body's stream is reset. One HTTP/2 stream window.
const DRAIN_BYTES: usize = crate::grpc::transport::settings::STREAM_WINDOW as usize;

/// The headers of the gRPC call the JSON one becomes: the caller's own (its
/// token among them) with the content-type, and the deadline in gRPC's form.
fn grpc_headers(headers: &mut HeaderMap, timeout: Option<Duration>) {
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(CONNECT_TIMEOUT);
    headers.remove(header::ACCEPT_ENCODING);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert(header::TE, HeaderValue::from_static("trailers"));
    if let Some(timeout) = timeout {
        let millis = (timeout.as_millis() as u64).min(MAX_GRPC_TIMEOUT_MS);
        if let Ok(value) = HeaderValue::from_str(&format!("{millis}m")) {
            headers.insert("grpc-timeout", value);
        }
    }
}

/// The response message of a gRPC answer, or its status as an error.
async fn answer(response: Response<Body>) -> Result<Bytes, ConnectError> {
    let (head, body) = response.into_parts();
    // Trailers-only: refused before a message (admission, auth, a handler's error).
    if let Some(status) = Status::from_header_map(&head.headers) {
        return Err(failed(status));
    }
    let collected = body.collect().await.map_err(ConnectError::from)?;
    let status = collected.trailers().and_then(Status::from_header_map);
    let mut data = collected.to_bytes();
    match status {
        Some(status) if status.code() == Code::Ok => {}
        Some(status) => return Err(failed(status)),
        None => return Err(Status::internal("the call ended without a gRPC status").into()),
    }
    if data.len() < 5 || data[0] != 0 {
        return Err(Status::internal("the call's answer is not one uncompressed message").into());
    }
    data.advance(1);
    let len = data.get_u32() as usize;
    if data.len() != len {
        return Err(Status::internal("the call's answer is not one whole message").into());
    }
    Ok(data)
}

/// A gRPC status that is not OK as a Connect error (OK here means an answer
/// without a message, which a unary call never has).
fn failed(status: Status) -> ConnectError {
    if status.code() == Code::Ok {
        return Status::internal("the call ended without an answer").into();
    }
    status.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_application_json_with_at_most_a_utf8_charset() {
        let json = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            is_json(&headers)
        };
        assert!(json("application/json"));
        assert!(json("Application/JSON; charset=utf-8"));
        assert!(!json("application/json; charset=latin1"));
        assert!(!json("application/proto"));
        assert!(!json("text/plain"));
        assert!(!is_json(&HeaderMap::new()));
    }
}

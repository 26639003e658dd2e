//! Counts every creditgate call by RPC and gRPC code, times it, and keeps the
//! in-flight gauge. It wraps admission from outside, so calls refused there
//! (unauthenticated, shed, too large) are counted with their code too. Health
//! and reflection are not counted.
//!
//! The code of an answer is in its `grpc-status`: in the response headers when
//! the call failed before a message (trailers-only), otherwise in the trailers
//! after the message; the body is watched for them. A call whose body is dropped
//! before its trailers (the client went away) counts as CANCELLED.

use super::{Metrics, RpcId};
use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;
use tonic::body::Body;

/// `grpc-status` 1: what a call ended without an answer counts as.
const CANCELLED: usize = 1;

#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
    metrics: Option<Arc<Metrics>>,
}

impl<S> Observe<S> {
    pub fn new(inner: S, metrics: Option<Arc<Metrics>>) -> Observe<S> {
        Observe { inner, metrics }
    }
}

/// One call being observed: recorded exactly once, when dropped.
struct Call {
    metrics: Arc<Metrics>,
    rpc: RpcId,
    started: Instant,
    code: usize,
}

impl Call {
    fn start(metrics: &Arc<Metrics>, path: &str) -> Call {
        metrics.in_flight.increment(1.0);
        Call {
            rpc: metrics.rpcs.of_path(path),
            metrics: metrics.clone(),
            started: Instant::now(),
            code: CANCELLED,
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        let metrics = &self.metrics;
        metrics
            .rpcs
            .series(self.rpc)
            .duration
            .record(self.started.elapsed().as_secs_f64());
        metrics.rpcs.requests(self.rpc, self.code).increment(1);
        metrics.in_flight.decrement(1.0);
    }
}

impl<S, B> tower::Service<Request<B>> for Observe<S>
where
    S: tower::Service<Request<B>, Response = Response<Body>, Error = Infallible>,
    S::Future: Unpin,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Observed<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Observed<S::Future> {
        let call = match &self.metrics {
            Some(metrics) if request.uri().path().starts_with("/creditgate.") => {
                Some(Call::start(metrics, request.uri().path()))
            }
            _ => None,
        };
        Observed {
            inner: self.inner.call(request),
            call,
        }
    }
}

pub struct Observed<F> {
    inner: F,
    call: Option<Call>,
}

impl<F> Future for Observed<F>
where
    F: Future<Output = Result<Response<Body>, Infallible>> + Unpin,
{
    type Output = Result<Response<Body>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Ok(response) = ready!(Pin::new(&mut self.inner).poll(cx));
        let Some(mut call) = self.call.take() else {
            return Poll::Ready(Ok(response));
        };
        if let Some(code) = response
            .headers()
            .get("grpc-status")
            .and_then(super::grpc_codes::parse)
        {
            call.code = code;
            return Poll::Ready(Ok(response));
        }
        Poll::Ready(Ok(response.map(|body| {
            Body::new(WatchedBody {
                inner: body,
                call: Some(call),
            })
        })))
    }
}

/// The answer's body, read for its trailers' `grpc-status`.
struct WatchedBody {
    inner: Body,
    call: Option<Call>,
}

impl HttpBody for WatchedBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(code) = frame
                    .trailers_ref()
                    .and_then(|t| t.get("grpc-status"))
                    .and_then(super::grpc_codes::parse)
                    && let Some(mut call) = self.call.take()
                {
                    call.code = code;
                }
            }
            // The body failed, or ended without trailers: the call had no status.
            Some(Err(_)) | None => {
                if let Some(mut call) = self.call.take() {
                    call.code = 2;
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

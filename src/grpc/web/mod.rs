//! JSON in the Connect protocol's unary shape, and gRPC-Web, on the gRPC port.
//!
//! Neither has a stack of its own: both are translated into native gRPC calls
//! and passed to the very same routes (admission, auth and roles, limits,
//! deadlines, metrics), so a checkout calling with curl is held to exactly the
//! rules a gRPC client is. Native gRPC is told apart by its content-type alone
//! and goes straight through: no allocation, no boxing on that path.

mod connect;
pub mod cors;
mod errors;
mod json_codec;
mod methods;

use connect::Connect;
use http::{Request, Response};
use hyper::body::Incoming;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::body::Body;
use tower::{Layer, ServiceExt};
use tower_http::cors::CorsLayer;

use super::admission::AdmissionLimits;

/// The stack the edge forwards to (observe, admission, routes): called with
/// hyper's body for native gRPC, with tonic's for translated calls.
pub trait Inner:
    tower::Service<
        Request<Incoming>,
        Response = Response<Body>,
        Error = Infallible,
        Future: Send + Unpin + 'static,
    > + tower::Service<
        Request<Body>,
        Response = Response<Body>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
}

impl<S> Inner for S where
    S: tower::Service<
            Request<Incoming>,
            Response = Response<Body>,
            Error = Infallible,
            Future: Send + Unpin + 'static,
        > + tower::Service<
            Request<Body>,
            Response = Response<Body>,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static
{
}

/// Native gRPC, gRPC-Web and Connect JSON in front of one inner stack.
#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
    /// One Arc, so that cloning the edge per call costs native gRPC one count.
    web: Arc<Web>,
}

struct Web {
    limits: Arc<AdmissionLimits>,
    /// None: no CORS headers at all, and a preflight is refused like any other
    /// request that is not a POST.
    cors: Option<CorsLayer>,
}

impl<S> Edge<S> {
    pub fn new(inner: S, limits: AdmissionLimits, cors: Option<CorsLayer>) -> Edge<S> {
        Edge {
            inner,
            web: Arc::new(Web {
                limits: Arc::new(limits),
                cors,
            }),
        }
    }
}

type Translated = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

/// Native gRPC's future as it is, or a translated call's, boxed.
pub enum EdgeFuture<F> {
    Grpc(F),
    Translated(Translated),
}

impl<F> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response<Body>, Infallible>> + Unpin,
{
    type Output = Result<Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            EdgeFuture::Grpc(call) => Pin::new(call).poll(cx),
            EdgeFuture::Translated(call) => call.as_mut().poll(cx),
        }
    }
}

#[derive(PartialEq)]
enum Kind {
    Grpc,
    GrpcWeb,
    /// Connect JSON, a CORS preflight, or something to refuse: connect.rs says which.
    Other,
}

/// `application/grpc`, `application/grpc+proto`, … are native gRPC;
/// `application/grpc-web…` is gRPC-Web. A byte comparison, no parsing.
fn kind(request: &Request<Incoming>) -> Kind {
    const GRPC: &[u8] = b"application/grpc";
    match request.headers().get(http::header::CONTENT_TYPE) {
        Some(value) if value.as_bytes().starts_with(GRPC) => {
            if value.as_bytes()[GRPC.len()..].starts_with(b"-web") {
                Kind::GrpcWeb
            } else {
                Kind::Grpc
            }
        }
        _ => Kind::Other,
    }
}

impl<S: Inner> tower::Service<Request<Incoming>> for Edge<S> {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = EdgeFuture<<S as tower::Service<Request<Incoming>>>::Future>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Admission is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let kind = kind(&request);
        if kind == Kind::Grpc {
            return EdgeFuture::Grpc(tower::Service::<Request<Incoming>>::call(
                &mut self.inner,
                request,
            ));
        }
        let inner = self.inner.clone();
        // tonic-web turns gRPC-Web (binary or base64 text) into gRPC frames and
        // the trailers back into the body; the translated call meets the same
        // admission, so its message is bounded by --max-request-bytes.
        let limits = self.web.limits.clone();
        let call: Translated = match (kind, &self.web.cors) {
            (Kind::GrpcWeb, None) => {
                Box::pin(tonic_web::GrpcWebLayer::new().layer(inner).oneshot(request))
            }
            (Kind::GrpcWeb, Some(cors)) => Box::pin(
                cors.layer(tonic_web::GrpcWebLayer::new().layer(inner))
                    .oneshot(request),
            ),
            (_, None) => Box::pin(Connect::new(inner, limits).oneshot(request)),
            (_, Some(cors)) => Box::pin(cors.layer(Connect::new(inner, limits)).oneshot(request)),
        };
        EdgeFuture::Translated(call)
    }
}

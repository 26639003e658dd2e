//! What every creditgate call passes before a handler sees it: authentication
//! and roles (src/auth), a concurrency
//! limit that sheds instead of queueing, a bound on the request's size, and a
//! deadline for callers that send none. Health and reflection pass untouched, so
//! a server that sheds still answers its probes.

use super::deadline::Received;
use super::request_body::LimitedBody;
use crate::auth::Authenticator;
use http::{HeaderValue, Request, Response};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::Status;
use tonic::body::Body;
use tonic::service::Routes;

/// The limits of `Admission` (flags in `config_limits`).
#[derive(Clone, Debug)]
pub struct AdmissionLimits {
    /// Calls in progress beyond this are answered RESOURCE_EXHAUSTED at once.
    pub max_concurrent_requests: usize,
    /// Largest request message accepted, in bytes (RESOURCE_EXHAUSTED beyond).
    pub max_request_bytes: usize,
    /// The deadline of a call whose caller sent no `grpc-timeout`.
    pub default_deadline: Duration,
}

impl Default for AdmissionLimits {
    fn default() -> AdmissionLimits {
        AdmissionLimits {
            max_concurrent_requests: 1_024,
            max_request_bytes: 64 * 1024,
            default_deadline: Duration::from_secs(2),
        }
    }
}

/// The prefix of every path the concurrency limit applies to.
const CREDITGATE_PATHS: &str = "/creditgate.";
/// Largest request accepted on health and reflection (their requests name a
/// service or a symbol: tens of bytes each).
const OPEN_REQUEST_BYTES: usize = 16 * 1024;

#[derive(Clone)]
pub struct Admission {
    routes: Routes,
    /// None: no tokens file (the server then binds loopback only, or was told
    /// --allow-unauthenticated).
    auth: Option<Arc<Authenticator>>,
    permits: Arc<Semaphore>,
    limits: Arc<AdmissionLimits>,
    /// `grpc-timeout` value of the default deadline, formatted once.
    default_timeout: HeaderValue,
}

impl Admission {
    pub fn new(
        routes: Routes,
        limits: AdmissionLimits,
        auth: Option<Arc<Authenticator>>,
    ) -> Admission {
        let millis = limits.default_deadline.as_millis().clamp(1, 99_999_999);
        Admission {
            routes,
            auth,
            permits: Arc::new(Semaphore::new(limits.max_concurrent_requests)),
            default_timeout: HeaderValue::from_str(&format!("{millis}m"))
                .expect("digits and a unit are a valid header value"),
            limits: Arc::new(limits),
        }
    }
}

type AdmissionFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

fn answer(status: Status) -> AdmissionFuture {
    Box::pin(std::future::ready(Ok(status.into_http())))
}

/// Any request body: hyper's own on the native gRPC path (nothing boxed there),
/// tonic's for the calls src/grpc/web translated from gRPC-Web or JSON.
impl<B> tower::Service<Request<B>> for Admission
where
    B: http_body::Body<Data = bytes::Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = AdmissionFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<B>) -> AdmissionFuture {
        // Before a permit is taken: unauthenticated callers cannot crowd out others.
        if let Some(auth) = &self.auth
            && let Err(status) = auth.admit(&mut request)
        {
            return answer(status);
        }
        let mut routes = self.routes.clone();
        let path = request.uri().path();
        if !path.starts_with(CREDITGATE_PATHS) {
            // Health and reflection: never shed, but bounded like any call: their
            // requests are tiny, and they are open to anyone.
            let read_within =
                (!super::transport::long_lived(path)).then_some(self.limits.default_deadline);
            let request = request.map(|body| {
                LimitedBody::new(
                    body,
                    OPEN_REQUEST_BYTES,
                    read_within.map(|d| Instant::now() + d),
                )
            });
            let call = routes.call(request);
            return match read_within {
                None => Box::pin(call),
                Some(deadline) => Box::pin(within(Instant::now() + deadline, call, None)),
            };
        }
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            return answer(Status::resource_exhausted(format!(
                "server busy: {} calls in progress (--max-concurrent-requests); retry with backoff or on another replica",
                self.limits.max_concurrent_requests
            )));
        };
        let (mut parts, body) = request.into_parts();
        // One clock read per call: it dates the call, its body and its bound.
        let received = Instant::now();
        parts.extensions.insert(Received(received));
        let timeout = match super::deadline::timeout_of(&parts.headers) {
            Some(timeout) => timeout,
            None => {
                // The handlers read the deadline from the header: one source.
                parts
                    .headers
                    .insert("grpc-timeout", self.default_timeout.clone());
                self.limits.default_deadline
            }
        };
        // The permit is held while the body arrives: a caller may take its whole
        // deadline for that, but never longer than the server's default one.
        let read_by = received + timeout.min(self.limits.default_deadline);
        let body = LimitedBody::new(body, self.limits.max_request_bytes, Some(read_by));
        let call = routes.call(Request::from_parts(parts, body));
        Box::pin(within(received + timeout, call, Some(permit)))
    }
}

/// The call, bounded by `until`. The handlers answer within the deadline
/// themselves; this bounds whatever happens before they run.
async fn within(
    until: Instant,
    call: impl Future<Output = Result<Response<Body>, Infallible>>,
    permit: Option<OwnedSemaphorePermit>,
) -> Result<Response<Body>, Infallible> {
    let answered = tokio::time::timeout_at(until.into(), call).await;
    drop(permit);
    match answered {
        Ok(response) => response,
        Err(_) => Ok(
            Status::deadline_exceeded("deadline exceeded before the call was answered").into_http(),
        ),
    }
}

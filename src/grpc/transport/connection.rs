//! One connection's life: TLS handshake, HTTP/2 preface (or an HTTP/1.1 request
//! line: JSON and gRPC-Web clients speak it) and the first request's
//! headers within the handshake timeout (h2 itself waits for them forever, so a
//! client that trickles them would hold its connection), GOAWAY when idle, when
//! too old or when the server drains, and closed outright once the grace that
//! follows has run out.

use super::settings::{self, ConnectionSettings};
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, sleep_until};
use tokio_rustls::TlsAcceptor;
use tonic::body::Body;

/// The routes as the transport calls them (a blanket alias of the bounds). The
/// request body is hyper's own, so that no layer boxes it on the way; the future
/// is Unpin (admission boxes it once), so that counting the call boxes nothing.
pub trait GrpcService:
    tower::Service<
        Request<Incoming>,
        Response = Response<Body>,
        Error = Infallible,
        Future: Send + Unpin + 'static,
    > + Clone
    + Send
    + 'static
{
}

impl<S> GrpcService for S where
    S: tower::Service<
            Request<Incoming>,
            Response = Response<Body>,
            Error = Infallible,
            Future: Send + Unpin + 'static,
        > + Clone
        + Send
        + 'static
{
}

/// HTTP/2 and HTTP/1.1 on one port: hyper-util reads the first bytes and picks
/// the protocol (the HTTP/2 preface, or else HTTP/1.1), with or without TLS.
pub type Http = hyper_util::server::conn::auto::Builder<TokioExecutor>;

pub fn http_builder(settings: &ConnectionSettings) -> Http {
    let mut builder = Http::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // Every request's headers, not only the first (which the handshake
        // timeout bounds too), within the handshake timeout.
        .header_read_timeout(settings.handshake_timeout)
        .max_buf_size(settings::HTTP1_MAX_BUF_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(settings.max_concurrent_streams)
        .initial_stream_window_size(settings::STREAM_WINDOW)
        .initial_connection_window_size(settings::CONNECTION_WINDOW)
        .max_header_list_size(settings::MAX_HEADER_LIST_BYTES)
        .keep_alive_interval(settings.keepalive_interval)
        .keep_alive_timeout(settings.keepalive_timeout);
    builder
}

/// Open connections and calls across the server, for the cap and the drain.
#[derive(Default)]
pub struct Tracker {
    connections: AtomicUsize,
    calls: AtomicUsize,
    closed: Notify,
}

impl Tracker {
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Acquire)
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Acquire)
    }

    pub fn enter(self: &Arc<Self>) -> ConnectionGuard {
        self.connections.fetch_add(1, Ordering::AcqRel);
        ConnectionGuard(self.clone())
    }

    pub async fn all_closed(&self) {
        loop {
            let notified = self.closed.notified();
            if self.connections() == 0 {
                return;
            }
            notified.await;
        }
    }
}

pub struct ConnectionGuard(Arc<Tracker>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if self.0.connections.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.closed.notify_waiters();
        }
    }
}

/// What the connection task needs to know about its calls.
struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `opened` of the last call's end.
    last_ms: AtomicU64,
    /// Whether a first request has arrived (the handshake timeout ends then).
    requested: AtomicBool,
    /// Woken when a call ends, so a busy connection's idle timer is re-armed.
    ended: Notify,
    server: Arc<Tracker>,
}

impl Activity {
    fn touch(&self) {
        let ms = self.opened.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Release);
    }

    /// When the connection will have been idle for `idle`, if it stays so.
    fn idle_at(&self, idle: Duration) -> Instant {
        self.opened + Duration::from_millis(self.last_ms.load(Ordering::Acquire)) + idle
    }
}

struct CallGuard {
    activity: Arc<Activity>,
    /// Counted among the server's calls, which the drain waits for (a health
    /// watch or a reflection session never ends by itself, so it is not).
    counted: bool,
}

impl CallGuard {
    fn new(activity: &Arc<Activity>, path: &str) -> CallGuard {
        let counted = !super::long_lived(path);
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        if counted {
            activity.server.calls.fetch_add(1, Ordering::AcqRel);
        }
        // No clock read here: while a call is in flight the idle timer is off,
        // and the call's end dates the connection's last activity.
        activity.requested.store(true, Ordering::Release);
        CallGuard {
            activity: activity.clone(),
            counted,
        }
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.activity.touch();
        self.activity.in_flight.fetch_sub(1, Ordering::AcqRel);
        if self.counted {
            self.activity.server.calls.fetch_sub(1, Ordering::AcqRel);
        }
        self.activity.ended.notify_one();
    }
}

/// The tower service of the routes, as hyper calls it, counting calls.
struct ConnService<S> {
    inner: S,
    activity: Arc<Activity>,
}

/// A call's future with its guard: the call counts until it is answered.
struct Counted<F> {
    call: F,
    _guard: CallGuard,
}

impl<F: Future + Unpin> Future for Counted<F> {
    type Output = F::Output;

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        Pin::new(&mut self.call).poll(cx)
    }
}

impl<S> hyper::service::Service<Request<Incoming>> for ConnService<S>
where
    S: GrpcService,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Counted<S::Future>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let guard = CallGuard::new(&self.activity, request.uri().path());
        // Admission is always ready, so no poll_ready here.
        Counted {
            call: self.inner.clone().call(request),
            _guard: guard,
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn serve<S>(
    tcp: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    service: S,
    settings: Arc<ConnectionSettings>,
    http: Arc<Http>,
    closing: watch::Receiver<bool>,
    guard: ConnectionGuard,
) where
    S: GrpcService,
{
    let opened = Instant::now();
    let handshake_by = opened + settings.handshake_timeout;
    let activity = Arc::new(Activity {
        opened,
        in_flight: AtomicUsize::new(0),
        last_ms: AtomicU64::new(0),
        requested: AtomicBool::new(false),
        ended: Notify::new(),
        server: guard.0.clone(),
    });
    let run = Run {
        peer,
        service,
        settings,
        http,
        closing,
        activity,
        handshake_by,
    };
    match tls {
        None => run.serve(tcp).await,
        Some(acceptor) => match tokio::time::timeout_at(handshake_by, acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => run.serve(stream).await,
            Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
        },
    }
    drop(guard);
}

struct Run<S> {
    peer: SocketAddr,
    service: S,
    settings: Arc<ConnectionSettings>,
    http: Arc<Http>,
    closing: watch::Receiver<bool>,
    activity: Arc<Activity>,
    handshake_by: Instant,
}

impl<S> Run<S>
where
    S: GrpcService,
{
    async fn serve<IO>(mut self, io: IO)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let peer = self.peer;
        let service = ConnService {
            inner: self.service.clone(),
            activity: self.activity.clone(),
        };
        let connection = self.http.serve_connection(TokioIo::new(io), service);
        tokio::pin!(connection);
        let settings = self.settings.clone();
        let age_at = self.activity.opened + settings.max_connection_age;
        // Set once GOAWAY was sent: the connection is closed outright then.
        let mut close_by: Option<Instant> = None;
        let far = self.activity.opened + Duration::from_secs(86_400 * 365);
        loop {
            let idle_at = self.activity.idle_at(settings.idle_timeout);
            let handshaking = !self.activity.requested.load(Ordering::Acquire);
            let busy = self.activity.in_flight.load(Ordering::Acquire) > 0;
            tokio::select! {
                served = connection.as_mut() => {
                    if let Err(error) = served {
                        tracing::debug!(%peer, %error, "connection ended with an error");
                    }
                    return;
                }
                () = sleep_until(self.handshake_by), if handshaking => {
                    if !self.activity.requested.load(Ordering::Acquire) {
                        tracing::debug!(%peer, "closed: no request within the handshake timeout");
                        return;
                    }
                }
                // While calls are in flight the idle timer is off (a call may
                // outlive it); the end of a call wakes the loop to re-arm it.
                () = self.activity.ended.notified(), if busy && close_by.is_none() => {}
                () = sleep_until(idle_at), if !busy && close_by.is_none() => {
                    let idle = self.activity.in_flight.load(Ordering::Acquire) == 0
                        && Instant::now() >= self.activity.idle_at(settings.idle_timeout);
                    if idle {
                        tracing::debug!(%peer, "idle: sending GOAWAY");
                        connection.as_mut().graceful_shutdown();
                        close_by = Some(Instant::now() + settings.max_connection_age_grace);
                    }
                }
                () = sleep_until(age_at), if close_by.is_none() => {
                    tracing::debug!(%peer, "max connection age: sending GOAWAY");
                    connection.as_mut().graceful_shutdown();
                    close_by = Some(Instant::now() + settings.max_connection_age_grace);
                }
                _ = self.closing.changed(), if close_by.is_none() => {
                    connection.as_mut().graceful_shutdown();
                    // The server's own grace bounds the drain; this only stops the loop
                    // from sending GOAWAY again.
                    close_by = Some(far);
                }
                () = sleep_until(close_by.unwrap_or(far)), if close_by.is_some() => {
                    tracing::debug!(%peer, "closed: calls still open when the grace ran out");
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_drain_waits_for_the_last_connection() {
        let tracker = Arc::new(Tracker::default());
        let first = tracker.enter();
        let second = tracker.enter();
        assert_eq!(tracker.connections(), 2);
        let waiter = tokio::spawn({
            let tracker = tracker.clone();
            async move { tracker.all_closed().await }
        });
        drop(first);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(second);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("drain saw the last close")
            .unwrap();
    }
}

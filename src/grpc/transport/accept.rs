//! The accept loop: a cap on open connections, accept errors backed off instead
//! of spun on, and the drain: the listener is closed first (new connections are
//! refused at once), then every connection is sent GOAWAY and given the grace.

use super::connection::{self, GrpcService, Tracker};
use super::settings::ConnectionSettings;
use super::tls::ReloadableTls;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The drain gave up: calls were still in flight when the grace ran out.
#[derive(Debug, thiserror::Error)]
#[error("shutdown grace ran out with {connections} connection(s) and {calls} call(s) still open")]
pub struct DrainTimedOut {
    pub connections: usize,
    pub calls: usize,
}

/// Serves `service` on every connection accepted from `listener` until `stop`
/// completes, then drains within `grace`.
pub async fn serve<S>(
    listener: TcpListener,
    service: S,
    settings: ConnectionSettings,
    tls: Option<Arc<ReloadableTls>>,
    stop: impl Future<Output = ()>,
    grace: Duration,
) -> Result<(), DrainTimedOut>
where
    S: GrpcService,
{
    let settings = Arc::new(settings);
    let http = Arc::new(connection::http_builder(&settings));
    let tracker = Arc::new(Tracker::default());
    let (closing, closing_rx) = watch::channel(false);
    let mut backoff = Backoff::default();
    let mut refused = RateLimitedLog::default();
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut stop => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, peer)) => {
                backoff.reset();
                if tracker.connections() >= settings.max_connections {
                    // Closed at once: the client fails fast and tries elsewhere,
                    // instead of holding a descriptor the server has not got.
                    drop(tcp);
                    refused.warn(|count| {
                        tracing::warn!(
                            max_connections = settings.max_connections,
                            refused = count,
                            "connection refused: --max-connections reached"
                        )
                    });
                    continue;
                }
                let _ = tcp.set_nodelay(true);
                tokio::spawn(connection::serve(
                    tcp,
                    peer,
                    tls.as_ref().map(|tls| tls.acceptor()),
                    service.clone(),
                    settings.clone(),
                    http.clone(),
                    closing_rx.clone(),
                    tracker.enter(),
                ));
            }
            Err(error) if per_connection(&error) => {}
            Err(error) => {
                // EMFILE and its kind: the listener stays readable, so retrying at
                // once would spin a core while nothing can be accepted.
                let pause = backoff.next();
                tracing::warn!(%error, pause_ms = pause.as_millis() as u64, "accept failed; pausing");
                tokio::select! {
                    () = &mut stop => break,
                    () = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
    drop(listener);
    tracing::info!(
        connections = tracker.connections(),
        calls = tracker.calls(),
        grace_ms = grace.as_millis() as u64,
        "listener closed; draining connections"
    );
    let _ = closing.send(true);
    match tokio::time::timeout(grace, tracker.all_closed()).await {
        Ok(()) => Ok(()),
        // Connections without a call (a peer that never acknowledged the GOAWAY,
        // a health watch) lose nothing when the process exits.
        Err(_) if tracker.calls() == 0 => {
            tracing::info!(
                connections = tracker.connections(),
                "grace over: closing connections that have no call in flight"
            );
            Ok(())
        }
        Err(_) => Err(DrainTimedOut {
            connections: tracker.connections(),
            calls: tracker.calls(),
        }),
    }
}

/// Errors about one connection that went away before it was accepted: the
/// listener itself is fine.
fn per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// 10 ms doubling to 1 s: short enough that descriptors freed by closing
/// connections are used soon, long enough not to spin.
#[derive(Default)]
struct Backoff {
    next: Option<Duration>,
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let now = self.next.unwrap_or(Duration::from_millis(10));
        self.next = Some((now * 2).min(Duration::from_secs(1)));
        now
    }

    fn reset(&mut self) {
        self.next = None;
    }
}

/// At most one log line per 10 s for an event that can happen thousands of
/// times a second (connections refused at the cap).
#[derive(Default)]
struct RateLimitedLog {
    last: Option<Instant>,
    since: u64,
}

impl RateLimitedLog {
    fn warn(&mut self, log: impl FnOnce(u64)) {
        self.since += 1;
        let now = Instant::now();
        if self
            .last
            .is_none_or(|last| now - last >= Duration::from_secs(10))
        {
            log(self.since);
            self.last = Some(now);
            self.since = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_second_and_resets() {
        let mut backoff = Backoff::default();
        let pauses: Vec<u64> = (0..9).map(|_| backoff.next().as_millis() as u64).collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        backoff.reset();
        assert_eq!(backoff.next(), Duration::from_millis(10));
    }

    #[test]
    fn emfile_is_backed_off_and_a_vanished_client_is_not() {
        assert!(!per_connection(&io::Error::from_raw_os_error(24)));
        assert!(per_connection(&io::Error::from(
            io::ErrorKind::ConnectionAborted
        )));
    }
}

//! SIGTERM/SIGINT → stop accepting, drain in-flight calls under a time limit.

use std::future::Future;
use std::time::Duration;
use tokio::sync::oneshot;

/// Installs the SIGTERM and SIGINT handlers now (before the service says it is
/// listening, so an early signal is never lost to the default action) and returns
/// a future that completes on the first of them.
pub fn install_signals() -> std::io::Result<impl Future<Output = ()> + Send> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

/// Runs the server built by `serve`, handing it a future that completes on a
/// signal; after the signal the server has `grace` to drain before it is dropped.
pub async fn run_with_grace<F, Fut, E>(
    signal: impl Future<Output = ()> + Send + 'static,
    serve: F,
    grace: Duration,
) -> Result<(), String>
where
    F: FnOnce(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let (signalled_tx, signalled_rx) = oneshot::channel::<()>();
    let shutdown = Box::pin(async move {
        signal.await;
        tracing::info!(
            grace_secs = grace.as_secs(),
            "shutdown signal received, draining"
        );
        let _ = signalled_tx.send(());
    });
    let server = serve(shutdown);
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => {
            tracing::info!("server stopped");
            return result.map_err(|e| e.to_string());
        }
        _ = signalled_rx => {}
    }
    match tokio::time::timeout(grace, server).await {
        Ok(result) => {
            tracing::info!("drained, server stopped");
            result.map_err(|e| e.to_string())
        }
        Err(_) => {
            tracing::warn!("drain timed out; exiting with calls in flight");
            Ok(())
        }
    }
}

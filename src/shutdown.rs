//! SIGTERM/SIGINT: the start of the shutdown sequence (src/grpc/server.rs).

use std::future::Future;

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

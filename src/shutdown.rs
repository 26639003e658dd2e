//! SIGTERM/SIGINT: the start of the shutdown sequence (src/grpc/server.rs).

use std::future::Future;

/// How the server was asked to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM, an orchestrator's stop (and any stop a caller of `serve` makes):
    /// NOT_SERVING, the shutdown delay, then the drain.
    Terminate,
    /// SIGINT, Ctrl-C at a terminal: no load balancer to wait for, so no delay.
    Interrupt,
}

impl From<()> for Stop {
    fn from((): ()) -> Stop {
        Stop::Terminate
    }
}

/// Installs the SIGTERM and SIGINT handlers now (before the service says it is
/// listening, so an early signal is never lost to the default action) and returns
/// a future that completes on the first of them.
pub fn install_signals() -> std::io::Result<impl Future<Output = Stop> + Send> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => Stop::Terminate,
            _ = interrupt.recv() => Stop::Interrupt,
        }
    })
}

//! SIGHUP: re-read the files a rotation replaces (TLS certificate and key, the
//! client CA). A file that does not load keeps the one in use and says why, so a
//! botched rotation never takes the port down.

use crate::grpc::transport::tls::ReloadableTls;
use std::sync::Arc;

/// Installs the SIGHUP handler now (the default action would end the process)
/// and reloads on each signal, for the life of the process.
pub fn install(tls: Option<Arc<ReloadableTls>>) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading");
            if let Some(tls) = &tls {
                match tls.reload() {
                    Ok(()) => tracing::info!("TLS certificate reloaded"),
                    Err(error) => {
                        tracing::error!(%error, "TLS reload failed: still using the previous certificate")
                    }
                }
            }
        }
    });
    Ok(())
}

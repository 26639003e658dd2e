//! SIGHUP: re-read the files a rotation replaces (the tokens file, the TLS
//! certificate and key, the client CA). A file that does not load keeps the one
//! in use and says why, so a botched rotation never takes the port down.

use crate::auth::Authenticator;
use crate::grpc::transport::tls::ReloadableTls;
use std::sync::Arc;

/// Installs the SIGHUP handler now (the default action would end the process)
/// and reloads on each signal, for the life of the process.
pub fn install(
    tls: Option<Arc<ReloadableTls>>,
    auth: Option<Arc<Authenticator>>,
) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading");
            if let Some(auth) = &auth {
                let file = auth.path().display();
                match auth.reload() {
                    Ok(tokens) => tracing::info!(%file, tokens, "auth tokens reloaded"),
                    Err(error) => {
                        tracing::error!(%file, %error, "auth tokens not reloaded: the previous tokens stay in use")
                    }
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn entry(name: &str, token: &str, roles: &str) -> String {
        let hash: String = ring::digest::digest(&ring::digest::SHA256, token.as_bytes())
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("[[tokens]]\nname = \"{name}\"\nsha256 = \"{hash}\"\nroles = {roles}\n\n")
    }

    #[tokio::test]
    async fn sighup_reloads_the_tokens_file() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), entry("old", "cg_old", r#"["decide"]"#)).unwrap();
        let auth = Arc::new(Authenticator::load(file.path()).unwrap());
        install(None, Some(Arc::clone(&auth))).unwrap();
        let two = entry("old", "cg_old", r#"["decide"]"#) + &entry("new", "cg_new", r#"["score"]"#);
        std::fs::write(file.path(), two).unwrap();
        // The handler is installed, so SIGHUP reaches it instead of ending the tests.
        let kill = std::process::Command::new("kill")
            .args(["-HUP", &std::process::id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        while auth.tokens() != 2 {
            assert!(
                Instant::now() < deadline,
                "SIGHUP did not reload the tokens"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

//! Safe by default: without a tokens file the service only listens where no other
//! machine can reach it.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// The bind-address rule. Ok(None): start. Ok(Some(warning)): start, because
/// `--allow-unauthenticated` says so, and log the warning at start and every
/// minute ([`warn_periodically`]). Err(message): refuse to start.
pub fn check_bind(
    listen: SocketAddr,
    tokens_file: Option<&Path>,
    allow_unauthenticated: bool,
) -> Result<Option<String>, String> {
    // to_canonical: ::ffff:127.0.0.1 is loopback too.
    if tokens_file.is_some() || listen.ip().to_canonical().is_loopback() {
        return Ok(None);
    }
    if allow_unauthenticated {
        return Ok(Some(format!(
            "serving {listen} without authentication (--allow-unauthenticated): anyone who \
             can reach it may decide, score and write the ledger; set --auth-tokens-file"
        )));
    }
    Err(format!(
        "refusing to listen on {listen} without authentication: set --auth-tokens-file \
         (see docs/security.md), listen on a loopback address, or pass \
         --allow-unauthenticated to start anyway"
    ))
}

/// Logs `warning` now and then every `period`, for as long as it runs: an
/// unauthenticated service should not be quiet about it after the first screen.
pub async fn warn_periodically(warning: String, period: Duration) {
    let mut ticks = tokio::time::interval(period);
    loop {
        ticks.tick().await;
        tracing::warn!("{warning}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn loopback_needs_nothing() {
        for listen in [
            "127.0.0.1:50051",
            "127.0.0.2:0",
            "[::1]:50051",
            "[::ffff:127.0.0.1]:1",
        ] {
            for allow in [false, true] {
                assert_eq!(check_bind(addr(listen), None, allow), Ok(None), "{listen}");
            }
        }
    }

    #[test]
    fn any_other_address_needs_a_tokens_file_or_the_flag() {
        let tokens = Path::new("/etc/creditgate/tokens.toml");
        for listen in [
            "0.0.0.0:50051",
            "[::]:50051",
            "192.168.1.20:50051",
            "[fe80::1]:1",
        ] {
            let error = check_bind(addr(listen), None, false).unwrap_err();
            assert!(error.contains("--auth-tokens-file"), "{error}");
            assert!(error.contains("--allow-unauthenticated"), "{error}");
            assert!(error.contains(listen), "{error}");
            let warning = check_bind(addr(listen), None, true).unwrap().unwrap();
            assert!(warning.contains("without authentication"), "{warning}");
            assert!(warning.contains("--auth-tokens-file"), "{warning}");
            for allow in [false, true] {
                let with_tokens = check_bind(addr(listen), Some(tokens), allow);
                assert_eq!(with_tokens, Ok(None), "{listen}");
            }
        }
    }

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_warning_repeats() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let warn = warn_periodically("open to all".to_owned(), Duration::from_millis(20));
        let _ = tokio::time::timeout(Duration::from_millis(70), warn).await;
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let count = text.matches("WARN").count();
        assert!(count >= 2, "{count} warnings:\n{text}");
        assert!(text.contains("open to all"), "{text}");
    }
}

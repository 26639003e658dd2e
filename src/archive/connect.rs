//! Connecting to the archive from `--archive-url` (libpq URL or key=value form).

use std::str::FromStr;
use tokio_postgres::{Client, Config, NoTls};

/// The URL with its password hidden, for logs and errors.
pub fn redact(url: &str) -> String {
    match Config::from_str(url) {
        Ok(config) => {
            let hosts: Vec<String> = config
                .get_hosts()
                .iter()
                .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
                .map(|(host, port)| match host {
                    tokio_postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
                    tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
                })
                .collect();
            format!(
                "postgres://{}@{}/{}",
                config.get_user().unwrap_or(""),
                hosts.join(","),
                config.get_dbname().unwrap_or("")
            )
        }
        Err(_) => "(an --archive-url that does not parse)".to_owned(),
    }
}

/// One connection, its driver task spawned on the current runtime.
pub async fn connect(url: &str) -> Result<Client, String> {
    let config =
        Config::from_str(url).map_err(|e| format!("--archive-url {}: {e}", redact(url)))?;
    let (client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|e| format!("cannot connect to the archive at {}: {e}", redact(url)))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, "archive connection closed");
        }
    });
    Ok(client)
}

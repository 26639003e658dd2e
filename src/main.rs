//! Wiring: config → telemetry → store → server → shutdown.

use clap::Parser;
use creditgate::clock::SystemClock;
use creditgate::config::Config;
use creditgate::domain::policy::Policy;
use creditgate::grpc::server;
use creditgate::service::{CreditService, ServiceSettings};
use creditgate::store::memory::MemoryStore;
use creditgate::{shutdown, telemetry};
use std::process::ExitCode;
use std::sync::Arc;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    if let Err(message) = telemetry::init(config.log_format, &config.log) {
        eprintln!("creditgate: {message}");
        return ExitCode::from(2);
    }
    if config.redis_url.is_some() {
        tracing::error!(
            "the redis store is not available in this build; unset --redis-url / CREDITGATE_REDIS_URL to use the embedded store"
        );
        return ExitCode::from(2);
    }
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(listen = %config.listen, %error, "cannot listen");
            return ExitCode::from(1);
        }
    };
    let policy = Arc::new(Policy::default());
    tracing::warn!(
        "embedded store: state is kept in memory only and is lost when the process stops"
    );
    let settings = ServiceSettings {
        reservation_ttl: config.reservation_ttl,
    };
    let service = CreditService::new(
        Arc::new(MemoryStore::new()),
        policy.clone(),
        Arc::new(SystemClock),
        settings,
    );
    let signal = match shutdown::install_signals() {
        Ok(signal) => signal,
        Err(error) => {
            tracing::error!(%error, "cannot install signal handlers");
            return ExitCode::from(1);
        }
    };
    let addr = listener.local_addr().map_or(config.listen, |a| a);
    tracing::info!(%addr, policy_version = %policy.version, "creditgate listening");
    let served = shutdown::run_with_grace(
        signal,
        |signal| server::serve(listener, service, signal),
        config.shutdown_grace,
    )
    .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!(%message, "server stopped");
            ExitCode::from(1)
        }
    }
}

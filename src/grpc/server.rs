//! The tonic server: both creditgate services, health and reflection.

use super::decision::DecisionApi;
use super::ledger::LedgerApi;
use super::pb;
use super::pb::credit_decision_service_server::CreditDecisionServiceServer;
use super::pb::ledger_service_server::LedgerServiceServer;
use crate::service::CreditService;
use crate::store::{Store, StoreHealth};
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// Fully qualified names of the services this server exposes.
pub const DECISION_SERVICE: &str = "creditgate.v1.CreditDecisionService";
pub const LEDGER_SERVICE: &str = "creditgate.v1.LedgerService";

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("reflection descriptors: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Server settings beyond the service itself.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// How often the store is probed to keep the health service truthful.
    pub health_interval: Duration,
}

impl Default for ServerOptions {
    fn default() -> ServerOptions {
        ServerOptions {
            health_interval: Duration::from_secs(1),
        }
    }
}

/// Keeps both creditgate services' health in step with the store: NOT_SERVING
/// while it is unreachable or uninitialised, SERVING again by itself once it is back.
async fn watch_store<S: Store>(
    service: CreditService<S>,
    health: HealthReporter,
    every: Duration,
    mut last: StoreHealth,
) {
    loop {
        tokio::time::sleep(every).await;
        let now = service.store_health().await;
        if now != last {
            report(&health, now).await;
            last = now;
        }
    }
}

async fn report(health: &HealthReporter, now: StoreHealth) {
    let status = if now == StoreHealth::Ready {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    };
    for name in [DECISION_SERVICE, LEDGER_SERVICE] {
        health.set_service_status(name, status).await;
    }
    match now {
        StoreHealth::Ready => tracing::info!("store ready: serving"),
        StoreHealth::Unreachable => {
            tracing::error!("store unreachable: not serving, checks are referred")
        }
        StoreHealth::Uninitialised => tracing::error!(
            "store has no marker (emptied or never initialised): not serving, checks are referred; see the store-loss runbook"
        ),
    }
}

/// The transport settings every creditgate server uses (and the no-op baseline of
/// the benchmarks, so that it measures the same stack).
pub fn builder() -> Server {
    Server::builder()
}

/// Accepted connections with TCP_NODELAY. Set on the incoming stream itself: the
/// builder's tcp_nodelay does not reach connections accepted this way.
pub fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// Serves until `shutdown` completes, then drains in-flight calls.
pub async fn serve<S: Store>(
    listener: TcpListener,
    service: CreditService<S>,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let (health, health_service) = tonic_health::server::health_reporter();
    // The first probe happens before the port serves, so health is never wrong.
    let initial = service.store_health().await;
    report(&health, initial).await;
    let watcher = tokio::spawn(watch_store(
        service.clone(),
        health,
        options.health_interval,
        initial,
    ));

    // grpcurl 1.8 speaks only v1alpha reflection; newer clients use v1.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;

    let served = builder()
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(CreditDecisionServiceServer::new(DecisionApi::new(
            service.clone(),
        )))
        .add_service(LedgerServiceServer::new(LedgerApi::new(service)))
        .serve_with_incoming_shutdown(incoming(listener), shutdown)
        .await;
    watcher.abort();
    served?;
    Ok(())
}

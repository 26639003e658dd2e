//! The tonic server: both creditgate services, health and reflection.

use super::decision::DecisionApi;
use super::ledger::LedgerApi;
use super::pb;
use super::pb::credit_decision_service_server::CreditDecisionServiceServer;
use super::pb::ledger_service_server::LedgerServiceServer;
use crate::service::CreditService;
use crate::store::Store;
use std::future::Future;
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

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

/// Serves until `shutdown` completes, then drains in-flight calls.
pub async fn serve<S: Store>(
    listener: TcpListener,
    service: CreditService<S>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<CreditDecisionServiceServer<DecisionApi<S>>>()
        .await;
    health
        .set_serving::<LedgerServiceServer<LedgerApi<S>>>()
        .await;

    // grpcurl 1.8 speaks only v1alpha reflection; newer clients use v1.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;

    // Set on the incoming stream itself: the builder's tcp_nodelay does not reach
    // connections accepted through serve_with_incoming.
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    Server::builder()
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(CreditDecisionServiceServer::new(DecisionApi::new(
            service.clone(),
        )))
        .add_service(LedgerServiceServer::new(LedgerApi::new(service)))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    Ok(())
}

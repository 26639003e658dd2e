//! The tonic server: both creditgate services, health and reflection.

use super::admission::{Admission, AdmissionLimits};
use super::decision::DecisionApi;
use super::ledger::LedgerApi;
use super::pb;
use super::pb::credit_decision_service_server::CreditDecisionServiceServer;
use super::pb::credit_review_service_server::CreditReviewServiceServer;
use super::pb::ledger_service_server::LedgerServiceServer;
use super::review::ReviewApi;
use super::transport::{self, ConnectionSettings, DrainTimedOut, tls::ReloadableTls};
use super::web::Edge;
use crate::auth::Authenticator;
use crate::metrics::{Metrics, Observe};
use crate::service::CreditService;
use crate::shutdown::Stop;
use crate::store::{Store, StoreHealth};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic_health::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::server::HealthReporter;

/// Fully qualified names of the services this server exposes.
pub const DECISION_SERVICE: &str = "creditgate.v1.CreditDecisionService";
pub const LEDGER_SERVICE: &str = "creditgate.v1.LedgerService";

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("reflection descriptors: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error(transparent)]
    DrainTimedOut(#[from] DrainTimedOut),
    #[error("--health-listen: {0}")]
    HealthListener(std::io::Error),
    #[error("{0}")]
    Cors(String),
}

/// Server settings beyond the service itself.
#[derive(Clone)]
pub struct ServerOptions {
    /// How often the store is probed to keep the health service truthful.
    pub health_interval: Duration,
    pub connections: ConnectionSettings,
    pub admission: AdmissionLimits,
    pub tls: Option<Arc<ReloadableTls>>,
    /// Bearer tokens and roles; None serves every caller (loopback by default).
    pub auth: Option<Arc<Authenticator>>,
    /// After the shutdown signal: how long health says NOT_SERVING while the
    /// server still serves, so that load balancers stop sending first.
    pub shutdown_delay: Duration,
    /// Then: how long in-flight calls have to finish.
    pub shutdown_grace: Duration,
    /// Prometheus metrics; None records nothing.
    pub metrics: Option<Arc<Metrics>>,
    /// A plaintext port serving grpc.health.v1 only (`--health-listen`): the
    /// probes of Kubernetes cannot speak TLS.
    pub health_listener: Option<Arc<std::net::TcpListener>>,
    /// Origins browsers may call from (gRPC-Web, JSON); none: CORS off.
    pub cors_allow_origins: Vec<String>,
}

impl Default for ServerOptions {
    fn default() -> ServerOptions {
        ServerOptions {
            health_interval: Duration::from_secs(1),
            connections: ConnectionSettings::default(),
            admission: AdmissionLimits::default(),
            tls: None,
            auth: None,
            shutdown_delay: Duration::ZERO,
            shutdown_grace: Duration::from_secs(10),
            metrics: None,
            health_listener: None,
            cors_allow_origins: Vec::new(),
        }
    }
}

/// Keeps both creditgate services' health in step with the store: NOT_SERVING
/// while it is unreachable or uninitialised, SERVING again by itself once it is back.
async fn watch_store<S: Store>(
    service: CreditService<S>,
    health: HealthReporter,
    metrics: Option<Arc<Metrics>>,
    every: Duration,
    mut last: StoreHealth,
) {
    loop {
        tokio::time::sleep(every).await;
        let now = service.store_health().await;
        if now != last {
            report(&health, metrics.as_deref(), now).await;
            last = now;
        }
    }
}

/// Health and `creditgate_store_up` from one verdict, so that they never
/// disagree (a probe that timed out is Unreachable for both).
async fn report(health: &HealthReporter, metrics: Option<&Metrics>, now: StoreHealth) {
    if let Some(metrics) = metrics {
        metrics.store_up(matches!(
            now,
            StoreHealth::Ready | StoreHealth::ArchiveBacklog
        ));
    }
    let serving = |ready: bool| {
        if ready {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        }
    };
    // A full outbox stops decisions, not the ledger: the ERP keeps feeding it.
    health
        .set_service_status(DECISION_SERVICE, serving(now == StoreHealth::Ready))
        .await;
    health
        .set_service_status(
            LEDGER_SERVICE,
            serving(matches!(
                now,
                StoreHealth::Ready | StoreHealth::ArchiveBacklog
            )),
        )
        .await;
    match now {
        StoreHealth::Ready => tracing::info!("store ready: serving"),
        StoreHealth::Unreachable => {
            tracing::error!("store unreachable: not serving, checks are referred")
        }
        StoreHealth::ArchiveBacklog => tracing::error!(
            "decision outbox full (the archive takes no records): decisions not serving, checks are referred with ARCHIVE_BACKLOG; the ledger is served; see docs/operations.md, archive backlog"
        ),
        StoreHealth::Uninitialised => tracing::error!(
            "store has no marker (emptied or never initialised): not serving, checks are referred; see the store-loss runbook"
        ),
    }
}

/// Every gRPC route creditgate serves: health, reflection (v1 and the v1alpha
/// that grpcurl 1.8 speaks) and the creditgate services.
pub fn routes(
    health: HealthServer<impl Health>,
    services: Routes,
) -> Result<Routes, tonic_reflection::server::Error> {
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    Ok(services
        .add_service(health)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?)
        .prepare())
}

/// Connections the health-only port holds at once.
const HEALTH_PORT_CONNECTIONS: usize = 64;

/// The `--health-listen` port: health only, plaintext, unauthenticated (health
/// is open on the main port too). It serves until the process exits, so that
/// probes read NOT_SERVING during the shutdown delay and the drain.
fn serve_health_only(
    listener: &std::net::TcpListener,
    health: HealthServer<impl Health>,
    options: &ServerOptions,
) -> Result<(), ServeError> {
    let listener = listener
        .try_clone()
        .and_then(|l| {
            l.set_nonblocking(true)?;
            TcpListener::from_std(l)
        })
        .map_err(ServeError::HealthListener)?;
    // Reflection of the health protocol only, so that grpcurl can call it here.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let routes = Routes::new(health)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?)
        .prepare();
    let app = Admission::new(routes, options.admission.clone(), None);
    // Probes and an operator: a small cap, not the main port's.
    let connections = ConnectionSettings {
        max_connections: HEALTH_PORT_CONNECTIONS,
        ..options.connections.clone()
    };
    let grace = options.shutdown_grace;
    tokio::spawn(async move {
        let forever = std::future::pending::<()>();
        let _ = transport::serve(listener, app, connections, None, forever, grace).await;
    });
    Ok(())
}

/// Serves until `shutdown` completes, then: health NOT_SERVING for every service
/// at once, still serving for the shutdown delay, listener closed, GOAWAY, and
/// in-flight calls drained within the grace (an error if they were not).
pub async fn serve<S: Store>(
    listener: TcpListener,
    service: CreditService<S>,
    options: ServerOptions,
    shutdown: impl Future<Output = impl Into<Stop>> + Send,
) -> Result<(), ServeError> {
    let (health, health_service) = tonic_health::server::health_reporter();
    // The first probe happens before the port serves, so health is never wrong.
    let initial = service.store_health().await;
    report(&health, options.metrics.as_deref(), initial).await;
    let watcher = tokio::spawn(watch_store(
        service.clone(),
        health.clone(),
        options.metrics.clone(),
        options.health_interval,
        initial,
    ));
    let services = Routes::new(CreditDecisionServiceServer::new(DecisionApi::new(
        service.clone(),
        options.metrics.clone(),
    )))
    .add_service(LedgerServiceServer::new(LedgerApi::new(service.clone())))
    .add_service(CreditReviewServiceServer::new(ReviewApi::new(service)));
    let shutdown = async move {
        let stop = shutdown.await.into();
        // The store watcher would otherwise set SERVING again.
        watcher.abort();
        stop
    };
    serve_routes(
        listener,
        services,
        (health, health_service),
        options,
        shutdown,
    )
    .await
}

/// The network edge around any creditgate routes (also the benchmarks' no-op
/// server, so that it measures the same stack): health, reflection, admission,
/// the transport and the shutdown sequence.
pub async fn serve_routes(
    listener: TcpListener,
    services: Routes,
    (health, health_service): (HealthReporter, HealthServer<impl Health>),
    options: ServerOptions,
    shutdown: impl Future<Output = impl Into<Stop>> + Send,
) -> Result<(), ServeError> {
    if let Some(listener) = &options.health_listener {
        serve_health_only(listener, health_service.clone(), &options)?;
    }
    let cors = super::web::cors::layer(&options.cors_allow_origins).map_err(ServeError::Cors)?;
    // gRPC-Web and JSON are translated in front of the one stack native gRPC
    // calls go through (src/grpc/web).
    let app = Edge::new(
        Observe::new(
            Admission::new(
                routes(health_service, services)?,
                options.admission.clone(),
                options.auth,
            ),
            options.metrics,
        ),
        options.admission,
        cors,
    );
    let delay = options.shutdown_delay;
    let stop = async move {
        let stop: Stop = shutdown.await.into();
        let delay = if stop == Stop::Interrupt {
            Duration::ZERO
        } else {
            delay
        };
        for name in ["", DECISION_SERVICE, LEDGER_SERVICE] {
            health
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
        tracing::info!(
            delay_ms = delay.as_millis() as u64,
            "shutting down: health NOT_SERVING, still serving for the shutdown delay"
        );
        tokio::time::sleep(delay).await;
    };
    transport::serve(
        listener,
        app,
        options.connections,
        options.tls,
        stop,
        options.shutdown_grace,
    )
    .await?;
    Ok(())
}

//! Startup paths of the binary: serve on the chosen store, or initialise a store.

use crate::archive::pool::Archive;
use crate::archive::shipper::Shipper;
use crate::auth::Authenticator;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::domain::date_window::DateWindow;
use crate::domain::policy::Policy;
use crate::grpc::server::{self, ServerOptions};
use crate::grpc::transport::tls::ReloadableTls;
use crate::metrics::Metrics;
use crate::service::{CreditService, ServiceSettings};
use crate::store::Store;
use crate::store::memory::MemoryStore;
use crate::store::redis::{RedisOptions, RedisSettings, RedisStore};
use crate::store::timed::Timed;
use crate::{reload, shutdown};
use std::net::SocketAddr;
use std::sync::Arc;

pub(crate) fn redis_options(config: &Config) -> Result<Option<RedisOptions>, String> {
    let Some(target) = config.redis_target() else {
        return Ok(None);
    };
    let ca_pem = match &config.redis_ca_file {
        Some(path) => Some(
            std::fs::read(path).map_err(|e| format!("--redis-ca-file {}: {e}", path.display()))?,
        ),
        None => None,
    };
    Ok(Some(RedisOptions {
        target,
        settings: RedisSettings {
            response_timeout: config.redis_timeout,
            connection_timeout: config.redis_timeout,
            ca_pem,
            wait_replicas: config.redis_wait_replicas,
            wait_timeout: config.redis_wait_timeout,
            decision_history: config.redis_decision_history as usize,
            outbox: config
                .archive_url
                .as_ref()
                .map(|_| (config.outbox_max as usize, config.outbox_claim_idle)),
            ..RedisSettings::default()
        },
        namespace: config.redis_namespace.clone(),
        profile_cache_ttl: config.profile_cache_ttl,
        allow_uninitialised_writes: config.seed_mode,
    }))
}

/// Runs the gRPC server until SIGTERM/SIGINT.
pub async fn serve(config: Config) -> Result<(), String> {
    match redis_options(&config)? {
        Some(options) => {
            let store =
                RedisStore::open(&options).map_err(|e| format!("cannot open redis: {e}"))?;
            tracing::info!(redis = ?options.target, namespace = %options.namespace, seed_mode = options.allow_uninitialised_writes, "redis store");
            store
                .refuse_evicting_redis(config.allow_evicting_redis)
                .await?;
            serve_with(config, store).await
        }
        None => {
            tracing::warn!(
                "embedded store: state is kept in memory only and is lost when the process stops"
            );
            let history = config.decision_history as usize;
            let outbox = config
                .archive_url
                .as_ref()
                .map(|_| config.outbox_max as usize);
            serve_with(config, MemoryStore::with_outbox(history, outbox)).await
        }
    }
}

async fn serve_with<S: Store>(config: Config, store: S) -> Result<(), String> {
    let ledger_retention = config.ledger_retention()?;
    let policy = Arc::new(match &config.policy_file {
        Some(path) => crate::policy_file::load(path)?,
        None => Policy::default(),
    });
    // Before anything listens: no tokens file means loopback only.
    if let Some(warning) = config.auth.check_bind(config.listen)? {
        tokio::spawn(crate::auth::warn_periodically(
            warning,
            std::time::Duration::from_secs(60),
        ));
    }
    let auth = match &config.auth.auth_tokens_file {
        Some(path) => {
            let auth = Arc::new(Authenticator::load(path)?);
            tracing::info!(file = %path.display(), tokens = auth.tokens(), "bearer tokens required");
            Some(auth)
        }
        None => None,
    };
    raise_open_file_limit(config.server.max_connections);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let signal =
        shutdown::install_signals().map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let settings = ServiceSettings {
        reservation_ttl: config.reservation_ttl,
        store_timeout: config.redis_timeout,
        ledger_date_window: DateWindow {
            years: config.ledger_date_window_years,
        },
        ledger_retention,
    };
    // Before the store is wrapped: the store's timings go to these metrics.
    let metrics = match config.server.metrics_listen {
        Some(addr) => Some(start_metrics(addr, &policy.version).await?),
        None => None,
    };
    let health_listener = match config.server.health_listen {
        Some(addr) => {
            let listener = std::net::TcpListener::bind(addr)
                .map_err(|e| format!("cannot listen on {addr} (--health-listen): {e}"))?;
            let bound = listener.local_addr().map_or(addr, |a| a);
            tracing::info!(addr = %bound, "health-only port listening (grpc.health.v1, plaintext)");
            Some(Arc::new(listener))
        }
        None => None,
    };
    let mut service = CreditService::new(
        Arc::new(Timed::new(store, metrics.clone())),
        policy.clone(),
        Arc::new(SystemClock),
        settings,
    );
    let shipper = match &config.archive_url {
        Some(url) => {
            let archive = Arc::new(Archive::new(url, config.archive_retention)?);
            tracing::info!(archive = %crate::archive::connect::redact(url), outbox_max = config.outbox_max, retention_days = config.archive_retention, "decision archive: shipping every decision");
            service = service.with_archive(archive.clone());
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let store = service.store().clone();
            let task = tokio::spawn(
                Shipper {
                    store: service.store().clone(),
                    archive,
                    clock: service.clock(),
                    stop: stopped,
                    metrics: metrics.clone(),
                }
                .run(),
            );
            Some((stop, task, store))
        }
        None => None,
    };
    let tls = match config.server.tls_files() {
        Some(files) => Some(Arc::new(ReloadableTls::load(files)?)),
        None => None,
    };
    reload::install(tls.clone(), auth.clone())
        .map_err(|e| format!("cannot install SIGHUP handler: {e}"))?;
    let options = ServerOptions {
        health_interval: config.health_interval,
        connections: config.server.connections(),
        admission: config.server.admission(),
        tls: tls.clone(),
        auth,
        shutdown_delay: config.server.shutdown_delay,
        shutdown_grace: config.shutdown_grace,
        metrics,
        health_listener,
        cors_allow_origins: config.server.cors_allow_origin.clone(),
    };
    let addr = listener.local_addr().map_or(config.listen, |a| a);
    tracing::info!(
        %addr,
        policy_version = %policy.version,
        tls = tls.is_some(),
        mutual_tls = tls.as_ref().is_some_and(|t| t.mutual()),
        "creditgate listening"
    );
    let grace = config.shutdown_grace;
    server::serve(listener, service, options, signal)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!("drained, server stopped");
    if let Some((stop, task, store)) = shipper {
        // The last decisions' records go to the archive before the process
        // ends (the embedded store's outbox dies with it).
        let _ = stop.send(true);
        if tokio::time::timeout(grace, task).await.is_err() {
            let left = store.outbox_len().await.unwrap_or(0);
            if S::IN_PROCESS {
                tracing::error!(records = left, grace = ?grace, "stopping with decision records the archive never got: the embedded store's outbox is lost with the process");
            } else {
                tracing::warn!(records = left, grace = ?grace, "the archive shipper did not finish within --shutdown-grace: the records stay in Redis for the other replicas");
            }
        }
    }
    Ok(())
}

/// Binds the scrape endpoint and serves it in the background.
async fn start_metrics(addr: SocketAddr, policy_version: &str) -> Result<Arc<Metrics>, String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr} (--metrics-listen): {e}"))?;
    let bound = listener.local_addr().map_or(addr, |a| a);
    let metrics = Arc::new(Metrics::new(env!("CARGO_PKG_VERSION"), policy_version));
    tokio::spawn(crate::metrics::exporter::serve(listener, metrics.clone()));
    tracing::info!(addr = %bound, "metrics listening (GET /metrics)");
    Ok(metrics)
}

/// Raises the open-file soft limit to the hard limit: every connection is a
/// descriptor, and the soft default (often 1024) is far below --max-connections.
fn raise_open_file_limit(max_connections: usize) {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            // Descriptors beyond the connections: listener, Redis, logs, files.
            if (limit as usize) < max_connections.saturating_add(64) {
                tracing::warn!(
                    open_file_limit = limit,
                    max_connections,
                    "the open-file limit is below --max-connections: accepts beyond it fail (and are backed off) until connections close"
                );
            }
        }
        Err(error) => tracing::warn!(%error, "could not raise the open-file limit"),
    }
}

/// `creditgate store-init`: writes the store markers; a no-op on an initialised store.
pub async fn store_init(config: Config) -> Result<(), String> {
    let options = redis_options(&config)?.ok_or(
        "store-init needs --redis-url or --redis-cluster (the embedded store needs no init)",
    )?;
    let store = RedisStore::open(&options).map_err(|e| format!("cannot open redis: {e}"))?;
    let report = store
        .init()
        .await
        .map_err(|e| format!("store-init failed: {e}"))?;
    if report.written == 0 {
        println!(
            "store already initialised (epoch {}): nothing changed",
            report.epoch
        );
    } else {
        println!(
            "store initialised: wrote {} of {} slot markers (epoch {})",
            report.written, report.total, report.epoch
        );
    }
    Ok(())
}

//! Startup paths of the binary: serve on the chosen store, or initialise a store.

use crate::clock::SystemClock;
use crate::config::Config;
use crate::domain::date_window::DateWindow;
use crate::domain::policy::Policy;
use crate::grpc::server::{self, ServerOptions};
use crate::service::{CreditService, ServiceSettings};
use crate::shutdown;
use crate::store::Store;
use crate::store::memory::MemoryStore;
use crate::store::redis::{RedisOptions, RedisSettings, RedisStore};
use std::sync::Arc;

fn redis_options(config: &Config) -> Result<Option<RedisOptions>, String> {
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
            tracing::info!(target = ?options.target, namespace = %options.namespace, seed_mode = options.allow_uninitialised_writes, "redis store");
            store
                .refuse_evicting_redis(config.allow_evicting_redis)
                .await?;
            serve_with(config, store).await
        }
        None => {
            tracing::warn!(
                "embedded store: state is kept in memory only and is lost when the process stops"
            );
            serve_with(config, MemoryStore::new()).await
        }
    }
}

async fn serve_with<S: Store>(config: Config, store: S) -> Result<(), String> {
    let ledger_retention = config.ledger_retention()?;
    let policy = Arc::new(match &config.policy_file {
        Some(path) => crate::policy_file::load(path)?,
        None => Policy::default(),
    });
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
    let service = CreditService::new(
        Arc::new(store),
        policy.clone(),
        Arc::new(SystemClock),
        settings,
    );
    let options = ServerOptions {
        health_interval: config.health_interval,
    };
    let addr = listener.local_addr().map_or(config.listen, |a| a);
    tracing::info!(%addr, policy_version = %policy.version, "creditgate listening");
    shutdown::run_with_grace(
        signal,
        |stop| server::serve(listener, service, options, stop),
        config.shutdown_grace,
    )
    .await
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

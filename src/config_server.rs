//! Flags of the network edge: TLS, admission limits, connection limits and the
//! shutdown sequence. Defaults and their reasons: docs/security.md ("Limits").

use crate::config::{parse_duration, parse_duration_or_zero};
use crate::grpc::admission::AdmissionLimits;
use crate::grpc::transport::ConnectionSettings;
use crate::grpc::transport::tls::TlsFiles;
use clap::Args;
use clap::builder::TypedValueParser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// PEM certificate chain of the gRPC port; with --tls-key the port speaks TLS only.
    #[arg(long, env = "CREDITGATE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, env = "CREDITGATE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// PEM CA certificate(s): every client must present a certificate signed by one
    /// (mutual TLS). Tokens are still required for the creditgate services.
    #[arg(long, env = "CREDITGATE_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,

    /// Calls in progress at once; beyond, a call is answered RESOURCE_EXHAUSTED at
    /// once instead of queueing (health and reflection are never shed).
    #[arg(long, env = "CREDITGATE_MAX_CONCURRENT_REQUESTS", default_value_t = AdmissionLimits::default().max_concurrent_requests, value_parser = clap::value_parser!(u32).range(1..=1_000_000).map(|n| n as usize))]
    pub max_concurrent_requests: usize,

    /// Largest request message in bytes; larger ones are answered RESOURCE_EXHAUSTED.
    #[arg(long, env = "CREDITGATE_MAX_REQUEST_BYTES", default_value_t = AdmissionLimits::default().max_request_bytes, value_parser = clap::value_parser!(u32).range(64..=4_194_304).map(|n| n as usize))]
    pub max_request_bytes: usize,

    /// Deadline of a call whose caller sent none (grpc-timeout).
    #[arg(long, env = "CREDITGATE_DEFAULT_DEADLINE", default_value = "2s", value_parser = parse_duration)]
    pub default_deadline: Duration,

    /// Open connections at once; more are closed as soon as they are accepted.
    #[arg(long, env = "CREDITGATE_MAX_CONNECTIONS", default_value_t = ConnectionSettings::default().max_connections, value_parser = clap::value_parser!(u32).range(1..=1_000_000).map(|n| n as usize))]
    pub max_connections: usize,

    /// HTTP/2 streams (calls) one connection may have open at once.
    #[arg(long, env = "CREDITGATE_MAX_CONCURRENT_STREAMS", default_value_t = ConnectionSettings::default().max_concurrent_streams, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent_streams: u32,

    /// Time a new connection has for its TLS handshake, HTTP/2 preface and first request.
    #[arg(long, env = "CREDITGATE_HANDSHAKE_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub handshake_timeout: Duration,

    /// A connection without a call for this long is closed (GOAWAY).
    #[arg(long, env = "CREDITGATE_IDLE_TIMEOUT", default_value = "5m", value_parser = parse_duration)]
    pub idle_timeout: Duration,

    /// HTTP/2 PING interval, to find half-open connections.
    #[arg(long, env = "CREDITGATE_KEEPALIVE_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    pub keepalive_interval: Duration,

    /// A connection whose PING is not answered within this is closed.
    #[arg(long, env = "CREDITGATE_KEEPALIVE_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub keepalive_timeout: Duration,

    /// Connections older than this are sent GOAWAY, so clients reconnect and
    /// spread over the replicas behind an L4 load balancer.
    #[arg(long, env = "CREDITGATE_MAX_CONNECTION_AGE", default_value = "30m", value_parser = parse_duration)]
    pub max_connection_age: Duration,

    /// How long calls may still run on a connection past its maximum age or idle GOAWAY.
    #[arg(long, env = "CREDITGATE_MAX_CONNECTION_AGE_GRACE", default_value = "30s", value_parser = parse_duration)]
    pub max_connection_age_grace: Duration,

    /// After SIGTERM: how long health answers NOT_SERVING while calls are still
    /// served, so load balancers and Kubernetes endpoints stop sending first (not
    /// after SIGINT: Ctrl-C at a terminal drains at once).
    #[arg(long, env = "CREDITGATE_SHUTDOWN_DELAY", default_value = "5s", value_parser = parse_duration_or_zero)]
    pub shutdown_delay: Duration,

    /// Address of the Prometheus scrape endpoint (HTTP, GET /metrics), e.g.
    /// 0.0.0.0:9090; no metrics are kept when unset. Unauthenticated: see
    /// docs/security.md.
    #[arg(long, env = "CREDITGATE_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Address of a plaintext port that serves grpc.health.v1 only, for probes
    /// that cannot speak TLS (Kubernetes' gRPC probes), e.g. 0.0.0.0:50052.
    #[arg(long, env = "CREDITGATE_HEALTH_LISTEN")]
    pub health_listen: Option<SocketAddr>,

    /// An origin (scheme://host[:port], or * for any) whose web pages may call the
    /// port from a browser (gRPC-Web, JSON): CORS answers for it. Repeatable, or
    /// comma-separated in the variable; none (the default) turns CORS off.
    #[arg(long = "cors-allow-origin", env = "CREDITGATE_CORS_ALLOW_ORIGIN", value_delimiter = ',', value_parser = parse_origin)]
    pub cors_allow_origin: Vec<String>,
}

fn parse_origin(origin: &str) -> Result<String, String> {
    crate::grpc::web::cors::parse_origin(origin).map(|_| origin.to_owned())
}

impl ServerArgs {
    pub fn tls_files(&self) -> Option<TlsFiles> {
        Some(TlsFiles {
            cert: self.tls_cert.clone()?,
            key: self.tls_key.clone()?,
            client_ca: self.tls_client_ca.clone(),
        })
    }

    pub fn admission(&self) -> AdmissionLimits {
        AdmissionLimits {
            max_concurrent_requests: self.max_concurrent_requests,
            max_request_bytes: self.max_request_bytes,
            default_deadline: self.default_deadline,
        }
    }

    pub fn connections(&self) -> ConnectionSettings {
        ConnectionSettings {
            max_connections: self.max_connections,
            max_concurrent_streams: self.max_concurrent_streams,
            handshake_timeout: self.handshake_timeout,
            idle_timeout: self.idle_timeout,
            keepalive_interval: self.keepalive_interval,
            keepalive_timeout: self.keepalive_timeout,
            max_connection_age: self.max_connection_age,
            max_connection_age_grace: self.max_connection_age_grace,
        }
    }
}

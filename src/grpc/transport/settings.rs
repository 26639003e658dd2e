//! Per-connection limits and timeouts (flags in `config_limits`, defaults and
//! reasons in docs/security.md).

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct ConnectionSettings {
    /// Open connections beyond this are closed as soon as they are accepted.
    pub max_connections: usize,
    /// HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS advertised to every client.
    pub max_concurrent_streams: u32,
    /// Time a new connection has to finish its TLS handshake and its HTTP/2
    /// preface and send its first request's headers.
    pub handshake_timeout: Duration,
    /// A connection with no call in flight for this long is sent GOAWAY.
    pub idle_timeout: Duration,
    /// HTTP/2 PING interval; a peer that does not answer within
    /// `keepalive_timeout` is gone (half-open) and its connection closed.
    pub keepalive_interval: Duration,
    pub keepalive_timeout: Duration,
    /// After this age a connection is sent GOAWAY so that long-lived clients
    /// reconnect and rebalance across replicas; `max_connection_age_grace`
    /// later it is closed even with calls still in flight.
    pub max_connection_age: Duration,
    pub max_connection_age_grace: Duration,
}

impl Default for ConnectionSettings {
    fn default() -> ConnectionSettings {
        ConnectionSettings {
            max_connections: 10_000,
            max_concurrent_streams: 256,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            max_connection_age: Duration::from_secs(1_800),
            max_connection_age_grace: Duration::from_secs(30),
        }
    }
}

/// Flow-control windows: small enough that a client holding many unfinished
/// requests cannot make the server buffer much (a request is at most
/// `--max-request-bytes` anyway), large enough for any creditgate answer.
pub const STREAM_WINDOW: u32 = 256 * 1024;
pub const CONNECTION_WINDOW: u32 = 1024 * 1024;
/// Request headers: gRPC metadata of a creditgate call is well under 1 KiB.
pub const MAX_HEADER_LIST_BYTES: u32 = 16 * 1024;
/// HTTP/1.1 read buffer, which bounds a request's head (hyper's minimum is 8 KiB):
/// the same bound as HTTP/2's header list.
pub const HTTP1_MAX_BUF_BYTES: usize = MAX_HEADER_LIST_BYTES as usize;

//! The HTTP/2 (and HTTP/1.1, for JSON and gRPC-Web) server under the gRPC routes: connection limits, timeouts, TLS,
//! and a shutdown a load balancer can follow.
//!
//! tonic's own `Server` has no cap on open connections, no timeout for a client
//! that never completes its preface, no idle timeout, spins on accept errors at
//! the open-file limit, and keeps its listener open while it drains (so new
//! connections hang instead of being refused). creditgate therefore serves the
//! same tonic routes on hyper directly, with those rules here.

mod accept;
mod connection;
pub mod settings;
pub mod tls;

pub use accept::{DrainTimedOut, serve};

/// gRPC paths whose calls live as long as their client wants (a health watch, a
/// reflection session): never shed, never bounded by a deadline, and not calls
/// the drain waits for.
pub fn long_lived(path: &str) -> bool {
    matches!(
        path,
        "/grpc.health.v1.Health/Watch"
            | "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
            | "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
    )
}
pub use settings::ConnectionSettings;

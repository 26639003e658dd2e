//! The durable decision archive in PostgreSQL (docs/archive.md): its schema,
//! applied by embedded, versioned migrations, its monthly partitions with
//! retention by dropping whole partitions, and the decisions written into it.

pub mod connect;
pub mod decisions;
pub mod migrate;
pub mod partitions;
pub mod pool;
pub mod shipper;

/// The schema every archive object lives in, so that the archive can share a
/// database with other applications.
pub const SCHEMA: &str = "creditgate";

//! creditgate: credit-limit decisions and buyer scoring over gRPC.
//!
//! Data flows one way on the hot path:
//! `grpc` (transport, protobuf ⇄ domain) → `service` (use cases, deadlines) →
//! `domain` (pure rules) ← `store` (embedded in-memory store, or Redis / Redis
//! Cluster shared by replicas). `policy_file` loads the tier policy; `app` wires
//! the binary's paths: serve and `store-init`; `cli` holds the subcommands for
//! people (`import`, `explain`, `demo-data`, `archive-migrate`, `whatif`).

pub mod app;
pub mod archive;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod config_server;
pub mod domain;
pub mod grpc;
pub mod metrics;
pub mod policy_file;
pub mod reload;
pub mod service;
pub mod shutdown;
pub mod store;
pub mod telemetry;
pub mod whatif_render;

//! Integration tests: the real creditgate server on 127.0.0.1:0, called through
//! the generated gRPC clients. One file per capability.

mod helpers;

mod admission;
mod auth_cli;
mod auth_roles;
mod bad_input;
mod buyer_sync;
mod concurrency;
mod dates;
mod decisions;
mod demo_data;
mod edge_admission;
mod edge_connections;
mod edge_shutdown;
mod edge_tls;
mod explain;
mod hostile_input;
mod idempotency;
mod import;
mod invariants;
mod ledger;
mod limits;
mod lineage;
mod model;
mod money;
mod ops_health;
mod ops_logs;
mod ops_metrics;
mod payments;
mod redis_clock;
mod redis_cluster_health;
mod redis_eviction;
mod redis_expiry;
mod redis_faults;
mod redis_outage;
mod redis_pause;
mod redis_replicas;
mod redis_review;
mod redis_wait;
mod retention;
mod review;
mod review_decisions;
mod scoring;
mod server;
mod tiers;

//! Integration tests: the real creditgate server on 127.0.0.1:0, called through
//! the generated gRPC clients. One file per capability.

mod helpers;

mod admission;
mod bad_input;
mod buyer_sync;
mod concurrency;
mod dates;
mod decisions;
mod idempotency;
mod ledger;
mod limits;
mod lineage;
mod money;
mod payments;
mod redis_eviction;
mod redis_outage;
mod redis_replicas;
mod scoring;
mod server;
mod tiers;

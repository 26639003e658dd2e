//! The subcommands that talk to a running server or a store, or write files:
//! `import`, `explain`, `demo-data`, `archive-migrate`, `whatif`. Each prints for people and exits non-zero on
//! failure; none starts a server.

pub mod archive_migrate;
pub mod client;
pub mod demo_data;
pub mod explain;
pub mod import;
pub mod whatif;

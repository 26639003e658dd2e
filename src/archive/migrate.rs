//! The archive's schema, applied by embedded, versioned migrations
//! (`src/archive/migrations/V<n>__<name>.sql`, refinery): each once, in order,
//! recorded in `creditgate.schema_history`. Replicas that start together take
//! turns on an advisory lock, so that none sees another's half-applied step.

use super::SCHEMA;
use tokio_postgres::Client;

refinery::embed_migrations!("src/archive/migrations");

/// The advisory lock the migrations run under: "cg-migr" in ASCII, a key no
/// other application is likely to pick.
const MIGRATION_LOCK: i64 = 0x0063_672d_6d69_6772;

/// The table refinery records applied migrations in, inside our schema.
const HISTORY: &str = "creditgate.schema_history";

/// What a run did: the migrations it applied (none when the schema was up to
/// date) and the version the schema is at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    pub applied: Vec<String>,
    pub version: Option<i32>,
}

/// Brings the archive's schema up to date.
pub async fn migrate(client: &mut Client) -> Result<Migrated, String> {
    let failed = |what: &str, e: tokio_postgres::Error| format!("archive migration: {what}: {e}");
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| failed("taking the migration lock", e))?;
    let result = apply(client).await;
    // Also released when the session ends; unlocking here frees it at once.
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| failed("releasing the migration lock", e));
    let migrated = result?;
    unlocked?;
    Ok(migrated)
}

async fn apply(client: &mut Client) -> Result<Migrated, String> {
    // The history table lives in the schema, so the schema comes first. The
    // name is a constant: nothing to escape.
    client
        .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        .await
        .map_err(|e| format!("archive migration: creating schema {SCHEMA}: {e}"))?;
    let report = migrations::runner()
        .set_migration_table_name(HISTORY)
        .run_async(client)
        .await
        .map_err(|e| format!("archive migration: {e}"))?;
    let applied = report
        .applied_migrations()
        .iter()
        .map(|m| m.to_string())
        .collect();
    let version = migrations::runner()
        .set_migration_table_name(HISTORY)
        .get_last_applied_migration_async(client)
        .await
        .map_err(|e| format!("archive migration: reading the history: {e}"))?
        .map(|m| m.version());
    Ok(Migrated { applied, version })
}

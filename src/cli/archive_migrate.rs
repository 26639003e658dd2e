//! `creditgate archive-migrate`: brings the decision archive's schema in
//! PostgreSQL up to date (docs/archive.md) and creates the partitions of this
//! month and the next two. Safe to run again, and while replicas run.

use crate::archive::{connect, migrate, partitions};
use crate::clock::{Clock, SystemClock};
use clap::Args;

/// Months of partitions made ahead of today's, so that writes at a month's turn
/// find theirs.
pub const MONTHS_AHEAD: u32 = 2;

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ArchiveMigrateArgs {
    /// The archive database: postgres://USER[:PASSWORD]@HOST:PORT/DATABASE (or the
    /// key=value form). Its objects live in the `creditgate` schema.
    #[arg(long, env = "CREDITGATE_ARCHIVE_URL", hide_env_values = true)]
    pub archive_url: String,
}

pub async fn run(args: &ArchiveMigrateArgs) -> Result<String, String> {
    let mut client = connect::connect(&args.archive_url).await?;
    let migrated = migrate::migrate(&mut client).await?;
    let made = partitions::ensure_ahead(&client, SystemClock.today(), MONTHS_AHEAD).await?;
    let target = connect::redact(&args.archive_url);
    let version = migrated
        .version
        .map_or("none".to_owned(), |v| format!("V{v}"));
    let mut out = if migrated.applied.is_empty() {
        format!("archive at {target}: schema up to date ({version})\n")
    } else {
        format!(
            "archive at {target}: applied {} (now {version})\n",
            migrated.applied.join(", ")
        )
    };
    out.push_str(&format!("partitions ready: {}\n", made.join(", ")));
    Ok(out)
}

//! `creditgate whatif --policy candidate.toml`: what a candidate policy would
//! have done to the recorded decisions (docs/policy.md, "What-if"). Through a
//! server (`--server`, CreditReviewService.WhatIf: its archive, else its
//! store's decision history) or straight from the decision archive
//! (`--archive-url`); either way the report is rendered by the same code, so
//! the same decisions print the same bytes.

use crate::archive::pool::Archive;
use crate::grpc::pb;
use crate::grpc::pb::credit_review_service_client::CreditReviewServiceClient;
use crate::grpc::whatif::{report_to_pb, what_if_query};
use crate::service::whatif::{FROM_ARCHIVE, what_if_archived};
use crate::whatif_render::Scope;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Text,
    Json,
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct WhatIfArgs {
    /// The candidate policy file (TOML, as policy/creditgate.toml).
    #[arg(long)]
    pub policy: PathBuf,
    /// Only decisions made since then: a date (midnight UTC) or RFC 3339.
    #[arg(long)]
    pub since: Option<String>,
    /// Only decisions made before then: a date (midnight UTC) or RFC 3339.
    #[arg(long)]
    pub until: Option<String>,
    /// text for people, json for tooling.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    /// Read the decisions from this decision archive (PostgreSQL) directly
    /// instead of asking --server.
    #[arg(long, hide_env_values = true)]
    pub archive_url: Option<String>,
    #[command(flatten)]
    pub server: super::client::ServerArgs,
}

pub async fn run(args: &WhatIfArgs) -> Result<String, String> {
    let policy_toml = std::fs::read_to_string(&args.policy)
        .map_err(|e| format!("--policy {}: {e}", args.policy.display()))?;
    let since = args.since.clone().unwrap_or_default();
    let until = args.until.clone().unwrap_or_default();
    let report = match &args.archive_url {
        Some(url) => from_archive(url, &policy_toml, &since, &until).await?,
        None => from_server(args, policy_toml, since, until).await?,
    };
    Ok(match args.format {
        ReportFormat::Text => report.text,
        ReportFormat::Json => report.json,
    })
}

/// The names of the request's fields as the command line spells them.
fn option_of(field: &str) -> &str {
    match field {
        "policy_toml" => "--policy",
        "since" => "--since",
        "until" => "--until",
        other => other,
    }
}

async fn from_archive(
    url: &str,
    policy_toml: &str,
    since: &str,
    until: &str,
) -> Result<pb::WhatIfReport, String> {
    let query = what_if_query(policy_toml, since, until).map_err(|e| match e {
        crate::service::ServiceError::InvalidArgument { field, message } => {
            format!("{} {message}", option_of(&field))
        }
        other => other.to_string(),
    })?;
    let archive = Archive::new(url, 0)?;
    let report = what_if_archived(&archive, &query.candidate, query.period)
        .await
        .map_err(|e| e.to_string())?;
    let scope = Scope {
        source: FROM_ARCHIVE.to_owned(),
        since: query.since,
        until: query.until,
    };
    Ok(report_to_pb(&report, &scope))
}

async fn from_server(
    args: &WhatIfArgs,
    policy_toml: String,
    since: String,
    until: String,
) -> Result<pb::WhatIfReport, String> {
    let connection = args.server.connect().await?;
    CreditReviewServiceClient::new(connection)
        .max_decoding_message_size(64 * 1024 * 1024)
        .what_if(pb::WhatIfRequest {
            policy_toml,
            since,
            until,
        })
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| {
            let mut text = format!(
                "the server at {} answered {}: {}",
                args.server.server,
                super::explain::code_name(status.code()),
                status.message()
            );
            if status.code() == tonic::Code::PermissionDenied {
                text.push_str(" (a what-if needs the analyst role)");
            }
            text
        })
}

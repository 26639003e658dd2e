//! `creditgate explain DECISION_ID`: a decision printed for people.

use clap::Args;

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ExplainArgs {
    /// The decision_id a CheckCreditLimit or ReleaseOrder answered.
    pub decision_id: String,
    #[command(flatten)]
    pub server: super::client::ServerArgs,
}

pub async fn run(_args: &ExplainArgs) -> Result<String, String> {
    Err("explain: not built yet".to_owned())
}

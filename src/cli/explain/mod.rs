//! `creditgate explain DECISION_ID`: a decision printed for people — its
//! outcome, each reason with what can be done about it, and the numbers it used.
//! The network call is here; the text is `render` (pure, unit-tested).

mod remedy;
mod render;

pub use remedy::remedy;
pub use render::render;

use crate::grpc::pb;
use crate::grpc::pb::credit_review_service_client::CreditReviewServiceClient;
use clap::Args;
use tonic::Code;

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ExplainArgs {
    /// The decision_id a CheckCreditLimit or ReleaseOrder answered.
    pub decision_id: String,
    #[command(flatten)]
    pub server: super::client::ServerArgs,
}

pub async fn run(args: &ExplainArgs) -> Result<String, String> {
    let connection = args.server.connect().await?;
    let record = CreditReviewServiceClient::new(connection)
        .get_decision(pb::GetDecisionRequest {
            decision_id: args.decision_id.clone(),
        })
        .await
        .map_err(|status| failure(args, &status))?
        .into_inner();
    Ok(render(&record))
}

/// What went wrong, in the words of the one who has to act on it.
fn failure(args: &ExplainArgs, status: &tonic::Status) -> String {
    let server = &args.server.server;
    let mut answered = format!(
        "the server at {server} answered {}",
        code_name(status.code())
    );
    if !status.message().is_empty() {
        answered = format!("{answered}: {}", status.message());
    }
    match status.code() {
        Code::NotFound => format!(
            "decision {} not found: it aged out of the store's decision history, or never existed; see docs/operations.md 'Decision history'",
            args.decision_id
        ),
        Code::Unauthenticated => {
            format!("{answered} (give a token with --token-file or CREDITGATE_TOKEN)")
        }
        Code::PermissionDenied => {
            format!("{answered} (explaining decisions needs the analyst role)")
        }
        Code::Unimplemented => {
            format!("{answered} (this server predates CreditReviewService/GetDecision)")
        }
        _ => answered,
    }
}

/// The gRPC code as the specification spells it.
pub(crate) fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::client::ServerArgs;

    fn args() -> ExplainArgs {
        ExplainArgs {
            decision_id: "dec-1".into(),
            server: ServerArgs {
                server: "http://10.0.0.1:50051".into(),
                token_file: None,
                token: None,
                ca_file: None,
            },
        }
    }

    #[test]
    fn not_found_says_why_and_where_to_read() {
        let text = failure(&args(), &tonic::Status::not_found("no such decision"));
        assert!(
            text.starts_with("decision dec-1 not found: it aged out"),
            "{text}"
        );
        assert!(text.contains("docs/operations.md 'Decision history'"));
    }

    #[test]
    fn other_errors_name_the_server_and_the_code() {
        let text = failure(&args(), &tonic::Status::unavailable("redis down"));
        assert_eq!(
            text,
            "the server at http://10.0.0.1:50051 answered UNAVAILABLE: redis down"
        );
        let text = failure(&args(), &tonic::Status::unimplemented(""));
        assert_eq!(
            text,
            "the server at http://10.0.0.1:50051 answered UNIMPLEMENTED (this server predates CreditReviewService/GetDecision)"
        );
        let text = failure(&args(), &tonic::Status::permission_denied("role"));
        assert!(text.contains("PERMISSION_DENIED") && text.contains("analyst role"));
    }
}

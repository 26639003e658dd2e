//! The one mapping from service errors to gRPC status codes.

use crate::service::ServiceError;
use tonic::Status;

/// The longest status message sent, in bytes. The message travels in the
/// `grpc-message` trailer, percent-encoded (up to 3× longer); error messages
/// quote what the caller sent, and a quoted 4 MiB currency code would exceed
/// every client's header-list limit and reach it as a protocol error instead of
/// INVALID_ARGUMENT. Field paths come first, so cutting the tail keeps them.
const MAX_MESSAGE_BYTES: usize = 1024;

impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Status {
        let message = bounded(error.to_string());
        match error {
            ServiceError::InvalidArgument { .. } => Status::invalid_argument(message),
            ServiceError::NotFound(_) => Status::not_found(message),
            ServiceError::AlreadyExists(_) => Status::already_exists(message),
            ServiceError::FailedPrecondition(_) => Status::failed_precondition(message),
            ServiceError::Unavailable(_) => Status::unavailable(message),
        }
    }
}

/// `message` cut to at most [`MAX_MESSAGE_BYTES`] on a character boundary,
/// marked with "…" where it was cut.
fn bounded(mut message: String) -> String {
    if message.len() <= MAX_MESSAGE_BYTES {
        return message;
    }
    let ellipsis = "…";
    let mut end = MAX_MESSAGE_BYTES - ellipsis.len();
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message.truncate(end);
    message.push_str(ellipsis);
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_on_a_character_boundary_keeping_the_field() {
        let code = "€".repeat(2000);
        let status = Status::from(ServiceError::invalid(
            "amount.currency_code",
            format!("{code:?} is not an ISO 4217 currency code"),
        ));
        assert!(status.message().len() <= MAX_MESSAGE_BYTES);
        assert!(status.message().starts_with("amount.currency_code \"€€"));
        assert!(status.message().ends_with('…'));
        let short = Status::from(ServiceError::invalid("buyer_id", "must not be empty"));
        assert_eq!(short.message(), "buyer_id must not be empty");
    }
}

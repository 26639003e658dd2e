use crate::store::StoreError;

/// Every way a use case can fail; mapped to gRPC status codes in one place
/// (`grpc::status`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// Bad input: `field` names the offending request field.
    #[error("{field} {message}")]
    InvalidArgument { field: String, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    Unavailable(String),
}

impl ServiceError {
    pub fn invalid(field: impl Into<String>, message: impl std::fmt::Display) -> ServiceError {
        ServiceError::InvalidArgument {
            field: field.into(),
            message: message.to_string(),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> ServiceError {
        let message = error.to_string();
        match error {
            StoreError::UnknownBuyer(_) | StoreError::UnknownInvoice(_) => {
                ServiceError::NotFound(message)
            }
            StoreError::InvoiceConflict(_) | StoreError::PaymentConflict(_) => {
                ServiceError::AlreadyExists(message)
            }
            StoreError::Overpayment { .. } | StoreError::Overflow => {
                ServiceError::FailedPrecondition(message)
            }
            StoreError::PaidBeforeIssue { .. } => {
                ServiceError::invalid("paid_date", message.trim_start_matches("paid_date "))
            }
            StoreError::Unavailable(_) | StoreError::StaleBuyer(_) | StoreError::ArchiveBacklog => {
                ServiceError::Unavailable(message)
            }
            StoreError::Uninitialised => ServiceError::FailedPrecondition(message),
        }
    }
}

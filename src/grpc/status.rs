//! The one mapping from service errors to gRPC status codes.

use crate::service::ServiceError;
use tonic::Status;

impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Status {
        let message = error.to_string();
        match error {
            ServiceError::InvalidArgument { .. } => Status::invalid_argument(message),
            ServiceError::NotFound(_) => Status::not_found(message),
            ServiceError::AlreadyExists(_) => Status::already_exists(message),
            ServiceError::FailedPrecondition(_) => Status::failed_precondition(message),
            ServiceError::Unavailable(_) => Status::unavailable(message),
        }
    }
}

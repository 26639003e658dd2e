//! Connect's error shape: `{"code": "invalid_argument", "message": …}` with the
//! HTTP status the Connect protocol assigns to each gRPC code.

use http::{HeaderValue, Response, StatusCode, header};
use tonic::body::Body;
use tonic::{Code, Status};

/// A call answered with an error: its Connect code and HTTP status, and the
/// header a 405 or 415 owes the caller (what would have been accepted).
pub struct ConnectError {
    pub code: Code,
    pub message: String,
    pub http: StatusCode,
    pub hint: Option<(header::HeaderName, HeaderValue)>,
}

impl From<Status> for ConnectError {
    fn from(status: Status) -> ConnectError {
        ConnectError {
            code: status.code(),
            http: http_status(status.code()),
            message: status.message().to_owned(),
            hint: None,
        }
    }
}

impl ConnectError {
    /// An answer whose HTTP status is not the code's own (404, 405, 415).
    pub fn http(http: StatusCode, code: Code, message: String) -> ConnectError {
        ConnectError {
            code,
            message,
            http,
            hint: None,
        }
    }

    pub fn with_hint(mut self, name: header::HeaderName, value: &'static str) -> ConnectError {
        self.hint = Some((name, HeaderValue::from_static(value)));
        self
    }

    pub fn into_response(self) -> Response<Body> {
        let mut body = serde_json::Map::new();
        body.insert("code".into(), code_name(self.code).into());
        if !self.message.is_empty() {
            body.insert("message".into(), self.message.into());
        }
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = Response::new(Body::new(http_body_util::Full::new(bytes::Bytes::from(
            json,
        ))));
        *response.status_mut() = self.http;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some((name, value)) = self.hint {
            headers.insert(name, value);
        }
        response
    }
}

/// Connect's name of a gRPC code (snake case; "canceled" with one l).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "canceled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

/// The HTTP status of a Connect unary error with this code (the Connect
/// protocol specification's table).
pub fn http_status(code: Code) -> StatusCode {
    let status = match code {
        Code::Ok => 200,
        Code::Cancelled => 499,
        Code::Unknown | Code::Internal | Code::DataLoss => 500,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
        Code::DeadlineExceeded => 504,
        Code::NotFound => 404,
        Code::AlreadyExists | Code::Aborted => 409,
        Code::PermissionDenied => 403,
        Code::ResourceExhausted => 429,
        Code::Unimplemented => 501,
        Code::Unavailable => 503,
        Code::Unauthenticated => 401,
    };
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_connects() {
        let table = [
            (Code::Cancelled, 499),
            (Code::Unknown, 500),
            (Code::InvalidArgument, 400),
            (Code::DeadlineExceeded, 504),
            (Code::NotFound, 404),
            (Code::AlreadyExists, 409),
            (Code::PermissionDenied, 403),
            (Code::ResourceExhausted, 429),
            (Code::FailedPrecondition, 400),
            (Code::Aborted, 409),
            (Code::OutOfRange, 400),
            (Code::Unimplemented, 501),
            (Code::Internal, 500),
            (Code::Unavailable, 503),
            (Code::DataLoss, 500),
            (Code::Unauthenticated, 401),
        ];
        for (code, status) in table {
            assert_eq!(http_status(code).as_u16(), status, "{code:?}");
        }
        assert_eq!(code_name(Code::Cancelled), "canceled");
    }
}

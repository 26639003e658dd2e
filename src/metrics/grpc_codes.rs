//! gRPC status codes by number, as the `code` label spells them (the names of
//! the gRPC specification, e.g. `INVALID_ARGUMENT`).

pub const CODE_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// The code carried by a `grpc-status` header or trailer, if it is one.
pub fn parse(value: &http::HeaderValue) -> Option<usize> {
    let code: usize = std::str::from_utf8(value.as_bytes()).ok()?.parse().ok()?;
    (code < CODE_NAMES.len()).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_tonic_codes() {
        for (i, name) in CODE_NAMES.iter().enumerate() {
            let code = tonic::Code::from(i as i32);
            assert_eq!(
                format!("{code:?}").to_uppercase(),
                name.replace('_', ""),
                "{i}"
            );
        }
        assert_eq!(parse(&http::HeaderValue::from_static("3")), Some(3));
        assert_eq!(parse(&http::HeaderValue::from_static("17")), None);
        assert_eq!(parse(&http::HeaderValue::from_static("x")), None);
    }
}

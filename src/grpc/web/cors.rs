//! CORS for browser clients (gRPC-Web and Connect JSON), from
//! `--cors-allow-origin`: off unless origins are named, so that no page on
//! another origin can call creditgate from a user's browser by default.

use http::{HeaderName, HeaderValue, Method, header};
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Request headers a browser client sends: gRPC-Web's, Connect's, the token.
const ALLOW_HEADERS: [HeaderName; 7] = [
    header::CONTENT_TYPE,
    header::AUTHORIZATION,
    HeaderName::from_static("x-grpc-web"),
    HeaderName::from_static("x-user-agent"),
    HeaderName::from_static("grpc-timeout"),
    HeaderName::from_static("connect-protocol-version"),
    HeaderName::from_static("connect-timeout-ms"),
];

/// Response headers a gRPC-Web client must be able to read.
const EXPOSE_HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("grpc-status"),
    HeaderName::from_static("grpc-message"),
    HeaderName::from_static("grpc-status-details-bin"),
];

/// How long a browser may cache a preflight's answer.
const MAX_AGE: Duration = Duration::from_secs(7_200);

/// None without origins: CORS off. `*` allows every origin.
pub fn layer(origins: &[String]) -> Result<Option<CorsLayer>, String> {
    if origins.is_empty() {
        return Ok(None);
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .map(|o| parse_origin(o))
                .collect::<Result<Vec<_>, _>>()?,
        )
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::POST])
            .allow_headers(ALLOW_HEADERS)
            .expose_headers(EXPOSE_HEADERS)
            .max_age(MAX_AGE),
    ))
}

/// An origin as browsers send it: `scheme://host[:port]`, no path, no slash.
pub fn parse_origin(origin: &str) -> Result<HeaderValue, String> {
    let fail = || format!("--cors-allow-origin {origin:?}: expected scheme://host[:port] or *");
    if origin == "*" {
        return Ok(HeaderValue::from_static("*"));
    }
    let (scheme, rest) = origin.split_once("://").ok_or_else(fail)?;
    if !matches!(scheme, "http" | "https") || rest.is_empty() || rest.contains(['/', '?', '#']) {
        return Err(fail());
    }
    HeaderValue::from_str(origin).map_err(|_| fail())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        assert!(parse_origin("https://shop.example.com").is_ok());
        assert!(parse_origin("http://localhost:8080").is_ok());
        assert!(parse_origin("*").is_ok());
        assert!(parse_origin("shop.example.com").is_err());
        assert!(parse_origin("https://shop.example.com/").is_err());
        assert!(parse_origin("ftp://x").is_err());
    }

    #[test]
    fn no_origins_no_cors() {
        assert!(layer(&[]).unwrap().is_none());
    }
}

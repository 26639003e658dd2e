//! The `authorization: Bearer <token>` header (RFC 6750, section 2.1).

use http::HeaderMap;
use http::header::AUTHORIZATION;

/// The token's bytes, or why the header is unusable. The reasons go back to the
/// caller, so none of them quotes the header.
pub fn bearer_token(headers: &HeaderMap) -> Result<&[u8], &'static str> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values
        .next()
        .ok_or("missing authorization header: send `authorization: Bearer <token>`")?;
    // Two values leave it to chance which one a proxy or the service would read.
    if values.next().is_some() {
        return Err("more than one authorization header");
    }
    let bytes = value.as_bytes();
    let (scheme, rest) = bytes.split_at(bytes.len().min(6));
    if !scheme.eq_ignore_ascii_case(b"bearer") || rest.first() != Some(&b' ') {
        return Err("authorization header is not `Bearer <token>`");
    }
    let token = rest.trim_ascii_start();
    // Visible ASCII only: no spaces, control bytes or UTF-8 that could read one
    // way here and another way in the client that minted it.
    if token.is_empty() || !token.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err("malformed bearer token");
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with(values: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(AUTHORIZATION, HeaderValue::from_bytes(value).unwrap());
        }
        headers
    }

    #[test]
    fn takes_the_token_after_a_bearer_scheme_in_any_case() {
        for (value, token) in [
            (&b"Bearer cg_abc"[..], &b"cg_abc"[..]),
            (b"bearer cg_abc", b"cg_abc"),
            (b"BEARER  a.b-c_d~e+f/g=", b"a.b-c_d~e+f/g="),
        ] {
            assert_eq!(bearer_token(&with(&[value])), Ok(token));
        }
    }

    #[test]
    fn refuses_missing_repeated_and_malformed_headers() {
        let missing = bearer_token(&HeaderMap::new()).unwrap_err();
        assert!(missing.contains("missing"), "{missing}");
        let twice = bearer_token(&with(&[b"Bearer a", b"Bearer a"])).unwrap_err();
        assert!(twice.contains("more than one"), "{twice}");
        for value in [
            &b"Basic YTpi"[..],
            b"Bearer",
            b"Bearer:cg_abc",
            b"Bearercg_abc",
            b"Bearer\tcg_abc",
            b"Token cg_abc",
        ] {
            let error = bearer_token(&with(&[value])).unwrap_err();
            assert!(error.contains("not `Bearer"), "{value:?}: {error}");
        }
        for value in [
            &b"Bearer "[..],
            b"Bearer cg abc",
            b"Bearer cg_abc ",
            b"Bearer cg_\xc3\xa9",
            b"Bearer cg_abc\tx",
        ] {
            let error = bearer_token(&with(&[value])).unwrap_err();
            assert_eq!(error, "malformed bearer token", "{value:?}");
        }
    }
}

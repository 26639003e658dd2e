//! A token's SHA-256: what the tokens file holds instead of the token.

use ring::digest::{SHA256, digest};
use subtle::{Choice, ConstantTimeEq};

#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// The SHA-256 of the token's bytes, as `sha256sum` would print it.
    pub fn of(token: &[u8]) -> TokenHash {
        let mut bytes = [0; 32];
        bytes.copy_from_slice(digest(&SHA256, token).as_ref());
        TokenHash(bytes)
    }

    /// Exactly 64 lowercase hex characters: the one spelling the file allows, so
    /// that two entries for one token can never hide behind different cases.
    pub fn from_hex(text: &str) -> Result<TokenHash, String> {
        if text.starts_with(super::new_token::PREFIX) {
            return Err(
                "sha256 holds a token, not its hash: revoke that token and use the sha256 \
                 printed by `creditgate token new`"
                    .to_owned(),
            );
        }
        let digits = text.as_bytes();
        if digits.len() != 64 {
            return Err(format!(
                "sha256 must be 64 lowercase hex characters (got {} characters)",
                text.chars().count()
            ));
        }
        if let Some(bad) = text.chars().find(|c| !matches!(c, '0'..='9' | 'a'..='f')) {
            return Err(format!(
                "sha256 must be 64 lowercase hex characters (found {bad:?})"
            ));
        }
        let nibble = |b: u8| if b <= b'9' { b - b'0' } else { b - b'a' + 10 };
        let mut bytes = [0; 32];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            *byte = (nibble(pair[0]) << 4) | nibble(pair[1]);
        }
        Ok(TokenHash(bytes))
    }

    pub fn to_hex(self) -> String {
        hex(&self.0)
    }

    /// Equality that takes the same time whichever byte differs.
    pub fn ct_eq(&self, other: &TokenHash) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

// A hash is no secret (the tokens file holds it): shown as sha256sum shows it.
impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Lowercase hex of any bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_like_sha256sum() {
        // printf abc | sha256sum
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(TokenHash::of(b"abc").to_hex(), abc);
        assert!(TokenHash::from_hex(abc) == Ok(TokenHash::of(b"abc")));
        assert!(bool::from(
            TokenHash::of(b"abc").ct_eq(&TokenHash::from_hex(abc).unwrap())
        ));
        assert!(!bool::from(
            TokenHash::of(b"abd").ct_eq(&TokenHash::of(b"abc"))
        ));
    }

    #[test]
    fn only_64_lowercase_hex_digits_parse() {
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        for bad in [
            abc.to_uppercase(),
            abc[..63].to_owned(),
            format!("{abc}0"),
            format!("{}g", &abc[..63]),
            format!(" {}", &abc[..63]),
            String::new(),
        ] {
            let error = TokenHash::from_hex(&bad).unwrap_err();
            assert!(error.contains("64 lowercase hex"), "{bad:?}: {error}");
        }
        let token = format!("cg_{abc}");
        let error = TokenHash::from_hex(&token).unwrap_err();
        assert!(error.contains("holds a token"), "{error}");
    }
}

//! A buyer's name: free text for people, so a looser rule than an id's. It is
//! shown, never compared as a key, so any script, emoji, joiner or direction
//! mark a real company name may need is kept as sent (not normalised). Refused
//! are only the characters that break or rearrange what is shown around the
//! name in a log line or a UI: controls, line and paragraph separators, and the
//! bidi overrides, embeddings and isolates (Trojan Source, CVE-2021-42574).

use super::text::{CharClass, classify};

pub const MAX_NAME_BYTES: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("is {0} bytes long; at most 256 are allowed")]
    TooLong(usize),
    #[error(
        "contains U+{:04X} ({}) at byte {at}; a name must not contain controls, line breaks or bidi overrides, embeddings or isolates",
        *.character as u32,
        .class.describe()
    )]
    Refused {
        character: char,
        class: CharClass,
        at: usize,
    },
}

/// The buyer name rule; an empty name is allowed (the ERP may not have one).
pub fn check_name(text: &str) -> Result<(), NameError> {
    if text.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong(text.len()));
    }
    let refused = text.char_indices().find_map(|(at, character)| {
        classify(character)
            .filter(|class| class.rearranges_display())
            .map(|class| NameError::Refused {
                character,
                class,
                at,
            })
    });
    refused.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_may_be_any_visible_text() {
        for name in [
            "",
            "Acme Trading GmbH",
            "株式会社 山田",
            "شركة\u{200F} ACME",
            "Café\u{00A0}Zürich",
            "👩\u{200D}💻 Labs",
            "Mu\u{0308}ller",
        ] {
            assert_eq!(check_name(name), Ok(()), "{name:?}");
        }
        assert!(check_name(&"n".repeat(256)).is_ok());
        assert_eq!(check_name(&"n".repeat(257)), Err(NameError::TooLong(257)));
    }

    #[test]
    fn names_refuse_what_rearranges_the_display() {
        let cases = [
            ("Acme\nGmbH", '\n', 4),
            ("Acme\0", '\0', 4),
            ("Acme \u{202E}HbmG", '\u{202E}', 5),
            ("\u{202B}Acme", '\u{202B}', 0),
            ("Acme \u{2066}x\u{2069}", '\u{2066}', 5),
            ("Acme\u{2028}GmbH", '\u{2028}', 4),
        ];
        for (name, character, at) in cases {
            let error = check_name(name).unwrap_err();
            assert!(
                matches!(error, NameError::Refused { character: c, at: a, .. } if c == character && a == at),
                "{name:?}: {error:?}"
            );
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("contains U+{:04X}", character as u32))
            );
        }
    }
}

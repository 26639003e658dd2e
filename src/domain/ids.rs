//! Identifiers supplied by callers: buyer, order, invoice and payment ids.

use super::text::{CharClass, classify};
use std::fmt;

pub const MAX_ID_BYTES: usize = 128;

/// Why an id was refused. Each message completes a sentence that starts with
/// the field name: "order_id contains U+202E (a bidi override) at byte 3".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must not be empty")]
    Empty,
    #[error("is {0} bytes long; at most 128 are allowed")]
    TooLong(usize),
    #[error(
        "contains U+{:04X} ({}) at byte {at}; ids must be visible text",
        *.character as u32,
        .class.describe()
    )]
    Invisible {
        character: char,
        class: CharClass,
        at: usize,
    },
    #[error("must not begin or end with a space")]
    EdgeSpace,
    #[error(
        "is not in Unicode normalization form C (NFC), e.g. \"u\" followed by U+0308 instead of \"ü\" (U+00FC); send the NFC form"
    )]
    NotNfc,
}

/// The identifier rule, the one place it lives. The ERP and the stores compare
/// ids byte for byte, and people compare them by eye in a UI or a log, so an id
/// is accepted only when both comparisons agree as far as characters can make
/// them agree:
///
/// - 1 to 128 bytes of UTF-8;
/// - no character that is not plain visible text ([`CharClass`]): controls,
///   bidi overrides / embeddings / isolates / marks, zero-width characters, the
///   byte order mark, soft hyphens and other format or invisible characters,
///   line and paragraph separators, spaces other than U+0020, private-use,
///   unassigned and noncharacter code points;
/// - no U+0020 at either end (inside is fine: "SO 4711");
/// - in NFC: refused rather than normalised, because normalising would make two
///   different byte strings the same idempotency key here but not in the ERP.
///
/// Not prevented: homoglyphs across scripts (Latin "A" and Cyrillic "А"), and
/// look-alikes within a script ("O0", "l1"); see docs/policy.md.
fn check(text: &str) -> Result<(), IdError> {
    if text.is_empty() {
        return Err(IdError::Empty);
    }
    if text.len() > MAX_ID_BYTES {
        return Err(IdError::TooLong(text.len()));
    }
    // Nearly every real id is printable ASCII, which is always NFC and has no
    // invisible character: the Unicode tables are only consulted beyond it.
    let printable_ascii = text.bytes().all(|b| b == b' ' || b.is_ascii_graphic());
    if !printable_ascii
        && let Some((at, character, class)) = text
            .char_indices()
            .find_map(|(at, c)| classify(c).map(|class| (at, c, class)))
    {
        return Err(IdError::Invisible {
            character,
            class,
            at,
        });
    }
    if text.starts_with(' ') || text.ends_with(' ') {
        return Err(IdError::EdgeSpace);
    }
    if !printable_ascii && !unicode_normalization::is_nfc(text) {
        return Err(IdError::NotNfc);
    }
    Ok(())
}

/// The rule ids were stored under before this one refused invisible characters
/// and non-NFC text. Reading a stored record must not fail because the rule
/// tightened since it was written.
fn check_stored(text: &str) -> Result<(), IdError> {
    if text.is_empty() {
        return Err(IdError::Empty);
    }
    if text.len() > MAX_ID_BYTES {
        return Err(IdError::TooLong(text.len()));
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
        pub struct $name(String);

        impl $name {
            /// The only way in from a caller: the identifier rule (`check`).
            pub fn parse(text: &str) -> Result<Self, IdError> {
                check(text).map(|()| Self(text.to_owned()))
            }

            /// An id read back from a store, which checked it when it was
            /// written; see `check_stored`.
            pub fn parse_stored(text: &str) -> Result<Self, IdError> {
                check_stored(text).map(|()| Self(text.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A buyer as the ERP knows it.
    BuyerId
);
id_type!(
    /// An order, unique per buyer: the idempotency key of a credit check.
    OrderId
);
id_type!(
    /// An invoice, unique per buyer.
    InvoiceId
);
id_type!(
    /// Optional caller-chosen key that makes a retried payment a no-op.
    PaymentId
);

impl InvoiceId {
    /// Sorts before every valid id (ids are never empty): a lower bound for range
    /// queries over (date, id) indexes, never a real id.
    pub fn lower_bound() -> InvoiceId {
        InvoiceId(String::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bounds() {
        assert_eq!(BuyerId::parse(""), Err(IdError::Empty));
        assert!(BuyerId::parse(&"b".repeat(128)).is_ok());
        assert_eq!(BuyerId::parse(&"b".repeat(129)), Err(IdError::TooLong(129)));
        // 43 three-byte characters: 129 bytes, although only 43 characters.
        assert_eq!(BuyerId::parse(&"株".repeat(43)), Err(IdError::TooLong(129)));
        assert_eq!(OrderId::parse(" a"), Err(IdError::EdgeSpace));
        assert_eq!(OrderId::parse("a "), Err(IdError::EdgeSpace));
        assert!(InvoiceId::parse("INV-{7}/ü").is_ok());
    }

    #[test]
    fn allowed_ids() {
        for text in [
            "Müller-GmbH",
            "株式会社-1",
            "SO-4711/2",
            "SO 4711",
            "ACME {EU} 100%",
            "Ωmega_7",
            "שלום-3",
            "مرحبا-4",
            "café",
            "Zürich😀",
            // No precomposed q with acute: NFC keeps the combining mark.
            "q\u{0301}-1",
        ] {
            assert_eq!(
                OrderId::parse(text).map(|id| id.to_string()),
                Ok(text.to_owned())
            );
        }
    }

    /// Each refused class, with an example and the words the error uses.
    #[test]
    fn refused_ids_say_which_character_and_why() {
        let cases: &[(&str, char, usize, &str)] = &[
            ("a\nb", '\n', 1, "a control character"),
            ("a\0b", '\0', 1, "a control character"),
            ("a\tb", '\t', 1, "a control character"),
            ("INV-\u{202E}7", '\u{202E}', 4, "a bidi override"),
            ("\u{202A}INV", '\u{202A}', 0, "a bidi embedding"),
            ("INV\u{2066}7\u{2069}", '\u{2066}', 3, "a bidi isolate"),
            ("INV\u{200F}7", '\u{200F}', 3, "an invisible bidi mark"),
            ("ACME\u{200B}", '\u{200B}', 4, "a zero-width character"),
            ("AC\u{200D}ME", '\u{200D}', 2, "a zero-width character"),
            ("\u{FEFF}ACME", '\u{FEFF}', 0, "a zero-width character"),
            ("AC\u{00AD}ME", '\u{00AD}', 2, "a soft hyphen"),
            ("A\u{2061}B", '\u{2061}', 1, "an invisible format character"),
            ("ACME\u{FE0F}", '\u{FE0F}', 4, "an invisible character"),
            ("\u{3164}", '\u{3164}', 0, "an invisible character"),
            ("A\u{2028}B", '\u{2028}', 1, "a line or paragraph separator"),
            ("SO\u{00A0}4711", '\u{00A0}', 2, "a space other than U+0020"),
            ("SO\u{3000}4711", '\u{3000}', 2, "a space other than U+0020"),
            ("ID\u{E000}", '\u{E000}', 2, "a private-use character"),
            (
                "ID\u{FFFF}",
                '\u{FFFF}',
                2,
                "an unassigned code point or noncharacter",
            ),
            (
                "ID\u{0378}",
                '\u{0378}',
                2,
                "an unassigned code point or noncharacter",
            ),
        ];
        for &(text, character, at, words) in cases {
            let error = BuyerId::parse(text).unwrap_err();
            let IdError::Invisible {
                character: got,
                at: got_at,
                class,
            } = error.clone()
            else {
                panic!("{text:?}: {error:?}");
            };
            assert_eq!((got, got_at), (character, at), "{text:?}");
            assert_eq!(class.describe(), words, "{text:?}");
            let message = error.to_string();
            let code_point = format!("U+{:04X}", character as u32);
            assert!(
                message.starts_with(&format!("contains {code_point} ({words}) at byte {at}")),
                "{message}"
            );
        }
    }

    #[test]
    fn ids_must_be_nfc() {
        // "Müller" with u + U+0308 COMBINING DIAERESIS: looks the same, other bytes.
        let decomposed = "Mu\u{0308}ller";
        assert_eq!(BuyerId::parse(decomposed), Err(IdError::NotNfc));
        assert!(BuyerId::parse("M\u{00FC}ller").is_ok());
        // U+212B ANGSTROM SIGN normalises to U+00C5.
        assert_eq!(InvoiceId::parse("\u{212B}-1"), Err(IdError::NotNfc));
    }

    #[test]
    fn stored_ids_keep_the_rule_they_were_written_under() {
        assert!(BuyerId::parse_stored("ACME\u{200B}").is_ok());
        assert_eq!(BuyerId::parse_stored(""), Err(IdError::Empty));
    }

    proptest! {
        #[test]
        fn accepted_ids_are_kept_verbatim(text in "[a-zA-Z0-9_{}:/-]{1,128}") {
            let id = BuyerId::parse(&text).unwrap();
            prop_assert_eq!(id.as_str(), text.as_str());
        }

        /// Whatever is accepted is NFC, has no invisible character and fits.
        #[test]
        fn accepted_ids_obey_the_rule(text in "\\PC{0,40}|.{0,40}") {
            if let Ok(id) = OrderId::parse(&text) {
                prop_assert!(unicode_normalization::is_nfc(id.as_str()));
                prop_assert!(id.as_str().chars().all(|c| classify(c).is_none()));
                prop_assert!(!id.as_str().is_empty() && id.as_str().len() <= MAX_ID_BYTES);
            }
        }
    }
}

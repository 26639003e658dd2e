//! Identifiers supplied by callers: buyer, order, invoice and payment ids.

use std::fmt;

pub const MAX_ID_BYTES: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must not be empty")]
    Empty,
    #[error("is {0} bytes long; at most 128 are allowed")]
    TooLong(usize),
    #[error("must not contain control characters or leading/trailing spaces")]
    BadCharacters,
}

fn check(text: &str) -> Result<(), IdError> {
    if text.is_empty() {
        return Err(IdError::Empty);
    }
    if text.len() > MAX_ID_BYTES {
        return Err(IdError::TooLong(text.len()));
    }
    if text.chars().any(char::is_control) || text.trim() != text {
        return Err(IdError::BadCharacters);
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
        pub struct $name(String);

        impl $name {
            /// The only way in: 1 to 128 bytes, no control characters.
            pub fn parse(text: &str) -> Result<Self, IdError> {
                check(text).map(|()| Self(text.to_owned()))
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
        assert_eq!(OrderId::parse("a\nb"), Err(IdError::BadCharacters));
        assert_eq!(OrderId::parse(" a"), Err(IdError::BadCharacters));
        assert!(InvoiceId::parse("INV-{7}/ü").is_ok());
    }

    proptest! {
        #[test]
        fn accepted_ids_are_kept_verbatim(text in "[a-zA-Z0-9_{}:/-]{1,128}") {
            let id = BuyerId::parse(&text).unwrap();
            prop_assert_eq!(id.as_str(), text.as_str());
        }
    }
}

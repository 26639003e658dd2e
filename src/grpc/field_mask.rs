//! `google.protobuf.FieldMask` with its proto3 JSON form: one string of
//! comma-separated lowerCamelCase paths (`"creditLimit,name"`), which the
//! protobuf paths hold in snake_case. prost-types has no serde, and pbjson-types
//! (0.9) maps a FieldMask to `{"paths": [...]}`, which Connect clients do not
//! send; build.rs points both generators here instead.

use serde::de::{self, Deserializer, Visitor};
use serde::{Serialize, Serializer};
use std::fmt;

#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct FieldMask {
    #[prost(string, repeated, tag = "1")]
    pub paths: Vec<String>,
}

impl Serialize for FieldMask {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let camel: Vec<String> = self.paths.iter().map(|p| camel_case(p)).collect();
        serializer.serialize_str(&camel.join(","))
    }
}

impl<'de> serde::Deserialize<'de> for FieldMask {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<FieldMask, D::Error> {
        struct Paths;
        impl Visitor<'_> for Paths {
            type Value = FieldMask;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a FieldMask: comma-separated lowerCamelCase paths")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<FieldMask, E> {
                let paths = text
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        // snake_case in JSON is ambiguous with the mapping: refused.
                        if p.contains('_') {
                            Err(E::custom(format!(
                                "field mask path {p:?} is not lowerCamelCase"
                            )))
                        } else {
                            Ok(snake_case(p))
                        }
                    })
                    .collect::<Result<_, E>>()?;
                Ok(FieldMask { paths })
            }
        }
        deserializer.deserialize_str(Paths)
    }
}

fn camel_case(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut upper = false;
    for c in path.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

fn snake_case(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 4);
    for c in path.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_one_string_of_camel_case_paths() {
        let mask = FieldMask {
            paths: vec![
                "credit_limit".into(),
                "name".into(),
                "financials.net_worth".into(),
            ],
        };
        let json = serde_json::to_string(&mask).unwrap();
        assert_eq!(json, r#""creditLimit,name,financials.netWorth""#);
        assert_eq!(serde_json::from_str::<FieldMask>(&json).unwrap(), mask);
        assert_eq!(
            serde_json::from_str::<FieldMask>(r#""""#)
                .unwrap()
                .paths
                .len(),
            0
        );
        assert!(serde_json::from_str::<FieldMask>(r#""credit_limit""#).is_err());
        assert!(serde_json::from_str::<FieldMask>(r#"{"paths":[]}"#).is_err());
    }
}

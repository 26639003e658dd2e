//! The tokens file (`--auth-tokens-file`): named SHA-256 hashes of tokens, each
//! with its roles. Parsed strictly; every error names the entry and its line.

use super::hash::TokenHash;
use super::roles::{Role, RoleSet};
use serde::Deserialize;
use std::sync::Arc;
use subtle::{Choice, ConditionallySelectable};
use toml::Spanned;

/// One caller the service knows.
pub struct TokenEntry {
    pub name: Arc<str>,
    pub hash: TokenHash,
    pub roles: RoleSet,
}

/// The parsed file: never empty, names and hashes unique.
pub struct TokenTable {
    entries: Vec<TokenEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    tokens: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    name: Spanned<String>,
    sha256: Spanned<String>,
    roles: Spanned<Vec<Spanned<String>>>,
}

impl TokenTable {
    pub fn parse(text: &str) -> Result<TokenTable, String> {
        let line_of = |offset: usize| {
            let before = &text.as_bytes()[..offset.min(text.len())];
            before.iter().filter(|b| **b == b'\n').count() + 1
        };
        // One line per error: it goes into a log line when a SIGHUP reload fails.
        let raw: RawFile = toml::from_str(text).map_err(|error| {
            let message = error.message().trim().replace('\n', " ");
            match error.span() {
                Some(span) => format!("line {}: {message}", line_of(span.start)),
                None => message,
            }
        })?;
        if raw.tokens.is_empty() {
            return Err("no [[tokens]] entries: every call would be refused".to_owned());
        }
        let mut entries: Vec<TokenEntry> = Vec::with_capacity(raw.tokens.len());
        for (at, entry) in raw.tokens.iter().enumerate() {
            let label = |span: std::ops::Range<usize>| {
                format!(
                    "line {}: [[tokens]] entry {} ({:?})",
                    line_of(span.start),
                    at + 1,
                    entry.name.get_ref()
                )
            };
            validate_name(entry.name.get_ref())
                .map_err(|why| format!("{}: {why}", label(entry.name.span())))?;
            let hash = TokenHash::from_hex(entry.sha256.get_ref())
                .map_err(|why| format!("{}: {why}", label(entry.sha256.span())))?;
            let roles = parse_roles(entry.roles.get_ref().iter().map(|r| r.get_ref().as_str()))
                .map_err(|why| format!("{}: {why}", label(entry.roles.span())))?;
            if let Some(twin) = entries
                .iter()
                .position(|e| *e.name == *entry.name.get_ref())
            {
                let why = format!("name already used by entry {}", twin + 1);
                return Err(format!("{}: {why}", label(entry.name.span())));
            }
            if let Some(twin) = entries.iter().position(|e| e.hash == hash) {
                let why = format!(
                    "sha256 already used by entry {} ({:?}): one token, one name",
                    twin + 1,
                    &*entries[twin].name
                );
                return Err(format!("{}: {why}", label(entry.sha256.span())));
            }
            entries.push(TokenEntry {
                name: Arc::from(entry.name.get_ref().as_str()),
                hash,
                roles,
            });
        }
        Ok(TokenTable { entries })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entry whose hash is `hash`. Timing-safe: the comparison is on SHA-256
    /// digests, never on the secret itself, and every entry is compared in full
    /// with no early exit, so the time taken says neither which entry nor how many
    /// leading bytes matched. Only "known or not" shows, which the answer says anyway.
    pub fn find(&self, hash: &TokenHash) -> Option<&TokenEntry> {
        let mut found = Choice::from(0);
        let mut index = 0u32;
        for (at, entry) in self.entries.iter().enumerate() {
            let hit = entry.hash.ct_eq(hash);
            // The table is read from a file of a few hundred lines at most.
            index.conditional_assign(&(at as u32), hit);
            found |= hit;
        }
        bool::from(found).then(|| &self.entries[index as usize])
    }
}

/// A token's name shows in logs and audit events, and inside the TOML entry that
/// `token new` prints: 1 to 64 ASCII letters, digits, '.', '_' or '-', so it needs
/// no quoting or escaping anywhere and cannot forge a log line.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("name is empty".to_owned());
    }
    if name.len() > 64 {
        return Err(format!("name is {} characters, at most 64", name.len()));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if let Some(bad) = name.chars().find(|c| !allowed(*c)) {
        return Err(format!(
            "name may hold only ASCII letters, digits, '.', '_' and '-' (not {bad:?})"
        ));
    }
    Ok(())
}

/// At least one role, each known and named once.
pub fn parse_roles<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<RoleSet, String> {
    let mut roles = RoleSet::default();
    for name in names {
        let role = Role::parse(name).ok_or_else(|| {
            let known: Vec<_> = Role::ALL.iter().map(|r| r.name()).collect();
            format!("unknown role {name:?} (roles: {})", known.join(", "))
        })?;
        if roles.contains(role) {
            return Err(format!("role {role} is listed twice"));
        }
        roles.insert(role);
    }
    if roles.is_empty() {
        return Err("roles is empty: a token needs at least one role".to_owned());
    }
    Ok(roles)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const XYZ: &str = "3608bca1e44ea6c4d268eb6db02260269892c0b42b86bbf1e77a6fa16c3c9282";

    fn error(text: &str) -> String {
        match TokenTable::parse(text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(error) => error,
        }
    }

    #[test]
    fn parses_the_documented_shape() {
        let text = format!(
            "# comment\n[[tokens]]\nname = \"erp-prod\"   # the ERP\nsha256 = \"{ABC}\"\nroles = [\"ledger\"]\n\n\
             [[tokens]]\nname = \"credit.team_2\"\nsha256 = \"{XYZ}\"\nroles = [\"analyst\", \"score\"]\n"
        );
        let table = TokenTable::parse(&text).unwrap();
        assert_eq!(table.len(), 2);
        let erp = table.find(&TokenHash::of(b"abc")).unwrap();
        assert_eq!(&*erp.name, "erp-prod");
        assert_eq!(erp.roles, RoleSet::of(&[Role::Ledger]));
        let team = table.find(&TokenHash::of(b"xyz")).unwrap();
        assert_eq!(&*team.name, "credit.team_2");
        assert_eq!(team.roles, RoleSet::of(&[Role::Analyst, Role::Score]));
        assert!(table.find(&TokenHash::of(b"abd")).is_none());
    }

    #[test]
    fn each_mistake_is_refused_naming_its_entry_and_line() {
        let entry = |name: &str, sha: &str, roles: &str| {
            format!("[[tokens]]\nname = \"{name}\"\nsha256 = \"{sha}\"\nroles = {roles}\n")
        };
        let good = entry("erp", ABC, "[\"ledger\"]");
        let cases: Vec<(String, &str)> = vec![
            (
                format!(
                    "{good}[[tokens]]\nname = \"x\"\nsha256 = \"{XYZ}\"\nroles = [\"ledger\"]\ntoken = \"abc\"\n"
                ),
                "line 9: unknown field `token`, expected one of `name`, `sha256`, `roles`",
            ),
            (
                format!("version = 2\n{good}"),
                "line 1: unknown field `version`",
            ),
            (
                format!("{good}[[tokens]]\nname = \"x\"\nroles = [\"ledger\"]\n"),
                "missing field `sha256`",
            ),
            (
                format!("{good}{}", entry("", XYZ, "[\"ledger\"]")),
                "line 6: [[tokens]] entry 2 (\"\"): name is empty",
            ),
            (
                format!("{good}{}", entry("erp prod", XYZ, "[\"ledger\"]")),
                "line 6: [[tokens]] entry 2 (\"erp prod\"): name may hold only",
            ),
            (
                format!("{good}{}", entry("erp", XYZ, "[\"ledger\"]")),
                "line 6: [[tokens]] entry 2 (\"erp\"): name already used by entry 1",
            ),
            (
                format!("{good}{}", entry("erp2", ABC, "[\"score\"]")),
                "line 7: [[tokens]] entry 2 (\"erp2\"): sha256 already used by entry 1 (\"erp\")",
            ),
            (
                format!("{good}{}", entry("b", &XYZ.to_uppercase(), "[\"ledger\"]")),
                "line 7: [[tokens]] entry 2 (\"b\"): sha256 must be 64 lowercase hex",
            ),
            (
                format!("{good}{}", entry("b", &XYZ[1..], "[\"ledger\"]")),
                "line 7: [[tokens]] entry 2 (\"b\"): sha256 must be 64 lowercase hex characters (got 63",
            ),
            (
                format!(
                    "{good}{}",
                    entry("b", &format!("{}z", &XYZ[1..]), "[\"ledger\"]")
                ),
                "line 7: [[tokens]] entry 2 (\"b\"): sha256 must be 64 lowercase hex",
            ),
            (
                format!("{good}{}", entry("b", XYZ, "[\"admin\"]")),
                "line 8: [[tokens]] entry 2 (\"b\"): unknown role \"admin\" (roles: decide, score, ledger, analyst)",
            ),
            (
                format!("{good}{}", entry("b", XYZ, "[\"Ledger\"]")),
                "line 8: [[tokens]] entry 2 (\"b\"): unknown role \"Ledger\"",
            ),
            (
                format!("{good}{}", entry("b", XYZ, "[]")),
                "line 8: [[tokens]] entry 2 (\"b\"): roles is empty",
            ),
            (
                format!("{good}{}", entry("b", XYZ, "[\"score\", \"score\"]")),
                "line 8: [[tokens]] entry 2 (\"b\"): role score is listed twice",
            ),
            (
                format!("{good}{}", entry("b", XYZ, "\"ledger\"")),
                "line 8: invalid type",
            ),
            ("".to_owned(), "no [[tokens]] entries"),
            ("tokens = []\n".to_owned(), "no [[tokens]] entries"),
            (format!("{good}name = "), "line 5:"),
        ];
        for (text, expected) in cases {
            let error = error(&text);
            assert!(
                error.contains(expected),
                "expected {expected:?} in {error:?} for:\n{text}"
            );
            assert!(!error.contains('\n'), "one line: {error:?}");
        }
    }

    #[test]
    fn names_are_short_plain_ascii() {
        assert!(validate_name("erp-prod").is_ok());
        assert!(validate_name("A.b_c-9").is_ok());
        assert!(validate_name(&"n".repeat(64)).is_ok());
        assert!(validate_name(&"n".repeat(65)).is_err());
        for bad in ["", "a b", "a\nb", "é", "a\"b", "a=b", "a/b"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }
}

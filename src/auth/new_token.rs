//! `creditgate token new`: a fresh token, and the tokens-file entry for it.

use super::hash::{TokenHash, hex};
use super::tokens::{parse_roles, validate_name};
use ring::rand::{SecureRandom, SystemRandom};

/// Every token starts with this, so a leaked one is recognisable (secret
/// scanners, log reviews) and one pasted where its hash belongs is refused.
pub const PREFIX: &str = "cg_";

/// The text `token new` prints: the token, once, and the entry to paste. Name and
/// roles follow the tokens file's rules, so the entry always loads.
pub fn new_token<S: AsRef<str>>(name: &str, roles: &[S]) -> Result<String, String> {
    validate_name(name).map_err(|why| format!("--name: {why}"))?;
    let roles =
        parse_roles(roles.iter().map(AsRef::as_ref)).map_err(|why| format!("--roles: {why}"))?;
    // 256 bits from the OS: guessing is hopeless, so the file may hold a fast,
    // unsalted hash.
    let mut secret = [0u8; 32];
    SystemRandom::new()
        .fill(&mut secret)
        .map_err(|_| "the operating system gave no random bytes".to_owned())?;
    let token = format!("{PREFIX}{}", hex(&secret));
    let sha256 = TokenHash::of(token.as_bytes()).to_hex();
    let roles: Vec<String> = roles.iter().map(|r| format!("\"{r}\"")).collect();
    Ok(format!(
        "# token for {name}: shown this once, give it to the client as\n\
         # `authorization: Bearer <token>` and keep it in a secret store\n\
         {token}\n\
         \n\
         # add to the tokens file (--auth-tokens-file), then send SIGHUP to every replica\n\
         [[tokens]]\n\
         name = \"{name}\"\n\
         sha256 = \"{sha256}\"\n\
         roles = [{}]\n",
        roles.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::roles::{Role, RoleSet};
    use crate::auth::tokens::TokenTable;

    fn token_line(text: &str) -> &str {
        text.lines()
            .find(|l| l.starts_with(PREFIX))
            .expect("token line")
    }

    #[test]
    fn the_printed_entry_loads_and_holds_the_printed_tokens_hash() {
        let text = new_token("erp-prod", &["ledger", "analyst"]).unwrap();
        let token = token_line(&text);
        assert_eq!(token.len(), PREFIX.len() + 64, "{token}");
        assert!(token[PREFIX.len()..].bytes().all(|b| b.is_ascii_hexdigit()));
        let entry = &text[text.find("[[tokens]]").expect("an entry")..];
        let table = TokenTable::parse(entry).unwrap();
        assert_eq!(table.len(), 1);
        let entry = table.find(&TokenHash::of(token.as_bytes())).unwrap();
        assert_eq!(&*entry.name, "erp-prod");
        assert_eq!(entry.roles, RoleSet::of(&[Role::Ledger, Role::Analyst]));
        assert_eq!(text.matches(token).count(), 1, "the token is printed once");
    }

    #[test]
    fn every_token_is_fresh() {
        let one = new_token("a", &["decide"]).unwrap();
        let two = new_token("a", &["decide"]).unwrap();
        assert_ne!(token_line(&one), token_line(&two));
    }

    #[test]
    fn name_and_roles_follow_the_files_rules() {
        let error = new_token("", &["decide"]).unwrap_err();
        assert_eq!(error, "--name: name is empty");
        let error = new_token("erp prod", &["decide"]).unwrap_err();
        assert!(error.starts_with("--name: name may hold only"), "{error}");
        let error = new_token("erp", &["admin"]).unwrap_err();
        assert!(
            error.starts_with("--roles: unknown role \"admin\""),
            "{error}"
        );
        let error = new_token::<&str>("erp", &[]).unwrap_err();
        assert!(error.starts_with("--roles: roles is empty"), "{error}");
        let error = new_token("erp", &["score", "score"]).unwrap_err();
        assert!(
            error.starts_with("--roles: role score is listed twice"),
            "{error}"
        );
    }
}

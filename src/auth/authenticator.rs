//! The check in front of every RPC: which token is calling, and may it call this.

use super::bearer::bearer_token;
use super::hash::TokenHash;
use super::roles::{Access, required_roles};
use super::tokens::TokenTable;
use arc_swap::ArcSwap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tonic::Status;

/// Who is calling: the token's name from the tokens file, never the token. The
/// auth layer puts it into the request's extensions; the decision log reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub name: Arc<str>,
}

/// The current token table, swapped whole on reload so a request sees either the
/// old file or the new one, and the hot path reads it without taking a lock.
pub struct Authenticator {
    path: PathBuf,
    table: ArcSwap<TokenTable>,
}

impl Authenticator {
    pub fn load(path: &Path) -> Result<Authenticator, String> {
        Ok(Authenticator {
            path: path.to_owned(),
            table: ArcSwap::from_pointee(read(path)?),
        })
    }

    /// Re-reads the file. A file that does not parse changes nothing: the tokens
    /// in use keep working, and the error says why the new ones do not.
    pub fn reload(&self) -> Result<usize, String> {
        let table = read(&self.path)?;
        let tokens = table.len();
        self.table.store(Arc::new(table));
        Ok(tokens)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many tokens the current table holds.
    pub fn tokens(&self) -> usize {
        self.table.load().len()
    }

    /// None: `path` is open (health, reflection), let it through as it is.
    /// Some(Ok(caller)): allowed. Some(Err(status)): answer UNAUTHENTICATED for a
    /// missing, malformed or unknown token, PERMISSION_DENIED for a known token
    /// without a role the RPC needs. `path` is the request URI's path.
    pub fn authorize(
        &self,
        path: &str,
        headers: &http::HeaderMap,
    ) -> Option<Result<Caller, Status>> {
        let needed = match required_roles(path) {
            Access::Open => return None,
            Access::AnyOf(roles) => Some(roles),
            Access::Authenticated => None,
        };
        let token = match bearer_token(headers) {
            Ok(token) => token,
            Err(why) => return Some(Err(Status::unauthenticated(why))),
        };
        let hash = TokenHash::of(token);
        let table = self.table.load();
        let Some(entry) = table.find(&hash) else {
            return Some(Err(Status::unauthenticated("unknown bearer token")));
        };
        if let Some(roles) = needed.filter(|roles| !roles.intersects(entry.roles)) {
            return Some(Err(Status::permission_denied(format!(
                "token {:?} may not call {path}: it needs role {roles}",
                &*entry.name
            ))));
        }
        Some(Ok(Caller {
            name: Arc::clone(&entry.name),
        }))
    }

    /// [`Self::authorize`] for a tower layer: on Ok the request goes on, carrying
    /// its [`Caller`] in its extensions (tonic hands them to the handler); on Err
    /// answer `status.into_http()` instead.
    pub fn admit<B>(&self, request: &mut http::Request<B>) -> Result<(), Status> {
        match self.authorize(request.uri().path(), request.headers()) {
            None => Ok(()),
            Some(Ok(caller)) => {
                request.extensions_mut().insert(caller);
                Ok(())
            }
            Some(Err(status)) => Err(status),
        }
    }
}

fn read(path: &Path) -> Result<TokenTable, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read tokens file {}: {error}", path.display()))?;
    TokenTable::parse(&text).map_err(|why| format!("tokens file {}: {why}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use http::header::AUTHORIZATION;

    use tonic::Code;

    const CHECK: &str = "/creditgate.v1.CreditDecisionService/CheckCreditLimit";
    const EXPOSURE: &str = "/creditgate.v1.LedgerService/GetBuyerExposure";
    const UPSERT: &str = "/creditgate.v1.LedgerService/UpsertBuyer";

    fn entry(name: &str, token: &str, roles: &str) -> String {
        let sha = TokenHash::of(token.as_bytes()).to_hex();
        format!("[[tokens]]\nname = \"{name}\"\nsha256 = \"{sha}\"\nroles = {roles}\n")
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    fn bearer(value: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    fn code(outcome: Option<Result<Caller, Status>>) -> Code {
        outcome
            .expect("role-checked")
            .map_or_else(|s| s.code(), |_| Code::Ok)
    }

    fn two_callers() -> (tempfile::NamedTempFile, Authenticator) {
        let text = entry("erp", "cg_erp", r#"["ledger"]"#)
            + &entry("team", "cg_team", r#"["analyst", "decide"]"#);
        let file = file(&text);
        let auth = Authenticator::load(file.path()).unwrap();
        (file, auth)
    }

    #[test]
    fn a_known_token_with_a_needed_role_is_let_through_by_name() {
        let (_file, auth) = two_callers();
        let erp = auth.authorize(UPSERT, &bearer("Bearer cg_erp"));
        assert_eq!(erp.unwrap().unwrap().name.as_ref(), "erp");
        let erp = auth.authorize(EXPOSURE, &bearer("bearer cg_erp"));
        assert_eq!(erp.unwrap().unwrap().name.as_ref(), "erp");
        let team = auth.authorize(EXPOSURE, &bearer("Bearer cg_team"));
        assert_eq!(team.unwrap().unwrap().name.as_ref(), "team");
        let team = auth.authorize(CHECK, &bearer("Bearer cg_team"));
        assert_eq!(team.unwrap().unwrap().name.as_ref(), "team");
    }

    #[test]
    fn missing_malformed_and_unknown_tokens_are_unauthenticated() {
        let (_file, auth) = two_callers();
        let none = http::HeaderMap::new();
        assert_eq!(code(auth.authorize(CHECK, &none)), Code::Unauthenticated);
        for value in ["Basic Y2dfZXJwOg==", "Bearer", "Bearer cg_erp x", "cg_erp"] {
            let outcome = auth.authorize(CHECK, &bearer(value));
            assert_eq!(code(outcome), Code::Unauthenticated, "{value}");
        }
        let unknown = auth.authorize(UPSERT, &bearer("Bearer cg_erq")).unwrap();
        let status = unknown.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(status.message(), "unknown bearer token");
    }

    #[test]
    fn a_known_token_without_the_role_is_denied_naming_the_role() {
        let (_file, auth) = two_callers();
        let status = auth
            .authorize(CHECK, &bearer("Bearer cg_erp"))
            .unwrap()
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);
        assert!(status.message().contains("needs role decide"), "{status:?}");
        assert!(status.message().contains("\"erp\""), "{status:?}");
        assert!(!status.message().contains("cg_erp"), "{status:?}");
        let status = auth
            .authorize(UPSERT, &bearer("Bearer cg_team"))
            .unwrap()
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);
        assert!(status.message().contains("needs role ledger"), "{status:?}");
    }

    #[test]
    fn open_paths_skip_the_check_and_unknown_paths_need_a_token() {
        let (_file, auth) = two_callers();
        let none = http::HeaderMap::new();
        assert!(
            auth.authorize("/grpc.health.v1.Health/Check", &none)
                .is_none()
        );
        let reflection = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";
        assert!(auth.authorize(reflection, &bearer("Bearer junk")).is_none());
        let unknown = "/creditgate.v1.LedgerService/DropBuyer";
        assert_eq!(code(auth.authorize(unknown, &none)), Code::Unauthenticated);
        let known = auth.authorize(unknown, &bearer("Bearer cg_team"));
        assert_eq!(code(known), Code::Ok);
    }

    #[test]
    fn admit_puts_the_caller_into_the_request() {
        let (_file, auth) = two_callers();
        let request = |token: Option<&str>| {
            let mut builder = http::Request::builder().uri(format!("http://localhost{EXPOSURE}"));
            if let Some(token) = token {
                builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
            }
            builder.body(()).unwrap()
        };
        let mut allowed = request(Some("cg_team"));
        assert!(auth.admit(&mut allowed).is_ok());
        let caller = allowed.extensions().get::<Caller>().unwrap();
        assert_eq!(caller.name.as_ref(), "team");
        let mut anonymous = request(None);
        let status = auth.admit(&mut anonymous).unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        assert!(anonymous.extensions().get::<Caller>().is_none());
        let mut health = http::Request::builder()
            .uri("http://localhost/grpc.health.v1.Health/Check")
            .body(())
            .unwrap();
        assert!(auth.admit(&mut health).is_ok());
        assert!(health.extensions().get::<Caller>().is_none());
    }

    #[test]
    fn a_reload_swaps_the_tokens_and_a_bad_file_keeps_the_old_ones() {
        let file = file(&entry("old", "cg_old", r#"["decide"]"#));
        let auth = Authenticator::load(file.path()).unwrap();
        let old = || code(auth.authorize(CHECK, &bearer("Bearer cg_old")));
        let new = || code(auth.authorize(CHECK, &bearer("Bearer cg_new")));
        assert_eq!((old(), new()), (Code::Ok, Code::Unauthenticated));

        let both =
            entry("old", "cg_old", r#"["decide"]"#) + &entry("new", "cg_new", r#"["decide"]"#);
        std::fs::write(file.path(), both).unwrap();
        assert_eq!(auth.reload(), Ok(2));
        assert_eq!((old(), new()), (Code::Ok, Code::Ok));

        std::fs::write(file.path(), entry("new", "cg_new", r#"["decid"]"#)).unwrap();
        let error = auth.reload().unwrap_err();
        assert!(error.contains("unknown role \"decid\""), "{error}");
        assert!(
            error.contains(&file.path().display().to_string()),
            "{error}"
        );
        assert_eq!((old(), new(), auth.tokens()), (Code::Ok, Code::Ok, 2));

        std::fs::write(file.path(), entry("new", "cg_new", r#"["decide"]"#)).unwrap();
        assert_eq!(auth.reload(), Ok(1));
        assert_eq!((old(), new()), (Code::Unauthenticated, Code::Ok));
    }

    #[test]
    fn loading_a_missing_or_bad_file_fails_naming_it() {
        let error = Authenticator::load(Path::new("/nonexistent/tokens.toml"))
            .err()
            .unwrap();
        assert!(
            error.contains("cannot read tokens file /nonexistent/tokens.toml"),
            "{error}"
        );
        let bad = file("[[tokens]]\nname = \"a\"\n");
        let error = Authenticator::load(bad.path()).err().unwrap();
        assert!(error.contains("missing field"), "{error}");
    }
}

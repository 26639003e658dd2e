//! The authentication flags and the `token` subcommand (flattened into `Config`).

use clap::{Args, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthArgs {
    /// Tokens file (TOML: name, sha256 and roles of each token; see docs/security.md).
    /// Every RPC but health and reflection then needs `authorization: Bearer <token>`.
    /// Re-read on SIGHUP.
    #[arg(long, env = "CREDITGATE_AUTH_TOKENS_FILE")]
    pub auth_tokens_file: Option<PathBuf>,

    /// Listen on a non-loopback address without a tokens file: anyone who can reach
    /// the port may call every RPC. Logged as a warning every minute.
    #[arg(long, env = "CREDITGATE_ALLOW_UNAUTHENTICATED")]
    pub allow_unauthenticated: bool,
}

impl AuthArgs {
    /// [`super::check_bind`] for these flags.
    pub fn check_bind(&self, listen: SocketAddr) -> Result<Option<String>, String> {
        super::check_bind(
            listen,
            self.auth_tokens_file.as_deref(),
            self.allow_unauthenticated,
        )
    }
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum TokenCommand {
    /// Print a fresh random token, once, and the tokens-file entry for it.
    New {
        /// The caller's name, as logs and audit events will show it.
        #[arg(long)]
        name: String,
        /// Comma-separated roles: decide, score, ledger, analyst.
        #[arg(long, value_delimiter = ',', required = true)]
        roles: Vec<String>,
    },
}

impl TokenCommand {
    /// What the command prints on success.
    pub fn run(&self) -> Result<String, String> {
        match self {
            TokenCommand::New { name, roles } => super::new_token(name, roles),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Command, Config};
    use clap::Parser;

    #[test]
    fn flags_and_the_token_subcommand_parse() {
        let config = Config::try_parse_from(["creditgate"]).unwrap();
        assert_eq!(config.auth, AuthArgs::default());
        let config = Config::try_parse_from([
            "creditgate",
            "--auth-tokens-file",
            "/etc/creditgate/tokens.toml",
            "--allow-unauthenticated",
        ])
        .unwrap();
        assert_eq!(
            config.auth.auth_tokens_file.as_deref(),
            Some(std::path::Path::new("/etc/creditgate/tokens.toml"))
        );
        assert!(config.auth.allow_unauthenticated);
        let config = Config::try_parse_from([
            "creditgate",
            "token",
            "new",
            "--name",
            "erp",
            "--roles",
            "ledger,analyst",
        ])
        .unwrap();
        let expected = TokenCommand::New {
            name: "erp".to_owned(),
            roles: vec!["ledger".to_owned(), "analyst".to_owned()],
        };
        assert_eq!(config.command, Some(Command::Token(expected)));
        let no_roles = Config::try_parse_from(["creditgate", "token", "new", "--name", "erp"]);
        assert!(no_roles.is_err());
    }

    #[test]
    fn check_bind_reads_the_flags() {
        let lan = "10.0.0.5:50051".parse().unwrap();
        let mut args = AuthArgs::default();
        assert!(args.check_bind(lan).is_err());
        args.allow_unauthenticated = true;
        assert!(args.check_bind(lan).unwrap().is_some());
        args.auth_tokens_file = Some("/etc/creditgate/tokens.toml".into());
        assert_eq!(args.check_bind(lan), Ok(None));
    }
}

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

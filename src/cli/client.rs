//! How every subcommand reaches a running server: one `--server` URL form and one
//! bearer token source.

use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ServerArgs {
    /// The server: http://HOST:PORT, or https://HOST:PORT with TLS.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub server: String,
    /// File holding the bearer token (when the server has authentication).
    #[arg(long, env = "CREDITGATE_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// The bearer token itself (prefer --token-file: an environment is easier to leak).
    #[arg(long = "token", env = "CREDITGATE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// PEM file of the CA that signed the server's certificate (https:// only);
    /// the system roots otherwise.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
}

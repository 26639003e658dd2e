//! Authentication and roles: who is calling (a bearer token, known by the SHA-256
//! in the tokens file) and whether their roles allow the RPC. The transport puts
//! [`Authenticator::admit`] in front of the routes, reloads on SIGHUP (`crate::reload`),
//! and refuses to start where [`check_bind`] says so; see docs/security.md.

pub mod args;
mod authenticator;
mod bearer;
mod bind;
mod hash;
mod new_token;
pub mod roles;
mod tokens;

pub use args::{AuthArgs, TokenCommand};
pub use authenticator::{Authenticator, Caller};
pub use bind::{check_bind, warn_periodically};
pub use new_token::new_token;
pub use roles::{Access, Role, required_roles};

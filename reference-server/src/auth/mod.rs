//! Authentication and authorization: htpasswd users (Basic), an access policy, and a
//! Docker-token issuer and verifier (Bearer JWTs).
//!
//! Three modes ([`AuthMode`]): `None` (everything open, the historical default), `Basic`
//! (the registry checks htpasswd credentials itself, AUTH-25) and `Token` (the registry
//! runs its own token endpoint at `/token` and accepts only Bearer JWTs it signed,
//! AUTH-02..AUTH-22). In every mode the decision is made in one place, `crate::authz`,
//! from the [`Policy`]; this module only establishes who is calling and what they hold.
//!
//! Layout: [`users`] (htpasswd + verification cache), [`policy`] (rules and globs),
//! [`scope`] (the token scope grammar, AUTH-17), [`jwt`] (ES256 JWTs over aws-lc-rs),
//! [`token`] ([`TokenConfig`]: keys, issuing, verifying), `endpoint` (the `/token` HTTP
//! endpoint), `challenge` (401/403 answers), [`keygen`].

pub(crate) mod challenge;
pub(crate) mod endpoint;
pub mod jwt;
pub mod keygen;
pub mod policy;
pub mod scope;
pub mod token;
pub mod users;

pub use keygen::keygen;
pub use policy::{Policy, Rights};
pub use token::TokenConfig;
pub use users::Users;

use std::fmt;

/// Why an auth artefact (users file, policy, key, certificate) could not be used. The
/// message names the place (file, line, JSON path) but never a password, hash or key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AuthError {
    message: String,
}

impl AuthError {
    pub fn new(message: impl Into<String>) -> Self {
        AuthError {
            message: message.into(),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// Prefixes the message with where it came from (a file name).
    pub(crate) fn context(self, place: impl fmt::Display) -> Self {
        AuthError::new(format!("{place}: {}", self.message))
    }
}

/// How callers authenticate.
#[derive(Debug, Clone, Default)]
pub enum AuthMode {
    /// No authentication: every request may do everything.
    #[default]
    None,
    /// HTTP Basic against the htpasswd [`Users`] on every request (AUTH-25); 401 with
    /// `WWW-Authenticate: Basic` without valid credentials, 403 `DENIED` without the right
    /// (AUTH-24).
    Basic,
    /// Bearer tokens from this registry's own `/token` endpoint (AUTH-02..AUTH-22).
    Token(TokenConfig),
}

/// Authentication settings of a registry instance. `Default` is no authentication.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    pub mode: AuthMode,
    /// Who exists and their bcrypt hashes (Basic mode, and the token endpoint's password
    /// check in token mode).
    pub users: Users,
    /// Who may do what. `None`: every authenticated user may pull, push and delete
    /// everything and list the catalog; anonymous callers may do nothing
    /// ([`Policy::authenticated_only`]).
    pub policy: Option<Policy>,
}

impl AuthConfig {
    /// No authentication (the default).
    pub fn none() -> Self {
        AuthConfig::default()
    }

    /// Basic authentication against `users` with `policy`.
    pub fn basic(users: Users, policy: Option<Policy>) -> Self {
        AuthConfig {
            mode: AuthMode::Basic,
            users,
            policy,
        }
    }

    /// Token authentication: `/token` issues what `policy` allows to `users`.
    pub fn token(token: TokenConfig, users: Users, policy: Option<Policy>) -> Self {
        AuthConfig {
            mode: AuthMode::Token(token),
            users,
            policy,
        }
    }

    pub fn is_enabled(&self) -> bool {
        !matches!(self.mode, AuthMode::None)
    }

    /// The policy in force: the configured one, or [`Policy::authenticated_only`].
    pub fn effective_policy(&self) -> Policy {
        self.policy
            .clone()
            .unwrap_or_else(Policy::authenticated_only)
    }
}

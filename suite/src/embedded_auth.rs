//! Authentication for the embedded reference registry (`--reference-auth basic|token`).
//!
//! The run makes its own identities: a writer that may do everything and a reader that may
//! only pull, with random passwords that live in memory for the run, plus the token
//! signing key and certificate when the token flow is asked for. The access policy is the
//! one `.ci/run` gives the standalone registry, so an in-process run and CI see the same
//! registry: anonymous callers may pull only the repositories of `auth.anonymous-pull`.
//!
//! Only the reference registry's public configuration API is used (the two halves share
//! no logic): the suite then talks to it over HTTP like to any other registry.

use rand::RngExt;
use reference_server::{AuthConfig, Policy, TokenConfig, Users};

use crate::auth::Auth;

/// How the embedded registry authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmbeddedAuth {
    /// No authentication (the default).
    #[default]
    None,
    /// HTTP Basic from an in-memory user list.
    Basic,
    /// The Docker token flow with the registry's own `/token` endpoint.
    Token,
}

impl std::str::FromStr for EmbeddedAuth {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(EmbeddedAuth::None),
            "basic" => Ok(EmbeddedAuth::Basic),
            "token" => Ok(EmbeddedAuth::Token),
            other => Err(format!("{other:?}: expected none, basic or token")),
        }
    }
}

impl std::fmt::Display for EmbeddedAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EmbeddedAuth::None => "none",
            EmbeddedAuth::Basic => "basic",
            EmbeddedAuth::Token => "token",
        })
    }
}

/// The policy of the embedded registry (and of `.ci/run`'s standalone ones).
pub const POLICY: &str = r#"{"rules": [
  {"repositories": ["**"], "users": ["writer"], "actions": ["pull", "push", "delete"]},
  {"repositories": ["**"], "users": ["reader"], "actions": ["pull"]},
  {"repositories": ["*/auth-anonymous-pull"], "users": ["anonymous"], "actions": ["pull"]}
 ],
 "catalog": ["writer"]}"#;

/// What a run with an authenticating embedded registry uses.
pub struct Identities {
    /// The registry's configuration.
    pub config: AuthConfig,
    /// The writer's credentials.
    pub writer: Auth,
    /// The reader's credentials.
    pub reader: Auth,
}

/// A fresh password: 24 random alphanumerics.
fn password() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..24)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// The identities and configuration for `mode`; `None` for [`EmbeddedAuth::None`].
pub fn identities(mode: EmbeddedAuth) -> Result<Option<Identities>, String> {
    if mode == EmbeddedAuth::None {
        return Ok(None);
    }
    let (wp, rp) = (password(), password());
    let users = Users::from_plain(&[("writer", &wp), ("reader", &rp)]);
    let policy = Policy::parse(POLICY).map_err(|e| format!("embedded policy: {e}"))?;
    let config = match mode {
        EmbeddedAuth::Basic => AuthConfig::basic(users, Some(policy)),
        _ => {
            let (key, cert) = reference_server::auth::keygen(&[])
                .map_err(|e| format!("cannot make a token signing key: {e}"))?;
            let mut token = TokenConfig::from_pem(&key, &cert)
                .map_err(|e| format!("token signing key: {e}"))?;
            // The shortest lifetime the token spec allows (AUTH-11), so `--with slow`
            // waits out a token in about two minutes.
            token.ttl = std::time::Duration::from_secs(60);
            AuthConfig::token(token, users, Some(policy))
        }
    };
    Ok(Some(Identities {
        config,
        writer: Auth::from_parts(Some("writer".into()), Some(wp)),
        reader: Auth::from_parts(Some("reader".into()), Some(rp)),
    }))
}

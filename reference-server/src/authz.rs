//! The single authorization hook.
//!
//! [`Caller::authenticate`] establishes who is calling from the `Authorization` header
//! (nothing in `--auth none`, Basic credentials in basic mode, a Bearer JWT in token
//! mode), and [`allowed`] decides every access: route checks, the implicit "may read the
//! mount source" of a mount (PUSH-44, AUTH-19), and catalog filtering. Because every
//! decision goes through here, auth cannot leak blobs across repositories.

use std::sync::Arc;

use base64::Engine as _;
use warp::http::HeaderMap;

use crate::auth::policy::Rights;
use crate::auth::scope::Access;
use crate::auth::token::TokenClaims;
use crate::auth::{AuthMode, Policy};
use crate::defects::{self, Defects};
use crate::state::Registry;

/// Who is calling, as established from the request's credentials.
#[derive(Debug, Clone, Default)]
pub enum Identity {
    /// `--auth none`: everyone may do everything.
    #[default]
    Open,
    /// No credentials (or, in token mode, no Bearer token).
    Anonymous,
    /// A Basic user whose password was verified.
    User(String),
    /// A verified Bearer token: its subject (empty = anonymous) and grants.
    Token(TokenClaims),
    /// Basic credentials that didn't verify, or a malformed `Authorization`.
    BadCredentials,
    /// A Bearer token that was refused (forged, expired, other issuer or audience...):
    /// challenged with `error="invalid_token"` (AUTH-22).
    BadToken,
}

/// The caller of one request: identity plus what decisions need (policy, defects).
#[derive(Debug, Clone)]
pub struct Caller {
    pub identity: Identity,
    policy: Arc<Policy>,
    defects: Defects,
    /// In token mode only tokens carry rights: an anonymous request without a token gets
    /// nothing from the policy directly (it must fetch an anonymous token).
    token_mode: bool,
}

/// What a request wants to do with a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Pull,
    Push,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
        }
    }
}

/// `user:password` from `Authorization: Basic …`; `None` if absent, `Some(Err)` if
/// malformed. Never logged.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), ()>> {
    let value = headers.get("authorization")?.to_str().ok();
    let (scheme, rest) = match value.and_then(|v| v.trim().split_once(' ')) {
        Some(x) => x,
        None => return Some(Err(())),
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Some(Err(()));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    Some(match decoded.as_deref().and_then(|s| s.split_once(':')) {
        Some((u, p)) if !u.is_empty() => Ok((u.to_string(), p.to_string())),
        _ => Err(()),
    })
}

/// The token of `Authorization: Bearer …`; `None` if absent, `Some(None)` if another
/// scheme.
fn bearer_token(headers: &HeaderMap) -> Option<Option<&str>> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    Some(scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim()))
}

impl Caller {
    /// Establishes the caller from the request headers. Basic passwords are checked with
    /// bcrypt (cached); Bearer tokens are verified locally, never by calling the token
    /// server (AUTH-22).
    pub async fn authenticate(registry: &Registry, headers: &HeaderMap) -> Caller {
        let auth = &registry.config.auth;
        let defects = registry.config.defects;
        let policy = registry.policy.clone();
        let identity = match &auth.mode {
            AuthMode::None => Identity::Open,
            AuthMode::Basic => match basic_credentials(headers) {
                None => Identity::Anonymous,
                Some(Err(())) => Identity::BadCredentials,
                Some(Ok((u, p))) => {
                    if auth.users.verify(&u, &p).await {
                        Identity::User(u)
                    } else {
                        Identity::BadCredentials
                    }
                }
            },
            AuthMode::Token(tc) => match bearer_token(headers) {
                // Basic credentials (or another scheme) sent to a token-mode registry are
                // ignored, as distribution does: the client gets the Bearer challenge.
                None | Some(None) => Identity::Anonymous,
                Some(Some(token)) => {
                    match tc.verify_access(token, defects::token_verify_options(defects)) {
                        Ok(claims) => Identity::Token(claims),
                        Err(why) => {
                            tracing::debug!(reason = %why, "bearer token refused");
                            Identity::BadToken
                        }
                    }
                }
            },
        };
        Caller {
            identity,
            policy,
            defects,
            token_mode: matches!(auth.mode, AuthMode::Token(_)),
        }
    }

    /// Whether the caller presented valid credentials (a valid token, even an anonymous
    /// one, counts): what `/v2/` requires when auth is on.
    pub fn is_authenticated(&self) -> bool {
        matches!(
            self.identity,
            Identity::Open | Identity::User(_) | Identity::Token(_)
        )
    }

    /// The policy subject: `Some(user)`, or `None` for anonymous (including a token whose
    /// `sub` is empty).
    fn subject(&self) -> Option<&str> {
        match &self.identity {
            Identity::User(u) => Some(u),
            Identity::Token(c) if !c.subject.is_empty() => Some(&c.subject),
            _ => None,
        }
    }

    fn policy_rights(&self, repository: &str) -> Rights {
        self.policy.rights(self.subject(), repository)
    }
}

/// Whether `caller` may perform `action` on `repository` (AUTH-19, AUTH-24): Basic callers
/// by the policy, token callers by the token's `access` grants (type `repository`, same
/// name, the action or `*` granted).
pub fn allowed(caller: &Caller, repository: &str, action: Action) -> bool {
    let action = defects::needed_action(caller.defects, action);
    match &caller.identity {
        Identity::Open => true,
        Identity::Anonymous if !caller.token_mode => caller.policy_rights(repository).has(action),
        Identity::User(_) => caller.policy_rights(repository).has(action),
        Identity::Token(claims) => claims.access.iter().any(|a| {
            a.kind == "repository"
                && defects::grant_covers_name(caller.defects, &a.name, repository)
                && a.actions.iter().any(|g| {
                    g == "*" || defects::grant_covers_action(caller.defects, g, action.as_str())
                })
        }),
        _ => false,
    }
}

/// Whether `caller` may list the catalog at all: Basic callers named in the policy's
/// `catalog`, token callers holding `registry:catalog:*`.
pub fn may_list_catalog(caller: &Caller) -> bool {
    if defects::catalog_unfiltered(caller.defects) {
        return true;
    }
    match &caller.identity {
        Identity::Open => true,
        Identity::Anonymous if !caller.token_mode => caller.policy.may_list_catalog(None),
        Identity::User(u) => caller.policy.may_list_catalog(Some(u)),
        Identity::Token(c) => c.access.iter().any(|a| *a == Access::catalog()),
        _ => false,
    }
}

/// Whether a catalog listing shows `repository` to `caller`: the repositories its subject
/// may pull by the policy (a token's grants name only what it asked for, so the subject's
/// policy rights decide, as the token server would grant them).
pub fn listed_in_catalog(caller: &Caller, repository: &str) -> bool {
    if defects::catalog_unfiltered(caller.defects) {
        return true;
    }
    match &caller.identity {
        Identity::Open => true,
        Identity::Token(_) => caller.policy_rights(repository).has(Action::Pull),
        _ => allowed(caller, repository, Action::Pull),
    }
}

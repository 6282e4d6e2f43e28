//! Credentials for the registry under test, and the scope arithmetic of the token flow.
//!
//! Everything that touches credentials goes through [`Auth`]; the token flow itself
//! (challenge → token → retry) lives in [`crate::token_flow`], token responses and the
//! cache in [`crate::token`], where credentials come from in [`crate::credentials`].

use std::collections::BTreeSet;

/// One identity's credentials.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Auth {
    /// Anonymous (a Bearer challenge is still answered, with an anonymous token).
    #[default]
    None,
    /// User name and password: `Authorization: Basic` once a Basic challenge was seen,
    /// and on token requests (AUTH-02, AUTH-05).
    Basic {
        /// User name.
        username: String,
        /// Password (never printed).
        password: String,
    },
    /// An OAuth2 refresh token (docker's `identitytoken`): tokens are fetched with
    /// `POST grant_type=refresh_token` (docker-token-oauth.md).
    IdentityToken {
        /// The user name stored next to it, if any (shown, never sent).
        username: Option<String>,
        /// The refresh token (never printed).
        token: String,
    },
    /// A bearer token used as is (`--token`, docker's `registrytoken`): no flow.
    Bearer {
        /// The token (never printed).
        token: String,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("Auth::None"),
            Auth::Basic { username, .. } => write!(f, "Auth::Basic({username}, <redacted>)"),
            Auth::IdentityToken { username, .. } => {
                write!(f, "Auth::IdentityToken({username:?}, <redacted>)")
            }
            Auth::Bearer { .. } => f.write_str("Auth::Bearer(<redacted>)"),
        }
    }
}

impl Auth {
    /// From optional CLI values: a user name alone means an empty password.
    pub fn from_parts(username: Option<String>, password: Option<String>) -> Auth {
        match (username, password) {
            (Some(username), password) => Auth::Basic {
                username,
                password: password.unwrap_or_default(),
            },
            (None, _) => Auth::None,
        }
    }

    /// Adds Basic credentials to a request (only [`Auth::Basic`] has any).
    pub fn apply_basic(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::Basic { username, password } => rb.basic_auth(username, Some(password)),
            _ => rb,
        }
    }

    /// Whether credentials are configured.
    pub fn is_some(&self) -> bool {
        !matches!(self, Auth::None)
    }

    /// The user name, if there is one (`${username}` in scenarios).
    pub fn username(&self) -> Option<&str> {
        match self {
            Auth::Basic { username, .. } => Some(username),
            Auth::IdentityToken { username, .. } => username.as_deref(),
            _ => None,
        }
    }
}

/// One scope of the token protocol: `type:name:actions` (docker-token-scope.md). The
/// name may hold colons (`localhost:5000/app`), so type is up to the first colon and the
/// actions after the last.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Scope {
    /// `repository`, `registry`, ...
    pub kind: String,
    /// The resource name.
    pub name: String,
    /// The actions, sorted.
    pub actions: BTreeSet<String>,
}

impl Scope {
    /// Parses one scope; `None` when it has no `type:` and `:actions` parts.
    pub fn parse(s: &str) -> Option<Scope> {
        let (kind, rest) = s.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        if kind.is_empty() || name.is_empty() {
            return None;
        }
        Some(Scope {
            kind: kind.to_owned(),
            name: name.to_owned(),
            actions: actions
                .split(',')
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }

    /// `type:name:a,b`.
    pub fn render(&self) -> String {
        let actions: Vec<&str> = self.actions.iter().map(String::as_str).collect();
        format!("{}:{}:{}", self.kind, self.name, actions.join(","))
    }
}

/// The scopes of a challenge's `scope` parameter: space-separated (a cross-repository
/// mount challenge holds two in one parameter, AUTH-03), empty entries dropped.
pub fn split_scopes(param: &str) -> Vec<String> {
    param.split_whitespace().map(str::to_owned).collect()
}

/// `challenged` with the actions already held for the same repository added, so a token
/// for push does not lose pull and delete (and tokens do not thrash between them).
/// Scopes that do not parse are kept as they are. The result is sorted and deduplicated:
/// the same set always makes the same cache key.
pub fn union_scopes(challenged: &[String], held: &[String]) -> Vec<String> {
    let mut parsed: Vec<Scope> = Vec::new();
    let mut opaque: BTreeSet<String> = BTreeSet::new();
    for s in challenged {
        match Scope::parse(s) {
            Some(sc) => match parsed
                .iter_mut()
                .find(|p| p.kind == sc.kind && p.name == sc.name)
            {
                Some(p) => p.actions.extend(sc.actions),
                None => parsed.push(sc),
            },
            None => {
                opaque.insert(s.clone());
            }
        }
    }
    for h in held.iter().filter_map(|h| Scope::parse(h)) {
        if let Some(p) = parsed
            .iter_mut()
            .find(|p| p.kind == h.kind && p.name == h.name)
        {
            p.actions.extend(h.actions);
        }
    }
    let mut out: BTreeSet<String> = parsed.iter().map(Scope::render).collect();
    out.extend(opaque);
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let a = Auth::from_parts(Some("u".into()), Some("hunter2".into()));
        assert!(!format!("{a:?}").contains("hunter2"));
        assert!(a.is_some());
        assert_eq!(a.username(), Some("u"));
        assert!(!Auth::from_parts(None, Some("p".into())).is_some());
        let t = Auth::IdentityToken {
            username: Some("u".into()),
            token: "refresh-secret".into(),
        };
        assert!(!format!("{t:?}").contains("refresh-secret"));
        let b = Auth::Bearer {
            token: "bearer-secret".into(),
        };
        assert!(!format!("{b:?}").contains("bearer-secret"));
    }

    #[test]
    fn scopes_parse_with_colons_in_names() {
        let s = Scope::parse("repository:localhost:5000/app:push,pull").unwrap();
        assert_eq!(s.kind, "repository");
        assert_eq!(s.name, "localhost:5000/app");
        assert_eq!(s.render(), "repository:localhost:5000/app:pull,push");
        assert_eq!(
            Scope::parse("registry:catalog:*").unwrap().render(),
            "registry:catalog:*"
        );
        assert!(Scope::parse("nocolon").is_none());
    }

    #[test]
    fn a_mount_challenge_splits_into_two_scopes() {
        assert_eq!(
            split_scopes("repository:a/b:pull,push  repository:c/d:pull"),
            vec!["repository:a/b:pull,push", "repository:c/d:pull"]
        );
        assert!(split_scopes("  ").is_empty());
    }

    #[test]
    fn union_adds_held_actions_of_the_same_repository_only() {
        let got = union_scopes(
            &["repository:ns/a:push".into(), "repository:ns/b:pull".into()],
            &[
                "repository:ns/a:pull,delete".into(),
                "repository:ns/c:pull".into(),
            ],
        );
        assert_eq!(
            got,
            vec!["repository:ns/a:delete,pull,push", "repository:ns/b:pull"]
        );
        // Duplicates merge; unparsable scopes survive unchanged.
        assert_eq!(
            union_scopes(
                &[
                    "repository:x:pull".into(),
                    "repository:x:push".into(),
                    "odd".into()
                ],
                &[]
            ),
            vec!["odd", "repository:x:pull,push"]
        );
    }
}

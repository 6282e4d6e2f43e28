//! Credentials for the registry under test.
//!
//! Only HTTP Basic for now. Everything that touches credentials goes through [`Auth`], so
//! bearer tokens (a `WWW-Authenticate: Bearer` challenge answered by a token fetch) can be
//! added here without touching the steps.

/// How requests authenticate.
#[derive(Clone, Default)]
pub enum Auth {
    /// Anonymous.
    #[default]
    None,
    /// `Authorization: Basic` on every request to the registry's host.
    Basic {
        /// User name.
        username: String,
        /// Password (never printed).
        password: String,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("Auth::None"),
            Auth::Basic { username, .. } => write!(f, "Auth::Basic({username}, <redacted>)"),
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

    /// Adds credentials to a request.
    pub fn apply(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::None => rb,
            Auth::Basic { username, password } => rb.basic_auth(username, Some(password)),
        }
    }

    /// Whether requests carry credentials (shown as `<redacted>` in exchanges).
    pub fn is_some(&self) -> bool {
        !matches!(self, Auth::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let a = Auth::from_parts(Some("u".into()), Some("hunter2".into()));
        assert!(!format!("{a:?}").contains("hunter2"));
        assert!(a.is_some());
        assert!(!Auth::from_parts(None, Some("p".into())).is_some());
    }
}

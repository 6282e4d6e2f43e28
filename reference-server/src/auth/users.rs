//! htpasswd users with bcrypt hashes, and a short-lived verification cache.
//!
//! Why bcrypt only: distribution 2.8.2 accepts nothing else, and the weaker htpasswd
//! formats (`{SHA}`, MD5 `$apr1$`, crypt, plain text) would make the reference registry
//! recommend what it should not. They are refused at start-up, naming the line.
//!
//! Why a cache: bcrypt is deliberately slow (tens of milliseconds at cost 10) and Basic
//! clients send credentials on every request. A verified (or refused) pair is remembered
//! for [`CACHE_TTL`], keyed by SHA-256 of `user NUL password`, so the password itself is
//! never stored.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

use super::AuthError;

/// How long a verification result is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(60);
/// Entries beyond this are dropped wholesale (a crude bound against memory growth from
/// guessing attacks).
const CACHE_MAX: usize = 10_000;

/// Verification results by SHA-256 of `user NUL password`: (verified, when).
type Cache = Arc<Mutex<HashMap<[u8; 32], (bool, Instant)>>>;

/// The user database: name -> bcrypt hash. Clones share the verification cache.
#[derive(Clone, Default)]
pub struct Users {
    hashes: Arc<HashMap<String, String>>,
    cache: Cache,
}

/// Only user names: hashes stay out of logs and `{:?}` output.
impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.hashes.keys().collect();
        names.sort();
        f.debug_struct("Users").field("names", &names).finish()
    }
}

impl Users {
    /// Reads an htpasswd file; errors name the file and line.
    pub fn load(path: &Path) -> Result<Users, AuthError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| AuthError::new(format!("cannot read users file: {e}")))
            .map_err(|e| e.context(path.display()))?;
        Users::parse(&text).map_err(|e| e.context(path.display()))
    }

    /// Parses htpasswd text: `user:hash` per line, blank lines and `#` comments ignored.
    /// Only bcrypt (`$2y$`, `$2b$`, `$2a$`) is accepted; any other hash is an error naming
    /// the line number (the hash itself is never echoed).
    pub fn parse(text: &str) -> Result<Users, AuthError> {
        let mut hashes = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let Some((user, hash)) = line.split_once(':') else {
                return Err(AuthError::new(format!(
                    "line {n}: expected user:bcrypt-hash"
                )));
            };
            if user.is_empty() {
                return Err(AuthError::new(format!("line {n}: empty user name")));
            }
            let hash = hash.trim();
            let bcrypt = ["$2y$", "$2b$", "$2a$"].iter().any(|p| hash.starts_with(p));
            if !bcrypt || hash.len() != 60 {
                let kind = if hash.starts_with("{SHA}") {
                    "a {SHA} hash"
                } else if hash.starts_with("$apr1$") {
                    "an MD5 ($apr1$) hash"
                } else if hash.starts_with('$') {
                    "an unsupported or malformed hash"
                } else {
                    "a crypt or plain-text password"
                };
                return Err(AuthError::new(format!(
                    "line {n}: user {user:?} has {kind}; only bcrypt ($2y$, $2b$, $2a$) is \
                     accepted (create entries with `htpasswd -B`)"
                )));
            }
            if hashes.insert(user.to_string(), hash.to_string()).is_some() {
                return Err(AuthError::new(format!(
                    "line {n}: user {user:?} appears twice"
                )));
            }
        }
        Ok(Users {
            hashes: Arc::new(hashes),
            cache: Arc::default(),
        })
    }

    /// Users from plain passwords, hashed with bcrypt at the minimum cost (4): for tests
    /// and embedded registries, where start-up time matters more than hash strength.
    pub fn from_plain(pairs: &[(&str, &str)]) -> Users {
        let hashes = pairs
            .iter()
            .map(|(u, p)| {
                let h = bcrypt::hash(p, 4).expect("bcrypt at cost 4 cannot fail");
                (u.to_string(), h)
            })
            .collect();
        Users {
            hashes: Arc::new(hashes),
            cache: Arc::default(),
        }
    }

    pub fn contains(&self, user: &str) -> bool {
        self.hashes.contains_key(user)
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Whether `password` is `user`'s. bcrypt runs on the blocking pool; results are
    /// cached for [`CACHE_TTL`] under a SHA-256 of the pair.
    pub async fn verify(&self, user: &str, password: &str) -> bool {
        let Some(hash) = self.hashes.get(user).cloned() else {
            return false;
        };
        let key: [u8; 32] = {
            let mut h = Sha256::new();
            h.update(user.as_bytes());
            h.update([0u8]);
            h.update(password.as_bytes());
            h.finalize().into()
        };
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((ok, at)) = cache.get(&key)
                && at.elapsed() < CACHE_TTL
            {
                return *ok;
            }
        }
        let password = password.to_string();
        let ok =
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_MAX {
            cache.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
        }
        cache.insert(key, (ok, Instant::now()));
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_non_bcrypt_naming_the_line() {
        for bad in [
            "bob:{SHA}fEqNCco3Yq9h5ZUglD3CZJT4lBs=",
            "bob:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/",
            "bob:secret",
            "bob:rqXexS6ZhobKA",
        ] {
            let text = format!("# users\nalice:{}\n{bad}\n", bcrypt::hash("x", 4).unwrap());
            let err = Users::parse(&text).unwrap_err().to_string();
            assert!(err.starts_with("line 3:"), "{err}");
            assert!(!err.contains("secret") && !err.contains("fEqN"), "{err}");
        }
    }

    #[tokio::test]
    async fn verifies_bcrypt_and_caches() {
        let users = Users::from_plain(&[("alice", "pw")]);
        assert!(users.verify("alice", "pw").await);
        assert!(users.verify("alice", "pw").await);
        assert!(!users.verify("alice", "nope").await);
        assert!(!users.verify("bob", "pw").await);
        let debug = format!("{users:?}");
        assert!(debug.contains("alice") && !debug.contains("$2"), "{debug}");
    }
}

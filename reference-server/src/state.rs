//! Shared state of a running registry: configuration, storage and the in-memory hash
//! state of open upload sessions.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};

use crate::auth::Policy;
use crate::config::Config;
use crate::digest::{Algorithm, Hasher};
use crate::storage::Storage;

pub struct Registry {
    pub config: Config,
    /// The access policy in force (`config.auth.policy`, or the authenticated-only default).
    pub policy: Arc<Policy>,
    pub storage: Storage,
    sessions: Mutex<HashMap<String, Arc<tokio::sync::Mutex<SessionState>>>>,
    /// Serializes counting and opening upload sessions (`limits::create_session`).
    pub session_admission: tokio::sync::Mutex<()>,
}

/// The running sha256 of a session's data, valid for `offset` bytes. After a restart it
/// is absent and rebuilt by re-reading the data file once.
#[derive(Clone, Default)]
pub struct SessionState {
    pub offset: u64,
    pub sha256: Option<Hasher>,
}

impl SessionState {
    pub fn fresh() -> Self {
        SessionState {
            offset: 0,
            sha256: Some(Hasher::new(Algorithm::Sha256)),
        }
    }
}

impl Registry {
    pub fn open(config: Config) -> io::Result<Self> {
        let storage = Storage::open(&config.root)?;
        Ok(Registry {
            policy: Arc::new(config.auth.effective_policy()),
            config,
            storage,
            sessions: Mutex::new(HashMap::new()),
            session_admission: tokio::sync::Mutex::new(()),
        })
    }

    /// The lock serializing requests on one session (PATCH/PUT/DELETE of the same id).
    pub fn session_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<SessionState>> {
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(id.to_string()).or_default().clone()
    }

    pub fn forget_session(&self, id: &str) {
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(id);
    }
}

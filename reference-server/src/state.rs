//! Shared state of a running registry: configuration, storage and the in-memory hash
//! state of open upload sessions.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};

use crate::auth::Policy;
use crate::config::Config;
use crate::digest::{Algorithm, Hasher};
use crate::gc::pins::Pins;
use crate::storage::Storage;
use crate::storage::lock::RootLock;
use crate::storage::store::Store;

pub struct Registry {
    pub config: Config,
    /// The access policy in force (`config.auth.policy`, or the authenticated-only default).
    pub policy: Arc<Policy>,
    /// All storage the handlers see (see [`crate::storage::store`]).
    pub storage: Arc<dyn Store>,
    /// The filesystem root behind `storage`, when it is one: what the in-server collector
    /// walks (`serve --gc-interval`).
    pub local: Option<Storage>,
    /// Digests writes are about to reference, which the in-server collector leaves alone.
    pub pins: Arc<Pins>,
    sessions: Mutex<HashMap<String, Arc<tokio::sync::Mutex<SessionState>>>>,
    /// Held while serving, so offline `gc`/`fsck --repair` refuse to run under us.
    _root_lock: Option<RootLock>,
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
    /// Opens the S3 store when `config.s3` says so. Otherwise opens the storage root, removes crash debris when no other registry uses the root
    /// (see [`crate::storage::recovery`]), and takes the shared root lock.
    pub fn open(config: Config) -> io::Result<Self> {
        if let Some(s3) = &config.s3 {
            let store = crate::storage::s3::S3Store::open(s3)?;
            return Ok(Registry::with_store(config, Arc::new(store)));
        }
        let storage = Storage::open(&config.root)?;
        if let Some(alone) = RootLock::exclusive(storage.root())? {
            let r = crate::storage::recovery::recover(storage.root())?;
            if r.temp_entries > 0 || !r.broken_sessions.is_empty() {
                tracing::info!(
                    temporary = r.temp_entries,
                    broken_sessions = r.broken_sessions.len(),
                    "removed what an interrupted run left behind"
                );
            }
            for (id, why) in &r.broken_sessions {
                tracing::warn!(session = %id, problem = %why, "removed a broken upload session");
            }
            drop(alone);
        } else {
            tracing::info!("another registry serves this root; start-up recovery skipped");
        }
        let root_lock = RootLock::shared(storage.root())?;
        let mut registry = Registry::with_store(config, Arc::new(storage.clone()));
        registry.local = Some(storage);
        registry._root_lock = Some(root_lock);
        Ok(registry)
    }

    /// A registry on any [`Store`] (S3, say), with no filesystem root of its own.
    pub fn with_store(config: Config, storage: Arc<dyn Store>) -> Self {
        Registry {
            policy: Arc::new(config.auth.effective_policy()),
            config,
            storage,
            local: None,
            pins: Arc::default(),
            sessions: Mutex::new(HashMap::new()),
            _root_lock: None,
            session_admission: tokio::sync::Mutex::new(()),
        }
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

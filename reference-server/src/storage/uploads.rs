//! Upload sessions on disk, so they survive a restart (resume after `serve` stops).
//!
//! A session is a directory `<root>/uploads/<uuid>/` holding `info.json` (repository and
//! start time) and `data` (the bytes received so far). The offset is the length of `data`;
//! there is no other progress record that could disagree with it.

use std::io;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::{Storage, atomic, read_optional};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionInfo {
    pub repository: String,
    /// Seconds since the Unix epoch.
    #[serde(rename = "startedAt")]
    pub started_at: u64,
}

impl Storage {
    fn session_dir(&self, id: &str) -> PathBuf {
        self.root.join("uploads").join(id)
    }

    pub fn session_data_path(&self, id: &str) -> PathBuf {
        self.session_dir(id).join("data")
    }

    /// Creates a session for `repository` under a fresh random UUID, the unique session
    /// identifier its `Location` carries (NAME-10); it appears complete or not at all (the
    /// directory is prepared under `tmp/` and renamed into `uploads/`). Sessions are
    /// dropped by `gc` after `--upload-max-age`, so abandoned ones expire (PUSH-39).
    pub async fn create_session(&self, repository: &str) -> io::Result<String> {
        let id = uuid::Uuid::new_v4().to_string();
        let info = SessionInfo {
            repository: repository.to_string(),
            started_at: now_secs(),
        };
        let tmp = self.tmp_dir();
        let dest = self.session_dir(&id);
        atomic::blocking(move || {
            let staging = tempfile::Builder::new()
                .prefix("session-")
                .tempdir_in(&tmp)?;
            std::fs::write(
                staging.path().join("info.json"),
                serde_json::to_vec(&info).map_err(io::Error::other)?,
            )?;
            std::fs::File::create(staging.path().join("data"))?;
            let staged = staging.keep();
            // A failed rename (a full disk can refuse the directory entry) must not leave
            // the staged directory behind.
            std::fs::rename(&staged, &dest).inspect_err(|_| {
                let _ = std::fs::remove_dir_all(&staged);
            })
        })
        .await?;
        Ok(id)
    }

    /// The session's metadata, `None` when it doesn't exist. `id` must be a UUID, which
    /// also keeps it from naming any other path.
    pub async fn session_info(&self, id: &str) -> io::Result<Option<SessionInfo>> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Ok(None);
        }
        let Some(bytes) = read_optional(&self.session_dir(id).join("info.json")).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_slice(&bytes).ok())
    }

    /// Bytes received so far.
    pub async fn session_len(&self, id: &str) -> io::Result<u64> {
        Ok(tokio::fs::metadata(self.session_data_path(id)).await?.len())
    }

    pub async fn remove_session(&self, id: &str) -> io::Result<()> {
        match tokio::fs::remove_dir_all(self.session_dir(id)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every session id with its info (gc).
    pub async fn list_sessions(&self) -> io::Result<Vec<(String, Option<SessionInfo>)>> {
        let mut out = Vec::new();
        for id in super::list_dir(&self.root.join("uploads")).await? {
            let info = self.session_info(&id).await?;
            out.push((id, info));
        }
        Ok(out)
    }
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

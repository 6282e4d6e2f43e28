//! Upload sessions on disk, so they survive a restart (resume after `serve` stops).
//!
//! A session is a directory `<root>/uploads/<uuid>/` holding `info.json` (repository and
//! start time) and `data` (the bytes received so far). The offset is the length of `data`;
//! there is no other progress record that could disagree with it.
//!
//! A session appears and disappears atomically, so a crash never leaves half of one under
//! `uploads/`: it is prepared under `tmp/` and renamed in ([`Storage::create_session`]), and
//! it leaves by being renamed out to `tmp/` first ([`Storage::remove_session`],
//! [`Storage::detach_session`]), where a restart or `fsck --repair` removes what is left.
//! (Removing the directory in place could leave `info.json` without `data` after a crash
//! in `remove_dir_all`: a session that exists but cannot answer.)

use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::{Storage, atomic, inline};
use crate::digest::Digest;

/// What [`Storage::create_session_within`] did.
#[derive(Debug)]
pub enum Opened {
    /// A new session, by id.
    Session(String),
    /// None: this many sessions are open, at or past the cap.
    Full(usize),
}

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
    /// identifier its `Location` carries (NAME-10), unless `max` sessions (non-zero) are open
    /// already, counted as the UUID-named entries of `uploads/` in the same blocking trip.
    /// The session appears complete or not at all (the directory is prepared under `tmp/`
    /// and renamed into `uploads/`). Sessions are dropped by `gc` after `--upload-max-age`,
    /// so abandoned ones expire (PUSH-39).
    pub async fn create_session_within(&self, repository: &str, max: usize) -> io::Result<Opened> {
        let id = uuid::Uuid::new_v4().to_string();
        let uploads = self.root.join("uploads");
        let info = SessionInfo {
            repository: repository.to_string(),
            started_at: now_secs(),
        };
        let tmp = self.tmp_dir();
        let dest = self.session_dir(&id);
        atomic::blocking(move || {
            if max > 0 {
                let open = super::list_dir_sync(&uploads)?
                    .iter()
                    .filter(|s| uuid::Uuid::parse_str(s).is_ok())
                    .count();
                if open >= max {
                    return Ok(Opened::Full(open));
                }
            }
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
            })?;
            Ok(Opened::Session(id))
        })
        .await
    }

    /// The session's metadata, `None` when it doesn't exist. `id` must be a UUID, which
    /// also keeps it from naming any other path.
    pub async fn session_info(&self, id: &str) -> io::Result<Option<SessionInfo>> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Ok(None);
        }
        let info = self.session_dir(id).join("info.json");
        let bytes = inline::run(move |mode| inline::read_optional(&info, mode)).await?;
        Ok(bytes.and_then(|b| serde_json::from_slice(&b).ok()))
    }

    /// The session's metadata and the bytes received so far, in one [`inline`] read; `None`
    /// when the session (or its data) is gone.
    pub async fn session_status(&self, id: &str) -> io::Result<Option<(SessionInfo, u64)>> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Ok(None);
        }
        let dir = self.session_dir(id);
        inline::run(move |mode| {
            let Some(bytes) = inline::read_optional(&dir.join("info.json"), mode)? else {
                return Ok(None);
            };
            let Ok(info) = serde_json::from_slice(&bytes) else {
                return Ok(None);
            };
            Ok(inline::file_len(&dir.join("data"), mode)?.map(|len| (info, len)))
        })
        .await
    }

    /// Publishes a verified session as blob `d` of `name`, in one blocking trip; `false`
    /// when the session was already gone.
    ///
    /// The session leaves `uploads/` first, in one rename: a crash from there on leaves no
    /// session (404, as for any finished session) and at worst an unlinked blob (garbage)
    /// or a directory under `tmp/` (removed at start-up), never a session without data.
    /// Then the data (fsynced when it was appended) is renamed into the content store
    /// unless the content is there already (PUSH-47), the link is written, and the
    /// session's remains are removed.
    pub async fn publish_session(&self, id: &str, name: &str, d: &Digest) -> io::Result<bool> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Ok(false);
        }
        let session = self.session_dir(id);
        let detached = self
            .tmp_dir()
            .join(format!("session-{id}-{}", uuid::Uuid::new_v4()));
        let (blob, link, tmp) = (self.blob_path(d), self.link_path(name, d), self.tmp_dir());
        let link_bytes = d.to_string().into_bytes();
        atomic::blocking(move || {
            if !detach_sync(&session, &detached)? {
                return Ok(false);
            }
            // The content's name is durable before the link's is written: a link is
            // never durable without its content (fsck's dangling-link), whatever order a
            // filesystem gives its directory updates after a power cut.
            let published = (|| {
                if !blob.is_file() {
                    atomic::rename_into_sync(&detached.join("data"), &blob)?;
                }
                atomic::write_name_sync(&tmp, &link, &link_bytes)
            })();
            remove_dir_quietly_sync(&detached)?;
            published.map(|()| true)
        })
        .await
    }

    /// A writer appending to the session's data from `offset` (see [`super::append`]).
    pub fn session_appender(&self, id: &str, offset: u64) -> super::append::Appender {
        super::append::Appender::new(self.session_data_path(id), offset)
    }

    /// When the session last received bytes (or was opened): what `--upload-ttl` measures.
    pub async fn session_last_activity(&self, id: &str) -> io::Result<Option<SystemTime>> {
        for f in ["data", "info.json"] {
            match tokio::fs::metadata(self.session_dir(id).join(f)).await {
                Ok(m) => return m.modified().map(Some),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Ends a session: it disappears from `uploads/` in one rename, then its files are
    /// removed from `tmp/`.
    pub async fn remove_session(&self, id: &str) -> io::Result<()> {
        if let Some(dir) = self.detach_session(id).await? {
            remove_dir_quietly(dir).await?;
        }
        Ok(())
    }

    /// Moves the session out of `uploads/` into a private directory under `tmp/` and
    /// returns it (`None` if the session was already gone). From here on the session is
    /// unknown to every request; its `data` can be published from the returned directory.
    pub async fn detach_session(&self, id: &str) -> io::Result<Option<PathBuf>> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Ok(None);
        }
        let from = self.session_dir(id);
        let to = self
            .tmp_dir()
            .join(format!("session-{id}-{}", uuid::Uuid::new_v4()));
        atomic::blocking(move || Ok(detach_sync(&from, &to)?.then_some(to))).await
    }

    /// Every entry of `uploads/` (sessions, and debris `fsck` reports).
    pub async fn list_session_ids(&self) -> io::Result<Vec<String>> {
        super::list_dir(&self.root.join("uploads")).await
    }

    /// Every session id with its info (gc).
    pub async fn list_sessions(&self) -> io::Result<Vec<(String, Option<SessionInfo>)>> {
        let mut out = Vec::new();
        for id in self.list_session_ids().await? {
            let info = self.session_info(&id).await?;
            out.push((id, info));
        }
        Ok(out)
    }
}

/// Removes a directory tree, fine if it is already gone.
pub(crate) async fn remove_dir_quietly(dir: PathBuf) -> io::Result<()> {
    atomic::blocking(move || remove_dir_quietly_sync(&dir)).await
}

fn remove_dir_quietly_sync(dir: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Renames a session directory out of `uploads/`; `false` when it was already gone.
fn detach_sync(session: &Path, to: &Path) -> io::Result<bool> {
    match std::fs::rename(session, to) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Why `<uploads>/<id>` is not a usable session, or `None` when it is one: a UUID
/// directory holding a readable `info.json` for a valid repository name and a `data` file,
/// and nothing else. Used by start-up recovery and `fsck`.
pub(crate) fn session_problem(uploads: &std::path::Path, id: &str) -> Option<String> {
    let dir = uploads.join(id);
    if uuid::Uuid::parse_str(id).is_err() {
        return Some("not a session (the name is not a UUID)".into());
    }
    match std::fs::symlink_metadata(&dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Some("not a directory".into()),
        Err(e) => return Some(format!("unreadable: {e}")),
    }
    let info = match std::fs::read(dir.join("info.json")) {
        Ok(b) => b,
        Err(e) => return Some(format!("info.json: {e}")),
    };
    match serde_json::from_slice::<SessionInfo>(&info) {
        Ok(i) if crate::names::is_valid_name(&i.repository) => {}
        Ok(i) => {
            return Some(format!(
                "info.json names an invalid repository {:?}",
                i.repository
            ));
        }
        Err(e) => return Some(format!("info.json is not valid: {e}")),
    }
    match std::fs::symlink_metadata(dir.join("data")) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Some("data is not a regular file".into()),
        Err(e) => return Some(format!("data: {e}")),
    }
    let extra: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != "info.json" && n != "data")
                .collect()
        })
        .unwrap_or_default();
    if !extra.is_empty() {
        return Some(format!("unexpected files: {}", extra.join(", ")));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Algorithm;

    /// `publish_session` moves the data into the content store, links it, leaves nothing
    /// under `uploads/` or `tmp/`, and keeps existing content when the same bytes arrive
    /// again (PUSH-47); an unknown session publishes nothing.
    #[tokio::test]
    async fn publish_session_links_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::open(dir.path()).unwrap();
        let d = Algorithm::Sha256.digest_of(b"hello");
        for repo in ["one", "two"] {
            let Opened::Session(id) = s.create_session_within(repo, 0).await.unwrap() else {
                panic!("no cap, no refusal");
            };
            std::fs::write(s.session_data_path(&id), b"hello").unwrap();
            assert_eq!(
                s.session_status(&id)
                    .await
                    .unwrap()
                    .map(|(i, n)| (i.repository, n)),
                Some((repo.to_string(), 5))
            );
            assert!(s.publish_session(&id, repo, &d).await.unwrap());
            assert!(s.session_status(&id).await.unwrap().is_none());
            assert!(s.blob_linked(repo, &d).await);
            assert!(!s.publish_session(&id, repo, &d).await.unwrap());
        }
        assert_eq!(std::fs::read(s.blob_path(&d)).unwrap(), b"hello");
        assert!(!s.blob_linked("three", &d).await);
        assert_eq!(
            std::fs::read_dir(dir.path().join("uploads"))
                .unwrap()
                .count(),
            0
        );
        assert_eq!(std::fs::read_dir(s.tmp_dir()).unwrap().count(), 0);
        let id = uuid::Uuid::new_v4().to_string();
        assert!(!s.publish_session(&id, "one", &d).await.unwrap());
        assert!(!s.publish_session("not-a-uuid", "one", &d).await.unwrap());
    }
}

//! Durable, content-addressed filesystem storage.
//!
//! ```text
//! <root>/blobs/<alg>/<2 hex>/<hex>                      global content (blobs and manifests)
//! <root>/repositories/<name>/_layers/<alg>/<hex>        "blob is in this repository" links
//! <root>/repositories/<name>/_manifests/revisions/<alg>/<hex>   manifest metadata (media type)
//! <root>/repositories/<name>/_manifests/tags/<tag>      tag -> digest
//! <root>/repositories/<name>/_referrers/<alg>/<subject hex>/<alg>-<hex>   descriptor JSON
//! <root>/uploads/<uuid>/{info.json,data}                upload sessions
//! <root>/tmp/                                           temporary files (same filesystem)
//! <root>/.lock                                          who uses the root (see [`lock`])
//! ```
//!
//! Repository-name components never start with `_` (see [`crate::names`]), so the
//! `_layers`, `_manifests` and `_referrers` directories never collide with nested
//! repositories. Every file that becomes visible is published with [`atomic`]; the handlers
//! only talk to this API, so another backend (object storage) can replace it later.

pub mod append;
pub mod atomic;
pub mod blobs;
pub mod lock;
pub mod manifests;
pub mod read;
pub mod recovery;
pub mod referrers;
pub mod uploads;

use std::io;
use std::path::{Path, PathBuf};

use crate::digest::Digest;

/// Handle to one storage root. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
}

impl Storage {
    /// Opens (creating if needed) the storage root.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        for dir in ["blobs", "repositories", "uploads", "tmp"] {
            std::fs::create_dir_all(root.join(dir))?;
        }
        Ok(Storage { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub(crate) fn repo_dir(&self, name: &str) -> PathBuf {
        self.root.join("repositories").join(name)
    }

    pub(crate) fn digest_rel(d: &Digest) -> PathBuf {
        Path::new(d.algorithm().as_str()).join(d.hex())
    }

    /// A repository exists once a blob was pushed or mounted into it or a manifest was
    /// pushed to it (NAME-11). Open upload sessions do not create it.
    pub async fn repo_exists(&self, name: &str) -> bool {
        let dir = self.repo_dir(name);
        is_dir(&dir.join("_layers")).await || is_dir(&dir.join("_manifests")).await
    }

    /// Every repository, in byte order (catalog).
    pub async fn list_repositories(&self) -> io::Result<Vec<String>> {
        let base = self.root.join("repositories");
        atomic::blocking(move || {
            let mut out = Vec::new();
            walk_repos(&base, "", &mut out)?;
            out.sort();
            Ok(out)
        })
        .await
    }
}

fn walk_repos(dir: &Path, prefix: &str, out: &mut Vec<String>) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut is_repo = false;
    for entry in entries {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "_layers" || name == "_manifests" {
            is_repo = true;
        } else if !name.starts_with('_') {
            let child = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            walk_repos(&entry.path(), &child, out)?;
        }
    }
    if is_repo && !prefix.is_empty() {
        out.push(prefix.to_string());
    }
    Ok(())
}

pub(crate) async fn is_dir(p: &Path) -> bool {
    tokio::fs::metadata(p)
        .await
        .map(|m| m.is_dir())
        .unwrap_or(false)
}

pub(crate) async fn is_file(p: &Path) -> bool {
    tokio::fs::metadata(p)
        .await
        .map(|m| m.is_file())
        .unwrap_or(false)
}

/// Reads a small file, `None` when it doesn't exist.
pub(crate) async fn read_optional(p: &Path) -> io::Result<Option<Vec<u8>>> {
    match tokio::fs::read(p).await {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Names of the entries of a directory, empty when it doesn't exist.
pub(crate) async fn list_dir(p: &Path) -> io::Result<Vec<String>> {
    let mut rd = match tokio::fs::read_dir(p).await {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    while let Some(e) = rd.next_entry().await? {
        out.push(e.file_name().to_string_lossy().into_owned());
    }
    Ok(out)
}

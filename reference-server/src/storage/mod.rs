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
//! repositories. Every file that becomes visible is published with [`atomic`].
//!
//! The handlers never see this layout: they talk to [`store::Store`], which [`Storage`]
//! implements ([`fs_store`]) and so does the S3 backend.

pub mod append;
pub mod atomic;
pub mod blobs;
pub mod fs_store;
pub mod inline;
pub mod lock;
pub mod manifests;
pub mod read;
pub mod recovery;
pub mod referrers;
pub mod s3;
pub mod store;
pub mod tag_cache;
pub mod uploads;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::digest::Digest;
use inline::Mode;

/// Handle to one storage root. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
    tag_cache: Arc<tag_cache::TagCache>,
}

impl Storage {
    /// Opens (creating if needed) the storage root.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        for dir in ["blobs", "repositories", "uploads", "tmp"] {
            atomic::create_dir_all_durable(&root.join(dir))?;
        }
        Ok(Storage {
            root,
            tag_cache: Arc::default(),
        })
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
        inline::run(move |mode| repo_exists_with(&dir, mode))
            .await
            .unwrap_or(false)
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

/// [`Storage::repo_exists`] as an [`inline`] read procedure.
pub(crate) fn repo_exists_with(dir: &Path, mode: Mode) -> io::Result<bool> {
    Ok(inline::is_dir(&dir.join("_layers"), mode)?
        || inline::is_dir(&dir.join("_manifests"), mode)?)
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

// Every helper below is one trip to the blocking pool, whatever it does inside (or, for
// `is_file`, an [`inline`] read that needs none when the caches answer): a handoff to a
// pool thread and back costs more than the metadata calls themselves (a manifest GET spent
// 44% of its time switching threads when each `tokio::fs` call was its own trip).

pub(crate) async fn is_file(p: &Path) -> bool {
    let p = p.to_path_buf();
    inline::run(move |mode| inline::is_file(&p, mode))
        .await
        .unwrap_or(false)
}

/// Reads a small file, `None` when it doesn't exist.
pub(crate) async fn read_optional(p: &Path) -> io::Result<Option<Vec<u8>>> {
    let p = p.to_path_buf();
    atomic::blocking(move || read_optional_sync(&p)).await
}

/// [`read_optional`] for code already on a blocking thread.
pub(crate) fn read_optional_sync(p: &Path) -> io::Result<Option<Vec<u8>>> {
    match std::fs::read(p) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Names of the entries of a directory, empty when it doesn't exist.
pub(crate) async fn list_dir(p: &Path) -> io::Result<Vec<String>> {
    let p = p.to_path_buf();
    atomic::blocking(move || list_dir_sync(&p)).await
}

/// [`list_dir`] for code already on a blocking thread.
pub(crate) fn list_dir_sync(p: &Path) -> io::Result<Vec<String>> {
    let rd = match std::fs::read_dir(p) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    rd.map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect()
}

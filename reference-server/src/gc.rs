//! Garbage collection: removes blobs no manifest references and stale upload sessions.
//!
//! Mark: every manifest revision of every repository marks its own bytes, its config and
//! layers and (for indexes) its children. Sweep: unmarked content is deleted together with
//! the repository links to it. Run it while the registry is stopped or read-only: a blob
//! uploaded but not yet referenced by a manifest counts as garbage (as in distribution).
//!
//! Sparse manifests (`Config::allow_sparse_manifests`) need nothing special: marking only
//! records the digests a manifest names, without opening them, so a reference to content
//! that was never pushed marks nothing that exists and removes nothing that does. A child
//! manifest is marked as content of the index and, once pushed, as a revision of its own.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::digest::Digest;
use crate::storage::Storage;
use crate::storage::uploads::now_secs;

/// What to collect.
#[derive(Debug, Clone)]
pub struct GcOptions {
    pub root: PathBuf,
    /// Only report what would be removed.
    pub dry_run: bool,
    /// Upload sessions (and temporary files) older than this are removed.
    pub upload_max_age: Duration,
}

/// What was (or, in a dry run, would be) removed.
#[derive(Debug, Default, Clone)]
pub struct GcReport {
    pub blobs: Vec<(Digest, u64)>,
    pub links: Vec<(String, Digest)>,
    pub uploads: Vec<String>,
    pub temp_files: Vec<PathBuf>,
}

impl GcReport {
    pub fn bytes(&self) -> u64 {
        self.blobs.iter().map(|(_, s)| s).sum()
    }
}

pub async fn run(opts: &GcOptions) -> io::Result<GcReport> {
    let storage = Storage::open(&opts.root)?;
    let mut report = GcReport::default();
    let repos = storage.list_repositories().await?;

    let mut marked: HashSet<Digest> = HashSet::new();
    for repo in &repos {
        for d in storage.list_manifest_revisions(repo).await? {
            if let Some(bytes) = storage.read_blob_bytes(&d).await?
                && let Ok(v) = serde_json::from_slice::<Value>(&bytes)
            {
                mark_references(&v, &mut marked);
            }
            marked.insert(d);
        }
    }

    for (d, size) in list_blobs(storage.root()).await? {
        if marked.contains(&d) {
            continue;
        }
        if !opts.dry_run {
            crate::storage::atomic::remove_file(storage.blob_path(&d)).await?;
        }
        report.blobs.push((d, size));
    }
    let garbage: HashSet<&Digest> = report.blobs.iter().map(|(d, _)| d).collect();
    for repo in &repos {
        for d in list_links(&storage, repo).await? {
            if garbage.contains(&d) {
                if !opts.dry_run {
                    storage.unlink_blob(repo, &d).await?;
                }
                report.links.push((repo.clone(), d));
            }
        }
    }

    let cutoff = now_secs().saturating_sub(opts.upload_max_age.as_secs());
    for (id, info) in storage.list_sessions().await? {
        // A session without readable info is debris from a crash; treat it as old.
        let old = info.map(|i| i.started_at <= cutoff).unwrap_or(true);
        if old {
            if !opts.dry_run {
                let dir = storage.root().join("uploads").join(&id);
                let _ = tokio::fs::remove_dir_all(dir).await;
            }
            report.uploads.push(id);
        }
    }
    let cutoff_time = SystemTime::now() - opts.upload_max_age;
    let mut rd = tokio::fs::read_dir(storage.tmp_dir()).await?;
    while let Some(e) = rd.next_entry().await? {
        let old = e
            .metadata()
            .await?
            .modified()
            .map(|m| m <= cutoff_time)
            .unwrap_or(true);
        if old {
            if !opts.dry_run {
                let p = e.path();
                if e.file_type().await?.is_dir() {
                    let _ = tokio::fs::remove_dir_all(&p).await;
                } else {
                    let _ = tokio::fs::remove_file(&p).await;
                }
            }
            report.temp_files.push(e.path());
        }
    }
    Ok(report)
}

fn mark_references(v: &Value, marked: &mut HashSet<Digest>) {
    let mut add = |d: Option<&Value>| {
        if let Some(d) = d.and_then(Value::as_str).and_then(|s| s.parse().ok()) {
            marked.insert(d);
        }
    };
    add(v.pointer("/config/digest"));
    for key in ["layers", "manifests", "blobs"] {
        if let Some(items) = v.get(key).and_then(Value::as_array) {
            for item in items {
                add(item.get("digest"));
            }
        }
    }
}

async fn list_blobs(root: &Path) -> io::Result<Vec<(Digest, u64)>> {
    let base = root.join("blobs");
    crate::storage::atomic::blocking(move || {
        let mut out = Vec::new();
        for alg in read_names(&base)? {
            for prefix in read_names(&base.join(&alg))? {
                for hex in read_names(&base.join(&alg).join(&prefix))? {
                    if let Ok(d) = format!("{alg}:{hex}").parse::<Digest>() {
                        let size =
                            std::fs::metadata(base.join(&alg).join(&prefix).join(&hex))?.len();
                        out.push((d, size));
                    }
                }
            }
        }
        Ok(out)
    })
    .await
}

async fn list_links(storage: &Storage, repo: &str) -> io::Result<Vec<Digest>> {
    let base = storage
        .root()
        .join("repositories")
        .join(repo)
        .join("_layers");
    crate::storage::atomic::blocking(move || {
        let mut out = Vec::new();
        for alg in read_names(&base)? {
            for hex in read_names(&base.join(&alg))? {
                if let Ok(d) = format!("{alg}:{hex}").parse() {
                    out.push(d);
                }
            }
        }
        Ok(out)
    })
    .await
}

fn read_names(dir: &Path) -> io::Result<Vec<String>> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

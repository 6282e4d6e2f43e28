//! Garbage collection: removes blobs no manifest references, and (offline) stale upload
//! sessions and temporary files.
//!
//! Mark: every manifest revision of every repository marks its own bytes, its config and
//! layers and (for indexes) its children. Sweep: unmarked content is deleted together with
//! the repository links to it, unless a write in flight pinned it ([`pins`]) or it is
//! younger than the grace period (its newest link or content write), so a client that
//! uploaded its layers and is about to push the manifest keeps them.
//!
//! Two ways to run it:
//! - inside the server (`serve --gc-interval`), while it serves pushes: the pins make it
//!   safe (nothing referenced, nothing uploaded during the collection, nothing a concurrent
//!   manifest PUT references is deleted; `tests/online_gc.rs` races pushes against it);
//! - offline (`reference-registry gc`), which also removes old upload sessions and temporary
//!   files; it needs the root to itself and refuses to run while a registry serves it
//!   ([`crate::storage::lock`]).
//!
//! Each blob is decided and deleted under the pin lock, its links first and the content
//! after: a crash in between leaves unlinked content for the next collection, never a link
//! to nothing or content a manifest still needs.
//!
//! Sparse manifests (`Config::allow_sparse_manifests`) need nothing special: marking only
//! records the digests a manifest names, without opening them, so a reference to content
//! that was never pushed marks nothing that exists and removes nothing that does. A child
//! manifest is marked as content of the index and, once pushed, as a revision of its own.

pub mod pins;

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::digest::Digest;
use crate::storage::Storage;
use crate::storage::lock::{self, RootLock};
use crate::storage::uploads::now_secs;
use pins::Pins;

/// What to collect.
#[derive(Debug, Clone)]
pub struct GcOptions {
    pub root: PathBuf,
    /// Only report what would be removed.
    pub dry_run: bool,
    /// Upload sessions (and temporary files) older than this are removed.
    pub upload_max_age: Duration,
    /// Unreferenced blobs written or linked more recently than this are kept.
    pub blob_grace: Duration,
}

impl GcOptions {
    /// Collect everything unreferenced now; sessions older than 24 h.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        GcOptions {
            root: root.into(),
            dry_run: false,
            upload_max_age: Duration::from_secs(24 * 3600),
            blob_grace: Duration::ZERO,
        }
    }
}

/// What was (or, in a dry run, would be) removed.
#[derive(Debug, Default, Clone)]
pub struct GcReport {
    pub blobs: Vec<(Digest, u64)>,
    pub links: Vec<(String, Digest)>,
    pub uploads: Vec<String>,
    pub temp_files: Vec<PathBuf>,
    /// Unreferenced blobs kept because a write pinned them or they are within the grace.
    pub kept: usize,
}

impl GcReport {
    pub fn bytes(&self) -> u64 {
        self.blobs.iter().map(|(_, s)| s).sum()
    }
}

/// The offline collector (`reference-registry gc`): refuses while a registry serves the
/// root.
pub async fn run(opts: &GcOptions) -> io::Result<GcReport> {
    let Some(_alone) = RootLock::exclusive(&opts.root)? else {
        return Err(lock::in_use(&opts.root, "reference-registry gc"));
    };
    let storage = Storage::open(&opts.root)?;
    let mut report = collect(&storage, Arc::default(), opts.dry_run, opts.blob_grace).await?;
    remove_stale_sessions(&storage, opts, &mut report).await?;
    Ok(report)
}

/// Mark and sweep blobs, safe against the writes that pin through `pins`.
pub(crate) async fn collect(
    storage: &Storage,
    pins: Arc<Pins>,
    dry_run: bool,
    grace: Duration,
) -> io::Result<GcReport> {
    let Some(_collecting) = pins.begin() else {
        return Err(io::Error::other("a collection is already running"));
    };
    let mut report = GcReport::default();
    let repos = storage.list_repositories().await?;

    let mut marked: HashSet<Digest> = HashSet::new();
    let mut linked_in: HashMap<Digest, Vec<String>> = HashMap::new();
    for repo in &repos {
        for d in storage.list_manifest_revisions(repo).await? {
            if let Some(bytes) = storage.read_blob_bytes(&d).await?
                && let Ok(v) = serde_json::from_slice::<Value>(&bytes)
            {
                mark_references(&v, &mut marked);
            }
            marked.insert(d);
        }
        for d in list_links(storage, repo).await? {
            linked_in.entry(d).or_default().push(repo.clone());
        }
    }

    let cutoff = SystemTime::now()
        .checked_sub(grace)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    for (d, size) in list_blobs(storage.root()).await? {
        if marked.contains(&d) {
            continue;
        }
        let root = storage.root().to_path_buf();
        let repos = linked_in.remove(&d).unwrap_or_default();
        let pins = pins.clone();
        let digest = d.clone();
        let swept = crate::storage::atomic::blocking(move || {
            pins.unless_pinned(&digest, || {
                sweep_one(&root, &digest, &repos, cutoff, dry_run)
            })
            .unwrap_or(Ok(None))
        })
        .await?;
        match swept {
            Some(links) => {
                report
                    .links
                    .extend(links.into_iter().map(|r| (r, d.clone())));
                report.blobs.push((d, size));
            }
            None => report.kept += 1,
        }
    }
    Ok(report)
}

/// Removes one unreferenced blob and its links unless something touched it after
/// `cutoff`; returns the repositories whose link went, `None` when kept.
fn sweep_one(
    root: &Path,
    d: &Digest,
    repos: &[String],
    cutoff: SystemTime,
    dry_run: bool,
) -> io::Result<Option<Vec<String>>> {
    let blob = Storage::blob_path_in(root, d);
    let links: Vec<PathBuf> = repos
        .iter()
        .map(|r| Storage::link_path_in(root, r, d))
        .collect();
    let recent = |p: &Path| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .map(|t| t > cutoff)
            .unwrap_or(false)
    };
    if recent(&blob) || links.iter().any(|l| recent(l)) {
        return Ok(None);
    }
    if !dry_run {
        // Links first: a crash in between leaves unlinked content, which the next
        // collection takes, never a link to nothing.
        for l in &links {
            remove_if_exists(l)?;
        }
        remove_if_exists(&blob)?;
    }
    Ok(Some(repos.to_vec()))
}

fn remove_if_exists(p: &Path) -> io::Result<()> {
    match std::fs::remove_file(p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Offline only: sessions started before `upload_max_age` ago (or unreadable), and
/// temporary files older than that.
async fn remove_stale_sessions(
    storage: &Storage,
    opts: &GcOptions,
    report: &mut GcReport,
) -> io::Result<()> {
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
    Ok(())
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
                    // A blob removed meanwhile (blob DELETE does not remove content, but
                    // an offline tool might) is simply not listed.
                    if let Ok(d) = format!("{alg}:{hex}").parse::<Digest>()
                        && let Ok(m) = std::fs::metadata(base.join(&alg).join(&prefix).join(&hex))
                    {
                        out.push((d, m.len()));
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

//! `reference-registry fsck`: checks every invariant of the storage layout (see
//! [`crate::storage`]) and, with `--repair`, removes what can be removed safely.
//!
//! The invariants, one [`Kind`] each:
//! - every blob's bytes hash to its name, and `blobs/` holds nothing else;
//! - every repository link names a digest and points at existing content;
//! - every manifest revision has readable metadata and its bytes; its config, layers and
//!   child manifests are in the repository (unless sparse manifests are allowed); a
//!   manifest with a `subject` has its referrer entry;
//! - every tag names a valid digest of a manifest the repository holds;
//! - every referrer entry is a descriptor of a manifest the repository holds, filed under
//!   that manifest's subject (an entry whose manifest is not held is a harmless leftover of
//!   an interrupted PUT or DELETE: reported, not failed, see [`Kind::DanglingReferrer`]);
//! - every upload session is complete (`info.json` for a valid repository, `data`);
//! - no temporary files are left (checked only when no registry is using the root).
//!
//! `--repair` removes broken sessions, temporary files, and links, tags, revisions and
//! referrer entries that point at nothing or cannot be read: none of them is content, and
//! each already answers 404 (or is skipped) when a client asks. It never touches blobs:
//! content that fails its hash is reported for the operator to push again.

use std::collections::HashSet;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::digest::{Algorithm, Digest, Hasher};
use crate::storage::Storage;
use crate::storage::lock::{self, RootLock};
use crate::storage::manifests::ManifestMeta;

/// What to check.
#[derive(Debug, Clone)]
pub struct FsckOptions {
    pub root: PathBuf,
    /// Remove what can be removed safely (needs the root to itself).
    pub repair: bool,
    /// Manifests may reference content the repository lacks (`serve --allow-sparse-manifests`).
    pub allow_sparse_manifests: bool,
}

/// The kinds of violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A blob whose bytes do not hash to its name.
    CorruptBlob,
    /// Something under `blobs/` or a repository that the layout has no place for.
    StrayFile,
    /// A repository link that cannot be read or does not name its digest.
    BadLink,
    /// A repository link to content that does not exist.
    DanglingLink,
    /// A manifest revision whose metadata or bytes cannot be read.
    BadRevision,
    /// A manifest revision whose bytes do not exist.
    DanglingRevision,
    /// A manifest whose config, layer or child manifest is not in the repository.
    MissingReference,
    /// A manifest with a `subject` but no referrer entry.
    MissingReferrer,
    /// A tag file that is not a valid tag holding a digest.
    BadTag,
    /// A tag pointing at a manifest the repository does not hold.
    DanglingTag,
    /// A referrer entry that is not a descriptor of its file name, or filed under the wrong
    /// subject.
    BadReferrer,
    /// A referrer entry of a manifest the repository does not hold: what a crash between
    /// a manifest PUT's entry and its revision (or a DELETE's revision and its entry)
    /// leaves. Nobody sees it (the referrers list skips it), so it is a leftover, not a
    /// violation: reported, removed by `--repair`, and a re-PUT of the manifest reuses it.
    DanglingReferrer,
    /// An upload session missing a file or holding an unreadable one.
    BrokenSession,
    /// A leftover temporary file.
    TempFile,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::CorruptBlob => "corrupt-blob",
            Kind::StrayFile => "stray-file",
            Kind::BadLink => "bad-link",
            Kind::DanglingLink => "dangling-link",
            Kind::BadRevision => "bad-revision",
            Kind::DanglingRevision => "dangling-revision",
            Kind::MissingReference => "missing-reference",
            Kind::MissingReferrer => "missing-referrer",
            Kind::BadTag => "bad-tag",
            Kind::DanglingTag => "dangling-tag",
            Kind::BadReferrer => "bad-referrer",
            Kind::DanglingReferrer => "dangling-referrer",
            Kind::BrokenSession => "broken-session",
            Kind::TempFile => "temp-file",
        }
    }

    /// Harmless leftovers of an interrupted write, invisible to clients: reported, but they
    /// do not make `fsck` fail.
    pub fn is_leftover(self) -> bool {
        matches!(self, Kind::DanglingReferrer)
    }

    /// Whether `--repair` removes it: only pointers and debris, never content.
    pub fn repairable(self) -> bool {
        matches!(
            self,
            Kind::BadLink
                | Kind::DanglingLink
                | Kind::DanglingRevision
                | Kind::BadTag
                | Kind::DanglingTag
                | Kind::BadReferrer
                | Kind::DanglingReferrer
                | Kind::BrokenSession
                | Kind::TempFile
        )
    }
}

/// One broken invariant.
#[derive(Debug, Clone)]
pub struct Violation {
    pub kind: Kind,
    /// Relative to the root.
    pub path: PathBuf,
    pub message: String,
    /// Removed by `--repair`.
    pub repaired: bool,
}

/// What `fsck` found.
#[derive(Debug, Default)]
pub struct FsckReport {
    pub violations: Vec<Violation>,
    pub blobs: usize,
    pub repositories: usize,
    pub manifests: usize,
    pub sessions: usize,
    /// A registry was serving the root: temporary files were not checked.
    pub in_use: bool,
}

impl FsckReport {
    /// Violations still there (all of them without `--repair`), leftovers not counted.
    pub fn remaining(&self) -> usize {
        self.violations
            .iter()
            .filter(|v| !v.repaired && !v.kind.is_leftover())
            .count()
    }
}

/// Checks the root; with `opts.repair`, repairs. Blocking (it hashes every blob): call it
/// from a blocking thread.
pub fn run(opts: &FsckOptions) -> io::Result<FsckReport> {
    if !opts.root.join("blobs").is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} is not a registry root (no blobs/)", opts.root.display()),
        ));
    }
    let alone = RootLock::exclusive(&opts.root)?;
    if opts.repair && alone.is_none() {
        return Err(lock::in_use(&opts.root, "fsck --repair"));
    }
    let mut c = Checker {
        root: opts.root.clone(),
        opts: opts.clone(),
        report: FsckReport {
            in_use: alone.is_none(),
            ..FsckReport::default()
        },
        blobs: HashSet::new(),
    };
    c.check_blobs()?;
    let mut repos = Vec::new();
    list_repositories(&c.root.join("repositories"), "", &mut repos)?;
    repos.sort();
    for repo in &repos {
        c.check_repository(repo)?;
    }
    c.report.repositories = repos.len();
    c.check_sessions()?;
    if alone.is_some() {
        c.check_tmp()?;
    }
    Ok(c.report)
}

struct Checker {
    root: PathBuf,
    opts: FsckOptions,
    report: FsckReport,
    /// Every well-formed blob that exists (corrupt ones included: they exist).
    blobs: HashSet<Digest>,
}

impl Checker {
    fn rel(&self, p: &Path) -> PathBuf {
        p.strip_prefix(&self.root).unwrap_or(p).to_path_buf()
    }

    /// Records a violation at `path`, removing it first when repairing and allowed.
    fn found(&mut self, kind: Kind, path: &Path, message: impl Into<String>) -> io::Result<()> {
        let repaired = if self.opts.repair && kind.repairable() {
            crate::storage::recovery::remove_any(path)?;
            true
        } else {
            false
        };
        self.report.violations.push(Violation {
            kind,
            path: self.rel(path),
            message: message.into(),
            repaired,
        });
        Ok(())
    }

    fn check_blobs(&mut self) -> io::Result<()> {
        let base = self.root.join("blobs");
        for (alg_name, alg_path) in entries(&base)? {
            let Some(alg) = Algorithm::from_name(&alg_name).filter(|_| alg_path.is_dir()) else {
                self.found(
                    Kind::StrayFile,
                    &alg_path,
                    "not a digest algorithm directory",
                )?;
                continue;
            };
            for (prefix, prefix_path) in entries(&alg_path)? {
                if !prefix_path.is_dir() {
                    self.found(Kind::StrayFile, &prefix_path, "not a prefix directory")?;
                    continue;
                }
                for (hex, path) in entries(&prefix_path)? {
                    let parsed = format!("{alg_name}:{hex}").parse::<Digest>();
                    let d = match parsed {
                        Ok(d) if hex.starts_with(&prefix) && path.is_file() => d,
                        _ => {
                            self.found(Kind::StrayFile, &path, "not a blob of this directory")?;
                            continue;
                        }
                    };
                    self.report.blobs += 1;
                    let got = hash_file(&path, alg)?;
                    if got != d {
                        self.found(
                            Kind::CorruptBlob,
                            &path,
                            format!(
                                "blob {d}: its bytes hash to {got}; the registry would serve \
                                 them under the wrong digest; push the content again"
                            ),
                        )?;
                    }
                    self.blobs.insert(d);
                }
            }
        }
        Ok(())
    }

    fn check_repository(&mut self, repo: &str) -> io::Result<()> {
        let dir = self.root.join("repositories").join(repo);
        // Links.
        let mut linked = HashSet::new();
        for (d, path) in self.digest_files(&dir.join("_layers"), Kind::BadLink)? {
            match std::fs::read_to_string(&path) {
                Ok(s) if s.trim() == d.to_string() => {}
                Ok(_) | Err(_) => {
                    self.found(
                        Kind::BadLink,
                        &path,
                        format!("link of {repo}@{d} does not hold its digest"),
                    )?;
                    continue;
                }
            }
            if !self.blobs.contains(&d) {
                self.found(
                    Kind::DanglingLink,
                    &path,
                    format!("{repo} links {d}, which does not exist"),
                )?;
                continue;
            }
            linked.insert(d);
        }
        // Manifest revisions.
        let mut held: Vec<(Digest, Value)> = Vec::new();
        let revisions = dir.join("_manifests/revisions");
        for (d, path) in self.digest_files(&revisions, Kind::BadRevision)? {
            let meta = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<ManifestMeta>(&b).ok());
            let Some(meta) = meta else {
                self.found(
                    Kind::BadRevision,
                    &path,
                    format!("{repo}@{d}: unreadable metadata"),
                )?;
                continue;
            };
            if !self.blobs.contains(&d) {
                self.found(
                    Kind::DanglingRevision,
                    &path,
                    format!("{repo} holds manifest {d}, whose bytes do not exist"),
                )?;
                continue;
            }
            self.report.manifests += 1;
            let bytes = std::fs::read(Storage::blob_path_in(&self.root, &d))?;
            let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
                self.found(
                    Kind::BadRevision,
                    &path,
                    format!("{repo}@{d}: the manifest is not JSON"),
                )?;
                continue;
            };
            if !self.opts.allow_sparse_manifests
                && let Ok(checked) = crate::routes::validate::check(&bytes, Some(&meta.media_type))
            {
                for b in &checked.required_blobs {
                    if !b.parse::<Digest>().is_ok_and(|b| linked.contains(&b)) {
                        self.found(
                            Kind::MissingReference,
                            &path,
                            format!(
                                "manifest {repo}@{d} references blob {b}, which is not in {repo}"
                            ),
                        )?;
                    }
                }
                for m in &checked.required_manifests {
                    let present = m
                        .parse::<Digest>()
                        .is_ok_and(|m| revisions.join(Storage::digest_rel(&m)).is_file());
                    if !present {
                        self.found(
                            Kind::MissingReference,
                            &path,
                            format!(
                                "index {repo}@{d} references manifest {m}, which is not in {repo}"
                            ),
                        )?;
                    }
                }
            }
            held.push((d, v));
        }
        let held_digests: HashSet<&Digest> = held.iter().map(|(d, _)| d).collect();
        // Tags.
        for (tag, path) in entries(&dir.join("_manifests/tags"))? {
            let d = std::fs::read_to_string(&path)
                .ok()
                .and_then(|s| s.trim().parse::<Digest>().ok());
            match d {
                Some(d) if crate::names::is_valid_tag(&tag) && path.is_file() => {
                    if !held_digests.contains(&d) {
                        self.found(
                            Kind::DanglingTag,
                            &path,
                            format!("tag {repo}:{tag} points at {d}, which {repo} does not hold"),
                        )?;
                    }
                }
                _ => self.found(
                    Kind::BadTag,
                    &path,
                    format!("{repo}: tag file {tag:?} is not a valid tag holding a digest"),
                )?,
            }
        }
        // Referrers.
        let mut entries_found: HashSet<(Digest, Digest)> = HashSet::new();
        let referrers = dir.join("_referrers");
        for (subject, subject_dir) in self.digest_dirs(&referrers)? {
            for (file, path) in entries(&subject_dir)? {
                let referrer = file
                    .split_once('-')
                    .and_then(|(a, h)| format!("{a}:{h}").parse::<Digest>().ok());
                let desc = std::fs::read(&path)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
                let (Some(referrer), Some(desc)) = (referrer, desc) else {
                    self.found(
                        Kind::BadReferrer,
                        &path,
                        format!("{repo}: unreadable referrer entry"),
                    )?;
                    continue;
                };
                if desc.get("digest").and_then(Value::as_str) != Some(&referrer.to_string()) {
                    self.found(
                        Kind::BadReferrer,
                        &path,
                        format!("{repo}: the entry of {referrer} describes another digest"),
                    )?;
                    continue;
                }
                let Some((_, manifest)) = held.iter().find(|(d, _)| *d == referrer) else {
                    self.found(Kind::DanglingReferrer, &path, format!("{repo}: referrer {referrer} of {subject} is not a manifest {repo} holds"))?;
                    continue;
                };
                if manifest.pointer("/subject/digest").and_then(Value::as_str)
                    != Some(&subject.to_string())
                {
                    self.found(
                        Kind::BadReferrer,
                        &path,
                        format!(
                            "{repo}: {referrer} is filed under {subject}, which is not its subject"
                        ),
                    )?;
                    continue;
                }
                entries_found.insert((subject.clone(), referrer));
            }
        }
        for (d, v) in &held {
            if let Some(subject) = v
                .pointer("/subject/digest")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<Digest>().ok())
                && !entries_found.contains(&(subject.clone(), d.clone()))
            {
                let path = revisions.join(Storage::digest_rel(d));
                self.found(
                    Kind::MissingReferrer,
                    &path,
                    format!("{repo}@{d} has subject {subject} but is not in its referrers list"),
                )?;
            }
        }
        for (name, path) in entries(&dir)? {
            if name.starts_with('_')
                && !["_layers", "_manifests", "_referrers"].contains(&name.as_str())
            {
                self.found(
                    Kind::StrayFile,
                    &path,
                    format!("{repo}: unknown entry {name}"),
                )?;
            }
        }
        Ok(())
    }

    /// `<dir>/<alg>/<hex>` files as digests; anything else is a `bad` violation.
    fn digest_files(&mut self, dir: &Path, bad: Kind) -> io::Result<Vec<(Digest, PathBuf)>> {
        let mut out = Vec::new();
        for (alg, alg_path) in entries(dir)? {
            for (hex, path) in entries(&alg_path)? {
                match format!("{alg}:{hex}").parse::<Digest>() {
                    Ok(d) if path.is_file() => out.push((d, path)),
                    _ => self.found(bad, &path, "not named after a digest")?,
                }
            }
        }
        Ok(out)
    }

    /// `<dir>/<alg>/<hex>/` directories as digests (referrer subjects).
    fn digest_dirs(&mut self, dir: &Path) -> io::Result<Vec<(Digest, PathBuf)>> {
        let mut out = Vec::new();
        for (alg, alg_path) in entries(dir)? {
            for (hex, path) in entries(&alg_path)? {
                match format!("{alg}:{hex}").parse::<Digest>() {
                    Ok(d) if path.is_dir() => out.push((d, path)),
                    _ => {
                        self.found(Kind::BadReferrer, &path, "not named after a subject digest")?
                    }
                }
            }
        }
        Ok(out)
    }

    fn check_sessions(&mut self) -> io::Result<()> {
        let uploads = self.root.join("uploads");
        for (id, path) in entries(&uploads)? {
            self.report.sessions += 1;
            if let Some(problem) = crate::storage::uploads::session_problem(&uploads, &id) {
                self.found(
                    Kind::BrokenSession,
                    &path,
                    format!("upload session {id}: {problem}"),
                )?;
            }
        }
        Ok(())
    }

    fn check_tmp(&mut self) -> io::Result<()> {
        for (_, path) in entries(&self.root.join("tmp"))? {
            self.found(Kind::TempFile, &path, "left over from an interrupted write")?;
        }
        Ok(())
    }
}

/// The entries of a directory as (name, path), sorted; empty when it does not exist or is
/// not a directory.
fn entries(dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(Vec::new());
        }
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e?;
        out.push((e.file_name().to_string_lossy().into_owned(), e.path()));
    }
    out.sort();
    Ok(out)
}

/// Repository names: directories holding `_layers`, `_manifests` or `_referrers`.
fn list_repositories(dir: &Path, prefix: &str, out: &mut Vec<String>) -> io::Result<()> {
    let mut is_repo = false;
    for (name, path) in entries(dir)? {
        if !path.is_dir() {
            continue;
        }
        if name.starts_with('_') {
            is_repo = true;
        } else {
            let child = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            list_repositories(&path, &child, out)?;
        }
    }
    if is_repo && !prefix.is_empty() {
        out.push(prefix.to_string());
    }
    Ok(())
}

fn hash_file(path: &Path, alg: Algorithm) -> io::Result<Digest> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Hasher::new(alg);
    let mut buf = vec![0u8; 1024 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(h.finish());
        }
        h.update(&buf[..n]);
    }
}

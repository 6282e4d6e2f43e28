//! `registry-conformance bench`: how fast a registry pushes and pulls, and how it compares
//! with another, measured so that the client is never what limits the figures.
//!
//! Layout (one concern per file; this file is the plan and the engine, [`cli`] the
//! command line):
//! - [`data`]: seeded blob contents, generated while sent, hashed while generated;
//! - [`session`]: one registry: the suite's client for setup/auth/cleanup, a lean client
//!   for the timed path;
//! - [`preflight`]: the push/pull basics a registry must pass before it is benched;
//! - [`push`], [`pull`], [`small`], [`manifest`], [`tags`]: the workloads;
//! - [`stats`]: percentiles and the request-rate driver;
//! - [`ceiling`]: the client's own ceiling against a null sink;
//! - [`compare`]: A/B alternation and ratios;
//! - [`cleanup`]: deleting what was pushed (after each workload, and at the end);
//! - [`cancel`]: cancelling the upload session of a failed push;
//! - [`inflight`]: the bound of `--concurrency` requests in flight per registry;
//! - [`output`]: progress bar, table, JSON.
//!
//! A run: start the embedded registry if no `--url`; preflight every registry (a failure
//! ends the run, exit 3); probe single-POST support; measure the client ceiling; set up
//! what the workloads read (a blob per size to pull, a repository of tags); run every
//! workload `--repeat` times on every registry, alternating, deleting what each
//! repetition pushed once it is over; delete the rest; print.

pub mod cancel;
pub mod ceiling;
pub mod cleanup;
pub mod cli;
pub mod compare;
pub mod data;
pub mod inflight;
pub mod manifest;
pub mod output;
pub mod preflight;
pub mod pull;
pub mod push;
pub mod session;
pub mod small;
pub mod stats;
pub mod tags;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use data::{Digests, Generator};
use push::{Blob, SinglePost};
use session::{Endpoint, Target};
use stats::{Latency, RateRun};

/// Exit code: every workload ran (a "not supported" is not a failure).
pub const EXIT_OK: u8 = 0;
/// Exit code: a workload failed (an error answer, a wrong length) on some registry.
pub const EXIT_WORKLOAD_FAILED: u8 = 1;
/// Exit code: the bench could not start (arguments, credentials, embedded registry).
pub const EXIT_SETUP: u8 = 2;
/// Exit code: a registry failed the preflight (push/pull basics): nothing was measured.
pub const EXIT_PREFLIGHT: u8 = 3;

/// The workloads, in the order they run and print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Workload {
    /// POST, then the whole blob in one `PUT ?digest=` with Content-Length.
    PushMonolithic,
    /// The whole blob in one `POST ?digest=` (where supported).
    PushSinglePost,
    /// POST, one streamed PATCH (chunked encoding, no Content-Range), PUT.
    PushStreamed,
    /// POST, PATCHes with Content-Range of `--chunk-size` bytes, PUT.
    PushChunked,
    /// One GET of a blob.
    Pull,
    /// `--concurrency` GETs of the same blob at once.
    PullParallel,
    /// 4 KiB POST + PUT pushes in sequence on one connection.
    SmallSeq,
    /// 4 KiB pushes on `--concurrency` connections.
    SmallConcurrent,
    /// Manifest GET by tag at `--concurrency`.
    ManifestGet,
    /// Manifest HEAD by tag at `--concurrency`.
    ManifestHead,
    /// Tag-list paging (50 tags, `?n=10`) at `--concurrency`.
    TagsList,
}

impl Workload {
    /// Every workload.
    pub const ALL: &'static [Workload] = &[
        Workload::PushMonolithic,
        Workload::PushSinglePost,
        Workload::PushStreamed,
        Workload::PushChunked,
        Workload::Pull,
        Workload::PullParallel,
        Workload::SmallSeq,
        Workload::SmallConcurrent,
        Workload::ManifestGet,
        Workload::ManifestHead,
        Workload::TagsList,
    ];

    /// The name in `--workloads`, the JSON and the table.
    pub fn name(self) -> &'static str {
        match self {
            Workload::PushMonolithic => "push-monolithic",
            Workload::PushSinglePost => "push-single-post",
            Workload::PushStreamed => "push-streamed",
            Workload::PushChunked => "push-chunked",
            Workload::Pull => "pull",
            Workload::PullParallel => "pull-parallel",
            Workload::SmallSeq => "small-push-seq",
            Workload::SmallConcurrent => "small-push-concurrent",
            Workload::ManifestGet => "manifest-get",
            Workload::ManifestHead => "manifest-head",
            Workload::TagsList => "tags-list",
        }
    }

    /// The group a `--workloads` entry may name instead (`push`, `pull`, `small`,
    /// `manifest`, `tags`).
    pub fn group(self) -> &'static str {
        match self {
            Workload::PushMonolithic
            | Workload::PushSinglePost
            | Workload::PushStreamed
            | Workload::PushChunked => "push",
            Workload::Pull | Workload::PullParallel => "pull",
            Workload::SmallSeq | Workload::SmallConcurrent => "small",
            Workload::ManifestGet | Workload::ManifestHead => "manifest",
            Workload::TagsList => "tags",
        }
    }

    /// Whether it runs once per `--sizes` entry (throughput, MiB/s) rather than for
    /// `--duration` (request rate, with latency percentiles).
    pub fn sized(self) -> bool {
        matches!(self.group(), "push" | "pull")
    }

    /// `MiB/s` or `req/s`.
    pub fn unit(self) -> &'static str {
        if self.sized() { "MiB/s" } else { "req/s" }
    }

    /// Parses a `--workloads` list: names and group names, comma-separated.
    pub fn parse_list(s: &str) -> Result<Vec<Workload>, String> {
        let mut out = Vec::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let matched: Vec<Workload> = Workload::ALL
                .iter()
                .copied()
                .filter(|w| w.name() == item || w.group() == item || item == "all")
                .collect();
            if matched.is_empty() {
                let names: Vec<&str> = Workload::ALL.iter().map(|w| w.name()).collect();
                return Err(format!(
                    "unknown workload {item:?} (groups: push, pull, small, manifest, tags; \
                     names: {})",
                    names.join(", ")
                ));
            }
            out.extend(matched);
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

/// Parses `4KiB`, `1MiB`, `64MiB`, `1GiB`, `1000` (bytes); `K`/`M`/`G` and `KB`... are
/// read as binary units too.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("bad size {s:?} (e.g. 1MiB, 64MiB, 1GiB)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("bad size unit in {s:?} (B, KiB, MiB, GiB)")),
    };
    let v = (n * mult as f64).round() as u64;
    if v == 0 {
        return Err(format!("size {s:?} is zero"));
    }
    Ok(v)
}

/// `64MiB`, `1GiB`, `4KiB`, `1000B`.
pub fn format_size(n: u64) -> String {
    for (unit, m) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n >= m && n.is_multiple_of(m) {
            return format!("{}{unit}", n / m);
        }
    }
    if n >= 1 << 20 {
        return format!("{:.1}MiB", n as f64 / (1u64 << 20) as f64);
    }
    format!("{n}B")
}

/// Credentials of one registry as given on the command line.
#[derive(Clone, Default)]
pub struct CredentialFlags {
    /// `--username` / `--compare-username`.
    pub username: Option<String>,
    /// `--password` / `--compare-password`.
    pub password: Option<String>,
    /// `--token` / `--compare-token`.
    pub token: Option<String>,
}

impl std::fmt::Debug for CredentialFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialFlags")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Everything a bench run needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Registry A; `None`: the embedded reference registry.
    pub url: Option<String>,
    /// Registry B, benched alongside.
    pub compare_url: Option<String>,
    /// A's credentials.
    pub credentials: CredentialFlags,
    /// B's credentials.
    pub compare_credentials: CredentialFlags,
    /// Where credential files are looked for.
    pub credential_env: crate::credentials::Env,
    /// Extra trust anchors.
    pub ca_cert: Option<PathBuf>,
    /// Accept invalid certificates.
    pub insecure: bool,
    /// Blob sizes for push and pull.
    pub sizes: Vec<u64>,
    /// Parallel requests for the concurrent workloads.
    pub concurrency: usize,
    /// How long each request-rate workload runs per repetition.
    pub duration: Duration,
    /// Repetitions of every workload on every registry.
    pub repeat: usize,
    /// Content seed.
    pub seed: u64,
    /// Which workloads.
    pub workloads: Vec<Workload>,
    /// PATCH size of the chunked push.
    pub chunk_size: u64,
    /// Connect timeout and idle-read timeout.
    pub request_timeout: Duration,
    /// Repository prefix; `None`: `bench-<random>`.
    pub namespace: Option<String>,
    /// Write the results as JSON here.
    pub json: Option<PathBuf>,
    /// Skip the client-ceiling measurement.
    pub no_ceiling: bool,
    /// Draw a progress bar (stderr is a terminal); else one line per measurement.
    pub progress: bool,
}

/// The result of one workload (and size) on one registry, over all repetitions.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CaseResult {
    /// Workload name.
    pub workload: String,
    /// Blob size in bytes (push and pull workloads).
    pub size: Option<u64>,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Registry label (`A`, `B`).
    pub registry: String,
    /// `MiB/s` or `req/s`.
    pub unit: String,
    /// Median over repetitions (of MiB/s, or of req/s); `None` if not measured.
    pub value: Option<f64>,
    /// Each repetition's figure.
    pub runs: Vec<f64>,
    /// Request latency percentiles over all repetitions (request-rate workloads).
    pub latency_ms: Option<Latency>,
    /// Operations timed in all (pushes, GETs, pages).
    pub operations: u64,
    /// Whether the registry supports it (`false`: see `note`).
    pub supported: bool,
    /// Why it was not measured or what to know about it.
    pub note: Option<String>,
    /// The error that stopped it.
    pub error: Option<String>,
}

/// The figures of one repetition.
enum Measured {
    Throughput { bytes: u64, elapsed: Duration },
    Rate(RateRun),
    NotSupported(String),
}

/// What the workloads read, per registry.
struct Setup {
    image: preflight::Image,
    tags_repo: Option<String>,
    /// Whether the tag list honours `?n=` (else one page holds every tag).
    tags_paged: bool,
    pull_blobs: HashMap<u64, Blob>,
    single_post: Option<SinglePost>,
}

/// Shared by every measurement.
struct Engine {
    opts: Options,
    g: Generator,
    digests: Digests,
    ids: Arc<AtomicU64>,
}

fn mib_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / d.as_secs_f64().max(1e-9)
}

/// Asks the kernel to write back dirty pages (untimed, before big pushes): on a machine
/// where registry and bench share a disk, one push's write-back would otherwise land in
/// the next one's time. A no-op where `sync` is missing.
fn sync_disks() {
    let _ = std::process::Command::new("sync")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

impl Engine {
    /// A new blob of `size` (its digest computed untimed, once for all registries).
    async fn blob(&self, size: u64) -> Blob {
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        Blob {
            id,
            size,
            digest: self.digests.get(&self.g, id, size).await,
        }
    }

    /// Runs one repetition of `w` on `t`.
    async fn measure(
        &self,
        w: Workload,
        size: Option<u64>,
        blob: Option<&Blob>,
        t: &Arc<Target>,
        setup: &Setup,
    ) -> anyhow::Result<Measured> {
        let o = &self.opts;
        let repo = t.repo("data");
        let g = &self.g;
        if w.group() == "push" {
            let b = blob.expect("push workloads get a blob");
            if b.size >= 64 << 20 {
                tokio::task::spawn_blocking(sync_disks).await?;
            }
            let start = Instant::now();
            match w {
                Workload::PushMonolithic => push::monolithic(t, &repo, g, b).await?,
                Workload::PushSinglePost => match &setup.single_post {
                    Some(SinglePost::Stored) => match push::single_post(t, &repo, g, b).await? {
                        SinglePost::Stored => {}
                        SinglePost::NotSupported(why) => return Ok(Measured::NotSupported(why)),
                    },
                    Some(SinglePost::NotSupported(why)) => {
                        return Ok(Measured::NotSupported(why.clone()));
                    }
                    None => return Ok(Measured::NotSupported("not probed".to_owned())),
                },
                Workload::PushStreamed => push::streamed(t, &repo, g, b).await?,
                Workload::PushChunked => push::chunked(t, &repo, g, b, o.chunk_size).await?,
                _ => unreachable!(),
            }
            return Ok(Measured::Throughput {
                bytes: b.size,
                elapsed: start.elapsed(),
            });
        }
        match w {
            Workload::Pull | Workload::PullParallel => {
                let b = setup
                    .pull_blobs
                    .get(&size.unwrap_or(0))
                    .ok_or_else(|| anyhow::anyhow!("no blob of that size was pushed to pull"))?;
                let start = Instant::now();
                let bytes = if w == Workload::Pull {
                    pull::once(t, &repo, b).await?
                } else {
                    pull::parallel(t, &repo, b, o.concurrency).await?
                };
                Ok(Measured::Throughput {
                    bytes,
                    elapsed: start.elapsed(),
                })
            }
            Workload::SmallSeq | Workload::SmallConcurrent => {
                let n = if w == Workload::SmallSeq {
                    1
                } else {
                    o.concurrency
                };
                let run =
                    small::run(t.clone(), repo, g.clone(), self.ids.clone(), n, o.duration).await?;
                Ok(Measured::Rate(run))
            }
            Workload::ManifestGet | Workload::ManifestHead => {
                let method = if w == Workload::ManifestGet {
                    reqwest::Method::GET
                } else {
                    reqwest::Method::HEAD
                };
                let run = manifest::run(
                    t.clone(),
                    setup.image.repo.clone(),
                    setup.image.tag.clone(),
                    method,
                    o.concurrency,
                    o.duration,
                )
                .await?;
                Ok(Measured::Rate(run))
            }
            Workload::TagsList => {
                let repo = setup
                    .tags_repo
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!("the tag repository was not set up"))?;
                Ok(Measured::Rate(
                    tags::run(t.clone(), repo, o.concurrency, o.duration).await?,
                ))
            }
            _ => unreachable!("push workloads returned above"),
        }
    }

    /// What the workloads read on `t`: blobs to pull, the tag repository, single-POST
    /// support.
    async fn setup(&self, t: &Arc<Target>, image: preflight::Image) -> anyhow::Result<Setup> {
        let o = &self.opts;
        let has = |w: Workload| o.workloads.contains(&w);
        let mut setup = Setup {
            image,
            tags_repo: None,
            tags_paged: true,
            pull_blobs: HashMap::new(),
            single_post: None,
        };
        if has(Workload::PushSinglePost) {
            let probe = self.blob(small::SIZE).await;
            setup.single_post = Some(push::single_post(t, &t.repo("data"), &self.g, &probe).await?);
        }
        if has(Workload::Pull) || has(Workload::PullParallel) {
            for &size in &o.sizes {
                // The same content on every registry (the id comes from the size).
                let id = (1 << 48) + size;
                let b = Blob {
                    id,
                    size,
                    digest: self.digests.get(&self.g, id, size).await,
                };
                push::streamed(t, &t.repo("data"), &self.g, &b).await?;
                setup.pull_blobs.insert(size, b);
            }
        }
        if has(Workload::TagsList) {
            let repo = t.repo("tags");
            let img = preflight::copy_image(t, &self.g, &setup.image, &repo)
                .await
                .map_err(|f| anyhow::anyhow!("{f}"))?;
            for tag in tags::names() {
                preflight::put_manifest(t, &img, &tag)
                    .await
                    .map_err(|f| anyhow::anyhow!("{f}"))?;
            }
            setup.tags_paged = tags::probe(t, &repo).await?;
            setup.tags_repo = Some(repo);
        }
        Ok(setup)
    }
}

/// The bench's results, as printed and as written to `--json` (see [`output`] for the
/// schema).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `registry-conformance-bench/1`.
    pub schema: &'static str,
    /// The suite's version.
    pub suite_version: &'static str,
    /// When the run started (RFC 3339, UTC).
    pub date: String,
    /// Parameters.
    pub seed: u64,
    /// Parallel requests of the concurrent workloads.
    pub concurrency: usize,
    /// Seconds per request-rate repetition.
    pub duration_s: f64,
    /// Repetitions per workload and registry.
    pub repeat: usize,
    /// Blob sizes (bytes).
    pub sizes: Vec<u64>,
    /// PATCH size of the chunked push (bytes; the registry's minimum may raise it).
    pub chunk_size: u64,
    /// The registries.
    pub registries: Vec<RegistryInfo>,
    /// The client's own ceiling (null sink); `None` with `--no-ceiling`.
    pub client_ceiling: Option<ceiling::Ceiling>,
    /// One entry per workload (and size) and registry.
    pub results: Vec<CaseResult>,
    /// A / B per workload (and size), with `--compare-url`.
    pub ratios: Vec<compare::Ratio>,
    /// What was deleted afterwards.
    pub cleanup: Vec<cleanup::Cleanup>,
}

/// One benched registry.
#[derive(Debug, Clone, Serialize)]
pub struct RegistryInfo {
    /// `A` or `B`.
    pub label: String,
    /// Its base URL (no user info).
    pub url: String,
    /// `embedded reference registry`, or empty.
    pub note: String,
    /// Where its credentials came from (never a secret).
    pub credentials: String,
    /// The repository prefix used.
    pub namespace: String,
}

/// Runs the bench; returns the exit code.
pub fn run(opts: Options) -> u8 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("registry-conformance bench: cannot start the async runtime: {e}");
            return EXIT_SETUP;
        }
    };
    rt.block_on(run_async(opts))
}

fn setup_error(msg: impl std::fmt::Display) -> u8 {
    eprintln!("registry-conformance bench: {msg}");
    EXIT_SETUP
}

/// `bench-<8 random lowercase letters/digits>`.
pub fn random_namespace() -> String {
    crate::plan::random_namespace().replacen("conformance-", "bench-", 1)
}

async fn run_async(opts: Options) -> u8 {
    let namespace = opts.namespace.clone().unwrap_or_else(random_namespace);
    if let Err(e) = crate::plan::check_namespace(&namespace) {
        return setup_error(e);
    }
    if opts.workloads.is_empty() {
        return setup_error("no workload selected");
    }
    let date = crate::report::rfc3339(std::time::SystemTime::now());

    // Registry A: --url, or the embedded reference registry (as the conformance run
    // starts it: a temp dir root, loopback, port 0).
    let mut _root = None;
    let mut embedded = None;
    let (url_a, note_a) = match &opts.url {
        Some(u) => (u.clone(), String::new()),
        None => {
            let dir = match tempfile::tempdir() {
                Ok(d) => d,
                Err(e) => return setup_error(format!("cannot create a temporary directory: {e}")),
            };
            let config = reference_server::Config::new(dir.path());
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
            match reference_server::start(config, addr).await {
                Ok(r) => {
                    let u = r.url();
                    _root = Some(dir);
                    embedded = Some(r);
                    (u, "embedded reference registry".to_owned())
                }
                Err(e) => {
                    return setup_error(format!(
                        "cannot start the embedded reference registry: {e}"
                    ));
                }
            }
        }
    };
    let mut specs = vec![("A", url_a, note_a, &opts.credentials)];
    if let Some(u) = &opts.compare_url {
        specs.push(("B", u.clone(), String::new(), &opts.compare_credentials));
    }
    let mut targets = Vec::new();
    let mut infos = Vec::new();
    for (label, url, note, flags) in specs {
        let base = match reqwest::Url::parse(&url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u,
            Ok(u) => return setup_error(format!("{u}: only http and https are supported")),
            Err(e) => return setup_error(format!("{url}: {e}")),
        };
        let host = match (base.host_str(), base.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => String::new(),
        };
        let resolved = match crate::credentials::resolve(
            &crate::credentials::Flags {
                username: flags.username.clone(),
                password: flags.password.clone(),
                token: flags.token.clone(),
            },
            &host,
            &opts.credential_env,
        ) {
            Ok(r) => r,
            Err(e) => return setup_error(format!("credentials for {label}: {e}")),
        };
        let ep = Endpoint {
            base: base.clone(),
            auth: resolved.auth,
            auth_source: resolved.source.clone(),
            ca_cert: opts.ca_cert.clone(),
            insecure: opts.insecure,
            request_timeout: opts.request_timeout,
        };
        let shown = crate::report::url_without_userinfo(&url);
        let describe = if note.is_empty() {
            shown.clone()
        } else {
            format!("{shown} ({note})")
        };
        match Target::new(label, describe, &ep, &namespace, opts.concurrency) {
            Ok(t) => targets.push(Arc::new(t)),
            Err(e) => return setup_error(format!("{label}: {e}")),
        }
        infos.push(RegistryInfo {
            label: label.to_owned(),
            url: shown,
            note,
            credentials: resolved.source,
            namespace: namespace.clone(),
        });
    }

    let engine = Engine {
        g: Generator::new(opts.seed),
        digests: Digests::default(),
        ids: Arc::new(AtomicU64::new(1)),
        opts: opts.clone(),
    };
    let cases = plan_cases(&opts);
    let mut progress = output::Progress::new(
        opts.progress,
        (cases.len() * opts.repeat.max(1) * targets.len()) as u64,
    );

    // Preflight and setup, registry by registry. What they push is kept until the end.
    let mut cleanups: Vec<cleanup::Cleanup> = targets
        .iter()
        .map(|t| cleanup::Cleanup::new(&t.label))
        .collect();
    let mut setups = Vec::new();
    let mut code = EXIT_OK;
    for t in &targets {
        progress.status(&format!("preflight of {} ({})", t.label, t.describe));
        match preflight::run(t, &engine.g).await {
            Ok(image) => match engine.setup(t, image).await {
                Ok(s) => {
                    t.keep_pushed();
                    setups.push(s);
                }
                Err(e) => {
                    progress.finish();
                    eprintln!(
                        "registry-conformance bench: setting up the workloads on {} ({}) failed: {e:#}",
                        t.label, t.describe
                    );
                    code = EXIT_PREFLIGHT;
                    break;
                }
            },
            Err(f) => {
                progress.finish();
                eprintln!(
                    "registry-conformance bench: {} ({}) failed the preflight, so it is not benched.\n  \
                     failed step: {}\n  why: {}",
                    t.label, t.describe, f.step, f.why
                );
                code = if f.needs_credentials {
                    EXIT_SETUP
                } else {
                    EXIT_PREFLIGHT
                };
                break;
            }
        }
    }
    if code != EXIT_OK {
        for (t, c) in targets.iter().zip(&mut cleanups) {
            cleanup::finish(t, c, opts.concurrency).await;
        }
        if let Some(reg) = embedded {
            reg.shutdown().await;
        }
        return code;
    }

    let client_ceiling = if opts.no_ceiling {
        None
    } else {
        progress.status("client ceiling (null sink)");
        match measure_ceiling(&engine, &namespace).await {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!(
                    "registry-conformance bench: the client ceiling could not be measured: {e:#}"
                );
                None
            }
        }
    };

    let mut results: Vec<CaseResult> = Vec::new();
    for &(w, size) in &cases {
        let mut per: Vec<(CaseResult, Vec<std::time::Duration>)> = targets
            .iter()
            .map(|t| {
                (
                    CaseResult {
                        workload: w.name().to_owned(),
                        size,
                        concurrency: match w {
                            Workload::PullParallel
                            | Workload::SmallConcurrent
                            | Workload::ManifestGet
                            | Workload::ManifestHead
                            | Workload::TagsList => opts.concurrency,
                            _ => 1,
                        },
                        registry: t.label.clone(),
                        unit: w.unit().to_owned(),
                        supported: true,
                        ..CaseResult::default()
                    },
                    Vec::new(),
                )
            })
            .collect();
        for rep in 0..opts.repeat.max(1) {
            let blob = match (w.group(), size) {
                ("push", Some(s)) => Some(engine.blob(s).await),
                _ => None,
            };
            for i in compare::order(rep, targets.len()) {
                let t = &targets[i];
                let (res, lat) = &mut per[i];
                let what = format!(
                    "{}{} on {} ({}/{})",
                    w.name(),
                    size.map(|s| format!(" {}", format_size(s)))
                        .unwrap_or_default(),
                    t.label,
                    rep + 1,
                    opts.repeat.max(1)
                );
                progress.start(&what);
                if res.error.is_some() || !res.supported {
                    progress.done(&what, "skipped");
                    continue;
                }
                match engine.measure(w, size, blob.as_ref(), t, &setups[i]).await {
                    Ok(Measured::Throughput { bytes, elapsed }) => {
                        let v = mib_s(bytes, elapsed);
                        res.runs.push(v);
                        res.operations += 1;
                        progress.done(&what, &format!("{v:.1} MiB/s"));
                    }
                    Ok(Measured::Rate(run)) => {
                        if w == Workload::TagsList && !setups[i].tags_paged {
                            res.note = Some(format!(
                                "the registry ignores ?n={} on the tag list: each walk is one \
                                 page of all {} tags",
                                tags::PAGE,
                                tags::TAGS
                            ));
                        }
                        let v = run.rate();
                        res.runs.push(v);
                        res.operations += run.ops;
                        lat.extend(run.latencies);
                        progress.done(&what, &format!("{v:.0} req/s"));
                    }
                    Ok(Measured::NotSupported(why)) => {
                        res.supported = false;
                        res.note = Some(format!("not supported: {why}"));
                        progress.done(&what, "not supported");
                    }
                    Err(e) => {
                        res.error = Some(format!("{e:#}"));
                        progress.done(&what, &format!("error: {e:#}"));
                    }
                }
                // Untimed, before the next measurement on either registry starts.
                cleanup::after_workload(t, &mut cleanups[i], opts.concurrency).await;
            }
        }
        for (mut res, lat) in per {
            res.value = stats::median(&res.runs);
            res.latency_ms = if w.sized() { None } else { Latency::of(&lat) };
            if res.error.is_some() {
                code = EXIT_WORKLOAD_FAILED;
            }
            results.push(res);
        }
    }
    progress.status("cleaning up");
    for (t, c) in targets.iter().zip(&mut cleanups) {
        cleanup::finish(t, c, opts.concurrency).await;
    }
    progress.finish();
    if let Some(reg) = embedded {
        reg.shutdown().await;
    }

    let ratios = if targets.len() == 2 {
        compare::ratios(&results, "A", "B")
    } else {
        Vec::new()
    };
    let report = Report {
        schema: output::SCHEMA,
        suite_version: env!("CARGO_PKG_VERSION"),
        date,
        seed: opts.seed,
        concurrency: opts.concurrency,
        duration_s: opts.duration.as_secs_f64(),
        repeat: opts.repeat.max(1),
        sizes: opts.sizes.clone(),
        chunk_size: opts.chunk_size,
        registries: infos,
        client_ceiling,
        results,
        ratios,
        cleanup: cleanups,
    };
    println!("{}", output::table(&report));
    if let Some(path) = &opts.json
        && let Err(e) = output::write_json(path, &report)
    {
        eprintln!(
            "registry-conformance bench: cannot write {}: {e}",
            path.display()
        );
        if code == EXIT_OK {
            code = EXIT_SETUP;
        }
    }
    code
}

/// The ceiling against a null sink started for it.
async fn measure_ceiling(engine: &Engine, namespace: &str) -> anyhow::Result<ceiling::Ceiling> {
    let sink = ceiling::NullSink::start().await?;
    let ep = Endpoint {
        base: reqwest::Url::parse(&sink.url())?,
        auth: crate::auth::Auth::None,
        auth_source: "none".to_owned(),
        ca_cert: None,
        insecure: false,
        request_timeout: engine.opts.request_timeout,
    };
    let t = Arc::new(Target::new(
        "null",
        sink.url(),
        &ep,
        namespace,
        engine.opts.concurrency,
    )?);
    let o = &engine.opts;
    let sizes: Vec<u64> = if o.workloads.iter().any(|w| w.sized()) {
        o.sizes.clone()
    } else {
        Vec::new()
    };
    ceiling::measure(
        t,
        &engine.g,
        &sizes,
        o.repeat,
        o.concurrency,
        o.duration.min(Duration::from_secs(2)),
    )
    .await
}

/// Every (workload, size) to run, in order.
pub fn plan_cases(o: &Options) -> Vec<(Workload, Option<u64>)> {
    let mut out = Vec::new();
    for &w in Workload::ALL {
        if !o.workloads.contains(&w) {
            continue;
        }
        if w.sized() {
            out.extend(o.sizes.iter().map(|&s| (w, Some(s))));
        } else {
            out.push((w, None));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("4k"), Ok(4096));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("0.5MiB"), Ok(512 << 10));
        assert!(parse_size("1XB").is_err());
        assert!(parse_size("0").is_err());
        assert_eq!(format_size(64 << 20), "64MiB");
        assert_eq!(format_size(1 << 30), "1GiB");
        assert_eq!(format_size(4096), "4KiB");
        assert_eq!(format_size(1000), "1000B");
    }

    #[test]
    fn workload_lists() {
        assert_eq!(
            Workload::parse_list("pull,tags").unwrap(),
            vec![Workload::Pull, Workload::PullParallel, Workload::TagsList]
        );
        assert_eq!(
            Workload::parse_list("manifest-head, push-chunked").unwrap(),
            vec![Workload::PushChunked, Workload::ManifestHead]
        );
        assert_eq!(
            Workload::parse_list("all").unwrap().len(),
            Workload::ALL.len()
        );
        assert!(Workload::parse_list("nope").is_err());
    }
}

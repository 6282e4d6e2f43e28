//! One run end to end: fixtures → trials → libtest-mimic → event stream → reports.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use reqwest::Url;

use crate::auth::Auth;
use crate::capabilities;
use crate::client::{ClientConfig, HttpClient, RetryPolicy};
use crate::credentials;
use crate::events::{self, Outcome};
use crate::levels::Levels;
use crate::loader;
use crate::model::Profile;
use crate::plan::{self, TrialPlan};
use crate::report;
use crate::runner::{self, RunContext};

/// Why `reader` scenarios skip when no reader identity is configured.
pub const NO_READER: &str = "no reader identity (--reader-username/--reader-password)";

/// Trials run at once against a registry given by `--url` when `--test-threads` is not
/// given. A trial waits on the network, not the CPU: at a 50 ms round trip the whole suite
/// is about 2 300 requests, some 130 s of waiting one after the other, so libtest's
/// default of one trial per CPU leaves a distant registry idle. 32 brings that to a few
/// seconds while staying a modest load: a trial has one request in flight at a time
/// (clean-up at most 4, a `parallel` step one per branch), so about 32 requests and
/// connections at once, the order of a handful of `docker push`es (5 uploads each).
/// The embedded registry keeps libtest's default: on loopback the run is CPU-bound.
pub const REMOTE_TEST_THREADS: usize = 32;

/// Exit code for a run that could not start (bad arguments, fixtures dir missing, ...).
pub const EXIT_SETUP: u8 = 2;
/// Exit code when a scenario failed or errored (what libtest uses).
pub const EXIT_FAILED: u8 = 101;

/// Everything a run needs besides libtest's own arguments.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Registry base URL; `None` starts the reference registry in-process.
    pub url: Option<String>,
    /// Repository prefix; `None` picks `conformance-<random>`.
    pub namespace: Option<String>,
    /// Selected profiles.
    pub profiles: Vec<Profile>,
    /// JUnit output path; `summary.txt`, `summary.md`, `results.json` and `report.html` go
    /// next to it (`--report-dir` sets its folder).
    pub junit: PathBuf,
    /// Credential flags (`--username/--password`, `--token`); without them the files of
    /// [`crate::credentials`] are read.
    pub credentials: credentials::Flags,
    /// Where credential files and helpers are looked for.
    pub credential_env: credentials::Env,
    /// The reader identity (`--reader-username/--reader-password`), if any.
    pub reader: Option<Auth>,
    /// Accept invalid TLS certificates.
    pub insecure: bool,
    /// Extra trust anchors (PEM) for the registry's and token server's certificates.
    pub ca_cert: Option<PathBuf>,
    /// The fixtures directory.
    pub fixtures: PathBuf,
    /// Capabilities the registry lacks.
    pub without: BTreeSet<String>,
    /// Opt-in capabilities asked for ([`capabilities::Switch::OptIn`]).
    pub with: BTreeSet<String>,
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// Per-scenario timeout.
    pub scenario_timeout: Duration,
    /// Requests in a row without a complete answer after which the run gives up on the
    /// registry (0: never); see [`crate::breaker`].
    pub max_transport_failures: usize,
    /// Print the coverage matrix.
    pub coverage: bool,
    /// Compare outcomes with this baseline.
    pub baseline: Option<PathBuf>,
    /// Embedded registry only: deletes refused (implies `--without delete`).
    pub reference_no_delete: bool,
    /// Embedded registry only: every write refused (implies `--without push`).
    pub reference_read_only: bool,
    /// Embedded registry only: deliberate defects to switch on (mutation testing).
    pub reference_defects: Vec<reference_server::Defect>,
    /// Embedded registry only: accept manifests whose references are absent.
    pub reference_allow_sparse_manifests: bool,
    /// Embedded registry only: authentication (`--reference-auth`); the run then uses the
    /// writer and reader identities it makes.
    pub reference_auth: crate::embedded_auth::EmbeddedAuth,
    /// Embedded registry only: serve HTTPS with a certificate made for the run, trusted
    /// through the same path as `--ca-cert`.
    pub reference_tls: bool,
    /// Warnings (violated SHOULDs) count as failures.
    pub strict: bool,
    /// Console output while the run goes ([`crate::progress`]).
    pub display: crate::progress::Display,
}

impl Settings {
    /// Deliberate defects of the embedded registry (`--reference-defect`, mutation testing).
    fn reference_defects(&self) -> reference_server::Defects {
        self.reference_defects.iter().copied().collect()
    }
}

/// The fixtures directory of this workspace, else `./fixtures`.
pub fn default_fixtures() -> PathBuf {
    let ws = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    match ws.canonicalize() {
        Ok(p) if p.is_dir() => p,
        _ => PathBuf::from("fixtures"),
    }
}

/// Parses `oci-1.1`, `docker-v2` or `all`.
pub fn parse_profiles(s: &str) -> Result<Vec<Profile>, String> {
    if s == "all" {
        Ok(Profile::ALL.to_vec())
    } else {
        Ok(vec![s.parse::<Profile>()?])
    }
}

fn setup_error(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("registry-conformance: {msg}");
    ExitCode::from(EXIT_SETUP)
}

/// Runs the suite; returns the process exit code.
pub fn run(settings: Settings, mut args: Arguments) -> ExitCode {
    if settings.url.is_some() && !settings.reference_defects.is_empty() {
        return setup_error(
            "--reference-defect configures the embedded registry; it cannot be combined with --url",
        );
    }
    if settings.url.is_some()
        && (settings.reference_no_delete
            || settings.reference_read_only
            || settings.reference_allow_sparse_manifests
            || settings.reference_auth != crate::embedded_auth::EmbeddedAuth::None
            || settings.reference_tls)
    {
        return setup_error(
            "--reference-no-delete, --reference-read-only, --reference-allow-sparse-manifests, \
             --reference-auth and --reference-tls configure the embedded registry; they cannot be \
             combined with --url (pass --without for a remote registry instead)",
        );
    }
    let mut settings = settings;
    let identities = match crate::embedded_auth::identities(settings.reference_auth) {
        Ok(i) => i,
        Err(e) => return setup_error(e),
    };
    if let Some(ids) = &identities {
        // The embedded registry's own identities stand in for credential flags.
        if settings.reader.is_none() {
            settings.reader = Some(ids.reader.clone());
        }
    }
    // The embedded registry's switched-off operations are known, so the user need not
    // repeat them: the refusal scenarios get listed and the success scenarios skip.
    if let Err(e) = capabilities::check("--without", &settings.without)
        .and_then(|()| capabilities::check("--with", &settings.with))
    {
        return setup_error(e);
    }
    let mut without = settings.without.clone();
    if settings.reference_no_delete {
        without.insert("delete".to_owned());
    }
    if settings.reference_read_only {
        without.insert("push".to_owned());
    }
    let fx = match loader::load_dir(&settings.fixtures) {
        Ok(f) => f,
        Err(e) => return setup_error(e),
    };
    for (_, e) in &fx.errors {
        eprintln!("fixture error: {e}");
    }
    let used_caps: BTreeSet<&String> = fx
        .scenarios
        .iter()
        .flat_map(|s| s.capabilities.iter().chain(&s.when_without))
        .collect();
    for w in &without {
        if !used_caps.contains(w) {
            eprintln!("note: --without {w}: no scenario needs capability {w:?}");
        }
    }
    let namespace = settings
        .namespace
        .clone()
        .unwrap_or_else(plan::random_namespace);
    if let Err(e) = plan::check_namespace(&namespace) {
        return setup_error(e);
    }
    // Without a reader identity the scenarios that need one skip, saying what to pass.
    let mut without_reasons = std::collections::BTreeMap::new();
    if settings.reader.is_none() && !without.contains("reader") {
        without.insert("reader".to_owned());
        without_reasons.insert("reader".to_owned(), NO_READER.to_owned());
    }
    // Opt-in checks not asked for are left out.
    for cap in capabilities::names(capabilities::Switch::OptIn) {
        if !settings.with.contains(cap) {
            without.insert(cap.to_owned());
        }
    }
    let plans = plan::plan_without(&fx, &settings.profiles, &namespace, &without);

    if args.list {
        let trials = plans
            .iter()
            .map(|p| Trial::test(p.name.clone(), || Ok(())))
            .collect();
        let _ = libtest_mimic::run(&args, trials);
        return ExitCode::SUCCESS;
    }

    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return setup_error(format!("cannot start the async runtime: {e}")),
    };
    // Kept alive for the run: the embedded registry's storage.
    let mut _root = None;
    let mut embedded = None;
    let (base, registry_desc) = match &settings.url {
        Some(u) => (u.clone(), u.clone()),
        None => {
            let dir = match embedded_root() {
                Ok(d) => d,
                Err(e) => return setup_error(format!("cannot create a temporary directory: {e}")),
            };
            let mut config = reference_server::Config::new(dir.path());
            config.delete_enabled = !settings.reference_no_delete;
            config.read_only = settings.reference_read_only;
            config.defects = settings.reference_defects();
            config.allow_sparse_manifests = settings.reference_allow_sparse_manifests;
            if let Some(ids) = &identities {
                config.auth = ids.config.clone();
            }
            if settings.reference_tls {
                let made = reference_server::auth::keygen(&["127.0.0.1", "localhost"])
                    .map_err(|e| e.to_string())
                    .and_then(|(key, cert)| {
                        let path = dir.path().join("embedded-ca.pem");
                        std::fs::write(&path, &cert).map_err(|e| e.to_string())?;
                        settings.ca_cert.get_or_insert(path);
                        reference_server::TlsConfig::from_pem(&cert, &key)
                            .map_err(|e| e.to_string())
                    });
                match made {
                    Ok(tls) => config.tls = Some(tls),
                    Err(e) => return setup_error(format!("cannot make a TLS certificate: {e}")),
                }
            }
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
            let reg = match rt.block_on(reference_server::start(config, addr)) {
                Ok(r) => r,
                Err(e) => {
                    return setup_error(format!(
                        "cannot start the embedded reference registry: {e}"
                    ));
                }
            };
            let url = reg.url();
            _root = Some(dir);
            embedded = Some(reg);
            let mut mode = match (settings.reference_no_delete, settings.reference_read_only) {
                (_, true) => ", read-only",
                (true, false) => ", deletes disabled",
                (false, false) => "",
            }
            .to_owned();
            if settings.reference_allow_sparse_manifests {
                mode.push_str(", sparse manifests allowed");
            }
            if identities.is_some() {
                mode.push_str(&format!(", auth {}", settings.reference_auth));
            }
            (
                url.clone(),
                format!("{url} (embedded reference registry{mode})"),
            )
        }
    };
    let registry_url = base.clone();
    let base = match Url::parse(&base) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        Ok(u) => return setup_error(format!("--url {u}: only http and https are supported")),
        Err(e) => return setup_error(format!("--url {base}: {e}")),
    };
    // Credential files are keyed by `host[:port]`, the port only when not the default.
    let host = match (base.host_str(), base.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => String::new(),
    };
    let resolved = match (&identities, &settings.credentials) {
        (Some(ids), f) if f.username.is_none() && f.token.is_none() => credentials::Resolved {
            auth: ids.writer.clone(),
            source: "the embedded registry's writer".to_owned(),
        },
        _ => match credentials::resolve(&settings.credentials, &host, &settings.credential_env) {
            Ok(r) => r,
            Err(e) => return setup_error(format!("credentials: {e}")),
        },
    };
    let reader_desc = match settings.reader.as_ref().and_then(Auth::username) {
        Some(_) if identities.is_some() => "the embedded registry's reader".to_owned(),
        Some(u) => format!("--reader-username ({u})"),
        None => "none".to_owned(),
    };
    let client = match HttpClient::new(ClientConfig {
        base,
        auth: resolved.auth.clone(),
        reader: settings.reader.clone(),
        ca_cert: settings.ca_cert.clone(),
        request_timeout: settings.request_timeout,
        insecure: settings.insecure,
        retry: RetryPolicy::default(),
    }) {
        Ok(c) => c.with_breaker(settings.max_transport_failures),
        Err(e) => return setup_error(e),
    };
    let unreachable = match rt.block_on(runner::preflight(&client)) {
        runner::Preflight::Ready => None,
        runner::Preflight::Unreachable(e) => {
            eprintln!("registry-conformance: {e}");
            Some(e)
        }
        runner::Preflight::NeedsCredentials(msg) => return setup_error(msg),
    };
    let ctx = Arc::new(RunContext {
        client,
        namespace: namespace.clone(),
        without,
        without_reasons,
        scenario_timeout: settings.scenario_timeout,
        unreachable,
        levels: fx
            .catalog
            .as_ref()
            .map(Levels::from_catalog)
            .unwrap_or_default(),
        strict: settings.strict,
    });

    // A registry across a network: many trials at once (REMOTE_TEST_THREADS), unless
    // --test-threads says otherwise.
    if args.test_threads.is_none() && settings.url.is_some() {
        args.test_threads = Some(REMOTE_TEST_THREADS);
    }
    let parallel = args.test_threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    }) > 1;
    // In parallel, the longest trials start first (libtest-mimic starts them in the
    // order given): the run then does not end waiting for a long trial started last.
    // Serially, name order. Outcomes do not depend on the order (fixtures/README.md,
    // "Blobs": every trial's content is its own).
    let mut order: Vec<&TrialPlan> = plans.iter().collect();
    if parallel {
        order.sort_by_key(|p| std::cmp::Reverse(p.round_trips()));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let trials: Vec<Trial> = order
        .into_iter()
        .map(|p| trial(p.clone(), ctx.clone(), rt.handle().clone(), tx.clone()))
        .collect();
    drop(tx);
    let names: Vec<String> = plans.iter().map(|p| p.name.clone()).collect();
    let watcher = crate::progress::Watcher::spawn(
        rx,
        crate::progress::selected(&names, &args),
        settings.display,
    );
    if settings.display.hides_libtest() {
        // libtest's lines go to a log beside the JUnit file (its --logfile), not stdout.
        let log = settings.junit.with_file_name("libtest.txt");
        if let Some(dir) = log.parent().filter(|d| !d.as_os_str().is_empty())
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            return setup_error(format!("cannot create {}: {e}", dir.display()));
        }
        args.logfile = Some(log.to_string_lossy().into_owned());
        // `--quiet` is ours here (only the summary); the log keeps one line per trial.
        args.quiet = false;
    }
    let conclusion = libtest_mimic::run(&args, trials);
    let reports = watcher.finish();

    let profile = if settings.profiles.len() == 2 {
        "all".to_owned()
    } else {
        settings.profiles[0].to_string()
    };
    let strict = if settings.strict { ", --strict" } else { "" };
    // Where the credentials came from, never what they are.
    let header = format!(
        "{registry_desc}, profile {profile}, namespace {namespace}{strict}\n\
         credentials: {}, reader: {reader_desc}",
        resolved.source
    );
    let summary = report::summary::render(&header, &reports);
    println!("\n{summary}");
    if let Err(e) = report::junit::write(&settings.junit, &reports) {
        eprintln!(
            "registry-conformance: cannot write {}: {e}",
            settings.junit.display()
        );
    }
    let summary_path = settings.junit.with_file_name("summary.txt");
    if let Err(e) = std::fs::write(&summary_path, &summary) {
        eprintln!(
            "registry-conformance: cannot write {}: {e}",
            summary_path.display()
        );
    }
    // results.json, summary.md and report.html go beside the JUnit file (report/mod.rs).
    let info = report::RunInfo {
        suite_version: env!("CARGO_PKG_VERSION").to_owned(),
        registry_note: registry_desc
            .strip_prefix(registry_url.as_str())
            .unwrap_or("")
            .trim()
            .trim_start_matches('(')
            .trim_end_matches(')')
            .to_owned(),
        registry: report::url_without_userinfo(&registry_url),
        profile: profile.clone(),
        namespace: namespace.clone(),
        date: report::rfc3339(std::time::SystemTime::now()),
        strict: settings.strict,
    };
    let report_dir = summary_path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let step_summary = std::env::var_os("GITHUB_STEP_SUMMARY")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let sources = report::Sources {
        catalog: fx.catalog.as_ref(),
        scenarios: &fx.scenarios,
    };
    if let Err(e) = report::write_extra(
        report_dir,
        &info,
        &reports,
        sources,
        step_summary.as_deref(),
    ) {
        eprintln!(
            "registry-conformance: cannot write the reports in {}: {e}",
            report_dir.display()
        );
    }
    if settings.coverage {
        match &fx.catalog {
            Some(cat) => {
                let (rows, totals) = report::coverage::matrix(cat, &fx.scenarios, &reports);
                println!("{}", report::coverage::render(&rows, &totals));
            }
            None => eprintln!(
                "--coverage: {} has no requirements.json",
                settings.fixtures.display()
            ),
        }
    }
    let exit = match &settings.baseline {
        Some(path) => match report::baseline::Baseline::load(path) {
            Ok(b) => {
                // Files that failed to load are trials too (outcome `error`).
                let known = fx
                    .scenarios
                    .iter()
                    .map(|s| format!("{}::{}", s.area, s.id))
                    .chain(fx.errors.iter().map(|(name, _)| name.clone()))
                    .collect();
                let mut diffs = report::baseline::compare(&b, &reports);
                diffs.extend(report::baseline::unknown_entries(&b, &known));
                if diffs.is_empty() {
                    println!("baseline {}: outcomes match", path.display());
                    ExitCode::SUCCESS
                } else {
                    println!(
                        "baseline {}: {} difference(s):",
                        path.display(),
                        diffs.len()
                    );
                    for d in &diffs {
                        println!("  {d}");
                    }
                    ExitCode::from(EXIT_FAILED)
                }
            }
            Err(e) => setup_error(format!("--baseline: {e}")),
        },
        // Only fail and error make the exit code non-zero (warnings pass libtest too).
        None if conclusion.has_failed() || reports.iter().any(|r| r.outcome.is_failure()) => {
            ExitCode::from(EXIT_FAILED)
        }
        None => ExitCode::SUCCESS,
    };
    if let Some(reg) = embedded {
        rt.block_on(reg.shutdown());
    }
    exit
}

/// A libtest trial for a plan: runs the scenario on the shared runtime and maps the
/// outcome (skips show as `ignored`, with the reason).
fn trial(
    plan: TrialPlan,
    ctx: Arc<RunContext>,
    handle: tokio::runtime::Handle,
    tx: events::EventSender,
) -> Trial {
    let name = plan.name.clone();
    Trial::ignorable_test(name, move || {
        let report = handle.block_on(runner::run_trial(&ctx, &plan, Some(&tx)));
        match report.outcome {
            // A warning is a passing test (the summary and reports list it apart).
            Outcome::Pass | Outcome::Warn { .. } => Ok(Completion::Completed),
            Outcome::Skip { reason } => Ok(Completion::ignored_with(reason)),
            Outcome::Fail { details, .. } => Err(Failed::from(details)),
            Outcome::Error {
                summary, details, ..
            } => Err(Failed::from(format!("error: {summary}\n{details}"))),
        }
    })
}

/// The embedded registry's temporary root: under `$TMPDIR` when it is set, else in memory
/// (`/dev/shm`) where there is one, else the system's temporary directory.
///
/// The root lives for one run and is deleted at its end, so nothing is gained by putting
/// it on a disk, and a disk costs: the run makes about 1 500 fsynced commits, and removing
/// the tree at the end took 2-5 s on an ext4 with `discard` (the whole run is about 1 s in
/// memory). The registry's code paths are the same on either; its durability is what the
/// reference server's crash tests check, on a real disk.
fn embedded_root() -> std::io::Result<tempfile::TempDir> {
    let shm = std::path::Path::new("/dev/shm");
    if std::env::var_os("TMPDIR").is_none() && shm.is_dir() {
        let made = tempfile::Builder::new()
            .prefix("registry-conformance-")
            .tempdir_in(shm);
        if made.is_ok() {
            return made;
        }
    }
    tempfile::Builder::new()
        .prefix("registry-conformance-")
        .tempdir()
}

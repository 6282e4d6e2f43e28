//! `registry-conformance`: the thin CLI over the [`suite`] engine.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};
use suite::auth::Auth;
use suite::credentials::{Env, Flags};
use suite::harness::{self, Settings};
use suite::progress::Display;

const HELP_TEMPLATE: &str = "\
{about}

Usage: {usage}

{all-args}{after-help}";

/// Conformance runner for OCI Distribution 1.1 / Docker Registry HTTP API V2 registries.
///
/// Runs the spec-derived scenarios in fixtures/ against a registry (or, without --url, an
/// embedded reference registry) and writes JUnit XML and a summary.
#[derive(Debug, Parser)]
#[command(
    name = "registry-conformance",
    version,
    help_template = HELP_TEMPLATE,
    override_usage = "registry-conformance [OPTIONS] [FILTER]",
    after_help = "Every option also reads the environment variable shown, so the runner drops into CI \
unchanged. Trials run in parallel (--test-threads: 32 at once against --url); filters, --exact, --skip and --list work as with cargo test.\n\n\
`registry-conformance explain ID|SCENARIO` prints a requirement (e.g. PUSH-08) or a scenario \
(e.g. pull::pull.manifest-by-tag) in words, with the scenarios citing it or its steps.\n\n\
`registry-conformance bench [--url URL] [--compare-url URL2] ...` measures a registry's throughput \
and latency (see `registry-conformance bench --help`)."
)]
struct Cli {
    /// TOML file of flag values (keys as the flags, `_` for `-`; secrets only by variable
    /// name: password_env = "VAR") [default: ./registry-conformance.toml if present].
    /// Flags and REGISTRY_* variables override it, then the official suite's OCI_*
    /// variables, then the file.
    #[arg(long, value_name = "FILE", env = "REGISTRY_CONFIG")]
    #[allow(dead_code)] // read before parsing (suite::config_file::locate)
    config: Option<PathBuf>,
    /// Registry base URL; without it the reference registry is started in-process.
    #[arg(long, env = "REGISTRY_URL")]
    url: Option<String>,
    /// Repository prefix for this run [default: conformance-<random>].
    #[arg(long, env = "REGISTRY_NAMESPACE")]
    namespace: Option<String>,
    /// Which spec text to judge by where OCI and Docker differ.
    #[arg(long, env = "REGISTRY_PROFILE", default_value = "all", value_parser = ["oci-1.1", "docker-v2", "all"])]
    profile: String,
    /// JUnit XML output; summary.txt, summary.md, results.json and report.html are written
    /// next to it.
    #[arg(long, env = "REGISTRY_JUNIT", default_value = "reports/junit.xml")]
    junit: PathBuf,
    /// Folder for every report (the JUnit file keeps the name --junit gives it).
    #[arg(long, value_name = "DIR", env = "REGISTRY_REPORT_DIR")]
    report_dir: Option<PathBuf>,
    /// User name of the run's (writer's) identity: Basic, and on token requests. Without
    /// credential flags, REGISTRY_AUTH_FILE, the docker config and
    /// $XDG_RUNTIME_DIR/containers/auth.json are read, in that order (suite/AUTH.md).
    #[arg(long, env = "REGISTRY_USERNAME", requires = "password")]
    username: Option<String>,
    /// Password of the writer identity (never printed).
    #[arg(long, env = "REGISTRY_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// A bearer token sent as is, without the token flow (never printed).
    #[arg(
        long,
        env = "REGISTRY_TOKEN",
        hide_env_values = true,
        conflicts_with = "username"
    )]
    token: Option<String>,
    /// User name of a reader identity (may pull, not push or delete, in the namespace);
    /// without it the scenarios needing one skip.
    #[arg(long, env = "REGISTRY_READER_USERNAME", requires = "reader_password")]
    reader_username: Option<String>,
    /// Password of the reader identity (never printed).
    #[arg(long, env = "REGISTRY_READER_PASSWORD", hide_env_values = true)]
    reader_password: Option<String>,
    /// Accept invalid TLS certificates.
    #[arg(long, env = "REGISTRY_INSECURE")]
    insecure: bool,
    /// PEM file of extra CA certificates (may hold several) trusted on top of the system
    /// roots, for a registry or token server with a private CA.
    #[arg(long, value_name = "FILE", env = "REGISTRY_CA_CERT")]
    ca_cert: Option<PathBuf>,
    /// Scenario directory [default: the workspace's fixtures/, else ./fixtures].
    #[arg(long, env = "REGISTRY_FIXTURES")]
    fixtures: Option<PathBuf>,
    /// A capability the registry lacks (repeatable; env: comma-separated), e.g. delete.
    #[arg(
        long = "without",
        value_name = "CAP",
        env = "REGISTRY_WITHOUT",
        value_delimiter = ','
    )]
    without: Vec<String>,
    /// An opt-in check to run (repeatable; env: comma-separated): `slow` (scenarios that
    /// wait out a token's lifetime, about two minutes against the embedded registry).
    #[arg(
        long = "with",
        value_name = "CAP",
        env = "REGISTRY_WITH",
        value_delimiter = ','
    )]
    with: Vec<String>,
    /// Per-request timeout in seconds.
    #[arg(
        long,
        value_name = "SECS",
        env = "REGISTRY_REQUEST_TIMEOUT",
        default_value_t = 30
    )]
    request_timeout: u64,
    /// Per-scenario timeout in seconds.
    #[arg(
        long,
        value_name = "SECS",
        env = "REGISTRY_SCENARIO_TIMEOUT",
        default_value_t = 300
    )]
    scenario_timeout: u64,
    /// Requests in a row without a complete answer (timeout, reset, garbage, a body broken
    /// off, a redirect loop) after which the registry is taken to have stopped answering:
    /// the remaining scenarios are marked error without sending anything. 0: never give up.
    #[arg(
        long,
        value_name = "N",
        env = "REGISTRY_MAX_TRANSPORT_FAILURES",
        default_value_t = suite::breaker::DEFAULT_LIMIT
    )]
    max_transport_failures: usize,
    /// Print the requirement coverage matrix after the run.
    #[arg(long, env = "REGISTRY_COVERAGE")]
    coverage: bool,
    /// Expected non-pass outcomes (JSON); exit 0 iff the run matches it exactly.
    #[arg(long, value_name = "FILE", env = "REGISTRY_BASELINE")]
    baseline: Option<PathBuf>,
    /// Treat warnings (a violated SHOULD) as failures.
    #[arg(long, env = "REGISTRY_STRICT")]
    strict: bool,
    /// Embedded registry only (no --url): accept manifests whose blobs or child manifests
    /// are absent (the policy of mirrors that copy only some platforms).
    #[arg(long)]
    reference_allow_sparse_manifests: bool,
    /// Embedded registry only (no --url): refuse deletes; implies --without delete, so the
    /// delete-disabled scenarios run.
    #[arg(long)]
    reference_no_delete: bool,
    /// Embedded registry only (no --url): refuse every write; implies --without push. Pair
    /// it with the filter read-only: scenarios that push fail on a read-only registry.
    #[arg(long)]
    reference_read_only: bool,
    /// Embedded registry only (no --url): require authentication, `basic` (HTTP Basic) or
    /// `token` (the Docker token flow with the registry's own /token). The run makes a
    /// writer and a reader identity and uses both.
    #[arg(long, value_name = "MODE", default_value = "none", value_parser = ["none", "basic", "token"])]
    reference_auth: String,
    /// Embedded registry only (no --url): serve HTTPS (HTTP/2 and HTTP/1.1) with a
    /// certificate made for the run and trusted as with --ca-cert.
    #[arg(long)]
    reference_tls: bool,
    /// Embedded registry only (no --url): switch on a deliberate defect of the reference
    /// registry (repeatable). Hidden: it exists for the mutation test (tests/mutation.rs).
    #[arg(long = "reference-defect", value_name = "NAME", hide = true,
          value_parser = clap::value_parser!(reference_server::Defect))]
    reference_defects: Vec<reference_server::Defect>,
    #[command(flatten)]
    libtest: libtest_mimic::Arguments,
}

/// `registry-conformance explain [--fixtures DIR] ID|SCENARIO` (see [`suite::explain`]).
#[derive(Debug, Parser)]
#[command(name = "registry-conformance explain")]
struct ExplainCli {
    /// Scenario directory [default: the workspace's fixtures/, else ./fixtures].
    #[arg(long, env = "REGISTRY_FIXTURES")]
    fixtures: Option<PathBuf>,
    /// A requirement ID (PUSH-08) or a scenario name as --list shows it.
    name: String,
}

/// `explain` is recognised as the first argument only, before clap sees the run's flags,
/// so `registry-conformance [OPTIONS] [FILTER]` keeps working unchanged (a filter named
/// `explain` can still be given after an option, or with `--exact`).
fn explain_command() -> Option<ExitCode> {
    let mut args = std::env::args_os();
    let bin = args.next()?;
    if args.next()? != "explain" {
        return None;
    }
    let cli = ExplainCli::parse_from(std::iter::once(bin).chain(args));
    let dir = cli.fixtures.unwrap_or_else(harness::default_fixtures);
    Some(match suite::explain::explain_in(&dir, &cli.name) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("registry-conformance explain: {e}");
            ExitCode::from(harness::EXIT_SETUP)
        }
    })
}

/// `registry-conformance bench [OPTIONS]` (see [`suite::bench`]), recognised as the first
/// argument only, as `explain` is.
fn bench_command() -> Option<ExitCode> {
    let mut args = std::env::args_os();
    let bin = args.next()?;
    if args.next()? != "bench" {
        return None;
    }
    Some(ExitCode::from(suite::bench::cli::main(
        std::iter::once(bin).chain(args),
    )))
}

/// Parses the command line over the layered defaults: flags and `REGISTRY_*` variables,
/// then `OCI_*` variables ([`suite::oci_env`]), then the config file
/// ([`suite::config_file`]), then the built-in defaults. `None`: the file was refused
/// (the message is printed).
fn parse_cli() -> Option<(Cli, Display)> {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let format = take_display_format(&mut args);
    let env = |k: &str| std::env::var(k).ok();
    let mut defaults = suite::config_file::Defaults::default();
    if let Some(path) = suite::config_file::locate(&args, &env) {
        match suite::config_file::load(&path, &env) {
            Ok(d) => defaults = d,
            Err(e) => {
                eprintln!("registry-conformance: config: {e}");
                return None;
            }
        }
    }
    defaults.overlay(suite::oci_env::defaults(&env));
    const FORMAT_HELP: &str = "Console output: progress (one updating line on stderr: done/total, \
        failures, current area; the default on a terminal), libtest (one line per test; the \
        default otherwise), or libtest's own pretty, terse or json";
    const QUIET_HELP: &str =
        "Print only the final summary (libtest's lines go to libtest.txt beside the JUnit file)";
    let cmd = suite::config_file::apply(Cli::command(), &defaults).mut_arg("format", |a| {
        a.help(FORMAT_HELP)
            .long_help(FORMAT_HELP)
            .value_name("progress|libtest|pretty|terse|json")
            .hide_possible_values(true)
    });
    const THREADS_HELP: &str = "How many scenarios run at once [default: 32 with --url (the \
        work waits on the network, not the CPU); the CPU count for the embedded registry]; \
        1 runs them one after the other in name order";
    let matches = cmd
        .mut_arg("quiet", |a| a.help(QUIET_HELP).long_help(QUIET_HELP))
        .mut_arg("test_threads", |a| {
            a.help(THREADS_HELP)
                .long_help(THREADS_HELP)
                .env("REGISTRY_TEST_THREADS")
                .value_name("N")
        })
        .get_matches_from(args);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let display = if cli.libtest.quiet {
        Display::Quiet
    } else if let Some(d) = format {
        d
    } else if cli.libtest.format.is_some() {
        Display::Libtest
    } else {
        Display::default_for_console()
    };
    Some((cli, display))
}

/// `--format progress` and `--format libtest` are ours, not libtest-mimic's: taken out of
/// `args` (`libtest` becomes libtest's `pretty`) before clap checks the value.
fn take_display_format(args: &mut Vec<std::ffi::OsString>) -> Option<Display> {
    let mut i = 1;
    while i < args.len() {
        let a = args[i].to_string_lossy().into_owned();
        if a == "--" {
            break;
        }
        let (value, width) = match a.strip_prefix("--format=") {
            Some(v) => (Some(v.to_owned()), 1),
            None if a == "--format" => {
                (args.get(i + 1).map(|v| v.to_string_lossy().into_owned()), 2)
            }
            None => (None, 0),
        };
        match value.as_deref() {
            Some("progress") => {
                args.drain(i..i + width);
                return Some(Display::Progress);
            }
            Some("libtest") => {
                args.drain(i..i + width);
                args.insert(i, "--format=pretty".into());
                return Some(Display::Libtest);
            }
            _ => i += width.max(1),
        }
    }
    None
}

/// `OCI_TEST_PULL=1` etc.: only the areas of the official suite's workflows that are set
/// (as `--skip <area>::` for the others).
fn select_oci_workflows(cli: &mut Cli) {
    let env = |k: &str| std::env::var(k).ok();
    if let Some(selected) = suite::oci_env::selected_areas(&env) {
        let fixtures = cli
            .fixtures
            .clone()
            .unwrap_or_else(harness::default_fixtures);
        let all = suite::oci_env::areas(&fixtures);
        eprintln!(
            "note: OCI_TEST_* variables set: running the areas {}",
            selected.join(", ")
        );
        cli.libtest
            .skip
            .extend(suite::oci_env::skips(&all, &selected));
    }
}

fn main() -> ExitCode {
    if let Some(code) = explain_command() {
        return code;
    }
    if let Some(code) = bench_command() {
        return code;
    }
    let Some((mut cli, display)) = parse_cli() else {
        return ExitCode::from(harness::EXIT_SETUP);
    };
    select_oci_workflows(&mut cli);
    let profiles = match harness::parse_profiles(&cli.profile) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("registry-conformance: {e}");
            return ExitCode::from(harness::EXIT_SETUP);
        }
    };
    let settings = Settings {
        reference_defects: cli.reference_defects,
        url: cli.url,
        namespace: cli.namespace,
        profiles,
        junit: match &cli.report_dir {
            Some(dir) => dir.join(cli.junit.file_name().unwrap_or("junit.xml".as_ref())),
            None => cli.junit,
        },
        credentials: Flags {
            username: cli.username,
            password: cli.password,
            token: cli.token,
        },
        credential_env: Env::from_process(),
        reader: cli
            .reader_username
            .map(|u| Auth::from_parts(Some(u), cli.reader_password)),
        insecure: cli.insecure,
        ca_cert: cli.ca_cert,
        fixtures: cli.fixtures.unwrap_or_else(harness::default_fixtures),
        with: cli
            .with
            .iter()
            .map(|w| w.trim().to_owned())
            .filter(|w| !w.is_empty())
            .collect(),
        without: cli
            .without
            .into_iter()
            .map(|w| w.trim().to_owned())
            .filter(|w| !w.is_empty())
            .collect(),
        request_timeout: Duration::from_secs(cli.request_timeout.max(1)),
        scenario_timeout: Duration::from_secs(cli.scenario_timeout.max(1)),
        max_transport_failures: cli.max_transport_failures,
        coverage: cli.coverage,
        baseline: cli.baseline,
        reference_no_delete: cli.reference_no_delete,
        reference_read_only: cli.reference_read_only,
        reference_allow_sparse_manifests: cli.reference_allow_sparse_manifests,
        reference_auth: cli.reference_auth.parse().unwrap_or_default(),
        reference_tls: cli.reference_tls,
        strict: cli.strict,
        display,
    };
    harness::run(settings, cli.libtest)
}

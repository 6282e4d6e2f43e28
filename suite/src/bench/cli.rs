//! The command line of `registry-conformance bench` (recognised by `main.rs` as the first
//! argument, like `explain`, so the conformance run's own flags are untouched).

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use super::{CredentialFlags, Options, Workload, parse_size};

/// Benchmarks a registry: blob push by each upload method, blob pull, small-blob push
/// rate, manifest GET/HEAD and tag-list paging; with --compare-url, two registries side by
/// side. Without --url, the embedded reference registry.
#[derive(Debug, Parser)]
#[command(
    name = "registry-conformance bench",
    after_help = "Workloads (--workloads takes names or the groups push, pull, small, manifest, tags):\n  \
push-monolithic, push-single-post, push-streamed, push-chunked, pull, pull-parallel (per --sizes, MiB/s);\n  \
small-push-seq, small-push-concurrent, manifest-get, manifest-head, tags-list (for --duration, req/s and latency).\n\n\
What each repetition pushed is deleted once it is over (untimed), the rest at the end; a failed \
push cancels its upload session. At most --concurrency requests are in flight against a registry \
at any time.\n\n\
Exit codes: 0 done; 1 a workload failed; 2 setup error; 3 a registry failed the preflight (push/pull basics).\n\
The JSON schema is described in the README (Benchmarks) and suite/src/bench/output.rs."
)]
pub struct BenchCli {
    /// Registry A's base URL; without it the reference registry is started in-process.
    #[arg(long, env = "REGISTRY_URL")]
    url: Option<String>,
    /// Registry B: the same work alternately on both, and A/B ratios.
    #[arg(long, value_name = "URL2", env = "REGISTRY_COMPARE_URL")]
    compare_url: Option<String>,
    /// Blob sizes for the push and pull workloads (comma-separated: 4KiB, 1MiB, 1GiB...).
    #[arg(long, default_value = "1MiB,64MiB", value_delimiter = ',', value_parser = parse_size)]
    sizes: Vec<u64>,
    /// Requests in flight for the concurrent workloads; also the most the bench ever has
    /// in flight against one registry (clean-up and cancelled sessions included).
    #[arg(long, value_name = "N", default_value_t = 4)]
    concurrency: usize,
    /// Seconds each request-rate workload runs, per repetition and registry.
    #[arg(long, value_name = "S", default_value_t = 3.0)]
    duration: f64,
    /// Repetitions of every workload on every registry (figures are medians).
    #[arg(long, value_name = "R", default_value_t = 3)]
    repeat: usize,
    /// Seed of the blob contents.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Only these workloads (comma-separated names or groups) [default: all].
    #[arg(long, value_name = "LIST")]
    workloads: Option<String>,
    /// PATCH size of push-chunked (raised to the registry's OCI-Chunk-Min-Length).
    #[arg(long, value_name = "SIZE", default_value = "8MiB", value_parser = parse_size)]
    chunk_size: u64,
    /// Write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Repository prefix [default: bench-<random>].
    #[arg(long)]
    namespace: Option<String>,
    /// Skip the client-ceiling measurement (null sink).
    #[arg(long)]
    no_ceiling: bool,
    /// Connect timeout, and how long a transfer may stall, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    request_timeout: u64,
    /// Registry A's user name (without credential flags, REGISTRY_AUTH_FILE, the docker
    /// config and $XDG_RUNTIME_DIR/containers/auth.json are read, as for a run).
    #[arg(long, env = "REGISTRY_USERNAME", requires = "password")]
    username: Option<String>,
    /// Registry A's password (never printed).
    #[arg(long, env = "REGISTRY_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// A bearer token for registry A, sent as is (never printed).
    #[arg(
        long,
        env = "REGISTRY_TOKEN",
        hide_env_values = true,
        conflicts_with = "username"
    )]
    token: Option<String>,
    /// Registry B's user name (else B's credentials come from the credential files).
    #[arg(long, env = "REGISTRY_COMPARE_USERNAME", requires = "compare_password")]
    compare_username: Option<String>,
    /// Registry B's password (never printed).
    #[arg(long, env = "REGISTRY_COMPARE_PASSWORD", hide_env_values = true)]
    compare_password: Option<String>,
    /// A bearer token for registry B (never printed).
    #[arg(
        long,
        env = "REGISTRY_COMPARE_TOKEN",
        hide_env_values = true,
        conflicts_with = "compare_username"
    )]
    compare_token: Option<String>,
    /// Accept invalid TLS certificates.
    #[arg(long, env = "REGISTRY_INSECURE")]
    insecure: bool,
    /// PEM file of extra CA certificates trusted on top of the system roots.
    #[arg(long, value_name = "FILE", env = "REGISTRY_CA_CERT")]
    ca_cert: Option<PathBuf>,
    /// Progress display: a bar (default on a terminal) or plain lines.
    #[arg(long, value_parser = ["auto", "bar", "plain"], default_value = "auto")]
    progress: String,
}

impl BenchCli {
    /// The engine's options.
    pub fn options(self) -> Result<Options, String> {
        if !(self.duration > 0.0 && self.duration.is_finite()) {
            return Err("--duration must be a positive number of seconds".to_owned());
        }
        if self.concurrency == 0 {
            return Err("--concurrency must be at least 1".to_owned());
        }
        let mut sizes = self.sizes.clone();
        sizes.dedup();
        Ok(Options {
            url: self.url,
            compare_url: self.compare_url,
            credentials: CredentialFlags {
                username: self.username,
                password: self.password,
                token: self.token,
            },
            compare_credentials: CredentialFlags {
                username: self.compare_username,
                password: self.compare_password,
                token: self.compare_token,
            },
            credential_env: crate::credentials::Env::from_process(),
            ca_cert: self.ca_cert,
            insecure: self.insecure,
            sizes,
            concurrency: self.concurrency,
            duration: Duration::from_secs_f64(self.duration),
            repeat: self.repeat.max(1),
            seed: self.seed,
            workloads: match &self.workloads {
                Some(list) => Workload::parse_list(list)?,
                None => Workload::ALL.to_vec(),
            },
            chunk_size: self.chunk_size,
            request_timeout: Duration::from_secs(self.request_timeout.max(1)),
            namespace: self.namespace,
            json: self.json,
            no_ceiling: self.no_ceiling,
            progress: match self.progress.as_str() {
                "bar" => true,
                "plain" => false,
                _ => std::io::stderr().is_terminal() && std::io::stdout().is_terminal(),
            },
        })
    }
}

/// `registry-conformance bench ...`: `args` from the binary name on, without `bench`.
/// Returns the exit code.
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>) -> u8 {
    let cli = BenchCli::parse_from(args);
    match cli.options() {
        Ok(o) => super::run(o),
        Err(e) => {
            eprintln!("registry-conformance bench: {e}");
            super::EXIT_SETUP
        }
    }
}

//! `reference-registry`: run the reference registry (`serve`), collect garbage (`gc`), check
//! and repair the storage (`fsck`), list the deliberate defects `serve --defect` can switch on (`defects`), or write a key and
//! certificate for tokens and TLS (`keygen`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgAction, Parser, Subcommand};
use reference_server::fsck::{self, FsckOptions};
use reference_server::gc::{self, GcOptions};
use reference_server::{AuthConfig, Config, Defect, Policy, TlsConfig, TokenConfig, Users};

#[derive(Parser)]
#[command(
    name = "reference-registry",
    version,
    about = "OCI Distribution 1.1 + Docker Registry V2 reference registry"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the registry API.
    Serve(Box<ServeArgs>),
    /// Remove blobs no manifest references and stale upload sessions (registry stopped).
    Gc(GcArgs),
    /// Check every invariant of the storage layout; exit status 1 when one is broken.
    Fsck(FsckArgs),
    /// List the deliberate spec violations `serve --defect` can switch on.
    Defects,
    /// Write a P-256 key (PKCS#8 PEM) and a self-signed certificate, for signing tokens
    /// (`--token-key/--token-cert`) and for TLS (`--tls-key/--tls-cert`).
    Keygen(KeygenArgs),
}

#[derive(clap::Args)]
struct KeygenArgs {
    /// Where to write the private key.
    #[arg(long)]
    key: PathBuf,
    /// Where to write the certificate.
    #[arg(long)]
    cert: PathBuf,
    /// Subject alternative name (repeatable; IP addresses become IP SANs). Default:
    /// localhost and 127.0.0.1.
    #[arg(long = "name", value_name = "NAME")]
    names: Vec<String>,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
}

/// `--auth`: how callers authenticate.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum AuthArg {
    None,
    Basic,
    Token,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "REGISTRY_ADDR", default_value = "127.0.0.1:5000")]
    addr: SocketAddr,
    /// Storage root directory (created if missing).
    #[arg(long, env = "REGISTRY_ROOT", default_value = "./registry-data")]
    root: PathBuf,
    /// Keep everything in an S3 bucket instead of under --root: `s3://BUCKET` or
    /// `s3://BUCKET/PREFIX`. Credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and
    /// the other AWS_* variables), never from flags.
    #[arg(long, env = "REGISTRY_STORAGE", value_name = "URL")]
    storage: Option<String>,
    /// S3 endpoint of a non-AWS service, such as http://127.0.0.1:3900 (or AWS_ENDPOINT).
    #[arg(long, requires = "storage", value_name = "URL")]
    s3_endpoint: Option<String>,
    /// S3 region (or AWS_REGION).
    #[arg(long, requires = "storage")]
    s3_region: Option<String>,
    /// Allow plain HTTP to the S3 endpoint (a local service).
    #[arg(long, requires = "storage")]
    s3_allow_http: bool,
    /// Allow manifest, tag and blob deletes (`--delete-enabled=false` to refuse them).
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", value_name = "BOOL")]
    delete_enabled: bool,
    /// Same as `--delete-enabled=false`.
    #[arg(long, conflicts_with = "delete_enabled")]
    no_delete: bool,
    /// Refuse every write with 405 UNSUPPORTED.
    #[arg(long)]
    read_only: bool,
    /// Accept image manifests and indexes whose config, layers or child manifests are not
    /// in the repository (sparse images); by default they get 400 MANIFEST_BLOB_UNKNOWN.
    #[arg(long)]
    allow_sparse_manifests: bool,
    /// Largest manifest accepted, in bytes.
    #[arg(long, default_value_t = 4 * 1024 * 1024)]
    max_manifest_size: usize,
    /// Seconds to let in-flight requests finish on SIGINT/SIGTERM.
    #[arg(long, default_value_t = 30)]
    shutdown_grace: u64,
    /// Switch on a deliberate spec violation (repeatable; see `reference-registry defects`).
    /// For testing conformance suites only.
    #[arg(long = "defect", value_name = "NAME", value_parser = clap::value_parser!(Defect))]
    defects: Vec<Defect>,
    /// Authentication: none, basic (htpasswd users) or token (Bearer JWTs from this
    /// registry's own /token endpoint).
    #[arg(long, value_enum, default_value = "none")]
    auth: AuthArg,
    /// htpasswd file with bcrypt entries (`htpasswd -B`); required for basic, optional for
    /// token (without it only anonymous tokens exist).
    #[arg(long, value_name = "FILE")]
    users: Option<PathBuf>,
    /// Access policy (JSON). Without it every authenticated user may do everything and
    /// anonymous callers nothing.
    #[arg(long, value_name = "FILE")]
    access: Option<PathBuf>,
    /// Token signing key: PKCS#8 PEM, P-256 (see `keygen`). Required for --auth token.
    #[arg(long, value_name = "FILE")]
    token_key: Option<PathBuf>,
    /// Certificate of the token key (PEM), sent in each token's x5c header; give the same
    /// file to distribution as auth.token.rootcertbundle. Required for --auth token.
    #[arg(long, value_name = "FILE")]
    token_cert: Option<PathBuf>,
    /// The token audience (aud) and the challenge's service.
    #[arg(long, default_value = "reference-registry")]
    token_service: String,
    /// The token issuer (iss).
    #[arg(long, default_value = "reference-registry")]
    token_issuer: String,
    /// Token lifetime in seconds (at least 60).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(60..))]
    token_ttl: u64,
    /// External base URL when behind a proxy (`https://registry.example`); the token realm
    /// becomes <URL>/token instead of being derived from the request's Host.
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// Upload sessions idle longer than this are purged in the background: seconds, or a
    /// number with s/m/h/d.
    #[arg(long, default_value = "24h", value_parser = parse_age)]
    upload_ttl: Duration,
    /// Collect garbage inside the server at this interval (e.g. 1h), safely while pushes
    /// run; off by default.
    #[arg(long, value_parser = parse_age, value_name = "AGE")]
    gc_interval: Option<Duration>,
    /// Unreferenced blobs written or linked more recently than this survive a collection,
    /// so a push between its layers and its manifest keeps its layers.
    #[arg(long, default_value = "1h", value_parser = parse_age)]
    gc_grace: Duration,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key of --tls-cert (PEM); needs --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Largest request head (request line and headers), in bytes, at least 8192; a bigger one
    /// gets 431 Request Header Fields Too Large.
    #[arg(long, default_value_t = 64 * 1024, value_name = "BYTES",
          value_parser = clap::value_parser!(u64).range(8192..=1 << 30))]
    max_header_bytes: u64,
    /// Time a client has to send a complete HTTP/1 request head (also how long an idle
    /// keep-alive connection stays open): seconds, or a number with s/m/h; 0 turns it off.
    #[arg(long, default_value = "30s", value_parser = parse_age, value_name = "DURATION")]
    header_timeout: Duration,
    /// A connection that moves no byte for this long (a request body that stops arriving,
    /// a client that stops reading, an idle connection) is closed; a stalled body gets 408
    /// first. Seconds, or a number with s/m/h; 0 turns it off.
    #[arg(long, default_value = "60s", value_parser = parse_age, value_name = "DURATION")]
    idle_timeout: Duration,
    /// Most connections served at once (more wait until one closes); 0 = unlimited.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    max_connections: usize,
    /// Most upload sessions open at once; past it, POST answers 429 TOOMANYREQUESTS with
    /// Retry-After. 0 = unlimited.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    max_upload_sessions: usize,
}

#[derive(clap::Args)]
struct GcArgs {
    /// Storage root directory.
    #[arg(long, env = "REGISTRY_ROOT", default_value = "./registry-data")]
    root: PathBuf,
    /// Only list what would be removed.
    #[arg(long)]
    dry_run: bool,
    /// Upload sessions older than this are removed: seconds, or a number with s/m/h/d.
    #[arg(long, alias = "upload-ttl", default_value = "24h", value_parser = parse_age)]
    upload_max_age: Duration,
    /// Keep unreferenced blobs written or linked more recently than this.
    #[arg(long, default_value = "0", value_parser = parse_age)]
    blob_grace: Duration,
}

#[derive(clap::Args)]
struct FsckArgs {
    /// Storage root directory.
    #[arg(long, env = "REGISTRY_ROOT", default_value = "./registry-data")]
    root: PathBuf,
    /// Remove broken sessions, temporary files and pointers to nothing (never content).
    /// Needs the registry stopped.
    #[arg(long)]
    repair: bool,
    /// The registry runs with --allow-sparse-manifests: missing references are fine.
    #[arg(long)]
    allow_sparse_manifests: bool,
}

fn parse_age(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("not a duration: {s:?} (try 3600, 30m, 24h, 7d)"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("unknown unit {unit:?} in {s:?} (use s, m, h or d)")),
    };
    Ok(Duration::from_secs(n * mult))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Gc(args) => run_gc(args).await,
        Command::Fsck(args) => return run_fsck(args).await,
        Command::Defects => {
            print_defects();
            Ok(())
        }
        Command::Keygen(args) => run_keygen(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("reference-registry: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Builds the auth settings from the flags; every file problem is reported with the file
/// and place (line, JSON path), never with secret content.
fn auth_config(args: &ServeArgs) -> Result<AuthConfig, String> {
    let users = match &args.users {
        Some(p) => Users::load(p).map_err(|e| e.to_string())?,
        None => Users::default(),
    };
    let policy = match &args.access {
        Some(p) => Some(Policy::load(p).map_err(|e| e.to_string())?),
        None => None,
    };
    match args.auth {
        AuthArg::None => {
            if args.users.is_some() || args.access.is_some() {
                tracing::warn!("--users/--access have no effect with --auth none");
            }
            Ok(AuthConfig::none())
        }
        AuthArg::Basic => {
            if args.users.is_none() {
                return Err("--auth basic needs --users FILE (htpasswd, bcrypt)".into());
            }
            Ok(AuthConfig::basic(users, policy))
        }
        AuthArg::Token => {
            let (Some(key), Some(cert)) = (&args.token_key, &args.token_cert) else {
                return Err(
                    "--auth token needs --token-key FILE and --token-cert FILE (see `reference-registry keygen`)"
                        .into(),
                );
            };
            let mut tc = TokenConfig::from_files(key, cert).map_err(|e| e.to_string())?;
            tc.service = args.token_service.clone();
            tc.issuer = args.token_issuer.clone();
            tc.ttl = Duration::from_secs(args.token_ttl);
            tc.public_url = args.public_url.clone();
            Ok(AuthConfig::token(tc, users, policy))
        }
    }
}

fn run_keygen(args: KeygenArgs) -> std::io::Result<()> {
    use std::io::Write;
    let names: Vec<&str> = args.names.iter().map(String::as_str).collect();
    let (key, cert) = reference_server::auth::keygen(&names).map_err(std::io::Error::other)?;
    let write = |path: &PathBuf, text: &str, private: bool| -> std::io::Result<()> {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true);
        if args.force {
            opts.create(true).truncate(true);
        } else {
            opts.create_new(true);
        }
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        let mut f = opts.open(path).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::AlreadyExists {
                " (use --force to overwrite)"
            } else {
                ""
            };
            std::io::Error::new(e.kind(), format!("{}: {e}{hint}", path.display()))
        })?;
        f.write_all(text.as_bytes())
    };
    if !args.force {
        for p in [&args.key, &args.cert] {
            if p.exists() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    format!("{} exists (use --force to overwrite)", p.display()),
                ));
            }
        }
    }
    write(&args.key, &key, true)?;
    write(&args.cert, &cert, false)?;
    println!(
        "wrote key {} and certificate {}",
        args.key.display(),
        args.cert.display()
    );
    Ok(())
}

async fn serve(args: ServeArgs) -> std::io::Result<()> {
    let auth = auth_config(&args).map_err(std::io::Error::other)?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => Some(TlsConfig::from_files(c, k).map_err(std::io::Error::other)?),
        _ => None,
    };
    let mut config = Config::new(&args.root);
    if let Some(url) = &args.storage {
        let mut s3 = reference_server::storage::s3::S3Config::new(url);
        s3.endpoint = args.s3_endpoint.clone();
        s3.region = args.s3_region.clone();
        s3.allow_http = args.s3_allow_http;
        config.s3 = Some(s3);
    }
    let place = match &args.storage {
        Some(url) => format!("storage {url}"),
        None => format!("root {}", args.root.display()),
    };
    config.auth = auth;
    config.tls = tls;
    config.delete_enabled = args.delete_enabled && !args.no_delete;
    config.read_only = args.read_only;
    config.allow_sparse_manifests = args.allow_sparse_manifests;
    config.max_manifest_size = args.max_manifest_size;
    config.shutdown_grace = Duration::from_secs(args.shutdown_grace);
    config.defects = args.defects.iter().copied().collect();
    config.upload_ttl = args.upload_ttl;
    config.gc_interval = args.gc_interval;
    config.gc_grace = args.gc_grace;
    config.max_header_bytes = usize::try_from(args.max_header_bytes).unwrap_or(usize::MAX);
    config.header_timeout = args.header_timeout;
    config.idle_timeout = args.idle_timeout;
    config.max_connections = args.max_connections;
    config.max_upload_sessions = args.max_upload_sessions;
    for d in &args.defects {
        tracing::warn!(defect = %d, requirements = ?d.requirements(), "defect switched on: {}", d.describe());
    }
    let registry = reference_server::start(config, args.addr)
        .await
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot serve on {} with {place}: {e}", args.addr),
            )
        })?;
    eprintln!(
        "reference-registry listening on {} ({place}, auth {})",
        registry.url(),
        match args.auth {
            AuthArg::None => "none",
            AuthArg::Basic => "basic",
            AuthArg::Token => "token",
        }
    );
    shutdown_signal().await;
    tracing::info!("shutting down");
    registry.shutdown().await;
    Ok(())
}

/// One line per defect: name, the requirement IDs it breaks, what it does. Write errors
/// (`reference-registry defects | head`) end the listing quietly instead of panicking.
fn print_defects() {
    use std::io::Write;
    let width = Defect::ALL
        .iter()
        .map(|d| d.name().len())
        .max()
        .unwrap_or(0);
    let reqs = |d: &Defect| d.requirements().join(",");
    let rwidth = Defect::ALL.iter().map(|d| reqs(d).len()).max().unwrap_or(0);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{:width$}  {:rwidth$}  DESCRIPTION",
        "NAME", "REQUIREMENTS"
    );
    for d in Defect::ALL {
        let allowed = d
            .allowed_by_spec()
            .map(|why| format!(" (allowed by the spec: {why})"))
            .unwrap_or_default();
        if writeln!(
            out,
            "{:width$}  {:rwidth$}  {}{allowed}",
            d.name(),
            reqs(d),
            d.describe()
        )
        .is_err()
        {
            return;
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn run_gc(args: GcArgs) -> std::io::Result<()> {
    let opts = GcOptions {
        root: args.root,
        dry_run: args.dry_run,
        upload_max_age: args.upload_max_age,
        blob_grace: args.blob_grace,
    };
    let report = gc::run(&opts).await?;
    let verb = if opts.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for (d, size) in &report.blobs {
        println!("{verb} blob {d} ({size} bytes)");
    }
    for (repo, d) in &report.links {
        println!("{verb} link {repo}@{d}");
    }
    for id in &report.uploads {
        println!("{verb} upload session {id}");
    }
    for p in &report.temp_files {
        println!("{verb} temporary file {}", p.display());
    }
    println!(
        "{verb} {} blobs ({} bytes), {} links, {} upload sessions, {} temporary files",
        report.blobs.len(),
        report.bytes(),
        report.links.len(),
        report.uploads.len(),
        report.temp_files.len()
    );
    Ok(())
}

/// Prints one line per violation (kind, path under the root, what is wrong, and whether
/// `--repair` removed it) and a summary; exit status 0 when nothing is left broken, 1 when
/// something is, 2 when the check could not run.
async fn run_fsck(args: FsckArgs) -> ExitCode {
    let opts = FsckOptions {
        root: args.root,
        repair: args.repair,
        allow_sparse_manifests: args.allow_sparse_manifests,
    };
    let root = opts.root.clone();
    let report = match tokio::task::spawn_blocking(move || fsck::run(&opts)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            eprintln!("reference-registry fsck: {e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("reference-registry fsck: {e}");
            return ExitCode::from(2);
        }
    };
    if report.in_use {
        println!(
            "note: a registry is serving {}; temporary files were not checked",
            root.display()
        );
    }
    for v in &report.violations {
        let state = match (v.repaired, v.kind.repairable(), v.kind.is_leftover()) {
            (true, _, _) => " [repaired: removed]",
            (false, _, true) => " [leftover, harmless: --repair removes it]",
            (false, true, false) => " [--repair removes it]",
            (false, false, false) => "",
        };
        println!(
            "{} {}: {}{state}",
            v.kind.as_str(),
            v.path.display(),
            v.message
        );
    }
    let repaired = report.violations.len() - report.remaining();
    println!(
        "checked {} blobs, {} repositories, {} manifests, {} upload sessions: {} violations{}",
        report.blobs,
        report.repositories,
        report.manifests,
        report.sessions,
        report.violations.len(),
        if repaired > 0 {
            format!(", {repaired} repaired, {} left", report.remaining())
        } else {
            String::new()
        }
    );
    if report.remaining() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

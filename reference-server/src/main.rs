//! `reference-registry`: run the reference registry (`serve`), collect garbage (`gc`) or list
//! the deliberate defects `serve --defect` can switch on (`defects`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgAction, Parser, Subcommand};
use reference_server::gc::{self, GcOptions};
use reference_server::{Config, Defect};

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
    Serve(ServeArgs),
    /// Remove blobs no manifest references and stale upload sessions.
    Gc(GcArgs),
    /// List the deliberate spec violations `serve --defect` can switch on.
    Defects,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "REGISTRY_ADDR", default_value = "127.0.0.1:5000")]
    addr: SocketAddr,
    /// Storage root directory (created if missing).
    #[arg(long, env = "REGISTRY_ROOT", default_value = "./registry-data")]
    root: PathBuf,
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
    #[arg(long, default_value = "24h", value_parser = parse_age)]
    upload_max_age: Duration,
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
        Command::Serve(args) => serve(args).await,
        Command::Gc(args) => run_gc(args).await,
        Command::Defects => {
            print_defects();
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("reference-registry: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> std::io::Result<()> {
    let mut config = Config::new(&args.root);
    config.delete_enabled = args.delete_enabled && !args.no_delete;
    config.read_only = args.read_only;
    config.allow_sparse_manifests = args.allow_sparse_manifests;
    config.max_manifest_size = args.max_manifest_size;
    config.shutdown_grace = Duration::from_secs(args.shutdown_grace);
    config.defects = args.defects.iter().copied().collect();
    for d in &args.defects {
        tracing::warn!(defect = %d, requirements = ?d.requirements(), "defect switched on: {}", d.describe());
    }
    let registry = reference_server::start(config, args.addr)
        .await
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "cannot serve on {} with root {}: {e}",
                    args.addr,
                    args.root.display()
                ),
            )
        })?;
    eprintln!(
        "reference-registry listening on http://{} (root {})",
        registry.local_addr(),
        args.root.display()
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

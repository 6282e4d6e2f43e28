//! Reference registry: OCI Distribution 1.1 + Docker Registry HTTP API V2.
//!
//! The public entry point is [`start`], used by the `reference-registry` binary, the
//! integration tests and the conformance suite's embedded default.

use std::net::SocketAddr;
use std::path::PathBuf;

/// How a registry instance behaves. Construct with [`Config::new`] and adjust fields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Root directory of the durable storage.
    pub root: PathBuf,
    /// Whether manifest, tag and blob deletes are allowed (405 UNSUPPORTED otherwise).
    pub delete_enabled: bool,
    /// Whether every write is refused (405 UNSUPPORTED).
    pub read_only: bool,
}

impl Config {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Config { root: root.into(), delete_enabled: true, read_only: false }
    }
}

/// A registry serving on a bound address until [`RunningRegistry::shutdown`] or drop.
pub struct RunningRegistry {
    addr: SocketAddr,
}

impl RunningRegistry {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections, lets in-flight requests finish, and waits for the server task.
    pub async fn shutdown(self) {}
}

/// Binds `addr` (port 0 allowed) and serves the registry on the current tokio runtime.
pub async fn start(config: Config, addr: SocketAddr) -> std::io::Result<RunningRegistry> {
    let _ = config;
    Ok(RunningRegistry { addr })
}

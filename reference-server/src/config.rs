//! Instance configuration.

use std::path::PathBuf;
use std::time::Duration;

use crate::auth::AuthConfig;
use crate::defects::Defects;
use crate::tls::TlsConfig;

/// How a registry instance behaves. Construct with [`Config::new`] and adjust fields;
/// `#[non_exhaustive]` so new knobs (auth, defects, storage backends) can be added
/// without breaking callers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Root directory of the durable storage (unused when `s3` is set).
    pub root: PathBuf,
    /// Keep everything in an S3 bucket instead of under `root`
    /// (`serve --storage s3://BUCKET/PREFIX`, see [`crate::storage::s3`]).
    pub s3: Option<crate::storage::s3::S3Config>,
    /// Whether manifest, tag and blob deletes are allowed (405 UNSUPPORTED otherwise);
    /// deletion may be supported or not (MGMT-01).
    pub delete_enabled: bool,
    /// Whether every write is refused (405 UNSUPPORTED: PUSH-46, MPUT-27).
    pub read_only: bool,
    /// Whether image manifests and indexes may reference blobs (config, layers) and child
    /// manifests that are absent from the repository (`serve --allow-sparse-manifests`).
    /// OCI lets a registry accept or reject such manifests (MPUT-13); sparse copies of
    /// multi-platform images (only some platforms mirrored) and artifact stores need the
    /// former. Off by default: missing references get 400 `MANIFEST_BLOB_UNKNOWN`
    /// (MPUT-14..16). A missing `subject` is accepted either way (MPUT-12).
    pub allow_sparse_manifests: bool,
    /// Largest manifest accepted on PUT; larger gets 413 (MPUT-20). The default, 4 MiB,
    /// meets OCI's "at least 4 MB" (MPUT-21).
    pub max_manifest_size: usize,
    /// Largest page of tags or repositories; a bigger or missing `n` is clamped to it and
    /// a `Link` header points at the rest (DISC-12).
    pub max_page_size: usize,
    /// How long [`crate::RunningRegistry::shutdown`] waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// Deliberate spec violations to switch on (the mutation test); empty by default.
    pub defects: Defects,
    /// Authentication mode, users and access policy; none by default.
    pub auth: AuthConfig,
    /// Serve HTTPS (HTTP/2 and HTTP/1.1 by ALPN) with this certificate; plain HTTP if `None`.
    pub tls: Option<TlsConfig>,
    /// Upload sessions that received nothing for this long are purged in the background
    /// (`serve --upload-ttl`, 24 h by default, as distribution's upload purging), so
    /// abandoned sessions expire (PUSH-39).
    pub upload_ttl: Duration,
    /// Collect garbage inside the server at this interval (`serve --gc-interval`); off by
    /// default. Safe while pushes run: see [`crate::gc`].
    pub gc_interval: Option<Duration>,
    /// Unreferenced blobs younger than this (by their newest link or content write) are
    /// kept by a collection, so a client that uploaded its layers and is about to push the
    /// manifest does not lose them (`--gc-grace`, 1 h by default).
    pub gc_grace: Duration,
    /// Largest request head (request line and headers) in bytes; a bigger HTTP/1 head gets
    /// 431 and the connection is closed, HTTP/2 uses it as `SETTINGS_MAX_HEADER_LIST_SIZE`
    /// (a bigger header block gets 431 on that stream). Default 64 KiB: far above what
    /// registry clients send (the largest are Bearer tokens of a few KiB), far below what
    /// would let a client make us buffer much per connection. At least 8 KiB (hyper's
    /// smallest read buffer); smaller values are raised to that. See `server.rs`.
    pub max_header_bytes: usize,
    /// How long a client may take to send a complete HTTP/1 request head, counted from when
    /// the server starts waiting for it, so it also closes keep-alive connections idle for
    /// that long. Zero turns it off. Default 30 s (hyper's own default).
    pub header_timeout: Duration,
    /// How long a connection may go without any progress before it is closed: no byte of a
    /// request body received, no byte of an answer accepted by the client, or no byte at all
    /// while no request is being handled. A body that stops arriving gets 408 and the
    /// connection closes; the upload session keeps its last complete chunk (PUSH-32). Time the
    /// server itself spends on a request (hashing, fsync, waiting for a session lock) never
    /// counts. Zero turns it off. Default 60 s: a live client, however slow its link, moves
    /// some bytes within a minute, and a slowloris can't hold a connection much longer than
    /// that. (distribution sets no such timeout by default; Go's `net/http` has none either,
    /// which is exactly what lets a slowloris hold its connections.)
    pub idle_timeout: Duration,
    /// Most connections served at once; more wait in the listen backlog until one closes.
    /// Zero means unlimited. Default 1024, well under common file descriptor limits once
    /// blob files and upload sessions are counted in.
    pub max_connections: usize,
    /// Most upload sessions open at once (a single-POST upload counts while it runs); past
    /// it, opening one is 429 `TOOMANYREQUESTS` with `Retry-After` (ERR-27). Zero means
    /// unlimited. Default 1000. See `crate::limits`.
    pub max_upload_sessions: usize,
}

impl Config {
    /// Defaults: deletes on, writable, strict manifest references, 4 MiB manifests, pages of
    /// 1000, 30 s grace, no auth, plain HTTP, sessions purged after 24 h idle, no scheduled
    /// collection, and the limits: 64 KiB request heads, 30 s to send one, 60 s without
    /// progress, 1024 connections, 1000 open upload sessions.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Config {
            root: root.into(),
            s3: None,
            delete_enabled: true,
            read_only: false,
            allow_sparse_manifests: false,
            max_manifest_size: 4 * 1024 * 1024,
            max_page_size: 1000,
            shutdown_grace: Duration::from_secs(30),
            defects: Defects::NONE,
            auth: AuthConfig::default(),
            tls: None,
            upload_ttl: Duration::from_secs(24 * 3600),
            gc_interval: None,
            gc_grace: Duration::from_secs(3600),
            max_header_bytes: 64 * 1024,
            header_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_upload_sessions: 1000,
        }
    }
}

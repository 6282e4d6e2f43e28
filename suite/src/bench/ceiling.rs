//! The client's ceiling: how fast this client goes when the registry costs nothing.
//!
//! A bench number means something only if the client was not the bottleneck. So the same
//! code paths the workloads use (generator, lean client, push/pull functions) are run
//! against a *null sink*: a do-nothing HTTP/1.1 server on loopback (hyper, in this
//! process) that reads and discards every body and answers what a registry would (202
//! with a Location to a POST or PATCH, 201 to a PUT, N bytes from memory to a GET). If a
//! registry's figure comes near the ceiling's, the client limited it. Hashing alone and
//! generation alone are measured too, with whether SHA-256 runs on the CPU's SHA
//! extensions (sha2 picks them at run time through `cpufeatures`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Empty, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use serde::Serialize;
use sha2::Digest as _;

use super::data::{CHUNK, Generator};
use super::push::Blob;
use super::session::Target;
use super::{pull, push, small};

/// What the sink serves on GET (zeros: the bytes don't matter to the client).
static ZEROS: LazyLock<Bytes> = LazyLock::new(|| Bytes::from(vec![0u8; CHUNK]));

type Out = BoxBody<Bytes, Infallible>;

/// A do-nothing registry stand-in on a loopback port (stopped on drop).
pub struct NullSink {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for NullSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl NullSink {
    /// Starts it on the current runtime.
    pub async fn start() -> std::io::Result<NullSink> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let _ = sock.set_nodelay(true);
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(
                            hyper_util::rt::TokioIo::new(sock),
                            hyper::service::service_fn(answer),
                        )
                        .await;
                });
            }
        });
        Ok(NullSink { addr, task })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn empty(status: StatusCode) -> Response<Out> {
    let mut r = Response::new(Empty::new().boxed());
    *r.status_mut() = status;
    r
}

/// GET `/v2/sink/<n>/...` serves `n` bytes; uploads are swallowed.
async fn answer(req: Request<Incoming>) -> Result<Response<Out>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let mut body = req.into_body();
    while let Some(f) = body.frame().await {
        if f.is_err() {
            break;
        }
    }
    let loc = "/v2/sink/0/blobs/uploads/session";
    let mut r = match method.as_str() {
        "POST" | "PATCH" => {
            let mut r = empty(StatusCode::ACCEPTED);
            r.headers_mut()
                .insert("location", hyper::header::HeaderValue::from_static(loc));
            r
        }
        "PUT" => empty(StatusCode::CREATED),
        "DELETE" => empty(StatusCode::ACCEPTED),
        "GET" | "HEAD" => {
            let size: u64 = path
                .strip_prefix("/v2/sink/")
                .and_then(|rest| rest.split('/').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let mut r = if method == hyper::Method::GET && size > 0 {
                let chunks = size.div_ceil(CHUNK as u64);
                let s = futures_util::stream::iter((0..chunks).map(move |k| {
                    let n = (size - k * CHUNK as u64).min(CHUNK as u64) as usize;
                    Ok::<_, Infallible>(Frame::data(ZEROS.slice(..n)))
                }));
                Response::new(BoxBody::new(StreamBody::new(s)))
            } else {
                empty(StatusCode::OK)
            };
            r.headers_mut()
                .insert("content-length", hyper::header::HeaderValue::from(size));
            r
        }
        _ => empty(StatusCode::METHOD_NOT_ALLOWED),
    };
    r.headers_mut().insert(
        "docker-distribution-api-version",
        hyper::header::HeaderValue::from_static("registry/2.0"),
    );
    Ok(r)
}

/// The client's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Ceiling {
    /// SHA-256 alone, MiB/s (one core).
    pub sha256_mib_s: f64,
    /// Whether the CPU has SHA extensions (x86 SHA-NI, ARMv8 SHA2); `None`: unknown.
    pub sha_extensions: Option<bool>,
    /// Generating blob bytes alone (the copy per chunk), MiB/s.
    pub generate_mib_s: f64,
    /// Generating and hashing (how a blob's digest is computed), MiB/s.
    pub generate_and_hash_mib_s: f64,
    /// POST + monolithic PUT to the null sink, MiB/s, per size (bytes).
    pub push_mib_s: Vec<(u64, f64)>,
    /// One GET from the null sink, MiB/s, per size.
    pub pull_mib_s: Vec<(u64, f64)>,
    /// Small-blob pushes (POST + PUT of 4 KiB) on one connection, per second.
    pub small_push_req_s: f64,
    /// Small GETs at the run's concurrency, per second (the request-rate ceiling).
    pub get_req_s: f64,
}

fn mib_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / d.as_secs_f64().max(1e-9)
}

/// Whether SHA-256 can run on CPU instructions here.
pub fn sha_extensions() -> Option<bool> {
    #[cfg(target_arch = "x86_64")]
    {
        Some(std::arch::is_x86_feature_detected!("sha"))
    }
    #[cfg(target_arch = "aarch64")]
    {
        Some(std::arch::is_aarch64_feature_detected!("sha2"))
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        None
    }
}

/// Hashing, generating, and both, over `mib` MiB (on a blocking thread).
pub fn local_rates(g: &Generator, mib: u64) -> (f64, f64, f64) {
    let bytes = mib * CHUNK as u64;
    let chunk = g.chunk(1, CHUNK as u64, 0);
    let t = Instant::now();
    let mut h = sha2::Sha256::new();
    for _ in 0..mib {
        h.update(&chunk);
    }
    std::hint::black_box(h.finalize());
    let hash = mib_s(bytes, t.elapsed());
    let t = Instant::now();
    for k in 0..mib {
        std::hint::black_box(g.chunk(2, bytes, k));
    }
    let generate = mib_s(bytes, t.elapsed());
    let t = Instant::now();
    std::hint::black_box(g.digest(3, bytes));
    let both = mib_s(bytes, t.elapsed());
    (hash, generate, both)
}

/// Measures the ceiling: local rates, then pushes, pulls and request rates against a null
/// sink through `sink` (a [`Target`] pointing at it). Best of `repeat` for each figure.
pub async fn measure(
    sink: Arc<Target>,
    g: &Generator,
    sizes: &[u64],
    repeat: usize,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Ceiling> {
    let g2 = g.clone();
    let (hash, generate, both) = tokio::task::spawn_blocking(move || local_rates(&g2, 256)).await?;
    let mut c = Ceiling {
        sha256_mib_s: hash,
        sha_extensions: sha_extensions(),
        generate_mib_s: generate,
        generate_and_hash_mib_s: both,
        ..Ceiling::default()
    };
    for &size in sizes {
        // The sink does not check digests: any well-formed one will do.
        let b = Blob {
            id: 7,
            size,
            digest: format!("sha256:{}", "0".repeat(64)),
        };
        let repo = format!("sink/{size}");
        let mut best_push: f64 = 0.0;
        let mut best_pull: f64 = 0.0;
        for _ in 0..repeat.max(1) {
            let t = Instant::now();
            push::monolithic(&sink, &repo, g, &b).await?;
            best_push = best_push.max(mib_s(size, t.elapsed()));
            let t = Instant::now();
            pull::once(&sink, &repo, &b).await?;
            best_pull = best_pull.max(mib_s(size, t.elapsed()));
        }
        c.push_mib_s.push((size, best_push));
        c.pull_mib_s.push((size, best_pull));
    }
    let ids = Arc::new(AtomicU64::new(1 << 40));
    let run = small::run(
        sink.clone(),
        "sink/0".to_owned(),
        g.clone(),
        ids,
        1,
        duration,
    )
    .await?;
    c.small_push_req_s = run.rate();
    let run = super::manifest::run(
        sink.clone(),
        "sink/512".to_owned(),
        "bench".to_owned(),
        reqwest::Method::GET,
        concurrency,
        duration,
    )
    .await?;
    c.get_req_s = run.rate();
    if let Ok(mut l) = sink.ledger.lock() {
        *l = Default::default();
    }
    Ok(c)
}

//! `registry-conformance bench` end to end: the built binary against real registries on
//! loopback (the embedded one, and a `reference-registry serve` as the comparison), tiny
//! sizes and durations. Nothing here asserts a speed: only that every workload produced a
//! sane figure, that the run cleaned up after itself, and that a registry failing the
//! push/pull basics is refused.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn bench_bin() -> &'static str {
    env!("CARGO_BIN_EXE_registry-conformance")
}

/// A registry on a loopback port: `reference-registry serve` when the binary was built
/// beside ours (`cargo test --workspace`), else the same server in-process.
enum Registry {
    Process(Child, #[allow(dead_code)] tempfile::TempDir),
    InProcess(
        tokio::runtime::Runtime,
        Option<reference_server::RunningRegistry>,
        #[allow(dead_code)] tempfile::TempDir,
    ),
}

struct Server {
    url: String,
    /// The registry's storage root (`--root`).
    root: PathBuf,
    reg: Registry,
}

impl Drop for Server {
    fn drop(&mut self) {
        match &mut self.reg {
            Registry::Process(child, _) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Registry::InProcess(rt, reg, _) => {
                if let Some(r) = reg.take() {
                    rt.block_on(r.shutdown());
                }
            }
        }
    }
}

fn reference_bin() -> Option<PathBuf> {
    let p = Path::new(bench_bin()).with_file_name("reference-registry");
    p.exists().then_some(p)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(read_only: bool) -> Server {
    start_with(read_only, &[])
}

/// [`start`], with these `--defect`s switched on.
fn start_with(read_only: bool, defects: &[&str]) -> Server {
    let root = tempfile::tempdir().unwrap();
    let root_path = root.path().to_owned();
    if let Some(bin) = reference_bin() {
        let port = free_port();
        let mut cmd = Command::new(bin);
        cmd.args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--root"])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if read_only {
            cmd.arg("--read-only");
        }
        for d in defects {
            cmd.args(["--defect", d]);
        }
        let child = cmd.spawn().unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "reference-registry did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        return Server {
            url: format!("http://{addr}"),
            root: root_path,
            reg: Registry::Process(child, root),
        };
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut config = reference_server::Config::new(root.path());
    config.read_only = read_only;
    config.defects = defects
        .iter()
        .map(|d| d.parse::<reference_server::Defect>().unwrap())
        .collect();
    let reg = rt
        .block_on(reference_server::start(
            config,
            SocketAddr::from(([127, 0, 0, 1], 0)),
        ))
        .unwrap();
    Server {
        url: reg.url(),
        root: root_path,
        reg: Registry::InProcess(rt, Some(reg), root),
    }
}

fn bench(args: &[&str]) -> Output {
    Command::new(bench_bin())
        .arg("bench")
        .args(args)
        .env_remove("REGISTRY_URL")
        .env_remove("REGISTRY_USERNAME")
        .env_remove("REGISTRY_PASSWORD")
        .env_remove("REGISTRY_TOKEN")
        .env("DOCKER_CONFIG", "/nonexistent")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap()
}

fn status_of(url: &str) -> u16 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async { reqwest::get(url).await.unwrap().status().as_u16() })
}

const WORKLOADS: &[&str] = &[
    "push-monolithic",
    "push-single-post",
    "push-streamed",
    "push-chunked",
    "pull",
    "pull-parallel",
    "small-push-seq",
    "small-push-concurrent",
    "manifest-get",
    "manifest-head",
    "tags-list",
];

#[test]
fn bench_embedded_against_a_served_registry_writes_every_workload_and_cleans_up() {
    let b = start(false);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let ns = format!("bench-test{}", std::process::id());
    let out = bench(&[
        "--compare-url",
        &b.url,
        "--sizes",
        "64KiB,1MiB",
        "--chunk-size",
        "256KiB",
        "--duration",
        "0.3",
        "--repeat",
        "2",
        "--concurrency",
        "2",
        "--namespace",
        &ns,
        "--progress",
        "plain",
        "--json",
        json.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("A/B"), "{stdout}");
    assert!(stdout.contains("client ceiling"), "{stdout}");

    let rep: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(rep["schema"], "registry-conformance-bench/1");
    let results = rep["results"].as_array().unwrap();
    for w in WORKLOADS {
        for reg in ["A", "B"] {
            let mine: Vec<&Value> = results
                .iter()
                .filter(|r| r["workload"] == *w && r["registry"] == reg)
                .collect();
            let sized = w.starts_with("push") || w.starts_with("pull");
            assert_eq!(mine.len(), if sized { 2 } else { 1 }, "{w} on {reg}");
            for r in mine {
                assert!(r["error"].is_null(), "{w} on {reg}: {}", r["error"]);
                if r["supported"] == false {
                    assert_eq!(
                        *w, "push-single-post",
                        "only single POST may be unsupported"
                    );
                    continue;
                }
                let v = r["value"].as_f64().unwrap();
                assert!(v > 0.0 && v.is_finite(), "{w} on {reg}: {v}");
                assert_eq!(r["runs"].as_array().unwrap().len(), 2, "{w} on {reg}");
                if sized {
                    assert_eq!(r["unit"], "MiB/s");
                    assert!(r["latency_ms"].is_null());
                } else {
                    assert_eq!(r["unit"], "req/s");
                    let l = &r["latency_ms"];
                    let (p50, p90, p99) = (
                        l["p50"].as_f64().unwrap(),
                        l["p90"].as_f64().unwrap(),
                        l["p99"].as_f64().unwrap(),
                    );
                    assert!(p50 > 0.0 && p50 <= p90 && p90 <= p99, "{w} on {reg}: {l}");
                    assert!(r["operations"].as_u64().unwrap() > 0);
                }
            }
        }
    }
    // Ratios: one per workload (and size), positive where both were measured.
    let ratios = rep["ratios"].as_array().unwrap();
    assert_eq!(ratios.len(), results.len() / 2);
    assert!(
        ratios
            .iter()
            .filter_map(|r| r["a_over_b"].as_f64())
            .all(|x| x > 0.0)
    );
    let c = &rep["client_ceiling"];
    for k in [
        "sha256_mib_s",
        "generate_mib_s",
        "generate_and_hash_mib_s",
        "small_push_req_s",
        "get_req_s",
    ] {
        assert!(c[k].as_f64().unwrap() > 0.0, "ceiling {k}: {c}");
    }
    assert_eq!(c["push_mib_s"].as_array().unwrap().len(), 2);

    // Cleanup: nothing left on either, and B no longer serves what was pushed.
    for cl in rep["cleanup"].as_array().unwrap() {
        assert_eq!(cl["left"], 0, "{cl}");
        assert!(cl["deleted"].as_u64().unwrap() > 0, "{cl}");
    }
    assert_eq!(
        status_of(&format!("{}/v2/{ns}/data/manifests/bench", b.url)),
        404
    );
    let tags = status_of(&format!("{}/v2/{ns}/tags/manifests/t000", b.url));
    assert_eq!(tags, 404);
}

#[test]
fn bench_refuses_a_registry_that_fails_the_push_basics() {
    let ro = start(true);
    let out = bench(&[
        "--url",
        &ro.url,
        "--sizes",
        "64KiB",
        "--duration",
        "0.2",
        "--repeat",
        "1",
        "--progress",
        "plain",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "stderr:\n{stderr}");
    assert!(stderr.contains("failed the preflight"), "{stderr}");
    assert!(
        stderr.contains("failed step: push a 4 KiB blob: POST"),
        "{stderr}"
    );
    assert!(stderr.contains("405"), "{stderr}");
    // Nothing was measured, so no table.
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("client ceiling"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A registry in the token flow (the reference registry's own `/token`), then in Basic
/// mode: the lean timed path must carry the suite's Authorization, and the password must
/// appear nowhere in the output.
#[test]
fn bench_authenticates_with_basic_and_token_and_never_prints_the_password() {
    for mode in [
        suite::embedded_auth::EmbeddedAuth::Token,
        suite::embedded_auth::EmbeddedAuth::Basic,
    ] {
        let ids = suite::embedded_auth::identities(mode).unwrap().unwrap();
        let suite::auth::Auth::Basic { username, password } = ids.writer.clone() else {
            panic!("the writer has a password");
        };
        let rt = tokio::runtime::Runtime::new().unwrap();
        let root = tempfile::tempdir().unwrap();
        let mut config = reference_server::Config::new(root.path());
        config.auth = ids.config.clone();
        let reg = rt
            .block_on(reference_server::start(
                config,
                SocketAddr::from(([127, 0, 0, 1], 0)),
            ))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("bench.json");
        let out = Command::new(bench_bin())
            .args([
                "bench",
                "--url",
                &reg.url(),
                "--username",
                &username,
                "--workloads",
                "push-monolithic,push-chunked,pull,manifest-head,tags",
                "--sizes",
                "64KiB",
                "--chunk-size",
                "16KiB",
                "--duration",
                "0.2",
                "--repeat",
                "1",
                "--no-ceiling",
                "--progress",
                "plain",
                "--json",
                json.to_str().unwrap(),
            ])
            .env("REGISTRY_PASSWORD", &password)
            .env("DOCKER_CONFIG", "/nonexistent")
            .env_remove("REGISTRY_AUTH_FILE")
            .env_remove("REGISTRY_TOKEN")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{mode}: {stdout}\n{stderr}");
        let text = std::fs::read_to_string(&json).unwrap();
        for s in [&*stdout, &*stderr, &text] {
            assert!(!s.contains(&password), "{mode}: the password was printed");
        }
        let rep: Value = serde_json::from_str(&text).unwrap();
        let results = rep["results"].as_array().unwrap();
        assert_eq!(results.len(), 6, "{mode}: {text}");
        for r in results {
            assert!(r["error"].is_null(), "{mode}: {r}");
            assert!(r["value"].as_f64().unwrap() > 0.0, "{mode}: {r}");
        }
        assert_eq!(
            rep["registries"][0]["credentials"],
            format!("--username ({username})")
        );
        assert_eq!(rep["cleanup"][0]["left"], 0, "{mode}: {}", rep["cleanup"]);
        rt.block_on(reg.shutdown());
    }
}

/// One exchange the [`Proxy`] passed on.
#[derive(Debug, Clone)]
struct Exchange {
    method: String,
    /// Path and query.
    target: String,
    status: u16,
}

/// A recording proxy on a loopback port in front of a registry: it passes every request
/// on (bodies read whole, then sent), keeps the exchanges in the order they completed, and
/// counts the requests in flight through it — from a request's head arriving until its
/// answer is handed back, so never longer than the client has the request in flight.
struct Proxy {
    url: String,
    log: std::sync::Arc<std::sync::Mutex<Vec<Exchange>>>,
    peak: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    _rt: tokio::runtime::Runtime,
}

impl Proxy {
    fn start(upstream: &str) -> Proxy {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        let rt = tokio::runtime::Runtime::new().unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0)))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let peak = Arc::new(AtomicUsize::new(0));
        let now = Arc::new(AtomicUsize::new(0));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let upstream = upstream.to_owned();
        let (log2, peak2) = (log.clone(), peak.clone());
        rt.spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (client, upstream) = (client.clone(), upstream.clone());
                let (log, peak, now) = (log2.clone(), peak2.clone(), now.clone());
                let svc = hyper::service::service_fn(move |req: hyper::Request<_>| {
                    let (client, upstream) = (client.clone(), upstream.clone());
                    let (log, peak, now) = (log.clone(), peak.clone(), now.clone());
                    async move {
                        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(n, Ordering::SeqCst);
                        let answer = forward(&client, &upstream, req, &log).await;
                        now.fetch_sub(1, Ordering::SeqCst);
                        Ok::<_, std::convert::Infallible>(answer)
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(sock), svc),
                );
            }
        });
        Proxy {
            url,
            log,
            peak,
            _rt: rt,
        }
    }

    fn exchanges(&self) -> Vec<Exchange> {
        self.log.lock().unwrap().clone()
    }

    fn peak(&self) -> usize {
        self.peak.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Passes `req` on to `upstream`; the answer, read whole.
async fn forward(
    client: &reqwest::Client,
    upstream: &str,
    req: hyper::Request<hyper::body::Incoming>,
    log: &std::sync::Mutex<Vec<Exchange>>,
) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
    use http_body_util::BodyExt as _;

    let (parts, body) = req.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .map_or("/".to_owned(), |p| p.to_string());
    let body = body.collect().await.unwrap().to_bytes();
    let mut rb = client.request(parts.method.clone(), format!("{upstream}{target}"));
    for (k, v) in &parts.headers {
        if !matches!(k.as_str(), "host" | "connection" | "transfer-encoding") {
            rb = rb.header(k, v);
        }
    }
    if !body.is_empty() {
        rb = rb.body(body);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.unwrap();
    log.lock().unwrap().push(Exchange {
        method: parts.method.to_string(),
        target,
        status: status.as_u16(),
    });
    let mut out = hyper::Response::new(http_body_util::Full::new(bytes));
    *out.status_mut() = status;
    for (k, v) in &headers {
        if !matches!(k.as_str(), "connection" | "transfer-encoding") {
            out.headers_mut().insert(k, v.clone());
        }
    }
    out
}

/// `(repository, digest)` of a blob a successful exchange stored (a closing PUT or a
/// single POST with `digest=`, a mount) or deleted; `None` for anything else.
fn blob_event(x: &Exchange) -> Option<(bool, (String, String))> {
    let (path, query) = x.target.split_once('?').unwrap_or((&x.target, ""));
    let param = |k: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
            .map(|v| v.replace("%3A", ":"))
    };
    let path = path.strip_prefix("/v2/")?;
    match (x.method.as_str(), x.status) {
        ("PUT" | "POST", 201) => {
            let (repo, _) = path.split_once("/blobs/uploads")?;
            let digest = param("digest").or_else(|| param("mount"))?;
            Some((true, (repo.to_owned(), digest)))
        }
        ("DELETE", 200..=299) => {
            let (repo, digest) = path.split_once("/blobs/")?;
            (!digest.starts_with("uploads"))
                .then(|| (false, (repo.to_owned(), digest.replace("%3A", ":"))))
        }
        _ => None,
    }
}

/// Every file under `dir` (none if it does not exist).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Clean-up after each workload: replaying the blob closes and deletes the registry
/// answered shows that blobs are deleted while the run goes on (some are closed after the
/// first delete) and that what the registry holds never grows past what it held when the
/// first workload's clean-up began (without per-workload clean-up it would grow by one
/// blob per push); at the end nothing is linked, and a garbage collection leaves no blob
/// data in the storage root.
#[test]
fn bench_deletes_each_workloads_blobs_before_the_next_and_leaves_nothing() {
    let reg = start(false);
    let proxy = Proxy::start(&reg.url);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let out = bench(&[
        "--url",
        &proxy.url,
        "--workloads",
        "push",
        "--sizes",
        "64KiB",
        "--chunk-size",
        "16KiB",
        "--duration",
        "0.2",
        "--repeat",
        "3",
        "--concurrency",
        "2",
        "--no-ceiling",
        "--progress",
        "plain",
        "--json",
        json.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");

    let mut stored = std::collections::BTreeSet::new();
    let (mut closes, mut peak) = (0usize, 0usize);
    let mut at_first_delete = None;
    let mut closed_after_first_delete = 0;
    for x in proxy.exchanges() {
        let Some((close, blob)) = blob_event(&x) else {
            continue;
        };
        if close {
            closes += 1;
            stored.insert(blob);
            peak = peak.max(stored.len());
            closed_after_first_delete += usize::from(at_first_delete.is_some());
        } else {
            at_first_delete.get_or_insert(stored.len());
            stored.remove(&blob);
        }
    }
    let at_first_delete = at_first_delete.expect("no blob was deleted");
    // 4 push methods (single POST may be unsupported) × 3 repetitions, one blob each.
    assert!(
        closed_after_first_delete >= 8,
        "the blobs were deleted only at the end: {closed_after_first_delete} closed after \
         the first delete"
    );
    assert_eq!(
        peak, at_first_delete,
        "what the registry held grew between workloads"
    );
    assert!(stored.is_empty(), "never deleted: {stored:?}");

    let rep: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let cl = &rep["cleanup"][0];
    assert_eq!(cl["left"], 0, "{cl}");
    // Every blob the registry took, plus the preflight's manifest.
    assert_eq!(cl["deleted"].as_u64().unwrap() as usize, closes + 1, "{cl}");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains(&format!("cleanup: A: {} deleted, 0 left", closes + 1)),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Nothing linked any more: a collection takes every blob's data.
    let root = reg.root.clone();
    drop(proxy);
    drop(reg);
    let links = files_under(&root.join("repositories"))
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "link"))
        .collect::<Vec<_>>();
    assert!(links.is_empty(), "still linked: {links:?}");
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(reference_server::gc::run(
            &reference_server::gc::GcOptions::new(&root),
        ))
        .unwrap();
    let data = files_under(&root.join("blobs"));
    assert!(data.is_empty(), "blob data left: {data:?}");
}

/// A push that fails after its POST cancels its session. With `patch-overwrites-session`
/// the reference registry restarts a session on every PATCH, so a chunked push's third
/// PATCH does not start at the session's offset: 416, and the session stays usable — an
/// open upload the bench must cancel. After the run `<root>/uploads/` holds none.
#[test]
fn bench_cancels_the_session_of_a_failed_push() {
    let reg = start_with(false, &["patch-overwrites-session"]);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let out = bench(&[
        "--url",
        &reg.url,
        "--workloads",
        "push-chunked",
        "--sizes",
        "64KiB",
        "--chunk-size",
        "16KiB",
        "--repeat",
        "2",
        "--no-ceiling",
        "--progress",
        "plain",
        "--json",
        json.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let rep: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let r = &rep["results"][0];
    assert!(
        r["error"].as_str().unwrap().contains("416"),
        "the push did not fail as planned: {r}"
    );
    // The registry keeps a session as `uploads/<id>/` while it is open.
    let sessions: Vec<PathBuf> = std::fs::read_dir(reg.root.join("uploads"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(sessions.is_empty(), "open sessions: {sessions:?}");
    let cl = &rep["cleanup"][0];
    assert_eq!(cl["sessions_cancelled"], 1, "{cl}");
    assert_eq!(cl["sessions_left"], 0, "{cl}");
}

/// Never more than `--concurrency` requests in flight against the registry, whatever
/// runs: concurrent workloads, set-up, clean-up waves (hundreds of small blobs deleted).
#[test]
fn bench_never_has_more_than_concurrency_requests_in_flight() {
    let reg = start(false);
    let proxy = Proxy::start(&reg.url);
    let out = bench(&[
        "--url",
        &proxy.url,
        "--workloads",
        "pull-parallel,small-push-concurrent,manifest-get,tags-list",
        "--sizes",
        "256KiB",
        "--duration",
        "0.3",
        "--repeat",
        "1",
        "--concurrency",
        "3",
        "--no-ceiling",
        "--progress",
        "plain",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    let peak = proxy.peak();
    assert!((1..=3).contains(&peak), "peak in flight: {peak}");
    let deletes = proxy
        .exchanges()
        .iter()
        .filter(|x| x.method == "DELETE")
        .count();
    assert!(deletes > 3, "the clean-up waves did not run: {deletes}");
}

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
    let root = tempfile::tempdir().unwrap();
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
            reg: Registry::Process(child, root),
        };
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut config = reference_server::Config::new(root.path());
    config.read_only = read_only;
    let reg = rt
        .block_on(reference_server::start(
            config,
            SocketAddr::from(([127, 0, 0, 1], 0)),
        ))
        .unwrap();
    Server {
        url: reg.url(),
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

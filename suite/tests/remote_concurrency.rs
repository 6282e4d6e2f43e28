//! A registry given by `--url` gets many trials at once by default (issue 13: the work
//! waits on the network): the outcomes must be exactly those of a serial run. And the
//! client speaks HTTP/2 to a TLS registry that offers it by ALPN, HTTP/1.1 otherwise.
//!
//! The registry is the reference registry started in this process on a loopback port (the
//! binary under test sees an ordinary `--url`); no timing is asserted.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reqwest::{Method, Url};
use suite::auth::Auth;
use suite::client::{ClientConfig, HttpClient, Identity, OutBody, OutRequest, RetryPolicy};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn start(
    rt: &tokio::runtime::Runtime,
    root: &Path,
    tls: Option<reference_server::TlsConfig>,
) -> reference_server::RunningRegistry {
    let mut config = reference_server::Config::new(root);
    config.tls = tls;
    rt.block_on(reference_server::start(
        config,
        SocketAddr::from(([127, 0, 0, 1], 0)),
    ))
    .unwrap()
}

/// `registry-conformance --url URL ARGS`, reports in `dir`: test name → outcome, read
/// from results.json.
fn run_remote(url: &str, args: &[&str], dir: &Path) -> BTreeMap<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_registry-conformance"))
        .arg("--url")
        .arg(url)
        .args(args)
        .args(["--color", "never", "--quiet", "--junit"])
        .arg(dir.join("junit.xml"))
        .env_remove("REGISTRY_TEST_THREADS")
        .env_remove("REGISTRY_WITHOUT")
        .env_remove("REGISTRY_PROFILE")
        .env_remove("REGISTRY_BASELINE")
        .env_remove("REGISTRY_STRICT")
        .env_remove("REGISTRY_FIXTURES")
        .env_remove("REGISTRY_CONFIG")
        .env_remove("REGISTRY_NAMESPACE")
        .output()
        .expect("run registry-conformance");
    assert!(
        matches!(out.status.code(), Some(0) | Some(101)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("results.json")).unwrap()).unwrap();
    results["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn many_at_once_by_default_with_the_outcomes_of_a_serial_run() {
    let rt = runtime();
    let root = tempfile::tempdir().unwrap();
    let reports = tempfile::tempdir().unwrap();
    let registry = start(&rt, root.path(), None);
    let url = registry.url();
    // No --test-threads: REMOTE_TEST_THREADS (32) at once, the longest trials first.
    let parallel = run_remote(&url, &[], &reports.path().join("default"));
    let serial = run_remote(
        &url,
        &["--test-threads", "1"],
        &reports.path().join("serial"),
    );
    assert!(serial.len() > 150, "{} trials", serial.len());
    assert_eq!(
        serial.keys().collect::<Vec<_>>(),
        parallel.keys().collect::<Vec<_>>(),
        "the same trials"
    );
    let differ: Vec<String> = serial
        .iter()
        .filter(|(name, o)| parallel.get(*name) != Some(o))
        .map(|(name, o)| format!("{name}: serial {o}, default {:?}", parallel.get(name)))
        .collect();
    assert!(
        differ.is_empty(),
        "outcomes depend on running many at once:\n{}",
        differ.join("\n")
    );
    // The reference registry passes: nothing may fail either way.
    assert!(
        serial.values().all(|o| o == "pass" || o == "skip"),
        "{serial:?}"
    );
    rt.block_on(registry.shutdown());
}

fn client(base: &str, ca_cert: Option<std::path::PathBuf>) -> HttpClient {
    HttpClient::new(ClientConfig {
        base: Url::parse(base).unwrap(),
        auth: Auth::None,
        reader: None,
        request_timeout: Duration::from_secs(10),
        insecure: false,
        ca_cert,
        retry: RetryPolicy::default(),
    })
    .unwrap()
}

fn get_v2(rt: &tokio::runtime::Runtime, c: &HttpClient) -> reqwest::Version {
    let req = OutRequest {
        method: Method::GET,
        url: c.url_for_path("/v2/").unwrap(),
        headers: vec![],
        body: OutBody::Empty,
        follow_redirects: true,
        identity: Identity::Writer,
        own_url: false,
    };
    let resp = rt.block_on(c.send(&req)).unwrap();
    assert_eq!(resp.status.as_u16(), 200);
    resp.version
}

#[test]
fn http2_over_tls_by_alpn_and_http1_over_plain_http() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = reference_server::auth::keygen(&["127.0.0.1", "localhost"]).unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &cert).unwrap();
    let tls = reference_server::TlsConfig::from_pem(&cert, &key).unwrap();

    let https = start(&rt, &dir.path().join("tls-root"), Some(tls));
    assert_eq!(
        get_v2(&rt, &client(&https.url(), Some(ca))),
        reqwest::Version::HTTP_2
    );
    let http = start(&rt, &dir.path().join("plain-root"), None);
    assert_eq!(
        get_v2(&rt, &client(&http.url(), None)),
        reqwest::Version::HTTP_11
    );
    rt.block_on(https.shutdown());
    rt.block_on(http.shutdown());
}

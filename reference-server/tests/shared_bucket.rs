//! Two `reference-registry serve` processes on one S3 bucket (Garage on loopback in CI):
//! a session moves between them, what one publishes the other serves at once, one dies
//! mid-upload and the other finishes the upload, and racing pushes through both leave one
//! consistent repository.
//!
//! Needs the S3 test service (see `store_contract.rs` for the variables); skipped with a
//! note without it, failing when `STORE_TESTS_REQUIRE_S3=1`.

use std::process::Stdio;
use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_reference-registry");

/// One serving process.
struct Instance {
    child: Child,
    base: String,
}

fn url(base: &str, path: &str) -> String {
    format!("{base}{path}")
}

/// The bucket URL with a fresh prefix both instances of a test share.
fn bucket() -> Option<(String, String)> {
    let (Ok(url), Ok(endpoint)) = (
        std::env::var("REGISTRY_TEST_S3_URL"),
        std::env::var("REGISTRY_TEST_S3_ENDPOINT"),
    ) else {
        assert!(
            std::env::var("STORE_TESTS_REQUIRE_S3").is_err(),
            "STORE_TESTS_REQUIRE_S3 is set but REGISTRY_TEST_S3_URL/REGISTRY_TEST_S3_ENDPOINT are not"
        );
        eprintln!(
            "shared-bucket tests skipped: REGISTRY_TEST_S3_URL and REGISTRY_TEST_S3_ENDPOINT unset"
        );
        return None;
    };
    let prefix = format!(
        "{}/shared-{}",
        url.trim_end_matches('/'),
        uuid::Uuid::new_v4()
    );
    Some((prefix, endpoint))
}

async fn serve(storage: &str, endpoint: &str) -> Instance {
    let mut child = Command::new(BIN)
        .args(["serve", "--addr", "127.0.0.1:0", "--storage", storage])
        .args(["--s3-endpoint", endpoint, "--s3-allow-http"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let base = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.split("listening on ").nth(1) {
                return rest.split_whitespace().next().unwrap().to_string();
            }
        }
        panic!("the registry exited before listening");
    })
    .await
    .expect("the registry did not start");
    // Keep draining its log so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Instance { child, base }
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
        .collect()
}

async fn start_upload(c: &Client, base: &str, repo: &str) -> String {
    let r = c
        .post(url(base, &format!("/v2/{repo}/blobs/uploads/")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    r.headers()["location"].to_str().unwrap().to_string()
}

/// Upload path and query of a `Location`, to send to either instance.
fn path_of(location: &str) -> String {
    let url = reqwest::Url::parse(&format!("http://x{location}")).unwrap();
    url.path().to_string()
}

async fn patch(c: &Client, base: &str, path: &str, offset: u64, bytes: &[u8]) {
    let r = c
        .patch(url(base, path))
        .header("content-type", "application/octet-stream")
        .header(
            "content-range",
            format!("{offset}-{}", offset + bytes.len() as u64 - 1),
        )
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED, "{:?}", r.text().await);
}

async fn push_blob(c: &Client, base: &str, repo: &str, bytes: &[u8]) -> String {
    let d = sha256(bytes);
    let r = c
        .post(url(base, &format!("/v2/{repo}/blobs/uploads/?digest={d}")))
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    d
}

async fn get_blob(c: &Client, base: &str, repo: &str, d: &str) -> Vec<u8> {
    let r = c
        .get(url(base, &format!("/v2/{repo}/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.bytes().await.unwrap().to_vec()
}

async fn get_json(c: &Client, base: &str, path: &str) -> serde_json::Value {
    let r = c.get(url(base, path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "GET {path}");
    r.json().await.unwrap()
}

fn manifest(config: &str, config_len: usize, n: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config,
            "size": config_len
        },
        "layers": [],
        "annotations": { "n": n.to_string() }
    }))
    .unwrap()
}

async fn put_manifest(c: &Client, base: &str, repo: &str, tag: &str, body: &[u8]) {
    let r = c
        .put(url(base, &format!("/v2/{repo}/manifests/{tag}")))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
}

/// Started on A, continued on B, completed on A; readable on B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_moves_between_instances() {
    let Some((storage, endpoint)) = bucket() else {
        return;
    };
    let (a, b) = (
        serve(&storage, &endpoint).await,
        serve(&storage, &endpoint).await,
    );
    let c = Client::new();
    let data = pattern(3 * 1024 * 1024 + 11, 1);
    let d = sha256(&data);
    let path = path_of(&start_upload(&c, &a.base, "shared/move").await);
    patch(&c, &b.base, &path, 0, &data[..1_000_000]).await;
    // A sees B's progress.
    let r = c.get(url(&a.base, &path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["range"], "0-999999");
    patch(&c, &a.base, &path, 1_000_000, &data[1_000_000..2_500_000]).await;
    patch(&c, &b.base, &path, 2_500_000, &data[2_500_000..]).await;
    let r = c
        .put(url(&a.base, &format!("{path}?digest={d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    assert_eq!(sha256(&get_blob(&c, &b.base, "shared/move", &d).await), d);
    // The session is over everywhere.
    let r = c.get(url(&b.base, &path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

/// A manifest pushed through A is served by B on the very next request, by tag and by
/// digest, and B's tag list and catalog name it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_publishes_b_serves_at_once() {
    let Some((storage, endpoint)) = bucket() else {
        return;
    };
    let (a, b) = (
        serve(&storage, &endpoint).await,
        serve(&storage, &endpoint).await,
    );
    let c = Client::new();
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let cd = push_blob(&c, &a.base, "shared/seen", config).await;
    let body = manifest(&cd, config.len(), 1);
    put_manifest(&c, &a.base, "shared/seen", "v1", &body).await;
    for reference in ["v1".to_string(), sha256(&body)] {
        let r = c
            .get(url(
                &b.base,
                &format!("/v2/shared/seen/manifests/{reference}"),
            ))
            .header("accept", "application/vnd.oci.image.manifest.v1+json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.bytes().await.unwrap().as_ref(), body.as_slice());
    }
    let tags: serde_json::Value = get_json(&c, &b.base, "/v2/shared/seen/tags/list").await;
    assert_eq!(tags["tags"], json!(["v1"]));
    let catalog: serde_json::Value = get_json(&c, &b.base, "/v2/_catalog").await;
    assert!(
        catalog["repositories"]
            .as_array()
            .unwrap()
            .contains(&json!("shared/seen"))
    );
}

/// A is killed (SIGKILL) in the middle of a chunk; B reports the committed offset (the
/// acknowledged bytes, at most plus a prefix of the cut chunk), takes the rest from there
/// and completes the blob.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b_finishes_what_a_killed_instance_started() {
    let Some((storage, endpoint)) = bucket() else {
        return;
    };
    let (mut a, b) = (
        serve(&storage, &endpoint).await,
        serve(&storage, &endpoint).await,
    );
    let c = Client::new();
    let data = pattern(12 * 1024 * 1024, 4);
    let d = sha256(&data);
    let path = path_of(&start_upload(&c, &a.base, "shared/killed").await);
    let first = 2 * 1024 * 1024;
    patch(&c, &a.base, &path, 0, &data[..first]).await;

    // Half of a second chunk, by hand so the request stays open, then A dies.
    let host = a.base.trim_start_matches("http://").to_string();
    let mut sock = tokio::net::TcpStream::connect(&host).await.unwrap();
    let rest = &data[first..];
    let head = format!(
        "PATCH {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/octet-stream\r\n\
         content-range: {first}-{}\r\ncontent-length: {}\r\n\r\n",
        data.len() - 1,
        rest.len()
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(&rest[..rest.len() / 2]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.child.kill().await.unwrap();
    drop(sock);

    let r = c.get(url(&b.base, &path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let range = r.headers()["range"].to_str().unwrap().to_string();
    let end: usize = range.strip_prefix("0-").unwrap().parse().unwrap();
    let offset = end + 1;
    assert!(
        (first..data.len()).contains(&offset),
        "offset {offset} after a killed chunk"
    );
    patch(&c, &b.base, &path, offset as u64, &data[offset..]).await;
    let r = c
        .put(url(&b.base, &format!("{path}?digest={d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    assert_eq!(sha256(&get_blob(&c, &b.base, "shared/killed", &d).await), d);
}

/// The same blob pushed eight times at once through both instances, then eight manifests
/// racing for one tag through both: every push succeeds (PUSH-47), and afterwards both
/// instances agree on one tag value whose bytes match its digest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_pushes_through_both_stay_consistent() {
    let Some((storage, endpoint)) = bucket() else {
        return;
    };
    let a = serve(&storage, &endpoint).await;
    let b = serve(&storage, &endpoint).await;
    let bases = [a.base.clone(), b.base.clone()];
    let c = Client::new();
    let config = pattern(600 * 1024, 8);
    let mut tasks = Vec::new();
    for n in 0..8 {
        let (c, base, config) = (c.clone(), bases[n % 2].clone(), config.clone());
        tasks.push(tokio::spawn(async move {
            push_blob(&c, &base, "shared/race", &config).await
        }));
    }
    let cd = sha256(&config);
    for t in tasks {
        assert_eq!(t.await.unwrap(), cd);
    }
    let bodies: Vec<Vec<u8>> = (0..8).map(|n| manifest(&cd, config.len(), n)).collect();
    let mut tasks = Vec::new();
    for (n, body) in bodies.iter().cloned().enumerate() {
        let (c, base) = (c.clone(), bases[n % 2].clone());
        tasks.push(tokio::spawn(async move {
            put_manifest(&c, &base, "shared/race", "latest", &body).await
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut seen = Vec::new();
    for base in [&a.base, &b.base] {
        let r = c
            .get(url(base, "/v2/shared/race/manifests/latest"))
            .header("accept", "application/vnd.oci.image.manifest.v1+json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let digest = r.headers()["docker-content-digest"]
            .to_str()
            .unwrap()
            .to_string();
        let bytes = r.bytes().await.unwrap().to_vec();
        assert_eq!(sha256(&bytes), digest);
        assert!(bodies.contains(&bytes));
        seen.push(digest);
        assert_eq!(sha256(&get_blob(&c, base, "shared/race", &cd).await), cd);
    }
    assert_eq!(seen[0], seen[1], "the instances disagree on the tag");
    let tags: serde_json::Value = get_json(&c, &b.base, "/v2/shared/race/tags/list").await;
    assert_eq!(tags["tags"], json!(["latest"]));
}

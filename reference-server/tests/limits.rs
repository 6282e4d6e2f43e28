//! Limits with clear answers: request heads too large (431, plain and TLS, HTTP/1.1 and
//! HTTP/2), clients too slow to send a head or a body or to say anything (the connection is
//! closed; a stalled body gets 408), a cap on open upload sessions (429 `TOOMANYREQUESTS`
//! with `Retry-After`, ERR-27), and a full disk (507 with a JSON error on every write path,
//! nothing partial left, reads unaffected, pushes working again once space is freed).
//!
//! Slow clients are driven over raw sockets so the test controls every byte. Timing is
//! only ever bounded generously from above ("closed within 10 s" for a 1 s timeout); no
//! assertion depends on how fast anything is.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Generous upper bound for "the server closed the connection" after a 1 s timeout.
const CLOSE_BOUND: Duration = Duration::from_secs(10);

/// Sends `request` (ignoring write errors: the server may close early) and reads until the
/// server closes the connection; `None` if it is still open after [`CLOSE_BOUND`].
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, request: &[u8]) -> Option<String> {
    let _ = s.write_all(request).await;
    let _ = s.flush().await;
    read_until_closed(s).await
}

/// Everything the server sends until it closes (EOF or reset), or `None` if it doesn't
/// close within [`CLOSE_BOUND`].
async fn read_until_closed<S: AsyncRead + Unpin>(s: &mut S) -> Option<String> {
    let mut out = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(CLOSE_BOUND, read).await.ok()?;
    Some(String::from_utf8_lossy(&out).into_owned())
}

fn addr(t: &TestRegistry) -> SocketAddr {
    t.registry.as_ref().unwrap().local_addr()
}

/// A request head with one header of `value_len` bytes.
fn big_head(value_len: usize) -> Vec<u8> {
    format!(
        "GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(value_len)
    )
    .into_bytes()
}

/// A request head with `n` small headers.
fn many_headers(n: usize) -> Vec<u8> {
    let mut h = String::from("GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for i in 0..n {
        h.push_str(&format!("X-H{i}: v\r\n"));
    }
    h.push_str("\r\n");
    h.into_bytes()
}

async fn assert_serving(t: &TestRegistry) {
    assert_eq!(
        t.get("/v2/").await.status(),
        StatusCode::OK,
        "server still up"
    );
}

#[tokio::test]
async fn oversized_head_is_431_and_the_server_stays_up() {
    let t = start_with(|c| c.max_header_bytes = 16 * 1024).await;
    // Just under the limit is served.
    let mut s = TcpStream::connect(addr(&t)).await.unwrap();
    let mut req = big_head(12 * 1024);
    req.splice(
        req.len() - 2..req.len() - 2,
        b"Connection: close\r\n".iter().copied(),
    );
    let answer = exchange(&mut s, &req).await.expect("closed");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");

    let mut s = TcpStream::connect(addr(&t)).await.unwrap();
    let answer = exchange(&mut s, &big_head(20 * 1024))
        .await
        .expect("closed");
    assert!(
        answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{answer}"
    );
    assert_serving(&t).await;

    // More than 100 header fields (hyper's max_headers) is the same answer.
    let mut s = TcpStream::connect(addr(&t)).await.unwrap();
    let answer = exchange(&mut s, &many_headers(150)).await.expect("closed");
    assert!(
        answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{answer}"
    );
    assert_serving(&t).await;
}

#[tokio::test]
async fn default_head_limit_is_64_kib() {
    let t = start().await;
    let r = t
        .req(Method::GET, "/v2/")
        .header("x-big", "a".repeat(32 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let mut s = TcpStream::connect(addr(&t)).await.unwrap();
    let answer = exchange(&mut s, &big_head(80 * 1024))
        .await
        .expect("closed");
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    assert_serving(&t).await;
}

/// HTTP/2 (prior knowledge over plain TCP): the limit is advertised as
/// `SETTINGS_MAX_HEADER_LIST_SIZE`; a bigger header block is answered 431 on its stream,
/// and the connection keeps serving.
#[tokio::test]
async fn oversized_head_over_http2_is_431() {
    let t = start_with(|c| c.max_header_bytes = 16 * 1024).await;
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let r = client.get(t.url("/v2/")).send().await.unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), StatusCode::OK);
    let r = client
        .get(t.url("/v2/"))
        .header("x-big", "a".repeat(20 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let r = client.get(t.url("/v2/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn oversized_head_over_tls_is_431() {
    let (key, cert) = reference_server::auth::keygen(&["127.0.0.1"]).unwrap();
    let t = start_with(|c| {
        c.tls = Some(reference_server::TlsConfig::from_pem(&cert, &key).unwrap());
        c.max_header_bytes = 16 * 1024;
    })
    .await;
    let connector = tls_connector(&cert);
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tcp = TcpStream::connect(addr(&t)).await.unwrap();
    let mut s = connector.connect(name.clone(), tcp).await.unwrap();
    let answer = exchange(&mut s, &big_head(20 * 1024))
        .await
        .expect("closed");
    assert!(
        answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{answer}"
    );
    let tcp = TcpStream::connect(addr(&t)).await.unwrap();
    let mut s = connector.connect(name, tcp).await.unwrap();
    let answer = exchange(
        &mut s,
        b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .await
    .expect("closed");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
}

fn tls_connector(cert_pem: &str) -> tokio_rustls::TlsConnector {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(cert_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Half a request head, then nothing: closed after the header timeout, without an answer.
#[tokio::test]
async fn incomplete_head_is_closed_after_the_header_timeout() {
    let t = start_with(|c| c.header_timeout = Duration::from_secs(1)).await;
    let mut s = TcpStream::connect(addr(&t)).await.unwrap();
    let answer = exchange(&mut s, b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .expect("connection closed within the bound");
    assert_eq!(answer, "", "no answer to a head that never completed");
    assert_serving(&t).await;
}

/// A connection that never says anything is closed after the idle timeout (the header
/// timeout starts only once hyper knows the protocol, which takes a first byte).
#[tokio::test]
async fn silent_connection_is_closed_after_the_idle_timeout() {
    let t = start_with(|c| c.idle_timeout = Duration::from_secs(1)).await;
    let mut s = TcpStream::connect(addr(&t)).await.unwrap();
    let answer = read_until_closed(&mut s)
        .await
        .expect("connection closed within the bound");
    assert_eq!(answer, "");
    assert_serving(&t).await;
}

/// Past `max_connections`, a new connection waits (in the listen backlog) instead of being
/// served or refused, and is served once a slot frees up.
#[tokio::test]
async fn connections_past_the_cap_wait_for_a_slot() {
    let t = start_with(|c| c.max_connections = 1).await;
    let holder = TcpStream::connect(addr(&t)).await.unwrap();
    // Let the server accept the holder first.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let waiting = t
        .req(Method::GET, "/v2/")
        .timeout(Duration::from_secs(1))
        .send()
        .await;
    assert!(waiting.is_err(), "served past the cap: {waiting:?}");
    drop(holder);
    assert_serving(&t).await;
}

/// A PATCH whose body stops arriving: 408 with a JSON error, the connection closed, the
/// chunk rolled back (the session stays at its last committed offset, PUSH-32), and the
/// session usable afterwards.
#[tokio::test]
async fn stalled_body_is_408_and_the_session_keeps_its_offset() {
    let t = start_with(|c| c.idle_timeout = Duration::from_secs(1)).await;
    let data = content(300, 7);
    let loc = t.open_session("r").await;
    let r = t
        .req(Method::PATCH, &loc)
        .header("content-type", "application/octet-stream")
        .header("content-range", "0-99")
        .body(data[..100].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let loc = header(&r, "location").unwrap();

    let mut s = TcpStream::connect(addr(&t)).await.unwrap();
    let head = format!(
        "PATCH {loc} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n\
         Content-Range: 100-199\r\nContent-Length: 100\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    // A few bytes, a pause shorter than the timeout, one more byte, then nothing.
    s.write_all(&data[100..110]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.write_all(&data[110..111]).await.unwrap();
    let answer = read_until_closed(&mut s)
        .await
        .expect("connection closed within the bound");
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{answer}"
    );
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["errors"][0]["code"], "SIZE_INVALID", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("idle timeout"), "{message}");

    let r = t.get(&loc).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&r, "range").as_deref(), Some("0-99"));
    let r = t
        .req(Method::PUT, &t.with_digest(&loc, &sha256(&data)))
        .header("content-type", "application/octet-stream")
        .header("content-range", "100-299")
        .body(data[100..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        t.get_bytes(&format!("/v2/r/blobs/{}", sha256(&data))).await,
        data
    );
}

/// Time the server spends on a request is never held against the client: a status request
/// waiting for a session lock much longer than the idle timeout (a PATCH trickling in on
/// another connection holds it) is answered, and the trickling PATCH, which keeps making
/// progress, is not cut either.
#[tokio::test]
async fn server_time_does_not_count_as_idle() {
    let t = start_with(|c| c.idle_timeout = Duration::from_secs(2)).await;
    let data = content(12, 5);
    let loc = t.open_session("r").await;
    let mut s = TcpStream::connect(addr(&t)).await.unwrap();
    let head = format!(
        "PATCH {loc} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        data.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&data[..1]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Waits for the PATCH's lock for about 5 s, over twice the idle timeout.
    let status = tokio::spawn({
        let client = t.client.clone();
        let url = t.url(&loc);
        async move { client.get(url).send().await }
    });
    for b in &data[1..] {
        tokio::time::sleep(Duration::from_millis(500)).await;
        s.write_all(std::slice::from_ref(b)).await.unwrap();
    }
    let answer = read_until_closed(&mut s)
        .await
        .expect("closed after answering");
    assert!(answer.starts_with("HTTP/1.1 202 "), "{answer}");
    let r = status
        .await
        .unwrap()
        .expect("the waiting request was answered");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&r, "range").as_deref(), Some("0-11"));
}

/// A client that stops reading an answer (a blob larger than the socket buffers) is cut off
/// after the idle timeout instead of holding the connection.
#[tokio::test]
async fn client_that_stops_reading_is_cut_off() {
    let t = start_with(|c| c.idle_timeout = Duration::from_secs(1)).await;
    let data = content(48 * 1024 * 1024, 3);
    let d = t.push_blob("r", &data).await;
    let mut s = TcpStream::connect(addr(&t)).await.unwrap();
    s.set_nodelay(true).unwrap();
    let req = format!("GET /v2/r/blobs/{d} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    // Don't read for a while: the server's writes stall, then time out.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let read = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
    };
    tokio::time::timeout(CLOSE_BOUND, read)
        .await
        .expect("connection closed within the bound");
    assert!(
        got < data.len(),
        "got {got} bytes: the whole blob went through"
    );
    assert_serving(&t).await;
}

/// Past `max_upload_sessions`, POST is 429 `TOOMANYREQUESTS` with `Retry-After` (ERR-27);
/// single-POST uploads too, since they open a session; a mount that succeeds opens none and
/// is served; ending a session (cancel or commit) makes room again.
#[tokio::test]
async fn upload_sessions_are_capped() {
    let t = start_with(|c| c.max_upload_sessions = 3).await;
    let d = t.push_blob("src", b"mountable").await;
    let locs = [
        t.open_session("r").await,
        t.open_session("r").await,
        t.open_session("other").await,
    ];
    let r = t
        .req(Method::POST, "/v2/r/blobs/uploads/")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&r, "retry-after").as_deref(), Some("10"));
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("application/json")
    );
    let body: Value = r.json().await.unwrap();
    let e = &body["errors"][0];
    assert_eq!(e["code"], "TOOMANYREQUESTS", "{body}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("too many upload sessions"),
        "{body}"
    );
    assert_eq!(e["detail"]["limit"], 3, "{body}");

    let blob = b"single post".to_vec();
    let r = t
        .req(
            Method::POST,
            &format!("/v2/r/blobs/uploads/?digest={}", sha256(&blob)),
        )
        .header("content-type", "application/octet-stream")
        .body(blob.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);

    let r = t
        .req(
            Method::POST,
            &format!("/v2/r/blobs/uploads/?mount={d}&from=src"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "a mount needs no session");
    // A mount that can't happen falls back to a session, which the cap refuses.
    let r = t
        .req(
            Method::POST,
            &format!("/v2/r/blobs/uploads/?mount={}&from=src", sha256(b"absent")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);

    assert_eq!(t.delete(&locs[0]).await.status(), StatusCode::NO_CONTENT);
    let r = t
        .req(
            Method::POST,
            &format!("/v2/r/blobs/uploads/?digest={}", sha256(&blob)),
        )
        .header("content-type", "application/octet-stream")
        .body(blob.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "room after a cancel");
    let fourth = t.open_session("r").await;
    assert_eq!(
        t.req(Method::POST, "/v2/r/blobs/uploads/")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let r = t
        .client
        .put(t.with_digest(&fourth, &sha256(b"x")))
        .header("content-type", "application/octet-stream")
        .body(b"x".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    t.open_session("r").await;
    let _ = locs;
}

/// A tmpfs of a few MiB, unmounted (lazily, so a failed test can't leave it busy) on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills the filesystem of `path` with a file until it refuses more; returns the file.
fn fill(path: &Path) -> PathBuf {
    use std::io::Write;
    let filler = path.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    loop {
        match f.write_all(&chunk) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("filling the disk: {e}"),
        }
    }
    let _ = f.sync_all();
    filler
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        }
        out.push(p);
    }
    out
}

/// Asserts a 507 with a JSON error whose message names the full disk.
async fn assert_storage_full(r: reqwest::Response, what: &str) {
    assert_eq!(r.status(), StatusCode::INSUFFICIENT_STORAGE, "{what}");
    let body: Value = r.json().await.expect("JSON error body");
    let e = &body["errors"][0];
    assert_eq!(e["code"], "UNKNOWN", "{what}: {body}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("storage is full: no space left on device"),
        "{what}: {body}"
    );
}

/// Nothing half-written anywhere: no temporary file survives a failed request.
fn assert_no_leftovers(root: &Path, what: &str) {
    let tmp = files_under(&root.join("tmp"));
    assert!(tmp.is_empty(), "{what}: left in tmp/: {tmp:?}");
}

fn blob_files(root: &Path, digest: &str) -> Vec<PathBuf> {
    let hex = digest.split_once(':').unwrap().1;
    files_under(&root.join("blobs"))
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == hex))
        .collect()
}

/// A full disk (a 4 MiB tmpfs): every write path answers 507 with a JSON error naming the
/// full disk, leaves nothing partial visible and no temporary file behind; reads keep
/// working; once space is freed, pushes work again. Needs root (mount); skipped otherwise.
#[tokio::test]
async fn full_disk_fails_writes_cleanly_and_reads_keep_working() {
    let fs = match Tmpfs::mount("4m") {
        Ok(fs) => fs,
        Err(e) => {
            eprintln!("skipped: cannot mount a tmpfs for the full-disk test (needs root): {e}");
            return;
        }
    };
    let root = fs.path().join("root");
    let mut t = start_on(&root, |_| {}).await;

    // Content that must stay readable.
    let (manifest, manifest_digest) = t.push_image("app", "v1", 1).await;
    let kept = content(100_000, 2);
    let kept_digest = t.push_blob("app", &kept).await;
    let mountable = t.push_blob("src", b"mount me").await;
    let config = t.push_blob("app", b"{}").await;
    // A session with a first chunk, for PATCH and PUT on the full disk.
    let session = t.open_session("app").await;
    let r = t
        .req(Method::PATCH, &session)
        .header("content-type", "application/octet-stream")
        .header("content-range", "0-9")
        .body(content(10, 9))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let session = header(&r, "location").unwrap();

    // Push 1 MiB blobs until the disk refuses one: the PUT carrying the data fails.
    let mut refused = None;
    let mut pushed = Vec::new();
    for seed in 10..20u8 {
        let data = content(1024 * 1024, seed);
        let digest = sha256(&data);
        let loc = t.open_session("app").await;
        let r = t
            .client
            .put(t.with_digest(&loc, &digest))
            .header("content-type", "application/octet-stream")
            .body(data.clone())
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::CREATED {
            pushed.push(digest);
            continue;
        }
        assert_storage_full(r, "blob PUT").await;
        refused = Some((data, digest, loc));
        break;
    }
    let (data, digest, refused_loc) = refused.expect("a 4 MiB disk refused a blob");
    assert_eq!(
        t.head(&format!("/v2/app/blobs/{digest}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert!(blob_files(&root, &digest).is_empty(), "partial blob stored");
    assert_no_leftovers(&root, "blob PUT");
    // The refused session is still there at offset 0, to be resumed (PUSH-32).
    let r = t.get(&refused_loc).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&r, "range").as_deref(), Some("0-0"));

    // Now fill what is left, so that even the smallest write fails.
    let filler = fill(fs.path());

    let r = t
        .req(Method::POST, "/v2/app/blobs/uploads/")
        .send()
        .await
        .unwrap();
    assert_storage_full(r, "POST (new session)").await;
    assert_no_leftovers(&root, "POST");

    let small = content(50_000, 30);
    let r = t
        .req(
            Method::POST,
            &format!("/v2/app/blobs/uploads/?digest={}", sha256(&small)),
        )
        .header("content-type", "application/octet-stream")
        .body(small.clone())
        .send()
        .await
        .unwrap();
    assert_storage_full(r, "single POST").await;
    assert_no_leftovers(&root, "single POST");
    assert!(blob_files(&root, &sha256(&small)).is_empty());

    let r = t
        .req(Method::PATCH, &session)
        .header("content-type", "application/octet-stream")
        .header("content-range", "10-50009")
        .body(small.clone())
        .send()
        .await
        .unwrap();
    assert_storage_full(r, "PATCH").await;
    let r = t.get(&session).await;
    assert_eq!(
        header(&r, "range").as_deref(),
        Some("0-9"),
        "chunk rolled back"
    );
    let r = t
        .client
        .put(t.with_digest(&session, &sha256(b"whatever")))
        .header("content-type", "application/octet-stream")
        .header("content-range", "10-50009")
        .body(small.clone())
        .send()
        .await
        .unwrap();
    assert_storage_full(r, "closing PUT with a chunk").await;
    assert_no_leftovers(&root, "PATCH and PUT");

    let r = t
        .req(
            Method::POST,
            &format!("/v2/app/blobs/uploads/?mount={mountable}&from=src"),
        )
        .send()
        .await
        .unwrap();
    assert_storage_full(r, "mount").await;
    assert_eq!(
        t.head(&format!("/v2/app/blobs/{mountable}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_no_leftovers(&root, "mount");

    let m2 = image_manifest(
        &(config.clone(), 2),
        &[(kept_digest.clone(), kept.len())],
        None,
    );
    let r = t.put_manifest("app", "v2", OCI_MANIFEST, &m2).await;
    assert_storage_full(r, "manifest PUT").await;
    assert_eq!(
        t.get(&format!("/v2/app/manifests/{}", sha256(&m2)))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.get("/v2/app/manifests/v2").await.status(),
        StatusCode::NOT_FOUND
    );
    let r = t
        .put_manifest("app", "v1-copy", OCI_MANIFEST, &manifest)
        .await;
    assert_storage_full(r, "tag PUT of an existing manifest").await;
    assert_eq!(
        t.get("/v2/app/manifests/v1-copy").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_no_leftovers(&root, "manifest PUT");

    // Reads are unaffected.
    assert_eq!(
        t.get_bytes(&format!("/v2/app/blobs/{kept_digest}")).await,
        kept
    );
    let r = t
        .req(Method::GET, "/v2/app/manifests/v1")
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().to_vec(), manifest);
    assert_eq!(
        t.head(&format!("/v2/app/manifests/{manifest_digest}"))
            .await
            .status(),
        StatusCode::OK
    );
    let tags: Value = t.get("/v2/app/tags/list").await.json().await.unwrap();
    assert_eq!(tags["tags"], serde_json::json!(["v1"]));
    let catalog: Value = t.get("/v2/_catalog").await.json().await.unwrap();
    assert_eq!(catalog["repositories"], serde_json::json!(["app", "src"]));

    // Free space (the filler, and the big blobs as an operator would: delete, then remove
    // the content): the same pushes work again.
    std::fs::remove_file(&filler).unwrap();
    for d in &pushed {
        assert_eq!(
            t.delete(&format!("/v2/app/blobs/{d}")).await.status(),
            StatusCode::ACCEPTED
        );
        for f in blob_files(&root, d) {
            std::fs::remove_file(f).unwrap();
        }
    }
    let r = t
        .client
        .put(t.with_digest(&refused_loc, &digest))
        .header("content-type", "application/octet-stream")
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "the refused session resumes"
    );
    assert_eq!(t.get_bytes(&format!("/v2/app/blobs/{digest}")).await, data);
    let r = t
        .client
        .put(t.with_digest(&session, &sha256(&[content(10, 9), small.clone()].concat())))
        .header("content-type", "application/octet-stream")
        .header("content-range", "10-50009")
        .body(small.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = t
        .req(
            Method::POST,
            &format!("/v2/app/blobs/uploads/?mount={mountable}&from=src"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = t.put_manifest("app", "v2", OCI_MANIFEST, &m2).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_no_leftovers(&root, "after freeing space");
    t.stop().await;
}

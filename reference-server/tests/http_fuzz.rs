//! HTTP-level fuzzing: thousands of malformed or hostile requests, written by hand as raw
//! HTTP/1.1 bytes over loopback TCP (so that they can be broken in ways an HTTP client
//! refuses to be), against a real registry. Asserts: no 5xx, no panic, no hang (every
//! exchange ends within a timeout), and a live server afterwards (`GET /v2/` answers 200,
//! a push and a pull still work).
//!
//! The requests come from a seeded RNG (the seed is printed; `HTTP_FUZZ_SEED=<n>` replays
//! a run, `HTTP_FUZZ_COUNT=<n>` changes the number of random requests) plus a list of
//! hand-written nasty cases. A request that is cut off on purpose (truncated bodies, a
//! `Content-Length` larger than the body, broken chunked framing) is followed by a
//! shutdown of our write side: the server may close without answering, or answer 4xx.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one exchange may take before it counts as a hang.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);
/// Random requests on top of the hand-written ones.
const DEFAULT_RANDOM: usize = 5_000;
/// Connections in flight at once.
const WORKERS: usize = 8;
/// The repository the setup fills, so that requests reach real blobs, manifests, sessions.
const REPO: &str = "fuzz/repo";

static PANICKED: AtomicBool = AtomicBool::new(false);
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// One request as bytes, and how it ends.
#[derive(Clone)]
struct Case {
    label: String,
    bytes: Vec<u8>,
    /// Cut off on purpose: we close our write side after sending, and accept no answer.
    cut: bool,
}

/// What the server did.
#[derive(Debug)]
enum Outcome {
    /// Status codes of the answers read (more than one for pipelined requests).
    Answered(Vec<u16>),
    /// Closed (or reset) without a status line.
    Closed,
    /// Neither answered nor closed within [`EXCHANGE_TIMEOUT`].
    Hung,
}

/// What the setup left in the registry.
struct Known {
    blob: String,
    manifest: String,
    sessions: Vec<String>,
}

// ---------------------------------------------------------------------------------------
// Building blocks.

const MANIFEST_TYPES: &[&str] = &[
    OCI_MANIFEST,
    OCI_INDEX,
    DOCKER_MANIFEST,
    DOCKER_LIST,
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/vnd.oci.artifact.manifest.v1+json",
    "application/vnd.example+json",
    "application/json",
    "text/plain",
    "",
    "application/vnd.oci.image.manifest.v1+json; charset=utf-8",
    "APPLICATION/VND.OCI.IMAGE.MANIFEST.V1+JSON",
    ";;;",
    "application/vnd.oci.image.index.v1+json\u{0}",
];

fn bad_names() -> Vec<String> {
    let mut v: Vec<String> = [
        "..",
        "a/..",
        "../a",
        "a/../b",
        "%2e%2e",
        "a/%2e%2e/b",
        "%2E%2E%2F%2E%2E",
        "a%2fb",
        "a%00b",
        "a\u{0}b",
        "UPPER",
        "Fuzz/Repo",
        "_a",
        "a/_layers",
        "a/_manifests/b",
        "a_",
        "a//b",
        "/a",
        "a/",
        ".",
        "-a",
        "a..b",
        "a___b",
        "a b",
        "a%20b",
        "é",
        "%C3%A9",
        "%FF%FE",
        "%",
        "%zz",
        "a%",
        "日本/語",
        "a\tb",
        "a?b",
        "a#b",
        "a;b",
        "*",
        "~",
        "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("a".repeat(256));
    v.push("a".repeat(4000));
    v.push(vec!["a"; 300].join("/"));
    v.push(format!("{}/x", "b".repeat(255)));
    v
}

fn bad_digests() -> Vec<String> {
    let h = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let mut v: Vec<String> = [
        "",
        "sha256:",
        ":",
        "sha256",
        "sha256:abc",
        "md5:d41d8cd98f00b204e9800998ecf8427e",
        "sha256:zz",
        "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85é",
        "sha256%3ae3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "sha256:../../etc/passwd",
        "sha256:%2e%2e%2f%2e%2e",
        "foo+bar:AbC=",
        "a:b:c",
        "sha256:\u{0}",
        "latest",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(format!("sha256:{}", h.repeat(100)));
    v.push(format!("sha512:{}", "0".repeat(128)));
    v.push(format!("sha256:{}", "0".repeat(64)));
    v.push(format!("{}:{h}", "x".repeat(1000)));
    v
}

fn bad_ranges() -> Vec<String> {
    [
        "bytes=0-0",
        "bytes=0-",
        "bytes=-1",
        "bytes=-0",
        "bytes=5-1",
        "bytes=0-18446744073709551615",
        "bytes=18446744073709551615-",
        "bytes=0-18446744073709551616",
        "bytes=-18446744073709551615",
        "bytes=99999999999999999999-",
        "bytes=0-1,2-3",
        "bytes=",
        "bytes=-",
        "bytes=a-b",
        "bytes= 1 - 2 ",
        "bytes=+1-2",
        "bytes=-+1",
        "bytes=1--2",
        "items=0-1",
        "bytes 0-1",
        "BYTES=0-1",
        "bytés=0-1",
        "bytes=0-1/2",
        "",
        "0-0",
        "0-18446744073709551615",
        "18446744073709551615-18446744073709551615",
        "5-4",
        "-1-2",
        "bytes 0-1/*",
        "bytes=0-0/0",
        "a-b",
        "0-",
        "-",
        "1-1",
        "0-99999999999999999999",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn bad_lengths() -> Vec<String> {
    [
        "-1",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999",
        "abc",
        "",
        " 5",
        "0x10",
        "1e3",
        "+5",
        "5, 6",
        "1.5",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn pct(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

fn random_bytes(rng: &mut StdRng, max: usize) -> Vec<u8> {
    let n = rng.random_range(0..=max);
    (0..n).map(|_| rng.random::<u8>()).collect()
}

fn pick<'a, T>(rng: &mut StdRng, v: &'a [T]) -> &'a T {
    &v[rng.random_range(0..v.len())]
}

/// A request line and `Host`, then `headers`; the blank line that ends the head is the
/// caller's (so that a broken head can be written).
fn head(method: &str, target: &str, version: &str, headers: &[(String, String)]) -> Vec<u8> {
    let mut out = format!("{method} {target} {version}\r\nHost: 127.0.0.1\r\n").into_bytes();
    for (k, v) in headers {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A complete request with a correct `Content-Length` body.
fn with_body(method: &str, target: &str, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut h = headers.to_vec();
    h.push(("Content-Length".into(), body.len().to_string()));
    h.push(("Connection".into(), "close".into()));
    let mut out = head(method, target, "HTTP/1.1", &h);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

fn hdr(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

/// A JSON document that looks like a manifest or index, with random damage.
fn manifest_like(rng: &mut StdRng, k: &Known) -> Vec<u8> {
    let digests = [
        k.blob.clone(),
        k.manifest.clone(),
        pick(rng, &bad_digests()).clone(),
    ];
    let d = pick(rng, &digests).clone();
    let mt = pick(rng, MANIFEST_TYPES).to_string();
    let size: serde_json::Value = match rng.random_range(0..6) {
        0 => (-1).into(),
        1 => u64::MAX.into(),
        2 => "12".into(),
        3 => 1.5.into(),
        _ => 2.into(),
    };
    let desc = serde_json::json!({"mediaType": mt, "digest": d, "size": size});
    let mut v = match rng.random_range(0..5) {
        0 => serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": desc, "layers": [desc, desc]}),
        1 => serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
            "manifests": [desc, {"platform": {"os": 7}}]}),
        2 => serde_json::json!({"schemaVersion": 2, "config": desc, "layers": {},
            "subject": desc, "annotations": {"a": 1}}),
        3 => serde_json::json!({"schemaVersion": "2", "mediaType": 5, "manifests": null}),
        _ => {
            serde_json::json!({"schemaVersion": 2, "mediaType": mt, "config": desc, "layers": [],
            "artifactType": [], "subject": {"digest": d}})
        }
    };
    if rng.random_bool(0.3) {
        v["config"]["data"] = pick(rng, &["e30=", "!!!", "", "e30"]).to_string().into();
    }
    let mut bytes = serde_json::to_vec(&v).unwrap();
    if rng.random_bool(0.2) && !bytes.is_empty() {
        // Cut or corrupt the JSON.
        let at = rng.random_range(0..bytes.len());
        if rng.random_bool(0.5) {
            bytes.truncate(at);
        } else {
            bytes[at] = rng.random();
        }
    }
    bytes
}

// ---------------------------------------------------------------------------------------
// Case generation.

/// A random path into the API, with random names, references, digests and queries.
fn random_target(rng: &mut StdRng, k: &Known) -> String {
    let names = bad_names();
    let name = match rng.random_range(0..10) {
        0..=3 => REPO.to_string(),
        4..=7 => pick(rng, &names).clone(),
        8 => pct(&random_bytes(rng, 20)),
        _ => "library/ok".to_string(),
    };
    let digests = bad_digests();
    let digest = match rng.random_range(0..4) {
        0 => k.blob.clone(),
        1 => k.manifest.clone(),
        _ => pick(rng, &digests).clone(),
    };
    let reference = match rng.random_range(0..5) {
        0 => "latest".to_string(),
        1 => digest.clone(),
        2 => "a".repeat(129),
        3 => pick(rng, &[".x", "-x", "a:b", "a/b", "%00", "é", "_ok"]).to_string(),
        _ => k.manifest.clone(),
    };
    let session = pick(rng, &k.sessions).clone();
    let query = match rng.random_range(0..8) {
        0 => format!(
            "?n={}",
            pick(rng, &["-1", "0", "99999999999999999999", "x", "1"])
        ),
        1 => format!("?n=1&last={}", pick(rng, &names)),
        2 => format!("?digest={digest}"),
        3 => format!("?mount={digest}&from={}", pick(rng, &names)),
        4 => "?digest=a&digest=b&&&=&%zz".to_string(),
        5 => format!("?artifactType={}", pct(&random_bytes(rng, 8))),
        _ => String::new(),
    };
    let path = match rng.random_range(0..11) {
        0 => "/v2/".to_string(),
        1 => "/v2/_catalog".to_string(),
        2 => format!("/v2/{name}/tags/list"),
        3 | 4 => format!("/v2/{name}/manifests/{reference}"),
        5 => format!("/v2/{name}/blobs/{digest}"),
        6 => format!("/v2/{name}/blobs/uploads/"),
        7 | 8 => format!("/v2/{REPO}/blobs/uploads/{session}"),
        9 => format!("/v2/{name}/referrers/{digest}"),
        _ => pick(
            rng,
            &[
                "/",
                "*",
                "/v2",
                "/v1/",
                "//v2//",
                "/v2/../etc/passwd",
                "http://127.0.0.1/v2/",
                "/v2/%",
                "/v2/\u{0}",
                "/v2/blobs/uploads/",
                "/v2/manifests/latest",
            ],
        )
        .to_string(),
    };
    // Raw control bytes and spaces in the target break the request line itself.
    format!("{path}{query}")
}

/// One random request.
fn random_case(rng: &mut StdRng, k: &Known, i: usize) -> Case {
    let methods = [
        "GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS", "TRACE", "get", "FOO", "PUT",
        "PATCH", "POST",
    ];
    let method = pick(rng, &methods).to_string();
    let target = random_target(rng, k);
    let mut headers: Vec<(String, String)> = Vec::new();
    if rng.random_bool(0.5) {
        headers.push(hdr("Content-Type", *pick(rng, MANIFEST_TYPES)));
    }
    if rng.random_bool(0.25) {
        headers.push(hdr("Range", pick(rng, &bad_ranges()).clone()));
    }
    if rng.random_bool(0.25) {
        headers.push(hdr("Content-Range", pick(rng, &bad_ranges()).clone()));
    }
    if rng.random_bool(0.1) {
        headers.push(hdr("If-None-Match", format!("\"{}\", *, W/\"", k.blob)));
    }
    if rng.random_bool(0.1) {
        let auth = pick(
            rng,
            &[
                "Bearer a.b.c",
                "Basic !!!",
                "Basic Og==",
                "Bearer",
                "Negotiate",
                "",
            ],
        );
        headers.push(hdr("Authorization", *auth));
    }
    if rng.random_bool(0.1) {
        headers.push(hdr("Accept", MANIFEST_TYPES.join(", ")));
    }
    let body = match rng.random_range(0..4) {
        0 => Vec::new(),
        1 => random_bytes(rng, 300),
        _ => manifest_like(rng, k),
    };
    // The framing: mostly right, sometimes broken.
    let (bytes, cut) = match rng.random_range(0..20) {
        0 => {
            // A bad Content-Length: the server must refuse it or wait for the rest.
            headers.push(hdr("Content-Length", pick(rng, &bad_lengths()).clone()));
            let mut b = head(&method, &target, "HTTP/1.1", &headers);
            b.extend_from_slice(b"\r\n");
            b.extend_from_slice(&body);
            (b, true)
        }
        1 => {
            // Content-Length larger than the body.
            headers.push(hdr("Content-Length", (body.len() + 10).to_string()));
            let mut b = head(&method, &target, "HTTP/1.1", &headers);
            b.extend_from_slice(b"\r\n");
            b.extend_from_slice(&body);
            (b, true)
        }
        2 | 3 => {
            // Chunked, correct or broken.
            headers.push(hdr("Transfer-Encoding", "chunked"));
            headers.push(hdr("Connection", "close"));
            let mut b = head(&method, &target, "HTTP/1.1", &headers);
            b.extend_from_slice(b"\r\n");
            let broken = rng.random_range(0..6);
            let size = match broken {
                1 => "zz".to_string(),
                2 => "ffffffffffffffffffff".to_string(),
                3 => format!("{:x}", body.len() + 5),
                _ => format!("{:x}", body.len()),
            };
            if !body.is_empty() {
                b.extend_from_slice(size.as_bytes());
                b.extend_from_slice(if broken == 4 { b"\n" } else { b"\r\n" });
                b.extend_from_slice(&body);
                b.extend_from_slice(b"\r\n");
            }
            if broken != 5 {
                b.extend_from_slice(b"0\r\n\r\n");
            }
            (b, broken != 0)
        }
        4 => {
            // Cut off anywhere.
            let mut b = with_body(&method, &target, &headers, &body);
            let at = rng.random_range(0..b.len());
            b.truncate(at);
            (b, true)
        }
        5 => {
            // Random bytes flipped in the head.
            let mut b = with_body(&method, &target, &headers, &body);
            for _ in 0..rng.random_range(1..4) {
                let at = rng.random_range(0..b.len());
                b[at] = rng.random();
            }
            (b, true)
        }
        _ => (with_body(&method, &target, &headers, &body), false),
    };
    Case {
        label: format!("random #{i}: {method} {}", truncate(&target, 80)),
        bytes,
        cut,
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        s.to_string()
    } else {
        let mut end = n;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    }
}

/// The hand-written cases.
fn nasty_cases(k: &Known) -> Vec<Case> {
    let mut v = Vec::new();
    let mut add = |label: &str, bytes: Vec<u8>, cut: bool| {
        v.push(Case {
            label: label.to_string(),
            bytes,
            cut,
        })
    };
    let s0 = &k.sessions[0];
    let upload = format!("/v2/{REPO}/blobs/uploads/{s0}");
    // Names and digests on every endpoint.
    for n in bad_names() {
        for path in [
            format!("/v2/{n}/tags/list"),
            format!("/v2/{n}/manifests/latest"),
            format!("/v2/{n}/blobs/{}", k.blob),
            format!("/v2/{n}/blobs/uploads/"),
        ] {
            for m in ["GET", "POST"] {
                add(&format!("name {n:?}"), with_body(m, &path, &[], b""), false);
            }
        }
    }
    for d in bad_digests() {
        for path in [
            format!("/v2/{REPO}/blobs/{d}"),
            format!("/v2/{REPO}/manifests/{d}"),
            format!("/v2/{REPO}/referrers/{d}"),
            format!("/v2/{REPO}/blobs/uploads/?digest={d}"),
            format!("/v2/{REPO}/blobs/uploads/?mount={d}&from=fuzz/other"),
            format!("{upload}?digest={d}"),
        ] {
            for m in ["GET", "PUT", "DELETE", "POST"] {
                add(
                    &format!("digest {d:?}"),
                    with_body(m, &path, &[], b"x"),
                    false,
                );
            }
        }
    }
    // Ranges on a blob GET and Content-Ranges on a PATCH, with and without lengths.
    for r in bad_ranges() {
        let blob = format!("/v2/{REPO}/blobs/{}", k.blob);
        add(
            &format!("Range {r:?}"),
            with_body("GET", &blob, &[hdr("Range", r.clone())], b""),
            false,
        );
        for s in &k.sessions[1..3] {
            let up = format!("/v2/{REPO}/blobs/uploads/{s}");
            add(
                &format!("Content-Range {r:?}"),
                with_body("PATCH", &up, &[hdr("Content-Range", r.clone())], b"abc"),
                false,
            );
            add(
                &format!("Content-Range {r:?}, no body"),
                with_body("PATCH", &up, &[hdr("Content-Range", r.clone())], b""),
                false,
            );
        }
    }
    // Lengths.
    for l in bad_lengths() {
        for (m, p) in [
            ("PATCH", upload.clone()),
            ("PUT", format!("/v2/{REPO}/manifests/x")),
        ] {
            let mut b = head(m, &p, "HTTP/1.1", &[hdr("Content-Length", l.clone())]);
            b.extend_from_slice(b"\r\nabc");
            add(&format!("Content-Length {l:?}"), b, true);
        }
    }
    let mut both = head(
        "PATCH",
        &upload,
        "HTTP/1.1",
        &[
            hdr("Content-Length", "3"),
            hdr("Transfer-Encoding", "chunked"),
        ],
    );
    both.extend_from_slice(b"\r\n3\r\nabc\r\n0\r\n\r\n");
    add("Content-Length and chunked", both, true);
    let mut two = head(
        "PUT",
        &format!("/v2/{REPO}/manifests/x"),
        "HTTP/1.1",
        &[hdr("Content-Length", "3"), hdr("Content-Length", "4")],
    );
    two.extend_from_slice(b"\r\nabcd");
    add("two Content-Lengths", two, true);
    // Chunked encodings.
    for chunks in [
        &b"zz\r\nabc\r\n0\r\n\r\n"[..],
        b"3\nabc\n0\n\n",
        b"3\r\nabcdef\r\n0\r\n\r\n",
        b"ffffffffffffffffff\r\nabc\r\n",
        b"-1\r\nabc\r\n0\r\n\r\n",
        b"3;ext=1\r\nabc\r\n0\r\n\r\n",
        b"3\r\nabc\r\n0\r\nTrailer: x\r\n\r\n",
        b"3\r\nab",
        b"3\r\nabc",
        b"3\r\nabc\r\n",
        b"0\r\n",
        b"\r\n\r\n",
        b"3 \r\nabc\r\n0\r\n\r\n",
        b"0x3\r\nabc\r\n0\r\n\r\n",
    ] {
        for (m, p) in [
            ("PATCH", upload.clone()),
            ("PUT", format!("/v2/{REPO}/manifests/chunked")),
            ("POST", format!("/v2/{REPO}/blobs/uploads/")),
        ] {
            let mut b = head(m, &p, "HTTP/1.1", &[hdr("Transfer-Encoding", "chunked")]);
            b.extend_from_slice(b"\r\n");
            b.extend_from_slice(chunks);
            add(
                &format!("chunked {:?}", String::from_utf8_lossy(chunks)),
                b,
                true,
            );
        }
    }
    for te in [
        "gzip",
        "chunked, gzip",
        "identity",
        "chunked, chunked",
        "xchunked",
    ] {
        let mut b = head(
            "PATCH",
            &upload,
            "HTTP/1.1",
            &[hdr("Transfer-Encoding", te)],
        );
        b.extend_from_slice(b"\r\n3\r\nabc\r\n0\r\n\r\n");
        add(&format!("Transfer-Encoding {te}"), b, true);
    }
    // Bodies that don't match their digest or their type.
    let wrong = format!("/v2/{REPO}/blobs/uploads/?digest=sha256:{}", "0".repeat(64));
    add(
        "monolithic, wrong digest",
        with_body("POST", &wrong, &[], b"hello"),
        false,
    );
    for (i, s) in k.sessions[3..6].iter().enumerate() {
        let p = format!("/v2/{REPO}/blobs/uploads/{s}?digest={}", k.blob);
        add(
            &format!("PUT wrong bytes {i}"),
            with_body("PUT", &p, &[], b"not it"),
            false,
        );
    }
    for mt in MANIFEST_TYPES {
        for body in [
            &b""[..],
            b"{",
            b"[]",
            b"null",
            b"{\"schemaVersion\":2}",
            b"\xff\xfe\x00",
            b"{\"mediaType\":{}}",
            b"{\"schemaVersion\":2,\"manifests\":[{}]}",
            b"{\"schemaVersion\":2,\"config\":1,\"layers\":[]}",
        ] {
            add(
                &format!("manifest as {mt:?}"),
                with_body(
                    "PUT",
                    &format!("/v2/{REPO}/manifests/t"),
                    &[hdr("Content-Type", *mt)],
                    body,
                ),
                false,
            );
        }
    }
    let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    add(
        "deeply nested JSON manifest",
        with_body(
            "PUT",
            &format!("/v2/{REPO}/manifests/deep"),
            &[hdr("Content-Type", OCI_MANIFEST)],
            deep.as_bytes(),
        ),
        false,
    );
    let deep_obj = format!("{}{}", "{\"a\":".repeat(5_000), "}".repeat(5_000));
    add(
        "deeply nested JSON object",
        with_body(
            "PUT",
            &format!("/v2/{REPO}/manifests/deep"),
            &[],
            deep_obj.as_bytes(),
        ),
        false,
    );
    // Header floods.
    let many: Vec<(String, String)> = (0..2_000).map(|i| hdr(&format!("X-F{i}"), "v")).collect();
    add("2000 headers", with_body("GET", "/v2/", &many, b""), false);
    let same: Vec<(String, String)> = (0..500).map(|_| hdr("Range", "bytes=0-0")).collect();
    add(
        "500 Range headers",
        with_body("GET", &format!("/v2/{REPO}/blobs/{}", k.blob), &same, b""),
        false,
    );
    for size in [8 * 1024, 64 * 1024, 1024 * 1024] {
        let big = vec![hdr("X-Big", "a".repeat(size))];
        add(
            &format!("one {size}-byte header"),
            with_body("GET", "/v2/", &big, b""),
            false,
        );
    }
    add(
        "huge Authorization",
        with_body(
            "GET",
            "/v2/",
            &[hdr(
                "Authorization",
                format!("Bearer {}", "a.".repeat(100_000)),
            )],
            b"",
        ),
        false,
    );
    add(
        "huge request line",
        with_body("GET", &format!("/v2/{}", "a/".repeat(100_000)), &[], b""),
        false,
    );
    // Broken request lines and versions.
    for raw in [
        &b"GET /v2/ HTTP/1.0\r\n\r\n"[..],
        b"GET /v2/\r\n\r\n",
        b"GET /v2/ HTTP/2.0\r\n\r\n",
        b"GET /v2/ HTTP/9.9\r\nHost: x\r\n\r\n",
        b"GET /v2/ FOO/1.1\r\n\r\n",
        b"GET  /v2/  HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\r\n\r\nGET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /v2/ HTTP/1.1\nHost: x\nConnection: close\n\n",
        b"GET /v2/ HTTP/1.1\r\nHost x\r\n\r\n",
        b"GET /v2/ HTTP/1.1\r\n: empty\r\n\r\n",
        b"GET /v2/ HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
        b"GET /v2/ HTTP/1.1\r\nX\x00: a\r\n\r\n",
        b"GET /v2/ HTTP/1.1\r\nX: \x00\x01\x7f\xff\r\nConnection: close\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"\x00\x00\x00\x00",
        b"GET",
        b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1",
        b"CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET /v2/ HTTP/1.1\r\nHost: [::1\r\nConnection: close\r\n\r\n",
        b"GET /v2/ HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
        b"GET /v2/ HTTP/1.1\r\nConnection: close\r\n\r\n",
        b"GET /v2/ HTTP/1.1\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ] {
        add(
            &format!("raw {:?}", String::from_utf8_lossy(raw)),
            raw.to_vec(),
            true,
        );
    }
    // HTTP/1.0 requests, which close after the answer.
    for p in ["/v2/", "/v2/_catalog", &format!("/v2/{REPO}/tags/list")] {
        let mut b = head("GET", p, "HTTP/1.0", &[]);
        b.extend_from_slice(b"\r\n");
        add(&format!("HTTP/1.0 GET {p}"), b, false);
        let mut b = head(
            "POST",
            &format!("/v2/{REPO}/blobs/uploads/"),
            "HTTP/1.0",
            &[],
        );
        b.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        add("HTTP/1.0 POST", b, false);
    }
    // Pipelined requests: several on one connection, the last one closes it.
    let mut pipe = Vec::new();
    for i in 0..20 {
        let p = match i % 4 {
            0 => "/v2/".to_string(),
            1 => format!("/v2/{REPO}/blobs/{}", k.blob),
            2 => format!("/v2/{REPO}/manifests/latest"),
            _ => "/v2/..%2f/tags/list".to_string(),
        };
        pipe.extend(head("GET", &p, "HTTP/1.1", &[]));
        pipe.extend_from_slice(b"\r\n");
    }
    pipe.extend(with_body("GET", "/v2/", &[], b""));
    add("20 pipelined requests", pipe, false);
    // The first request without Connection: close, then garbage.
    let mut pipe = String::from_utf8(with_body("PATCH", &upload, &[], b"abc"))
        .unwrap()
        .replace("Connection: close\r\n", "")
        .into_bytes();
    pipe.extend_from_slice(b"garbage\r\n\r\n");
    add("a request followed by garbage", pipe, true);
    v
}

// ---------------------------------------------------------------------------------------
// Running.

/// Sends one case on a fresh connection and reads whatever comes back.
async fn exchange(addr: std::net::SocketAddr, case: &Case) -> Outcome {
    let run = async {
        let Ok(mut s) = TcpStream::connect(addr).await else {
            panic!("cannot connect to the registry at {addr} (is it still up?)");
        };
        // The server may close before it has read everything (a refused header flood):
        // that is an answer too, so write errors are not failures.
        let _ = s.write_all(&case.bytes).await;
        if case.cut {
            let _ = s.shutdown().await;
        }
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    // Blob bodies are small here; anything bigger is a runaway answer.
                    if buf.len() > 16 * 1024 * 1024 {
                        break;
                    }
                }
            }
        }
        buf
    };
    match tokio::time::timeout(EXCHANGE_TIMEOUT, run).await {
        Err(_) => Outcome::Hung,
        Ok(buf) => {
            let statuses = statuses(&buf);
            if statuses.is_empty() {
                Outcome::Closed
            } else {
                Outcome::Answered(statuses)
            }
        }
    }
}

/// The status codes of the responses in `buf`: the first line, and the status lines of
/// later responses on the same connection (pipelining).
fn statuses(buf: &[u8]) -> Vec<u16> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(pos) = find(&buf[i..], b"HTTP/1.") {
        let at = i + pos;
        let line_start = at == 0 || buf[..at].ends_with(b"\n");
        if line_start
            && let Some(code) = buf.get(at + 9..at + 12)
            && let Some(c) = std::str::from_utf8(code).ok().and_then(|c| c.parse().ok())
        {
            out.push(c);
        }
        i = at + 7;
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn setup(t: &TestRegistry) -> Known {
    let (_, manifest) = t.push_image(REPO, "latest", 7).await;
    let blob = t.push_blob(REPO, b"fuzz blob").await;
    t.push_image("fuzz/other", "latest", 8).await;
    let mut sessions = Vec::new();
    for _ in 0..16 {
        let loc = t.open_session(REPO).await;
        let path = loc.split('?').next().unwrap().to_string();
        sessions.push(path.rsplit('/').next().unwrap().to_string());
    }
    Known {
        blob,
        manifest,
        sessions,
    }
}

/// Records every panic of the process (the server's tasks run in it) for the assertions.
fn record_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICKED.store(true, Ordering::SeqCst);
            if let Ok(mut v) = PANICS.lock() {
                v.push(info.to_string());
            }
            default_hook(info);
        }));
    });
}

/// Found by this fuzzer: a request target without a path (the authority form of CONNECT)
/// made warp's `path::full()` panic in the connection task.
#[tokio::test]
async fn an_authority_form_target_is_answered_without_a_panic() {
    record_panics();
    let t = start().await;
    let addr = t.registry.as_ref().unwrap().local_addr();
    for raw in [
        &b"CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\nConnection: close\r\n\r\n"[..],
        b"GET 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    ] {
        let case = Case {
            label: String::from_utf8_lossy(raw).into_owned(),
            bytes: raw.to_vec(),
            cut: false,
        };
        match exchange(addr, &case).await {
            Outcome::Answered(codes) => assert!(codes.iter().all(|c| *c < 500), "{codes:?}"),
            Outcome::Closed => {}
            Outcome::Hung => panic!("no answer to {:?}", case.label),
        }
    }
    assert_eq!(t.get("/v2/").await.status(), StatusCode::OK);
    let panics = PANICS.lock().map(|v| v.clone()).unwrap_or_default();
    assert!(!PANICKED.load(Ordering::SeqCst), "{panics:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_no_5xx_no_panic_no_hang() {
    record_panics();

    let t = start().await;
    let addr = t.registry.as_ref().unwrap().local_addr();
    let known = setup(&t).await;

    let seed: u64 = std::env::var("HTTP_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_f022);
    let count: usize = std::env::var("HTTP_FUZZ_COUNT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_RANDOM);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut cases = nasty_cases(&known);
    let hand_written = cases.len();
    cases.extend((0..count).map(|i| random_case(&mut rng, &known, i)));
    println!(
        "http_fuzz: seed {seed}, {hand_written} hand-written + {count} random requests, {WORKERS} connections at a time"
    );

    let started = Instant::now();
    let cases = Arc::new(cases);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..WORKERS {
        let cases = cases.clone();
        let next = next.clone();
        workers.spawn(async move {
            let mut results = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = cases.get(i) else { break };
                results.push((i, exchange(addr, case).await));
            }
            results
        });
    }
    let mut histogram: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut sent = 0;
    while let Some(r) = workers.join_next().await {
        for (i, outcome) in r.expect("worker") {
            sent += 1;
            let case = &cases[i];
            match &outcome {
                Outcome::Answered(codes) => {
                    for c in codes {
                        *histogram.entry(c.to_string()).or_default() += 1;
                        if *c >= 500 {
                            failures.push(format!("{c} for {}", case.label));
                        }
                    }
                }
                Outcome::Closed => *histogram.entry("closed".into()).or_default() += 1,
                Outcome::Hung => {
                    *histogram.entry("hung".into()).or_default() += 1;
                    failures.push(format!(
                        "no answer and no close within {EXCHANGE_TIMEOUT:?} for {} (cut: {})",
                        case.label, case.cut
                    ));
                }
            }
        }
    }
    println!(
        "http_fuzz: {sent} requests in {:.1}s; outcomes: {histogram:?}",
        started.elapsed().as_secs_f64()
    );
    assert!(
        sent >= 5_000 || count < DEFAULT_RANDOM,
        "only {sent} requests sent"
    );

    // The server is alive and still works.
    let r = t.get("/v2/").await;
    assert_eq!(r.status(), StatusCode::OK, "GET /v2/ after the fuzzing");
    let (m, d) = t.push_image("fuzz/after", "v1", 9).await;
    assert_eq!(
        t.get_bytes(&format!("/v2/fuzz/after/manifests/{d}")).await,
        m
    );
    assert_eq!(t.get_bytes("/v2/fuzz/after/manifests/v1").await, m);

    let panics = PANICS.lock().map(|v| v.clone()).unwrap_or_default();
    assert!(
        !PANICKED.load(Ordering::SeqCst),
        "the server panicked {} time(s): {panics:#?}",
        panics.len()
    );
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

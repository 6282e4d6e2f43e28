//! Crash safety under `kill -9`, proven by a loop (issue: reliability).
//!
//! Each round starts the real binary, runs concurrent writers (every upload method, manifest
//! and tag PUTs, manifest and tag deletes, mounts, sessions left open mid-upload, and in
//! every third round the in-server garbage collector with no grace) for a random fraction
//! of a second, kills the server with SIGKILL, restarts it and checks a ledger of
//! everything acknowledged:
//! - every acknowledged manifest is served byte for byte by digest, every acknowledged tag
//!   points where the last acknowledged PUT put it, acknowledged deletes stay deleted;
//! - every blob an acknowledged manifest references is served byte for byte; blobs nothing
//!   references are required only until a collection could have run;
//! - every upload session answers status 204 with a `Range` at or past its acknowledged
//!   offset (or 404 if its close was in flight), never 5xx, and resuming it from `Range`
//!   completes with the right digest;
//! - no request ever gets a 5xx and the server never panics;
//!
//! Then it stops the server and runs `reference-registry fsck`, which must find nothing.
//!
//! `CRASH_ROUNDS` sets the number of rounds (default 25). `CRASH_LOOP_BIN` runs another
//! build of the server (an older commit, to measure what the loop finds there); `fsck` is
//! always this build's.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use reqwest::{Client, Method, StatusCode};
use serde_json::json;
use sha2::{Digest as _, Sha256};

const WRITERS: usize = 4;
const TAGS: [&str; 3] = ["a", "b", "c"];

fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

/// A server process and its base URL; its stderr is collected to look for panics.
struct Server {
    child: Child,
    base: String,
    log: Arc<Mutex<String>>,
}

fn server_bin() -> String {
    std::env::var("CRASH_LOOP_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_reference-registry").to_string())
}

fn start(root: &Path, gc: bool) -> Server {
    let mut cmd = Command::new(server_bin());
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--root"])
        .arg(root)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // Older builds (CRASH_LOOP_BIN) have no in-server collector.
    if gc && std::env::var_os("CRASH_LOOP_BIN").is_none() {
        cmd.args(["--gc-interval", "1", "--gc-grace", "0"]);
    }
    let mut child = cmd.spawn().expect("start reference-registry");
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = log.clone();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.split("listening on ").nth(1)
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(url.split_whitespace().next().unwrap_or("").to_string());
            }
            sink.lock().unwrap().push_str(&line);
            sink.lock().unwrap().push('\n');
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the server printed its address");
    Server { child, base, log }
}

impl Server {
    fn kill9(mut self) -> String {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(50));
        self.log.lock().unwrap().clone()
    }

    fn stop(mut self) -> String {
        // SIGTERM: graceful.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(50));
        self.log.lock().unwrap().clone()
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Known<T> {
    Yes(T),
    No,
    /// A request about it was in flight at the kill: either outcome is fine.
    Maybe(Vec<Option<T>>),
}

/// Everything acknowledged, per writer repository.
#[derive(Default)]
struct Ledger {
    /// digest → (bytes, round acknowledged)
    blobs: HashMap<String, (Vec<u8>, usize)>,
    /// digest → (bytes, state)
    manifests: HashMap<String, (Vec<u8>, Known<()>)>,
    tags: HashMap<String, Known<String>>,
    /// (location, full data, acknowledged offset, close in flight)
    sessions: Vec<(String, Vec<u8>, usize, bool)>,
}

#[derive(Default)]
struct Stats {
    acked: usize,
    five_xx: Vec<String>,
}

type Shared = Arc<Mutex<(Ledger, Stats)>>;

/// A transport failure: the server is gone.
struct Down;

async fn send(
    c: &Client,
    stats: &Shared,
    m: Method,
    url: &str,
    headers: &[(&str, String)],
    body: Option<Vec<u8>>,
) -> Result<(StatusCode, reqwest::header::HeaderMap, Vec<u8>), Down> {
    let mut rb = c.request(m.clone(), url);
    for (k, v) in headers {
        rb = rb.header(*k, v);
    }
    if let Some(b) = body {
        rb = rb.body(b);
    }
    let r = rb.send().await.map_err(|e| {
        if std::env::var("CRASH_LOOP_DEBUG").is_ok() {
            eprintln!("{m} {url}: {e:?}");
        }
        Down
    })?;
    let status = r.status();
    let h = r.headers().clone();
    let b = r.bytes().await.map_err(|_| Down)?.to_vec();
    if status.is_server_error() {
        stats.lock().unwrap().1.five_xx.push(format!(
            "{m} {url} → {status}: {}",
            String::from_utf8_lossy(&b)
        ));
    }
    Ok((status, h, b))
}

fn abs(base: &str, loc: &str) -> String {
    if loc.starts_with("http") {
        loc.to_string()
    } else {
        format!("{base}{loc}")
    }
}

fn with_digest(loc: &str, d: &str) -> String {
    let sep = if loc.contains('?') { '&' } else { '?' };
    format!("{loc}{sep}digest={d}")
}

/// Uploads `data` to `repo` by one of the four methods; `Ok(true)` when acknowledged.
async fn upload(
    c: &Client,
    s: &Shared,
    base: &str,
    repo: &str,
    data: &[u8],
    method: u8,
) -> Result<bool, Down> {
    let d = sha256(data);
    let post = format!("{base}/v2/{repo}/blobs/uploads/");
    if method == 0 {
        let (st, _, _) = send(
            c,
            s,
            Method::POST,
            &format!("{post}?digest={d}"),
            &[("content-type", "application/octet-stream".into())],
            Some(data.to_vec()),
        )
        .await?;
        return Ok(st == StatusCode::CREATED);
    }
    let (st, h, _) = send(c, s, Method::POST, &post, &[], None).await?;
    if st != StatusCode::ACCEPTED {
        return Ok(false);
    }
    let mut loc = abs(base, h["location"].to_str().unwrap());
    let last: &[u8] = match method {
        1 => data,
        2 => {
            let (st, h, _) = send(c, s, Method::PATCH, &loc, &[], Some(data.to_vec())).await?;
            if st != StatusCode::ACCEPTED {
                return Ok(false);
            }
            loc = abs(base, h["location"].to_str().unwrap());
            &[]
        }
        _ => {
            let mid = data.len() / 2;
            for (a, b) in [(0, mid), (mid, data.len())] {
                if a == b {
                    continue;
                }
                let (st, h, _) = send(
                    c,
                    s,
                    Method::PATCH,
                    &loc,
                    &[
                        ("content-range", format!("{a}-{}", b - 1)),
                        ("content-type", "application/octet-stream".into()),
                    ],
                    Some(data[a..b].to_vec()),
                )
                .await?;
                if st != StatusCode::ACCEPTED {
                    return Ok(false);
                }
                loc = abs(base, h["location"].to_str().unwrap());
            }
            &[]
        }
    };
    let (st, _, _) = send(
        c,
        s,
        Method::PUT,
        &with_digest(&loc, &d),
        &[("content-type", "application/octet-stream".into())],
        Some(last.to_vec()),
    )
    .await?;
    Ok(st == StatusCode::CREATED)
}

/// One writer: random operations on its own repository until the server dies.
async fn writer(c: Client, s: Shared, base: String, w: usize, round: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let repo = format!("crash/w{w}");
    let mut n = 0u32;
    loop {
        n += 1;
        let op = rng.random_range(0..10u8);
        let r: Result<(), Down> = async {
            match op {
                // Push an image: config and layer by random methods, then the manifest.
                0..=3 => {
                    let config = format!("{{\"w\":{w},\"round\":{round},\"n\":{n}}}").into_bytes();
                    let size = rng.random_range(0..100_000usize);
                    let mut layer = vec![0u8; size];
                    rng.fill(&mut layer[..]);
                    let mut pushed = Vec::new();
                    for b in [&config, &layer] {
                        let d = sha256(b);
                        let method = rng.random_range(0..4u8);
                        if upload(&c, &s, &base, &repo, b, method).await? {
                            let mut g = s.lock().unwrap();
                            g.0.blobs.insert(d.clone(), (b.clone(), round));
                            g.1.acked += 1;
                        } else {
                            return Ok(());
                        }
                        pushed.push((d, b.len()));
                    }
                    let m = serde_json::to_vec(&json!({
                        "schemaVersion": 2,
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": pushed[0].0, "size": pushed[0].1},
                        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": pushed[1].0, "size": pushed[1].1}],
                    }))
                    .unwrap();
                    let md = sha256(&m);
                    let tag = TAGS[rng.random_range(0..TAGS.len())];
                    {
                        let mut g = s.lock().unwrap();
                        let prev = g.0.tags.get(tag).cloned().unwrap_or(Known::No);
                        g.0.tags.insert(tag.into(), Known::Maybe(candidates(&prev, Some(md.clone()))));
                        let prev_m = g.0.manifests.get(&md).map(|e| e.1.clone()).unwrap_or(Known::No);
                        g.0.manifests.insert(md.clone(), (m.clone(), Known::Maybe(candidates(&prev_m, Some(())))));
                    }
                    let (st, _, _) = send(&c, &s, Method::PUT, &format!("{base}/v2/{repo}/manifests/{tag}"),
                        &[("content-type", "application/vnd.oci.image.manifest.v1+json".into())], Some(m.clone())).await?;
                    let mut g = s.lock().unwrap();
                    if st == StatusCode::CREATED {
                        g.0.tags.insert(tag.into(), Known::Yes(md.clone()));
                        g.0.manifests.insert(md, (m, Known::Yes(())));
                        g.1.acked += 1;
                    } else {
                        // Refused (a collection took a layer meanwhile): nothing changed.
                        assert_eq!(st, StatusCode::BAD_REQUEST, "manifest PUT");
                        let prev = g.0.tags.get(tag).cloned();
                        if let Some(Known::Maybe(mut v)) = prev {
                            v.pop();
                            g.0.tags.insert(tag.into(), settle(v));
                        }
                        if let Some((_, Known::Maybe(mut v))) = g.0.manifests.get(&md).cloned() {
                            v.pop();
                            g.0.manifests.get_mut(&md).unwrap().1 = settle(v);
                        }
                    }
                }
                // Delete a manifest by digest.
                4 => {
                    let target = {
                        let g = s.lock().unwrap();
                        let present: Vec<String> = g.0.manifests.iter()
                            .filter(|(_, (_, k))| *k == Known::Yes(()))
                            .map(|(d, _)| d.clone()).collect();
                        if present.is_empty() { return Ok(()); }
                        present[rng.random_range(0..present.len())].clone()
                    };
                    {
                        let mut g = s.lock().unwrap();
                        g.0.manifests.get_mut(&target).unwrap().1 = Known::Maybe(vec![Some(()), None]);
                        for k in g.0.tags.values_mut() {
                            if *k == Known::Yes(target.clone()) {
                                *k = Known::Maybe(vec![Some(target.clone()), None]);
                            }
                        }
                    }
                    let (st, _, _) = send(&c, &s, Method::DELETE, &format!("{base}/v2/{repo}/manifests/{target}"), &[], None).await?;
                    assert_eq!(st, StatusCode::ACCEPTED, "manifest DELETE");
                    let mut g = s.lock().unwrap();
                    g.0.manifests.get_mut(&target).unwrap().1 = Known::No;
                    for k in g.0.tags.values_mut() {
                        if *k == Known::Maybe(vec![Some(target.clone()), None]) {
                            *k = Known::No;
                        }
                    }
                    g.1.acked += 1;
                }
                // Delete a tag.
                5 => {
                    let tag = TAGS[rng.random_range(0..TAGS.len())];
                    let prev = s.lock().unwrap().0.tags.get(tag).cloned().unwrap_or(Known::No);
                    let Known::Yes(d) = prev else { return Ok(()) };
                    s.lock().unwrap().0.tags.insert(tag.into(), Known::Maybe(vec![Some(d), None]));
                    let (st, _, _) = send(&c, &s, Method::DELETE, &format!("{base}/v2/{repo}/manifests/{tag}"), &[], None).await?;
                    assert_eq!(st, StatusCode::ACCEPTED, "tag DELETE");
                    let mut g = s.lock().unwrap();
                    g.0.tags.insert(tag.into(), Known::No);
                    g.1.acked += 1;
                }
                // Mount a blob of another writer's repository.
                6 => {
                    let from = format!("crash/w{}", (w + 1) % WRITERS);
                    let data = format!("mount me {}", rng.random_range(0..4u8)).into_bytes();
                    let d = sha256(&data);
                    let (st, _, _) = send(&c, &s, Method::POST, &format!("{base}/v2/{repo}/blobs/uploads/?mount={d}&from={from}"), &[], None).await?;
                    // Not mountable (the source lacks it): the 202 session is left open
                    // and the blob is uploaded instead.
                    if st == StatusCode::CREATED || upload(&c, &s, &base, &repo, &data, 0).await? {
                        let mut g = s.lock().unwrap();
                        g.0.blobs.insert(d, (data, round));
                        g.1.acked += 1;
                    }
                }
                // Leave a session open half-way, to be resumed after the crash.
                _ => {
                    let size = rng.random_range(1000..100_000usize);
                    let mut data = vec![0u8; size];
                    rng.fill(&mut data[..]);
                    let (st, h, _) = send(&c, &s, Method::POST, &format!("{base}/v2/{repo}/blobs/uploads/"), &[], None).await?;
                    assert_eq!(st, StatusCode::ACCEPTED);
                    let path = h["location"].to_str().unwrap().to_string();
                    let loc = abs(&base, &path);
                    let idx = {
                        let mut g = s.lock().unwrap();
                        // The path: the next server listens on another port.
                        g.0.sessions.push((path, data.clone(), 0, false));
                        g.1.acked += 1;
                        g.0.sessions.len() - 1
                    };
                    let half = size / 2;
                    let (st, _, _) = send(&c, &s, Method::PATCH, &loc,
                        &[("content-range", format!("0-{}", half - 1))], Some(data[..half].to_vec())).await?;
                    assert_eq!(st, StatusCode::ACCEPTED);
                    let mut g = s.lock().unwrap();
                    g.0.sessions[idx].2 = half;
                    g.1.acked += 1;
                }
            }
            Ok(())
        }
        .await;
        if r.is_err() {
            return;
        }
    }
}

fn candidates<T: Clone>(prev: &Known<T>, new: Option<T>) -> Vec<Option<T>> {
    let mut v = match prev {
        Known::Yes(t) => vec![Some(t.clone())],
        Known::No => vec![None],
        Known::Maybe(v) => v.clone(),
    };
    v.push(new);
    v
}

fn settle<T>(mut v: Vec<Option<T>>) -> Known<T> {
    if v.len() == 1 {
        match v.pop().unwrap() {
            Some(t) => Known::Yes(t),
            None => Known::No,
        }
    } else {
        Known::Maybe(v)
    }
}

/// Checks the ledger against a restarted server; settles every `Maybe` to what is seen;
/// resumes and completes the open sessions. Returns the problems found.
async fn check(
    c: &Client,
    s: &[Shared],
    base: &str,
    round: usize,
    gc_rounds: &[usize],
) -> Vec<String> {
    let mut problems = Vec::new();
    for (w, shared) in s.iter().enumerate() {
        let repo = format!("crash/w{w}");
        let (manifests, tags, blobs, sessions) = {
            let g = shared.lock().unwrap();
            (
                g.0.manifests.clone(),
                g.0.tags.clone(),
                g.0.blobs.clone(),
                g.0.sessions.clone(),
            )
        };
        // Manifests.
        let mut needed_blobs: Vec<String> = Vec::new();
        for (d, (bytes, k)) in &manifests {
            let Ok((st, _, body)) = send(
                c,
                shared,
                Method::GET,
                &format!("{base}/v2/{repo}/manifests/{d}"),
                &[],
                None,
            )
            .await
            else {
                problems.push("server down during check".into());
                return problems;
            };
            let present = st == StatusCode::OK;
            if present && body != *bytes {
                problems.push(format!("{repo}@{d}: served other bytes"));
            }
            if !present && st != StatusCode::NOT_FOUND {
                problems.push(format!("{repo}@{d}: GET answered {st}"));
            }
            match k {
                Known::Yes(()) if !present => {
                    problems.push(format!("{repo}@{d}: acknowledged manifest lost"))
                }
                Known::No if present => {
                    problems.push(format!("{repo}@{d}: acknowledged delete undone"))
                }
                _ => {}
            }
            if present {
                let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
                needed_blobs.push(v["config"]["digest"].as_str().unwrap().into());
                needed_blobs.push(v["layers"][0]["digest"].as_str().unwrap().into());
            }
            shared.lock().unwrap().0.manifests.get_mut(d).unwrap().1 =
                if present { Known::Yes(()) } else { Known::No };
        }
        // Tags.
        for (tag, k) in &tags {
            let Ok((st, _, body)) = send(
                c,
                shared,
                Method::GET,
                &format!("{base}/v2/{repo}/manifests/{tag}"),
                &[],
                None,
            )
            .await
            else {
                problems.push("server down during check".into());
                return problems;
            };
            let seen = (st == StatusCode::OK).then(|| sha256(&body));
            if st != StatusCode::OK && st != StatusCode::NOT_FOUND {
                problems.push(format!("{repo}:{tag}: GET answered {st}"));
            }
            let ok = match k {
                Known::Yes(d) => seen.as_ref() == Some(d),
                Known::No => seen.is_none(),
                Known::Maybe(v) => v.contains(&seen),
            };
            if !ok {
                problems.push(format!(
                    "{repo}:{tag}: points at {seen:?}, ledger says {k:?}"
                ));
            }
            shared.lock().unwrap().0.tags.insert(
                tag.clone(),
                match seen {
                    Some(d) => Known::Yes(d),
                    None => Known::No,
                },
            );
        }
        // Blobs: those a present manifest references always; the rest until a
        // collection could have run since they were acknowledged.
        for (d, (bytes, acked_round)) in &blobs {
            let collectable = gc_rounds.iter().any(|g| *g >= *acked_round && *g <= round);
            if collectable && !needed_blobs.contains(d) {
                continue;
            }
            let Ok((st, _, body)) = send(
                c,
                shared,
                Method::GET,
                &format!("{base}/v2/{repo}/blobs/{d}"),
                &[],
                None,
            )
            .await
            else {
                problems.push("server down during check".into());
                return problems;
            };
            if st != StatusCode::OK {
                problems.push(format!("{repo}@{d}: acknowledged blob answers {st}"));
            } else if body != *bytes {
                problems.push(format!("{repo}@{d}: blob served other bytes"));
            }
        }
        // Sessions: status, then resume and complete.
        let mut completed = Vec::new();
        for (i, (loc, data, acked, closing)) in sessions.iter().enumerate() {
            let Ok((st, h, _)) = send(c, shared, Method::GET, &abs(base, loc), &[], None).await
            else {
                problems.push("server down during check".into());
                return problems;
            };
            if st == StatusCode::NOT_FOUND && *closing {
                completed.push(i);
                continue;
            }
            if st != StatusCode::NO_CONTENT {
                problems.push(format!("session {loc}: status answered {st}"));
                completed.push(i);
                continue;
            }
            let range = h.get("range").and_then(|v| v.to_str().ok()).unwrap_or("");
            let end: usize = range
                .split('-')
                .nth(1)
                .and_then(|e| e.parse().ok())
                .unwrap_or(0);
            let offset = if *acked == 0 && end == 0 { 0 } else { end + 1 };
            if offset < *acked || offset > data.len() {
                problems.push(format!(
                    "session {loc}: Range {range} but {acked} bytes were acknowledged of {}",
                    data.len()
                ));
                completed.push(i);
                continue;
            }
            let next = abs(base, h["location"].to_str().unwrap());
            let d = sha256(data);
            let Ok((st, _, body)) = send(
                c,
                shared,
                Method::PUT,
                &with_digest(&next, &d),
                &[
                    ("content-range", format!("{offset}-{}", data.len() - 1)),
                    ("content-type", "application/octet-stream".into()),
                ],
                Some(data[offset..].to_vec()),
            )
            .await
            else {
                problems.push("server down during check".into());
                return problems;
            };
            if st != StatusCode::CREATED {
                problems.push(format!(
                    "session {loc}: resuming at {offset} answered {st}: {}",
                    String::from_utf8_lossy(&body)
                ));
            } else {
                shared
                    .lock()
                    .unwrap()
                    .0
                    .blobs
                    .insert(d, (data.clone(), round));
            }
            completed.push(i);
        }
        let mut g = shared.lock().unwrap();
        let mut i = 0;
        g.0.sessions.retain(|_| {
            let keep = !completed.contains(&i);
            i += 1;
            keep
        });
    }
    problems
}

/// Every session on disk, in the ledger or not (sessions whose close or first PATCH was in
/// flight are not), must answer status with 204 or 404, never 5xx.
async fn every_session_answers(c: &Client, base: &str, root: &Path) -> (usize, Vec<String>) {
    let mut problems = Vec::new();
    let mut n = 0;
    for e in std::fs::read_dir(root.join("uploads")).unwrap().flatten() {
        let id = e.file_name().to_string_lossy().into_owned();
        let Some(repo) = std::fs::read(e.path().join("info.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["repository"].as_str().map(str::to_string))
        else {
            continue;
        };
        n += 1;
        match c
            .get(format!("{base}/v2/{repo}/blobs/uploads/{id}"))
            .send()
            .await
        {
            Ok(r)
                if r.status() == StatusCode::NO_CONTENT || r.status() == StatusCode::NOT_FOUND => {}
            Ok(r) => problems.push(format!(
                "session {id}: status answered {}: {}",
                r.status(),
                r.text().await.unwrap_or_default()
            )),
            Err(e) => problems.push(format!("session {id}: {e}")),
        }
    }
    (n, problems)
}

fn fsck(root: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_reference-registry"))
        .args(["fsck", "--root"])
        .arg(root)
        .output()
        .expect("run fsck");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn kill_9_during_concurrent_writes_loses_nothing_acknowledged() {
    let rounds: usize = std::env::var("CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let shared: Vec<Shared> = (0..WRITERS).map(|_| Shared::default()).collect();
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut gc_rounds = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    let mut fsck_failures = Vec::new();
    let mut sessions_seen = 0;
    for round in 0..rounds {
        let gc = round % 3 == 2;
        if gc {
            gc_rounds.push(round);
        }
        let server = start(&root, gc);
        let run_for = Duration::from_millis(rng.random_range(100..900));
        let seeds: Vec<u64> = (0..WRITERS).map(|_| rng.random()).collect();
        let base = server.base.clone();
        let handles: Vec<_> = (0..WRITERS)
            .map(|w| {
                rt.spawn(writer(
                    client.clone(),
                    shared[w].clone(),
                    base.clone(),
                    w,
                    round,
                    seeds[w],
                ))
            })
            .collect();
        std::thread::sleep(run_for);
        let log = server.kill9();
        for h in handles {
            if let Err(e) = rt.block_on(h)
                && e.is_panic()
            {
                std::panic::resume_unwind(e.into_panic());
            }
        }
        assert!(
            !log.contains("panicked"),
            "round {round}: the server panicked:\n{log}"
        );
        // Sessions whose close was in flight may be gone: the writers never close them, so
        // none is; sessions opened but never acknowledged are not in the ledger.
        let server = start(&root, false);
        let (n, found) = rt.block_on(every_session_answers(&client, &server.base, &root));
        sessions_seen += n;
        for p in found {
            problems.push(format!("round {round}: {p}"));
        }
        let found = rt.block_on(check(&client, &shared, &server.base, round, &gc_rounds));
        for p in found {
            problems.push(format!("round {round}: {p}"));
        }
        let log = server.stop();
        assert!(
            !log.contains("panicked"),
            "round {round}: the server panicked:\n{log}"
        );
        let (ok, out) = fsck(&root);
        if !ok {
            fsck_failures.push(format!("round {round}:\n{out}"));
        }
    }
    let acked: usize = shared.iter().map(|s| s.lock().unwrap().1.acked).sum();
    let five_xx: Vec<String> = shared
        .iter()
        .flat_map(|s| s.lock().unwrap().1.five_xx.clone())
        .collect();
    println!(
        "{rounds} rounds, {acked} acknowledged writes, {sessions_seen} sessions found on disk after restarts, \
         {} problems, {} 5xx answers, {} fsck failures",
        problems.len(),
        five_xx.len(),
        fsck_failures.len()
    );
    assert!(
        problems.is_empty(),
        "ledger violations:\n{}",
        problems.join("\n")
    );
    assert!(five_xx.is_empty(), "5xx answers:\n{}", five_xx.join("\n"));
    assert!(
        fsck_failures.is_empty(),
        "fsck:\n{}",
        fsck_failures.join("\n")
    );
    assert!(
        acked > rounds * 5,
        "the writers did too little to prove anything: {acked}"
    );
}

//! One contract, every backend: what the handlers rely on from `Store`, checked against the
//! filesystem store (a temporary root) and the S3 store (a real S3 service: Garage on
//! loopback in CI, see `.ci/garage`), as distribution runs one driver test suite against each
//! of its storage drivers.
//!
//! The S3 half needs `REGISTRY_TEST_S3_URL` (`s3://BUCKET`), `REGISTRY_TEST_S3_ENDPOINT`
//! and the `AWS_*` credentials. Without them it prints why and passes, unless
//! `STORE_TESTS_REQUIRE_S3=1` (CI sets it), when it fails: CI must never skip it silently.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use reference_server::digest::{Algorithm, Digest};
use reference_server::storage::Storage;
use reference_server::storage::manifests::{Lookup, ManifestMeta, Reference};
use reference_server::storage::s3::{S3Config, S3Store};
use reference_server::storage::store::{ByteStream, Store};
use reference_server::storage::uploads::Opened;
use serde_json::json;

/// A store under test and what keeps it alive.
struct Subject {
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
}

fn fs() -> Option<Subject> {
    let dir = tempfile::tempdir().unwrap();
    let store = Storage::open(dir.path()).unwrap();
    Some(Subject {
        store: Arc::new(store),
        _dir: Some(dir),
    })
}

/// A fresh prefix of the test bucket for each test, so tests never see each other's keys.
fn s3() -> Option<Subject> {
    let (Ok(url), Ok(endpoint)) = (
        std::env::var("REGISTRY_TEST_S3_URL"),
        std::env::var("REGISTRY_TEST_S3_ENDPOINT"),
    ) else {
        assert!(
            std::env::var("STORE_TESTS_REQUIRE_S3").is_err(),
            "STORE_TESTS_REQUIRE_S3 is set but REGISTRY_TEST_S3_URL/REGISTRY_TEST_S3_ENDPOINT are not"
        );
        eprintln!("S3 store not tested: REGISTRY_TEST_S3_URL and REGISTRY_TEST_S3_ENDPOINT unset");
        return None;
    };
    let mut config = S3Config::new(format!(
        "{}/contract-{}",
        url.trim_end_matches('/'),
        uuid::Uuid::new_v4()
    ));
    config.endpoint = Some(endpoint.clone());
    config.allow_http = endpoint.starts_with("http://");
    Some(Subject {
        store: Arc::new(S3Store::open(&config).unwrap()),
        _dir: None,
    })
}

/// Runs each contract test against each backend: `fs::NAME` and `s3::NAME`.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod fs {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let s = super::fs().unwrap();
                super::$name(s.store.clone()).await;
            })*
        }
        mod s3 {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(s) = super::s3() else { return };
                super::$name(s.store.clone()).await;
            })*
        }
    };
}

contract!(
    sessions_append_all_or_nothing,
    large_sessions_stream_and_publish_whole,
    content_is_invisible_until_published_and_linked,
    racing_sessions_publish_the_same_content,
    publishing_a_gone_session_is_false,
    abandoned_writer_leaves_a_prefix,
    manifests_tags_and_repositories,
    referrers_name_only_held_manifests,
    racing_tag_writes_leave_one_whole_value,
    session_cap_and_listing,
);

fn digest(bytes: &[u8]) -> Digest {
    Algorithm::Sha256.digest_of(bytes)
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

async fn collect(mut s: ByteStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c.unwrap());
    }
    out
}

async fn open(store: &dyn Store, repo: &str) -> String {
    match store.create_session_within(repo, 0).await.unwrap() {
        Opened::Session(id) => id,
        Opened::Full(n) => panic!("no cap set, yet {n} sessions are too many"),
    }
}

async fn append(store: &dyn Store, id: &str, offset: u64, bytes: &[u8], piece: usize) {
    let mut w = store.session_writer(id, offset).await.unwrap();
    for c in bytes.chunks(piece.max(1)) {
        w.write(Bytes::copy_from_slice(c)).await.unwrap();
    }
    w.finish().await.unwrap();
}

async fn length(store: &dyn Store, id: &str) -> u64 {
    store.session_status(id).await.unwrap().expect("session").1
}

async fn read_blob(store: &dyn Store, repo: &str, d: &Digest, start: u64, len: u64) -> Vec<u8> {
    let blob = store.open_blob(repo, d).await.unwrap().expect("blob");
    collect(blob.body.range(start, len)).await
}

/// A chunk is all or nothing: `finish` commits it, `abort` cuts back to where it began,
/// and cutting to 0 empties the session (PUSH-18, PUSH-32).
async fn sessions_append_all_or_nothing(store: Arc<dyn Store>) {
    let s = &*store;
    let id = open(s, "contract/a").await;
    let info = s.session_info(&id).await.unwrap().unwrap();
    assert_eq!(info.repository, "contract/a");
    assert_eq!(length(s, &id).await, 0);

    append(s, &id, 0, b"hello ", 3).await;
    append(s, &id, 6, b"world", 5).await;
    assert_eq!(length(s, &id).await, 11);

    let mut w = s.session_writer(&id, 11).await.unwrap();
    w.write(Bytes::from_static(b" refused")).await.unwrap();
    w.abort().await.unwrap();
    assert_eq!(length(s, &id).await, 11);
    assert_eq!(
        collect(s.read_session(&id).await.unwrap()).await,
        b"hello world"
    );

    // An empty body is a chunk too (PUSH-48).
    append(s, &id, 11, b"", 1).await;
    assert_eq!(length(s, &id).await, 11);

    s.session_writer(&id, 0)
        .await
        .unwrap()
        .abort()
        .await
        .unwrap();
    assert_eq!(length(s, &id).await, 0);
    assert!(s.session_last_activity(&id).await.unwrap().is_some());

    s.remove_session(&id).await.unwrap();
    assert!(s.session_status(&id).await.unwrap().is_none());
    assert!(s.session_info(&id).await.unwrap().is_none());
    s.remove_session(&id).await.unwrap();
    assert!(s.session_info("not-a-uuid").await.unwrap().is_none());
}

/// 20 MiB in three requests, the first larger than one multipart piece: read back and
/// published byte for byte, and any range of it served.
async fn large_sessions_stream_and_publish_whole(store: Arc<dyn Store>) {
    let s = &*store;
    let data = pattern(20 * 1024 * 1024 + 17, 3);
    let d = digest(&data);
    let id = open(s, "contract/large").await;
    let (a, b) = (11 * 1024 * 1024, 15 * 1024 * 1024 + 5);
    append(s, &id, 0, &data[..a], 1024 * 1024).await;
    append(s, &id, a as u64, &data[a..b], 64 * 1024).await;
    append(s, &id, b as u64, &data[b..], 1024 * 1024).await;
    assert_eq!(length(s, &id).await, data.len() as u64);
    assert_eq!(
        digest(&collect(s.read_session(&id).await.unwrap()).await),
        d
    );

    assert!(s.publish_session(&id, "contract/large", &d).await.unwrap());
    assert!(s.session_info(&id).await.unwrap().is_none());
    let blob = s.open_blob("contract/large", &d).await.unwrap().unwrap();
    assert_eq!(blob.len, data.len() as u64);
    assert_eq!(
        digest(&collect(blob.body.range(0, data.len() as u64)).await),
        d
    );
    let (start, len) = (9 * 1024 * 1024 + 3, 3 * 1024 * 1024);
    assert_eq!(
        read_blob(s, "contract/large", &d, start as u64, len as u64).await,
        &data[start..start + len]
    );
}

/// Content is readable in a repository only once it is published and linked there
/// (PULL-19); unlinking hides it from that repository only (MGMT-13).
async fn content_is_invisible_until_published_and_linked(store: Arc<dyn Store>) {
    let s = &*store;
    let data = b"layer bytes".to_vec();
    let d = digest(&data);
    let id = open(s, "contract/one").await;
    append(s, &id, 0, &data, 4).await;
    assert!(!s.blob_exists_globally(&d).await);
    assert!(s.open_content(&d).await.unwrap().is_none());
    assert!(
        !s.repo_exists("contract/one").await,
        "an open session makes no repository"
    );

    assert!(s.publish_session(&id, "contract/one", &d).await.unwrap());
    assert!(s.repo_exists("contract/one").await);
    assert!(s.blob_linked("contract/one", &d).await);
    assert!(!s.blob_linked("contract/two", &d).await);
    assert!(s.open_blob("contract/two", &d).await.unwrap().is_none());
    assert_eq!(
        read_blob(s, "contract/one", &d, 0, data.len() as u64).await,
        data
    );

    s.link_blob("contract/two", &d).await.unwrap();
    assert!(s.blob_linked("contract/two", &d).await);
    assert!(s.unlink_blob("contract/one", &d).await.unwrap());
    assert!(!s.unlink_blob("contract/one", &d).await.unwrap());
    assert!(!s.blob_linked("contract/one", &d).await);
    assert!(
        s.repo_exists("contract/one").await,
        "a repository outlives its links"
    );
    assert!(s.blob_linked("contract/two", &d).await);

    assert!(s.delete_content(&d).await.unwrap());
    assert!(!s.blob_exists_globally(&d).await);
    assert!(
        !s.blob_linked("contract/two", &d).await,
        "a link to nothing serves nothing"
    );
    assert!(!s.delete_content(&d).await.unwrap());
}

/// Two sessions of the same content, published at once, both succeed (PUSH-47); so do
/// eight at once through one handle.
async fn racing_sessions_publish_the_same_content(store: Arc<dyn Store>) {
    let data = pattern(300 * 1024, 9);
    let d = digest(&data);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (store, data, d) = (store.clone(), data.clone(), d.clone());
        tasks.push(tokio::spawn(async move {
            let repo = format!("contract/race{}", i % 2);
            let id = open(&*store, &repo).await;
            append(&*store, &id, 0, &data, 64 * 1024).await;
            store.publish_session(&id, &repo, &d).await.unwrap()
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap());
    }
    for repo in ["contract/race0", "contract/race1"] {
        let got = read_blob(&*store, repo, &d, 0, data.len() as u64).await;
        assert_eq!(digest(&got), d);
    }
}

/// A session cancelled (or finished) before its publication is not published.
async fn publishing_a_gone_session_is_false(store: Arc<dyn Store>) {
    let s = &*store;
    let id = open(s, "contract/gone").await;
    append(s, &id, 0, b"abc", 3).await;
    s.remove_session(&id).await.unwrap();
    let d = digest(b"abc");
    assert!(!s.publish_session(&id, "contract/gone", &d).await.unwrap());
    assert!(!s.blob_exists_globally(&d).await);
    assert!(!s.repo_exists("contract/gone").await);
}

/// A writer that never finishes (a dropped connection, a crash) leaves the session at a
/// length between where it started and what it was given, and the bytes up to that length
/// are the ones given, in order: resuming from the reported offset is always right
/// (PUSH-32).
async fn abandoned_writer_leaves_a_prefix(store: Arc<dyn Store>) {
    let s = &*store;
    let data = pattern(12 * 1024 * 1024, 5);
    let id = open(s, "contract/abandoned").await;
    append(s, &id, 0, &data[..1000], 100).await;
    {
        let mut w = s.session_writer(&id, 1000).await.unwrap();
        for c in data[1000..].chunks(256 * 1024) {
            w.write(Bytes::copy_from_slice(c)).await.unwrap();
        }
        drop(w);
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let len = length(s, &id).await as usize;
    assert!((1000..=data.len()).contains(&len), "length {len}");
    let got = collect(s.read_session(&id).await.unwrap()).await;
    assert_eq!(got.len(), len);
    assert!(
        got == data[..len],
        "the session is not a prefix of what was written"
    );
    // And it continues from there.
    append(s, &id, len as u64, &data[len..], 1024 * 1024).await;
    assert_eq!(
        digest(&collect(s.read_session(&id).await.unwrap()).await),
        digest(&data)
    );
}

async fn put_manifest(s: &dyn Store, repo: &str, body: &serde_json::Value) -> Digest {
    let bytes = serde_json::to_vec(body).unwrap();
    let d = digest(&bytes);
    s.put_blob_bytes(&d, bytes).await.unwrap();
    let meta = ManifestMeta {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
    };
    s.put_manifest_revision(repo, &d, &meta).await.unwrap();
    d
}

/// Manifests by tag and digest, tag lists in byte order, untagging, and the difference
/// between a missing repository and a missing manifest (NAME_UNKNOWN vs MANIFEST_UNKNOWN).
async fn manifests_tags_and_repositories(store: Arc<dyn Store>) {
    let s = &*store;
    let repo = "contract/m";
    assert!(matches!(
        s.lookup_manifest(repo, &Reference::Tag("v1".into()))
            .await
            .unwrap(),
        Lookup::NoRepository
    ));
    assert!(s.repository_tags(repo).await.unwrap().is_none());
    let one = put_manifest(s, repo, &json!({"schemaVersion": 2, "n": 1})).await;
    let two = put_manifest(s, repo, &json!({"schemaVersion": 2, "n": 2})).await;
    assert_eq!(s.repository_tags(repo).await.unwrap(), Some(vec![]));
    for (tag, d) in [("v1", &one), ("B", &one), ("a", &two), ("v1.0_rc-1", &two)] {
        s.set_tag(repo, tag, d).await.unwrap();
    }
    assert_eq!(
        s.repository_tags(repo).await.unwrap().unwrap(),
        ["B", "a", "v1", "v1.0_rc-1"]
    );
    match s
        .lookup_manifest(repo, &Reference::Tag("v1".into()))
        .await
        .unwrap()
    {
        Lookup::Found {
            digest: found,
            meta,
            bytes,
        } => {
            assert_eq!(found, one);
            assert_eq!(digest(&bytes), one);
            assert_eq!(
                meta.media_type,
                "application/vnd.oci.image.manifest.v1+json"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.lookup_manifest(repo, &Reference::Digest(two.clone()))
            .await
            .unwrap(),
        Lookup::Found { .. }
    ));
    assert!(matches!(
        s.lookup_manifest(repo, &Reference::Tag("nope".into()))
            .await
            .unwrap(),
        Lookup::Unknown
    ));
    assert!(matches!(
        s.lookup_manifest("contract/other", &Reference::Digest(one.clone()))
            .await
            .unwrap(),
        Lookup::NoRepository
    ));
    assert_eq!(s.resolve_tag(repo, "a").await.unwrap(), Some(two.clone()));
    let mut revisions = s.list_manifest_revisions(repo).await.unwrap();
    revisions.sort();
    let mut want = vec![one.clone(), two.clone()];
    want.sort();
    assert_eq!(revisions, want);

    s.untag_digest(repo, &one).await.unwrap();
    assert_eq!(
        s.repository_tags(repo).await.unwrap().unwrap(),
        ["a", "v1.0_rc-1"]
    );
    assert!(s.delete_tag(repo, "a").await.unwrap());
    assert!(!s.delete_tag(repo, "a").await.unwrap());
    assert!(s.delete_manifest_revision(repo, &two).await.unwrap());
    assert!(s.manifest_meta(repo, &two).await.unwrap().is_none());
    assert!(matches!(
        s.lookup_manifest(repo, &Reference::Digest(two.clone()))
            .await
            .unwrap(),
        Lookup::Unknown
    ));

    // Nested names are repositories of their own, and the catalog lists each once, in order.
    put_manifest(s, "contract", &json!({"schemaVersion": 2, "n": 3})).await;
    put_manifest(s, "contract/m/deeper", &json!({"schemaVersion": 2, "n": 4})).await;
    let all = s.list_repositories().await.unwrap();
    assert_eq!(all, ["contract", "contract/m", "contract/m/deeper"]);
    assert_eq!(
        s.repository_tags("contract/m/deeper").await.unwrap(),
        Some(vec![])
    );
}

/// The referrers list names only manifests the repository holds, sorted by digest
/// (DISC-24, DISC-32).
async fn referrers_name_only_held_manifests(store: Arc<dyn Store>) {
    let s = &*store;
    let repo = "contract/r";
    let subject = put_manifest(s, repo, &json!({"schemaVersion": 2, "subject": true})).await;
    let mut refs = Vec::new();
    for n in 0..3 {
        let d = put_manifest(s, repo, &json!({"schemaVersion": 2, "ref": n})).await;
        let desc = json!({"digest": d.to_string(), "n": n});
        s.add_referrer(repo, &subject, &d, &desc).await.unwrap();
        refs.push(d);
    }
    // A descriptor whose manifest was never recorded (a crash between the two writes).
    let orphan = digest(b"orphan");
    s.add_referrer(
        repo,
        &subject,
        &orphan,
        &json!({"digest": orphan.to_string()}),
    )
    .await
    .unwrap();
    let listed: Vec<String> = s
        .list_referrers(repo, &subject)
        .await
        .unwrap()
        .iter()
        .map(|v| v["digest"].as_str().unwrap().to_string())
        .collect();
    let mut want: Vec<String> = refs.iter().map(Digest::to_string).collect();
    want.sort();
    assert_eq!(listed, want);
    s.remove_referrer(repo, &subject, &refs[0]).await.unwrap();
    assert_eq!(s.list_referrers(repo, &subject).await.unwrap().len(), 2);
    assert!(
        s.list_referrers("contract/none", &subject)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Sixteen writers racing on one tag: afterwards it names one of them, whole.
async fn racing_tag_writes_leave_one_whole_value(store: Arc<dyn Store>) {
    let repo = "contract/tags";
    let mut digests = Vec::new();
    for n in 0..16 {
        digests.push(put_manifest(&*store, repo, &json!({"schemaVersion": 2, "w": n})).await);
    }
    let mut tasks = Vec::new();
    for d in digests.clone() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.set_tag(repo, "latest", &d).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let got = store.resolve_tag(repo, "latest").await.unwrap().unwrap();
    assert!(digests.contains(&got));
    assert_eq!(
        store.repository_tags(repo).await.unwrap().unwrap(),
        ["latest"]
    );
}

/// `create_session_within` refuses past the cap; listing finds the open sessions.
async fn session_cap_and_listing(store: Arc<dyn Store>) {
    let s = &*store;
    let a = open(s, "contract/cap").await;
    let b = open(s, "contract/cap").await;
    assert_ne!(a, b);
    match s.create_session_within("contract/cap", 2).await.unwrap() {
        Opened::Full(n) => assert_eq!(n, 2),
        Opened::Session(id) => panic!("opened {id} past the cap"),
    }
    let mut ids = s.list_session_ids().await.unwrap();
    ids.sort();
    let mut want = vec![a.clone(), b.clone()];
    want.sort();
    assert_eq!(ids, want);
    s.remove_session(&a).await.unwrap();
    assert!(matches!(
        s.create_session_within("contract/cap", 2).await.unwrap(),
        Opened::Session(_)
    ));
}

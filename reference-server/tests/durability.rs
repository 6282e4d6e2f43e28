//! Restart-and-resume, concurrent pushes, and garbage collection.

mod common;

use std::time::Duration;

use common::*;
use reference_server::gc::{self, GcOptions};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn upload_resumes_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = content(200_000, 9);
    let d = sha256(&data);
    let mut t = start_on(dir.path(), |_| {}).await;
    let loc = t.open_session("r").await;
    let r = t
        .client
        .patch(t.url(&loc))
        .header("content-range", "0-99999")
        .body(data[..100_000].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let uuid = header(&r, "docker-upload-uuid").unwrap();
    t.stop().await;

    // Same root, new server (and a new port): the session is still there.
    let t = start_on(dir.path(), |_| {}).await;
    let r = t.get(&loc).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&r, "range").as_deref(), Some("0-99999"));
    assert_eq!(header(&r, "docker-upload-uuid"), Some(uuid));
    let loc = header(&r, "location").unwrap();
    let r = t
        .client
        .patch(t.url(&loc))
        .header("content-range", "100000-199999")
        .body(data[100_000..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let loc = header(&r, "location").unwrap();
    let r = t.client.put(t.with_digest(&loc, &d)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(t.get_bytes(&format!("/v2/r/blobs/{d}")).await, data);
}

#[tokio::test]
async fn concurrent_pushes_of_the_same_blob_and_tag() {
    let t = start().await;
    let data = content(1_000_000, 11);
    let pushes = (0..8).map(|i| {
        let repo = if i % 2 == 0 { "r" } else { "s" };
        t.push_blob(repo, &data)
    });
    let digests = futures_util::future::join_all(pushes).await;
    assert!(digests.iter().all(|d| *d == digests[0]));
    for repo in ["r", "s"] {
        let got = t
            .get(&format!("/v2/{repo}/blobs/{}", digests[0]))
            .await
            .bytes()
            .await
            .unwrap();
        assert_eq!(got.to_vec(), data);
    }
    // Several manifests racing for one tag: all succeed, the tag ends on one of them.
    let cfg = t.push_blob("r", b"cfg").await;
    let manifests: Vec<Vec<u8>> = (0..6)
        .map(|i| {
            image_manifest(
                &(cfg.clone(), 3),
                &[],
                Some(serde_json::json!({"annotations": {"i": i.to_string()}})),
            )
        })
        .collect();
    let puts = manifests
        .iter()
        .map(|m| t.put_manifest("r", "latest", OCI_MANIFEST, m));
    for r in futures_util::future::join_all(puts).await {
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let r = t.get("/v2/r/manifests/latest").await;
    let d = header(&r, "docker-content-digest").unwrap();
    let body = r.bytes().await.unwrap().to_vec();
    assert_eq!(sha256(&body), d);
    assert!(manifests.contains(&body));
    let v: Value = t.get("/v2/r/tags/list").await.json().await.unwrap();
    assert_eq!(v["tags"], serde_json::json!(["latest"]));
    // No temporary files left behind.
    let leftovers: Vec<_> = std::fs::read_dir(t.root.join("tmp")).unwrap().collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn gc_removes_unreferenced_blobs_and_old_sessions() {
    let mut t = start().await;
    let (_, _m) = t.push_image("r", "v1", 1).await;
    let orphan = t.push_blob("r", b"orphan").await;
    let loc = t.open_session("r").await;
    t.stop().await;

    let dry = GcOptions {
        root: t.root.clone(),
        dry_run: true,
        upload_max_age: Duration::ZERO,
        blob_grace: Duration::ZERO,
    };
    let report = gc::run(&dry).await.unwrap();
    assert_eq!(
        report
            .blobs
            .iter()
            .map(|(d, _)| d.to_string())
            .collect::<Vec<_>>(),
        vec![orphan.clone()]
    );
    assert_eq!(report.uploads.len(), 1);
    // Dry run changed nothing.
    assert_eq!(gc::run(&dry).await.unwrap().blobs.len(), 1);

    let real = GcOptions {
        dry_run: false,
        ..dry
    };
    gc::run(&real).await.unwrap();
    let t = start_on(&t.root, |_| {}).await;
    assert_eq!(
        t.head(&format!("/v2/r/blobs/{orphan}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(t.get(&loc).await.status(), StatusCode::NOT_FOUND);
    // Referenced content survives.
    let r = t.get("/v2/r/manifests/v1").await;
    assert_eq!(r.status(), StatusCode::OK);
    let m: Value = r.json().await.unwrap();
    for d in [&m["config"]["digest"], &m["layers"][0]["digest"]] {
        assert_eq!(
            t.head(&format!("/v2/r/blobs/{}", d.as_str().unwrap()))
                .await
                .status(),
            StatusCode::OK
        );
    }
    // The offline collector refuses while a registry serves the root...
    let refused = gc::run(&real).await.unwrap_err();
    assert!(
        refused.to_string().contains("in use by a running registry"),
        "{refused}"
    );
    // ...and, once it is stopped, finds nothing more.
    let mut t = t;
    t.stop().await;
    assert!(gc::run(&real).await.unwrap().blobs.is_empty());
}

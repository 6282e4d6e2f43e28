//! Garbage collection inside the server while pushes run (`serve --gc-interval`, no
//! grace): nothing referenced, nothing uploaded during a collection and nothing a
//! concurrent manifest PUT references is deleted, while unreferenced content does go.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pushes_racing_collections_lose_nothing() {
    let t = Arc::new(
        start_with(|c| {
            c.gc_interval = Some(Duration::from_millis(20));
            c.gc_grace = Duration::ZERO;
        })
        .await,
    );
    // Garbage from before: must be collected.
    let orphan = t.push_blob("old", b"nobody references me").await;

    let mut tasks = Vec::new();
    for w in 0..4u8 {
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut refused = 0;
            for i in 0..25u8 {
                let repo = format!("race/w{w}");
                let config = format!("{{\"w\":{w},\"i\":{i}}}").into_bytes();
                let layer = content(20_000 + i as usize, w.wrapping_mul(31).wrapping_add(i));
                let cd = t.push_blob(&repo, &config).await;
                let ld = t.push_blob(&repo, &layer).await;
                let m = image_manifest(
                    &(cd.clone(), config.len()),
                    &[(ld.clone(), layer.len())],
                    None,
                );
                let r = t
                    .put_manifest(&repo, &format!("t{i}"), OCI_MANIFEST, &m)
                    .await;
                match r.status() {
                    StatusCode::CREATED => {
                        acked.push((repo, sha256(&m), m, vec![(cd, config), (ld, layer)]))
                    }
                    // With no grace a collection may take the layers between their upload and
                    // the manifest (they were unreferenced): a clear refusal, never a manifest
                    // pointing at nothing.
                    StatusCode::BAD_REQUEST => {
                        assert_eq!(codes(r).await[0], "MANIFEST_BLOB_UNKNOWN");
                        refused += 1;
                    }
                    s => panic!("manifest PUT answered {s}"),
                }
            }
            (acked, refused)
        }));
    }
    let mut acked = Vec::new();
    let mut refused = 0;
    for task in tasks {
        let (a, r) = task.await.unwrap();
        acked.extend(a);
        refused += r;
    }
    // Let a few more collections run over the final state.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!acked.is_empty());
    for (repo, d, m, blobs) in &acked {
        assert_eq!(t.get_bytes(&format!("/v2/{repo}/manifests/{d}")).await, *m);
        for (bd, bytes) in blobs {
            let r = t.get(&format!("/v2/{repo}/blobs/{bd}")).await;
            assert_eq!(r.status(), StatusCode::OK, "{repo}@{bd} referenced by {d}");
            assert_eq!(r.bytes().await.unwrap().to_vec(), *bytes);
        }
    }
    assert_eq!(
        t.head(&format!("/v2/old/blobs/{orphan}")).await.status(),
        StatusCode::NOT_FOUND,
        "unreferenced content was collected"
    );
    println!(
        "{} manifests acknowledged, {refused} refused for collected layers",
        acked.len()
    );
}

#[tokio::test]
async fn grace_keeps_fresh_uploads_for_their_manifest() {
    let t = start_with(|c| {
        c.gc_interval = Some(Duration::from_millis(20));
        c.gc_grace = Duration::from_secs(3600);
    })
    .await;
    let config = b"{}".to_vec();
    let layer = content(5000, 9);
    let cd = t.push_blob("app", &config).await;
    let ld = t.push_blob("app", &layer).await;
    // Several collections run between the layers and the manifest.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let m = image_manifest(&(cd, config.len()), &[(ld, layer.len())], None);
    let r = t.put_manifest("app", "v1", OCI_MANIFEST, &m).await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

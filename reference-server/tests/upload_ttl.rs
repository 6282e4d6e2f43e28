//! Idle upload sessions are purged in the background after `--upload-ttl` (PUSH-39);
//! sessions that keep receiving bytes are not.

mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn idle_sessions_are_purged_active_ones_survive() {
    let t = start_with(|c| c.upload_ttl = Duration::from_secs(2)).await;
    let idle = t.open_session("app").await;
    let r = t
        .req(Method::PATCH, &idle)
        .body(b"some bytes".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let mut active = t.open_session("app").await;
    let mut sent = Vec::new();

    // Keep one session busy (a chunk every 500 ms) while the other sits idle; the idle one
    // must go within a generous bound, the busy one must stay.
    let started = Instant::now();
    let mut purged_after = None;
    while started.elapsed() < Duration::from_secs(20) {
        let chunk = vec![b'x'; 10];
        let r = t
            .req(Method::PATCH, &active)
            .header(
                "content-range",
                format!("{}-{}", sent.len(), sent.len() + 9),
            )
            .body(chunk.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED, "the active session lives");
        active = header(&r, "location").unwrap();
        sent.extend(chunk);
        if t.get(&idle).await.status() == StatusCode::NOT_FOUND {
            purged_after = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let after = purged_after.expect("the idle session was purged");
    assert!(
        after >= Duration::from_secs(1),
        "not before its TTL: {after:?}"
    );
    let files: Vec<_> = std::fs::read_dir(t.root.join("uploads")).unwrap().collect();
    assert_eq!(files.len(), 1, "only the active session remains");

    // The purged session is unknown to every method.
    let r = t
        .req(Method::PATCH, &idle)
        .body(b"x".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(codes(r).await, vec!["BLOB_UPLOAD_UNKNOWN"]);
    // The active one completes.
    let d = sha256(&sent);
    let r = t
        .client
        .put(t.with_digest(&active, &d))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(t.get_bytes(&format!("/v2/app/blobs/{d}")).await, sent);
}

//! Blob GET/HEAD/DELETE, ranges, isolation between repositories.

mod common;

use common::*;
use reqwest::StatusCode;

#[tokio::test]
async fn get_and_head() {
    let t = start().await;
    let data = content(5000, 1);
    let d = t.push_blob("r", &data).await;
    let r = t.get(&format!("/v2/r/blobs/{d}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "docker-content-digest"), Some(d.clone()));
    assert_eq!(header(&r, "content-length").as_deref(), Some("5000"));
    assert_eq!(header(&r, "accept-ranges").as_deref(), Some("bytes"));
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(header(&r, "etag"), Some(format!("\"{d}\"")));
    assert_eq!(r.bytes().await.unwrap().to_vec(), data);

    let r = t.head(&format!("/v2/r/blobs/{d}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "content-length").as_deref(), Some("5000"));
    assert_eq!(header(&r, "docker-content-digest"), Some(d.clone()));
    assert!(r.bytes().await.unwrap().is_empty());

    let r = t
        .req(reqwest::Method::GET, &format!("/v2/r/blobs/{d}"))
        .header("if-none-match", format!("\"{d}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn ranges() {
    let t = start().await;
    let data = content(1000, 2);
    let d = t.push_blob("r", &data).await;
    let get = |range: &'static str| {
        let url = t.url(&format!("/v2/r/blobs/{d}"));
        let c = t.client.clone();
        async move { c.get(url).header("range", range).send().await.unwrap() }
    };
    let r = get("bytes=10-19").await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header(&r, "content-range").as_deref(),
        Some("bytes 10-19/1000")
    );
    assert_eq!(header(&r, "content-length").as_deref(), Some("10"));
    assert_eq!(header(&r, "docker-content-digest"), Some(d.clone()));
    assert_eq!(r.bytes().await.unwrap().to_vec(), data[10..20]);
    let r = get("bytes=990-").await;
    assert_eq!(r.bytes().await.unwrap().to_vec(), data[990..]);
    let r = get("bytes=-5").await;
    assert_eq!(
        header(&r, "content-range").as_deref(),
        Some("bytes 995-999/1000")
    );
    assert_eq!(r.bytes().await.unwrap().to_vec(), data[995..]);
    let r = get("bytes=1000-").await;
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&r, "content-range").as_deref(), Some("bytes */1000"));
    assert_eq!(
        get("bytes=5-1").await.status(),
        StatusCode::RANGE_NOT_SATISFIABLE
    );
    assert_eq!(
        get("lines=1-2").await.status(),
        StatusCode::RANGE_NOT_SATISFIABLE
    );
}

#[tokio::test]
async fn blobs_are_isolated_per_repository() {
    let t = start().await;
    let d = t.push_blob("a", b"secret").await;
    t.push_blob("b", b"other").await;
    let r = t.get(&format!("/v2/b/blobs/{d}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(codes(r).await, ["BLOB_UNKNOWN"]);
    assert_eq!(
        t.head(&format!("/v2/b/blobs/{d}")).await.status(),
        StatusCode::NOT_FOUND
    );
    let r = t.get(&format!("/v2/never/blobs/{d}")).await;
    assert_eq!(codes(r).await, ["NAME_UNKNOWN"]);
}

#[tokio::test]
async fn malformed_digests() {
    let t = start().await;
    t.push_blob("r", b"x").await;
    let upper = sha256(b"x").to_uppercase().replace("SHA256", "sha256");
    for bad in [
        "sha256:abc",
        upper.as_str(),
        "nodigest",
        "md5:d41d8cd98f00b204e9800998ecf8427e",
    ] {
        let r = t.get(&format!("/v2/r/blobs/{bad}")).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(codes(r).await, ["DIGEST_INVALID"], "{bad}");
    }
}

#[tokio::test]
async fn delete_blob() {
    let t = start().await;
    let d = t.push_blob("r", b"to delete").await;
    let r = t.delete(&format!("/v2/r/blobs/{d}")).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&r, "docker-content-digest"), Some(d.clone()));
    assert_eq!(header(&r, "content-length").as_deref(), Some("0"));
    assert_eq!(
        t.get(&format!("/v2/r/blobs/{d}")).await.status(),
        StatusCode::NOT_FOUND
    );
    let r = t.delete(&format!("/v2/r/blobs/{d}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(codes(r).await, ["BLOB_UNKNOWN"]);
    let r = t.delete(&format!("/v2/nope/blobs/{d}")).await;
    assert_eq!(codes(r).await, ["NAME_UNKNOWN"]);
}

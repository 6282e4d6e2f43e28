//! Upload sessions: monolithic, single POST, streamed and chunked PATCH, status, cancel,
//! failures, mount, sha512.

mod common;

use bytes::Bytes;
use common::*;
use reqwest::{Body, Method, StatusCode};

#[tokio::test]
async fn open_session_headers() {
    let t = start().await;
    let r = t
        .req(Method::POST, "/v2/r/blobs/uploads/")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let loc = header(&r, "location").unwrap();
    assert!(
        loc.starts_with("/v2/r/blobs/uploads/") && loc.contains('?'),
        "{loc}"
    );
    assert_eq!(header(&r, "range").as_deref(), Some("0-0"));
    assert_eq!(header(&r, "content-length").as_deref(), Some("0"));
    let uuid = header(&r, "docker-upload-uuid").unwrap();
    assert!(loc.contains(&uuid));
    // Status works with and without the query.
    for url in [loc.clone(), loc.split('?').next().unwrap().to_string()] {
        let r = t.get(&url).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(header(&r, "docker-upload-uuid"), Some(uuid.clone()));
        assert_eq!(header(&r, "range").as_deref(), Some("0-0"));
        assert!(header(&r, "location").is_some());
    }
    // A POST never creates the repository by itself.
    assert_eq!(
        t.get("/v2/r/tags/list").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn single_post_upload() {
    let t = start().await;
    let data = content(3000, 4);
    let d = sha256(&data);
    let r = t
        .req(Method::POST, &format!("/v2/r/blobs/uploads/?digest={d}"))
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(header(&r, "location"), Some(format!("/v2/r/blobs/{d}")));
    assert_eq!(header(&r, "docker-content-digest"), Some(d.clone()));
    assert_eq!(t.get_bytes(&format!("/v2/r/blobs/{d}")).await, data);
    let wrong = sha256(b"other");
    let r = t
        .req(
            Method::POST,
            &format!("/v2/r/blobs/uploads/?digest={wrong}"),
        )
        .body(data)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(codes(r).await, ["DIGEST_INVALID"]);
    assert_eq!(
        t.head(&format!("/v2/r/blobs/{wrong}")).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn streamed_patch_like_docker() {
    let t = start().await;
    let data = content(3 * 1024 * 1024 + 17, 5);
    let d = sha256(&data);
    let loc = t.open_session("library/app").await;
    // wrap_stream sends Transfer-Encoding: chunked and no Content-Range, like docker.
    let chunks: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(64 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let r = t
        .client
        .patch(t.url(&loc))
        .body(Body::wrap_stream(futures_util::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&r, "range"), Some(format!("0-{}", data.len() - 1)));
    let loc = header(&r, "location").unwrap();
    let r = t.client.put(t.with_digest(&loc, &d)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(header(&r, "docker-content-digest"), Some(d.clone()));
    assert_eq!(header(&r, "content-length").as_deref(), Some("0"));
    let r = t.head(&format!("/v2/library/app/blobs/{d}")).await;
    assert_eq!(header(&r, "content-length"), Some(data.len().to_string()));
    assert_eq!(
        t.get_bytes(&format!("/v2/library/app/blobs/{d}")).await,
        data
    );
}

#[tokio::test]
async fn chunked_patch_out_of_order_and_resume() {
    let t = start().await;
    let data = content(3000, 6);
    let d = sha256(&data);
    let mut loc = t.open_session("r").await;
    let uuid = loc
        .split('/')
        .next_back()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let patch = |loc: String, range: String, body: Vec<u8>| {
        let c = t.client.clone();
        let url = t.url(&loc);
        async move {
            c.patch(url)
                .header("content-type", "application/octet-stream")
                .header("content-range", range)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    let r = patch(loc.clone(), "0-999".into(), data[..1000].to_vec()).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&r, "range").as_deref(), Some("0-999"));
    loc = header(&r, "location").unwrap();
    // Out of order: skips ahead.
    let r = patch(loc.clone(), "1500-1999".into(), data[1500..2000].to_vec()).await;
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&r, "range").as_deref(), Some("0-999"));
    assert_eq!(header(&r, "docker-upload-uuid"), Some(uuid.clone()));
    assert_eq!(header(&r, "content-length").as_deref(), Some("0"));
    assert!(header(&r, "location").is_some());
    // Overlapping and malformed.
    assert_eq!(
        patch(loc.clone(), "500-1499".into(), data[500..1500].to_vec())
            .await
            .status(),
        StatusCode::RANGE_NOT_SATISFIABLE
    );
    assert_eq!(
        patch(loc.clone(), "garbage".into(), vec![1]).await.status(),
        StatusCode::RANGE_NOT_SATISFIABLE
    );
    // Content-Range and Content-Length disagree.
    assert_eq!(
        patch(loc.clone(), "1000-1009".into(), vec![0; 5])
            .await
            .status(),
        StatusCode::RANGE_NOT_SATISFIABLE
    );
    // Resume from the status answer; lenient `bytes a-b/*` accepted too.
    let r = t.get(&loc).await;
    assert_eq!(header(&r, "range").as_deref(), Some("0-999"));
    let loc = header(&r, "location").unwrap();
    let r = patch(loc, "bytes 1000-1999/*".into(), data[1000..2000].to_vec()).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let loc = header(&r, "location").unwrap();
    // Final chunk in the PUT, at a wrong offset first (416, session survives), then right.
    let put = |range: &'static str, body: Vec<u8>| {
        let c = t.client.clone();
        let url = t.with_digest(&loc, &d);
        async move {
            c.put(url)
                .header("content-range", range)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        put("2001-2999", data[2001..].to_vec()).await.status(),
        StatusCode::RANGE_NOT_SATISFIABLE
    );
    let r = put("2000-2999", data[2000..].to_vec()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(t.get_bytes(&format!("/v2/r/blobs/{d}")).await, data);
    // The session is finished now.
    let r = t.get(&loc).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(codes(r).await, ["BLOB_UPLOAD_UNKNOWN"]);
}

#[tokio::test]
async fn wrong_digest_commits_nothing() {
    let t = start().await;
    let loc = t.open_session("r").await;
    let wrong = sha256(b"not this");
    let r = t
        .client
        .put(t.with_digest(&loc, &wrong))
        .body(b"this".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(codes(r).await, ["DIGEST_INVALID"]);
    assert_eq!(
        t.head(&format!("/v2/r/blobs/{wrong}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.head(&format!("/v2/r/blobs/{}", sha256(b"this")))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // Missing and malformed digest parameters.
    let loc = t.open_session("r").await;
    let r = t
        .client
        .put(t.url(&loc))
        .body(b"x".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(codes(r).await, ["DIGEST_INVALID"]);
    let r = t
        .client
        .put(t.with_digest(&loc, "sha256:nothex"))
        .send()
        .await
        .unwrap();
    assert_eq!(codes(r).await, ["DIGEST_INVALID"]);
    let r = t
        .client
        .put(t.with_digest(&loc, "foo:bar"))
        .send()
        .await
        .unwrap();
    assert_eq!(codes(r).await, ["DIGEST_INVALID"]);
}

#[tokio::test]
async fn cancel_and_unknown_sessions() {
    let t = start().await;
    let loc = t.open_session("r").await;
    let r = t.delete(&loc).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for m in [Method::GET, Method::PATCH, Method::PUT, Method::DELETE] {
        let r = t.req(m.clone(), &loc).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{m}");
        assert_eq!(codes(r).await, ["BLOB_UPLOAD_UNKNOWN"], "{m}");
    }
    let r = t.get("/v2/r/blobs/uploads/not-a-uuid").await;
    assert_eq!(codes(r).await, ["BLOB_UPLOAD_UNKNOWN"]);
    // A session belongs to its repository.
    let loc = t.open_session("r").await;
    let other = loc.replacen("/v2/r/", "/v2/s/", 1);
    assert_eq!(t.get(&other).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn empty_blob() {
    let t = start().await;
    let d = t.push_blob("r", b"").await;
    let r = t.get(&format!("/v2/r/blobs/{d}")).await;
    assert_eq!(header(&r, "content-length").as_deref(), Some("0"));
}

#[tokio::test]
async fn mount() {
    let t = start().await;
    let d = t.push_blob("src", b"shared layer").await;
    let r = t
        .req(
            Method::POST,
            &format!("/v2/dst/blobs/uploads/?mount={d}&from=src"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(header(&r, "location"), Some(format!("/v2/dst/blobs/{d}")));
    assert_eq!(header(&r, "docker-content-digest"), Some(d.clone()));
    assert_eq!(header(&r, "content-length").as_deref(), Some("0"));
    assert_eq!(
        t.get(&format!("/v2/dst/blobs/{d}")).await.status(),
        StatusCode::OK
    );
    // Without `from`: found automatically.
    let r = t
        .req(Method::POST, &format!("/v2/auto/blobs/uploads/?mount={d}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // Unknown blob: fallback to a session.
    let missing = sha256(b"nowhere");
    let r = t
        .req(
            Method::POST,
            &format!("/v2/dst/blobs/uploads/?mount={missing}&from=src"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert!(header(&r, "location").unwrap().contains("/blobs/uploads/"));
    // Malformed mount digest.
    let r = t
        .req(
            Method::POST,
            "/v2/dst/blobs/uploads/?mount=sha256:zz&from=src",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(codes(r).await, ["DIGEST_INVALID"]);
    // A blob deleted from every repository can't be mounted any more.
    assert_eq!(
        t.delete(&format!("/v2/src/blobs/{d}")).await.status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        t.delete(&format!("/v2/dst/blobs/{d}")).await.status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        t.delete(&format!("/v2/auto/blobs/{d}")).await.status(),
        StatusCode::ACCEPTED
    );
    let r = t
        .req(Method::POST, &format!("/v2/x/blobs/uploads/?mount={d}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn sha512_blobs() {
    let t = start().await;
    let data = content(70_000, 7);
    let d = sha512(&data);
    let loc = t.open_session("r").await;
    let r = t
        .client
        .patch(t.url(&loc))
        .body(data.clone())
        .send()
        .await
        .unwrap();
    let loc = header(&r, "location").unwrap();
    let r = t.client.put(t.with_digest(&loc, &d)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(header(&r, "docker-content-digest"), Some(d.clone()));
    let r = t.get(&format!("/v2/r/blobs/{d}")).await;
    assert_eq!(header(&r, "docker-content-digest"), Some(d.clone()));
    assert_eq!(r.bytes().await.unwrap().to_vec(), data);
    let r = t
        .req(Method::POST, "/v2/r/blobs/uploads/?digest-algorithm=md5")
        .send()
        .await
        .unwrap();
    assert_eq!(codes(r).await, ["DIGEST_INVALID"]);
}

#[tokio::test]
async fn declared_length_mismatch_is_size_invalid() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let t = start().await;
    let loc = t.open_session("r").await;
    // Chunked body with a Content-Range promising more than arrives.
    let addr = t.base.trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let req = format!(
        "PATCH {loc} HTTP/1.1\r\nHost: x\r\nContent-Range: 0-9\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert!(out.contains("SIZE_INVALID"), "{out}");
    // Nothing was kept.
    assert_eq!(header(&t.get(&loc).await, "range").as_deref(), Some("0-0"));
}

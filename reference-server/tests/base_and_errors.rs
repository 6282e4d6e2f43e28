//! `/v2/`, routing, name grammar, error bodies and policy switches.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;

#[tokio::test]
async fn version_check() {
    let t = start().await;
    let r = t.get("/v2/").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        header(&r, "docker-distribution-api-version").as_deref(),
        Some("registry/2.0")
    );
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(r.json::<Value>().await.unwrap(), serde_json::json!({}));
    assert_eq!(t.get("/v2").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_endpoints_are_404_and_every_answer_has_the_version_header() {
    let t = start().await;
    for path in ["/v3/", "/v2/a/b", "/", "/v2/a/nothing/here"] {
        let r = t.get(path).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            header(&r, "docker-distribution-api-version").as_deref(),
            Some("registry/2.0")
        );
    }
}

#[tokio::test]
async fn invalid_names_are_400_name_invalid() {
    let t = start().await;
    for name in [
        "Upper",
        "a//b",
        "a/",
        "-a",
        "a..b",
        "a___b",
        &"a".repeat(256),
    ] {
        let r = t.get(&format!("/v2/{name}/tags/list")).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(codes(r).await, ["NAME_INVALID"], "{name}");
    }
    let r = t.put_manifest("UPPER", "latest", OCI_MANIFEST, b"{}").await;
    assert_eq!(codes(r).await, ["NAME_INVALID"]);
    // `..` has to bypass reqwest's path normalisation: send it raw.
    let raw = raw_get(&t, "/v2/a/../b/manifests/latest").await;
    assert!(raw.starts_with("HTTP/1.1 400"), "{raw}");
    assert!(raw.contains("NAME_INVALID"), "{raw}");
}

async fn raw_get(t: &TestRegistry, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = t.base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn names_with_api_words_as_components_work_end_to_end() {
    let t = start().await;
    for repo in [
        "x/blobs/y",
        "manifests/tags",
        "a/blobs/uploads",
        "tags/list/referrers",
        "a__b/c--d",
    ] {
        let (m, d) = t.push_image(repo, "v1", 3).await;
        let r = t.get(&format!("/v2/{repo}/manifests/v1")).await;
        assert_eq!(r.status(), StatusCode::OK, "{repo}");
        assert_eq!(r.bytes().await.unwrap().to_vec(), m);
        let r = t.get(&format!("/v2/{repo}/tags/list")).await;
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["name"], *repo);
        assert_eq!(v["tags"], serde_json::json!(["v1"]));
        assert_eq!(
            t.head(&format!("/v2/{repo}/manifests/{d}")).await.status(),
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn wrong_method_is_405_unsupported() {
    let t = start().await;
    let r = t.req(Method::POST, "/v2/").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let r = t
        .req(Method::PATCH, "/v2/a/manifests/latest")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(codes(r).await, ["UNSUPPORTED"]);
}

#[tokio::test]
async fn head_errors_have_no_body() {
    let t = start().await;
    let r = t.head("/v2/nope/manifests/latest").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn read_only_refuses_every_write() {
    let t = start_with(|c| c.read_only = true).await;
    let r = t
        .req(Method::POST, "/v2/a/blobs/uploads/")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(codes(r).await, ["UNSUPPORTED"]);
    let r = t.put_manifest("a", "t", OCI_MANIFEST, b"{}").await;
    assert_eq!(codes(r).await, ["UNSUPPORTED"]);
    let d = sha256(b"x");
    let r = t
        .req(
            Method::POST,
            &format!("/v2/a/blobs/uploads/?mount={d}&from=b"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let r = t.delete(&format!("/v2/a/manifests/{d}")).await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    // Reads still work.
    assert_eq!(t.get("/v2/").await.status(), StatusCode::OK);
    assert_eq!(t.get("/v2/_catalog").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn delete_disabled_refuses_deletes_only() {
    let t = start_with(|c| c.delete_enabled = false).await;
    let (_, d) = t.push_image("r", "v1", 1).await;
    let blob = t.push_blob("r", b"blob").await;
    for path in [
        format!("/v2/r/manifests/{d}"),
        "/v2/r/manifests/v1".into(),
        format!("/v2/r/blobs/{blob}"),
    ] {
        let r = t.delete(&path).await;
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(codes(r).await, ["UNSUPPORTED"]);
    }
    assert_eq!(t.get("/v2/r/manifests/v1").await.status(), StatusCode::OK);
}

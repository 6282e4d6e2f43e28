//! Manifest references that are neither a valid tag nor a usable digest.
//!
//! Reads and deletes answer 404 `MANIFEST_UNKNOWN` (OCI's endpoint table gives GET/HEAD
//! manifest only 404, and the official OCI conformance tests v1.1.1 require it for
//! `.INVALID_MANIFEST_NAME`); a PUT under such a reference is the client's mistake and keeps
//! its 400. Blob paths keep 400 `DIGEST_INVALID` for malformed digests (DIG-09).

mod common;

use common::*;
use reqwest::{Method, StatusCode};

/// The reference the official OCI conformance tests (v1.1.1, `01_pull_test.go`) use for a
/// nonexistent manifest.
const OFFICIAL: &str = ".INVALID_MANIFEST_NAME";

#[tokio::test]
async fn official_conformance_requests_get_404_manifest_unknown() {
    let t = start().await;
    let (manifest, _) = t.push_image("conformance/pull", "v1", 1).await;
    let path = format!("/v2/conformance/pull/manifests/{OFFICIAL}");

    let r = t.head(&path).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "HEAD {path}");
    assert!(r.bytes().await.unwrap().is_empty(), "HEAD has no body");

    let r = t.get(&path).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "GET {path}");
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(codes(r).await, ["MANIFEST_UNKNOWN"]);

    let r = t.delete(&path).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "DELETE {path}");
    assert_eq!(codes(r).await, ["MANIFEST_UNKNOWN"]);

    let r = t
        .put_manifest("conformance/pull", OFFICIAL, OCI_MANIFEST, &manifest)
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "PUT {path}");
    assert_eq!(codes(r).await, ["TAG_INVALID"]);
    // The refused PUT created nothing, and the real tag is untouched.
    assert_eq!(t.get(&path).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        t.get("/v2/conformance/pull/manifests/v1").await.status(),
        StatusCode::OK
    );
}

/// HEAD answers 404; GET and DELETE answer 404 `MANIFEST_UNKNOWN`.
async fn unknown_on_read_and_delete(t: &TestRegistry, path: &str) {
    let r = t.head(path).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "HEAD {path}");
    for m in [Method::GET, Method::DELETE] {
        let r = t.req(m.clone(), path).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{m} {path}");
        assert_eq!(codes(r).await, ["MANIFEST_UNKNOWN"], "{m} {path}");
    }
}

#[tokio::test]
async fn invalid_tags_are_unknown_manifests_on_read_and_delete() {
    let t = start().await;
    let (manifest, _) = t.push_image("r", "v1", 1).await;
    let long = "t".repeat(129);
    for tag in [long.as_str(), "-lead", ".dot", "a%20b", "%C3%A9"] {
        let path = format!("/v2/r/manifests/{tag}");
        unknown_on_read_and_delete(&t, &path).await;
        let r = t.put_manifest("r", tag, OCI_MANIFEST, &manifest).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "PUT {tag}");
        assert_eq!(codes(r).await, ["TAG_INVALID"], "PUT {tag}");
    }
    // The longest valid tag is an ordinary tag: pushable, readable, deletable.
    let max = "t".repeat(128);
    let r = t.put_manifest("r", &max, OCI_MANIFEST, &manifest).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let path = format!("/v2/r/manifests/{max}");
    assert_eq!(t.get(&path).await.status(), StatusCode::OK);
    assert_eq!(t.delete(&path).await.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn unusable_digests_are_unknown_manifests_on_read_and_delete() {
    let t = start().await;
    let (manifest, d) = t.push_image("r", "v1", 1).await;
    let upper = d.to_uppercase().replacen("SHA256", "sha256", 1);
    let unsupported = format!("md5:{}", "0".repeat(32));
    for reference in [
        "sha256:abc",
        "sha256:XYZ",
        upper.as_str(),
        "sha256",
        "SHA256:abab",
        unsupported.as_str(),
        "a:b",
    ] {
        unknown_on_read_and_delete(&t, &format!("/v2/r/manifests/{reference}")).await;
    }
    // A PUT by a malformed or unsupported digest is a client error (NAME-08, DIG-09).
    for reference in ["sha256:abc", upper.as_str(), unsupported.as_str(), "a:b"] {
        let r = t
            .put_manifest("r", reference, OCI_MANIFEST, &manifest)
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "PUT {reference}");
        assert_eq!(codes(r).await, ["DIGEST_INVALID"], "PUT {reference}");
    }
    // The manifest is still there under its real digest.
    assert_eq!(
        t.get(&format!("/v2/r/manifests/{d}")).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn unknown_repository_wins_over_an_invalid_reference() {
    let t = start().await;
    for reference in [OFFICIAL, "sha256:abc"] {
        let r = t.get(&format!("/v2/nope/manifests/{reference}")).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{reference}");
        assert_eq!(codes(r).await, ["NAME_UNKNOWN"], "{reference}");
    }
}

#[tokio::test]
async fn disabled_deletes_are_refused_before_the_reference_is_looked_at() {
    let t = start_with(|c| c.delete_enabled = false).await;
    t.push_image("r", "v1", 1).await;
    let r = t.delete(&format!("/v2/r/manifests/{OFFICIAL}")).await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(codes(r).await, ["UNSUPPORTED"]);
}

#[tokio::test]
async fn blob_paths_keep_400_digest_invalid() {
    let t = start().await;
    t.push_blob("r", b"x").await;
    for digest in ["sha256:abc", "sha256:XYZ", "md5:0123"] {
        let path = format!("/v2/r/blobs/{digest}");
        assert_eq!(
            t.head(&path).await.status(),
            StatusCode::BAD_REQUEST,
            "HEAD {digest}"
        );
        for m in [Method::GET, Method::DELETE] {
            let r = t.req(m.clone(), &path).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{m} {digest}");
            assert_eq!(codes(r).await, ["DIGEST_INVALID"], "{m} {digest}");
        }
    }
}

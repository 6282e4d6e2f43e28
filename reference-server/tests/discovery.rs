//! Tags list, catalog and referrers.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn tag_all(t: &TestRegistry, repo: &str, tags: &[&str]) {
    let (m, _) = t.push_image(repo, tags[0], 1).await;
    for tag in &tags[1..] {
        assert_eq!(
            t.put_manifest(repo, tag, OCI_MANIFEST, &m).await.status(),
            StatusCode::CREATED
        );
    }
}

#[tokio::test]
async fn tags_sorted_and_paginated() {
    let t = start().await;
    tag_all(&t, "r", &["b", "a", "C", "d", "e"]).await;
    let r = t.get("/v2/r/tags/list").await;
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("application/json")
    );
    assert!(header(&r, "link").is_none());
    let v: Value = r.json().await.unwrap();
    assert_eq!(v, json!({"name": "r", "tags": ["C", "a", "b", "d", "e"]}));

    // Follow Link headers with n=2: every tag once, in order.
    let mut url = "/v2/r/tags/list?n=2".to_string();
    let mut seen = Vec::new();
    loop {
        let r = t.get(&url).await;
        let link = header(&r, "link");
        let v: Value = r.json().await.unwrap();
        let page: Vec<String> = serde_json::from_value(v["tags"].clone()).unwrap();
        assert!(page.len() <= 2);
        seen.extend(page);
        match link {
            Some(l) => {
                assert!(l.ends_with("; rel=\"next\""), "{l}");
                url = l[1..l.find('>').unwrap()].to_string();
            }
            None => break,
        }
    }
    assert_eq!(seen, ["C", "a", "b", "d", "e"]);

    let v: Value = t.get("/v2/r/tags/list?last=b").await.json().await.unwrap();
    assert_eq!(v["tags"], json!(["d", "e"]));
    let r = t.get("/v2/r/tags/list?n=0").await;
    assert!(header(&r, "link").is_none());
    assert_eq!(r.json::<Value>().await.unwrap()["tags"], json!([]));
    for bad in ["-1", "x", "1.5"] {
        let r = t.get(&format!("/v2/r/tags/list?n={bad}")).await;
        assert_eq!(codes(r).await, ["PAGINATION_NUMBER_INVALID"], "{bad}");
    }
    let r = t.get("/v2/nope/tags/list").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(codes(r).await, ["NAME_UNKNOWN"]);
}

#[tokio::test]
async fn page_size_is_capped_with_link() {
    let t = start_with(|c| c.max_page_size = 2).await;
    tag_all(&t, "r", &["a", "b", "c"]).await;
    let r = t.get("/v2/r/tags/list?n=100").await;
    let link = header(&r, "link").expect("Link when clamped");
    assert_eq!(link, "</v2/r/tags/list?n=2&last=b>; rel=\"next\"");
    assert_eq!(r.json::<Value>().await.unwrap()["tags"], json!(["a", "b"]));
}

#[tokio::test]
async fn tags_of_untagged_repository_is_empty_array() {
    let t = start().await;
    t.push_blob("r", b"x").await;
    let v: Value = t.get("/v2/r/tags/list").await.json().await.unwrap();
    assert_eq!(v, json!({"name": "r", "tags": []}));
}

#[tokio::test]
async fn catalog() {
    let t = start().await;
    for repo in ["b", "a/x", "a", "c/d/e"] {
        t.push_blob(repo, b"x").await;
    }
    let v: Value = t.get("/v2/_catalog").await.json().await.unwrap();
    assert_eq!(v, json!({"repositories": ["a", "a/x", "b", "c/d/e"]}));
    let r = t.get("/v2/_catalog?n=2").await;
    assert_eq!(
        header(&r, "link").as_deref(),
        Some("</v2/_catalog?n=2&last=a/x>; rel=\"next\"")
    );
    let v: Value = t
        .get("/v2/_catalog?n=2&last=a/x")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["repositories"], json!(["b", "c/d/e"]));
    assert_eq!(
        codes(t.get("/v2/_catalog?n=abc").await).await,
        ["PAGINATION_NUMBER_INVALID"]
    );
}

#[tokio::test]
async fn referrers() {
    let t = start().await;
    let (subject_bytes, subject) = t.push_image("r", "v1", 1).await;
    let empty = t.push_blob("r", b"{}").await;
    let sbom_layer = t.push_blob("r", b"sbom").await;
    let subject_desc =
        json!({"mediaType": OCI_MANIFEST, "digest": subject, "size": subject_bytes.len()});
    let artifact = |artifact_type: &str, note: &str| {
        serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
            "config": {"mediaType": EMPTY_CONFIG, "digest": empty, "size": 2},
            "layers": [{"mediaType": "application/spdx+json", "digest": sbom_layer, "size": 4}],
            "subject": subject_desc, "annotations": {"note": note}
        }))
        .unwrap()
    };
    let sbom = artifact("application/vnd.example.sbom", "one");
    let sig = artifact("application/vnd.example.sig", "two");
    for m in [&sbom, &sig] {
        let r = t.put_manifest("r", &sha256(m), OCI_MANIFEST, m).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(header(&r, "oci-subject"), Some(subject.clone()));
    }
    // An image (no artifactType) as referrer: artifactType falls back to config.mediaType.
    let plain = image_manifest(
        &(empty.clone(), 2),
        &[],
        Some(json!({"subject": subject_desc})),
    );
    assert_eq!(
        t.put_manifest("r", &sha256(&plain), OCI_MANIFEST, &plain)
            .await
            .status(),
        StatusCode::CREATED
    );

    let r = t.get(&format!("/v2/r/referrers/{subject}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "content-type").as_deref(), Some(OCI_INDEX));
    assert!(header(&r, "oci-filters-applied").is_none());
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["schemaVersion"], 2);
    assert_eq!(v["mediaType"], OCI_INDEX);
    let list = v["manifests"].as_array().unwrap();
    assert_eq!(list.len(), 3);
    let find = |d: &str| list.iter().find(|e| e["digest"] == d).cloned().unwrap();
    let e = find(&sha256(&sbom));
    assert_eq!(e["artifactType"], "application/vnd.example.sbom");
    assert_eq!(e["annotations"], json!({"note": "one"}));
    assert_eq!(e["size"], sbom.len());
    assert_eq!(e["mediaType"], OCI_MANIFEST);
    assert_eq!(
        find(&sha256(&plain))["artifactType"],
        "application/vnd.oci.image.config.v1+json"
    );

    let r = t
        .get(&format!(
            "/v2/r/referrers/{subject}?artifactType=application/vnd.example.sig"
        ))
        .await;
    assert_eq!(
        header(&r, "oci-filters-applied").as_deref(),
        Some("artifactType")
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(v["manifests"][0]["digest"], sha256(&sig));

    // Deleted referrers disappear.
    assert_eq!(
        t.delete(&format!("/v2/r/manifests/{}", sha256(&sig)))
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    let v: Value = t
        .get(&format!("/v2/r/referrers/{subject}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 2);

    // Unknown subject and unknown repository: empty index, never 404.
    for path in [
        format!("/v2/r/referrers/{}", sha256(b"nothing")),
        format!("/v2/unknown/referrers/{subject}"),
    ] {
        let r = t.get(&path).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(r.json::<Value>().await.unwrap()["manifests"], json!([]));
    }
    let r = t
        .req(Method::GET, "/v2/r/referrers/sha256:nothex")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(codes(r).await, ["DIGEST_INVALID"]);
}

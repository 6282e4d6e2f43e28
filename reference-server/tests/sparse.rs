//! Sparse manifests: image manifests and indexes whose config, layers or child manifests
//! are absent from the repository, refused by default (400 `MANIFEST_BLOB_UNKNOWN`) and
//! accepted with `Config::allow_sparse_manifests` (`serve --allow-sparse-manifests`).

mod common;

use std::time::Duration;

use common::*;
use reference_server::gc::{self, GcOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Config and layer descriptors of content that is never pushed anywhere.
fn absent(seed: u8) -> (String, usize) {
    let data = content(3000 + seed as usize, seed);
    (sha256(&data), data.len())
}

fn index(children: &[(String, usize)], extra: Option<Value>) -> Vec<u8> {
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": children.iter().map(|(d, s)| json!({
            "mediaType": OCI_MANIFEST, "digest": d, "size": s,
            "platform": { "architecture": "amd64", "os": "linux" }
        })).collect::<Vec<_>>(),
    });
    if let Some(Value::Object(extra)) = extra {
        for (k, v) in extra {
            m[k] = v;
        }
    }
    serde_json::to_vec(&m).unwrap()
}

/// Pushes a config blob to `repo` and returns an image manifest over it and one layer that
/// exists nowhere.
async fn sparse_image(t: &TestRegistry, repo: &str, seed: u8) -> (Vec<u8>, String, String) {
    let config = format!("{{\"sparse\":{seed}}}").into_bytes();
    let cd = t.push_blob(repo, &config).await;
    let layer = absent(seed);
    let m = image_manifest(&(cd, config.len()), std::slice::from_ref(&layer), None);
    let d = sha256(&m);
    (m, d, layer.0)
}

async fn assert_served(t: &TestRegistry, repo: &str, reference: &str, body: &[u8]) {
    let path = format!("/v2/{repo}/manifests/{reference}");
    let r = t.head(&path).await;
    assert_eq!(r.status(), StatusCode::OK, "HEAD {path}");
    assert_eq!(
        header(&r, "docker-content-digest"),
        Some(sha256(body)),
        "HEAD {path}"
    );
    assert_eq!(t.get_bytes(&path).await, body, "GET {path}");
}

#[tokio::test]
async fn strict_by_default_missing_layers_and_children_are_refused() {
    let t = start().await;
    let (m, d, layer) = sparse_image(&t, "r", 1).await;
    for reference in ["v1", d.as_str()] {
        let r = t.put_manifest("r", reference, OCI_MANIFEST, &m).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{reference}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["errors"][0]["code"], "MANIFEST_BLOB_UNKNOWN");
        assert_eq!(v["errors"][0]["detail"]["digest"], layer.as_str());
    }
    let child = absent(2);
    let i = index(std::slice::from_ref(&child), None);
    let r = t.put_manifest("r", "idx", OCI_INDEX, &i).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(codes(r).await, ["MANIFEST_BLOB_UNKNOWN"]);
    assert_eq!(
        t.get(&format!("/v2/r/manifests/{d}")).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn sparse_image_manifest_behaves_like_any_other() {
    let t = start_with(|c| c.allow_sparse_manifests = true).await;
    let (m, d, layer) = sparse_image(&t, "r", 1).await;
    let r = t.put_manifest("r", "v1", OCI_MANIFEST, &m).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(header(&r, "location"), Some(format!("/v2/r/manifests/{d}")));
    assert_eq!(header(&r, "docker-content-digest"), Some(d.clone()));
    let r = t.put_manifest("r", &d, OCI_MANIFEST, &m).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_served(&t, "r", "v1", &m).await;
    assert_served(&t, "r", &d, &m).await;
    let v: Value = t.get("/v2/r/tags/list").await.json().await.unwrap();
    assert_eq!(v["tags"], json!(["v1"]));
    // The missing layer just isn't there.
    assert_eq!(
        t.head(&format!("/v2/r/blobs/{layer}")).await.status(),
        StatusCode::NOT_FOUND
    );
    // A config pushed nowhere and an unknown algorithm are fine too.
    let nothing = image_manifest(
        &absent(3),
        &[(format!("sha999:{}", "ab".repeat(20)), 40)],
        None,
    );
    let r = t.put_manifest("r", "v2", OCI_MANIFEST, &nothing).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_served(&t, "r", "v2", &nothing).await;

    let r = t.delete(&format!("/v2/r/manifests/{d}")).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    for reference in ["v1", d.as_str()] {
        let r = t.get(&format!("/v2/r/manifests/{reference}")).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{reference}");
        assert_eq!(codes(r).await, ["MANIFEST_UNKNOWN"]);
    }
    let v: Value = t.get("/v2/r/tags/list").await.json().await.unwrap();
    assert_eq!(v["tags"], json!(["v2"]));
}

#[tokio::test]
async fn sparse_index_behaves_like_any_other() {
    let t = start_with(|c| c.allow_sparse_manifests = true).await;
    let (_, present) = t.push_image("r", "amd64", 1).await;
    let present_size = t
        .get_bytes(&format!("/v2/r/manifests/{present}"))
        .await
        .len();
    let missing = absent(9);
    let i = index(&[(present.clone(), present_size), missing.clone()], None);
    let d = sha256(&i);
    let r = t.put_manifest("r", "multi", OCI_INDEX, &i).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = t.put_manifest("r", &d, OCI_INDEX, &i).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_served(&t, "r", "multi", &i).await;
    assert_served(&t, "r", &d, &i).await;
    assert_eq!(
        header(&t.get("/v2/r/manifests/multi").await, "content-type").as_deref(),
        Some(OCI_INDEX)
    );
    let v: Value = t.get("/v2/r/tags/list").await.json().await.unwrap();
    assert_eq!(v["tags"], json!(["amd64", "multi"]));
    // The present child is served, the missing one is unknown.
    assert_eq!(
        t.get(&format!("/v2/r/manifests/{present}")).await.status(),
        StatusCode::OK
    );
    let r = t.get(&format!("/v2/r/manifests/{}", missing.0)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(codes(r).await, ["MANIFEST_UNKNOWN"]);

    assert_eq!(
        t.delete(&format!("/v2/r/manifests/{d}")).await.status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        t.head("/v2/r/manifests/multi").await.status(),
        StatusCode::NOT_FOUND
    );
    // Deleting the index leaves its present child alone.
    assert_eq!(
        t.get("/v2/r/manifests/amd64").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn sparse_referrer_is_listed_and_unlisted() {
    let t = start_with(|c| c.allow_sparse_manifests = true).await;
    let subject = absent(5);
    let extra = json!({
        "artifactType": "application/vnd.example.sbom",
        "subject": { "mediaType": OCI_MANIFEST, "digest": subject.0, "size": subject.1 },
        "annotations": { "org.example": "yes" },
    });
    let m = image_manifest(&absent(6), &[absent(7)], Some(extra));
    let d = sha256(&m);
    let r = t.put_manifest("r", &d, OCI_MANIFEST, &m).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(header(&r, "oci-subject"), Some(subject.0.clone()));
    let referrers = format!("/v2/r/referrers/{}", subject.0);
    let v: Value = t.get(&referrers).await.json().await.unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(v["manifests"][0]["digest"], d.as_str());
    assert_eq!(
        v["manifests"][0]["artifactType"],
        "application/vnd.example.sbom"
    );
    assert_eq!(
        t.delete(&format!("/v2/r/manifests/{d}")).await.status(),
        StatusCode::ACCEPTED
    );
    let v: Value = t.get(&referrers).await.json().await.unwrap();
    assert_eq!(v["manifests"], json!([]));
}

#[tokio::test]
async fn gc_with_sparse_manifests_keeps_everything_referenced() {
    let mut t = start_with(|c| c.allow_sparse_manifests = true).await;
    // A complete image in one repository, sparse ones in another.
    let (full, full_d) = t.push_image("full", "v1", 1).await;
    let (sparse, sparse_d, missing_layer) = sparse_image(&t, "sparse", 2).await;
    assert_eq!(
        t.put_manifest("sparse", "v1", OCI_MANIFEST, &sparse)
            .await
            .status(),
        StatusCode::CREATED
    );
    // A sparse manifest whose layer exists, but only in the other repository.
    let full_m: Value = serde_json::from_slice(&full).unwrap();
    let shared_layer = full_m["layers"][0]["digest"].as_str().unwrap().to_string();
    let cross = image_manifest(&absent(3), &[(shared_layer.clone(), 1001)], None);
    assert_eq!(
        t.put_manifest("sparse", "cross", OCI_MANIFEST, &cross)
            .await
            .status(),
        StatusCode::CREATED
    );
    // A sparse index over the sparse image and a child that was never pushed.
    let i = index(&[(sparse_d.clone(), sparse.len()), absent(4)], None);
    assert_eq!(
        t.put_manifest("sparse", "multi", OCI_INDEX, &i)
            .await
            .status(),
        StatusCode::CREATED
    );
    let orphan = t.push_blob("sparse", b"orphan").await;
    t.stop().await;

    let dry = GcOptions {
        root: t.root.clone(),
        dry_run: true,
        upload_max_age: Duration::ZERO,
        blob_grace: Duration::ZERO,
    };
    let report = gc::run(&dry)
        .await
        .expect("gc dry run with sparse manifests");
    let listed: Vec<String> = report.blobs.iter().map(|(d, _)| d.to_string()).collect();
    assert_eq!(listed, vec![orphan.clone()]);
    let real = GcOptions {
        dry_run: false,
        ..dry
    };
    let report = gc::run(&real).await.expect("gc with sparse manifests");
    assert_eq!(report.blobs.len(), 1);
    assert_eq!(report.links.len(), 1);
    assert!(gc::run(&real).await.unwrap().blobs.is_empty(), "idempotent");

    let t = start_on(&t.root, |c| c.allow_sparse_manifests = true).await;
    assert_eq!(
        t.head(&format!("/v2/sparse/blobs/{orphan}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_served(&t, "sparse", "v1", &sparse).await;
    assert_served(&t, "sparse", "cross", &cross).await;
    assert_served(&t, "sparse", "multi", &i).await;
    assert_served(&t, "full", "v1", &full).await;
    assert_served(&t, "full", &full_d, &full).await;
    // The sparse image's config (pushed) survives; its missing layer is still missing.
    let sparse_m: Value = serde_json::from_slice(&sparse).unwrap();
    let config = sparse_m["config"]["digest"].as_str().unwrap();
    assert_eq!(
        t.head(&format!("/v2/sparse/blobs/{config}")).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        t.head(&format!("/v2/sparse/blobs/{missing_layer}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    for d in [&full_m["config"]["digest"], &full_m["layers"][0]["digest"]] {
        assert_eq!(
            t.head(&format!("/v2/full/blobs/{}", d.as_str().unwrap()))
                .await
                .status(),
            StatusCode::OK
        );
    }
    // The layer the sparse manifest references in the other repository is still linked
    // there, and still not readable through the sparse repository (PULL-19).
    assert_eq!(
        t.head(&format!("/v2/sparse/blobs/{shared_layer}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

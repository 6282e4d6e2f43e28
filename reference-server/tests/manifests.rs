//! Manifest PUT/GET/HEAD/DELETE and validation.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test]
async fn put_and_get_byte_exact() {
    let t = start().await;
    let (m, d) = t.push_image("r", "v1", 1).await;
    for reference in ["v1", d.as_str()] {
        let r = t.get(&format!("/v2/r/manifests/{reference}")).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, "content-type").as_deref(), Some(OCI_MANIFEST));
        assert_eq!(header(&r, "docker-content-digest"), Some(d.clone()));
        assert_eq!(header(&r, "content-length"), Some(m.len().to_string()));
        assert_eq!(r.bytes().await.unwrap().to_vec(), m);
        let r = t.head(&format!("/v2/r/manifests/{reference}")).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, "content-length"), Some(m.len().to_string()));
        assert_eq!(header(&r, "content-type").as_deref(), Some(OCI_MANIFEST));
        assert!(r.bytes().await.unwrap().is_empty());
    }
    // Odd whitespace survives: the bytes are never re-serialised.
    let cfg = t.push_blob("r", b"{}").await;
    let odd = format!(
        "{{ \"schemaVersion\" : 2,\n \"mediaType\": \"{OCI_MANIFEST}\", \"config\": {{\"mediaType\":\"x/y\",\"digest\":\"{cfg}\",\"size\":2}}, \"layers\": [] }}\n"
    );
    let r = t
        .put_manifest(
            "r",
            "odd",
            &format!("{OCI_MANIFEST}; charset=utf-8"),
            odd.as_bytes(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        header(&r, "location"),
        Some(format!("/v2/r/manifests/{}", sha256(odd.as_bytes())))
    );
    assert_eq!(
        header(&r, "docker-content-digest"),
        Some(sha256(odd.as_bytes()))
    );
    assert_eq!(header(&r, "content-length").as_deref(), Some("0"));
    assert_eq!(
        t.get("/v2/r/manifests/odd")
            .await
            .bytes()
            .await
            .unwrap()
            .to_vec(),
        odd.as_bytes()
    );
}

#[tokio::test]
async fn put_by_digest_and_mismatch() {
    let t = start().await;
    let c = t.push_blob("r", b"cfg").await;
    let m = image_manifest(&(c, 3), &[], None);
    let d = sha256(&m);
    assert_eq!(
        t.put_manifest("r", &d, OCI_MANIFEST, &m).await.status(),
        StatusCode::CREATED
    );
    let wrong = sha256(b"other");
    let r = t.put_manifest("r", &wrong, OCI_MANIFEST, &m).await;
    assert_eq!(codes(r).await, ["DIGEST_INVALID"]);
    // sha512 reference.
    let d512 = sha512(&m);
    let r = t.put_manifest("r", &d512, OCI_MANIFEST, &m).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(header(&r, "docker-content-digest"), Some(d512.clone()));
    assert_eq!(t.get_bytes(&format!("/v2/r/manifests/{d512}")).await, m);
}

#[tokio::test]
async fn missing_blobs_are_listed() {
    let t = start().await;
    let c = t.push_blob("r", b"cfg").await;
    let only_elsewhere = t.push_blob("other", b"layer elsewhere").await;
    let missing = sha256(b"missing layer");
    let m = image_manifest(
        &(c, 3),
        &[(only_elsewhere.clone(), 15), (missing.clone(), 13)],
        None,
    );
    let r = t.put_manifest("r", "v1", OCI_MANIFEST, &m).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    let mut got: Vec<(String, String)> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap().into(),
                e["detail"]["digest"].as_str().unwrap().into(),
            )
        })
        .collect();
    got.sort();
    let mut want = vec![
        ("MANIFEST_BLOB_UNKNOWN".to_string(), only_elsewhere),
        ("MANIFEST_BLOB_UNKNOWN".to_string(), missing),
    ];
    want.sort();
    assert_eq!(got, want);
    assert_eq!(
        t.get("/v2/r/manifests/v1").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn foreign_layers_and_missing_subject_are_accepted() {
    let t = start().await;
    let c = t.push_blob("r", b"cfg").await;
    let foreign = json!({"layers": [{
        "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "digest": sha256(b"windows base"), "size": 12, "urls": ["https://example.com/layer"]
    }]});
    let m = image_manifest(&(c.clone(), 3), &[], Some(foreign));
    assert_eq!(
        t.put_manifest("r", "foreign", OCI_MANIFEST, &m)
            .await
            .status(),
        StatusCode::CREATED
    );
    let subject = sha256(b"not pushed yet");
    let extra = json!({"subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": 10}});
    let m = image_manifest(&(c, 3), &[], Some(extra));
    let r = t.put_manifest("r", "sig", OCI_MANIFEST, &m).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(header(&r, "oci-subject"), Some(subject));
}

#[tokio::test]
async fn invalid_manifests() {
    let t = start().await;
    let c = t.push_blob("r", b"cfg").await;
    let good = image_manifest(&(c.clone(), 3), &[], None);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not json", b"{nope".to_vec(), OCI_MANIFEST),
        ("array", b"[]".to_vec(), OCI_MANIFEST),
        ("type mismatch", good.clone(), OCI_INDEX),
        ("schema1", br#"{"schemaVersion":1,"name":"r","tag":"x","fsLayers":[]}"#.to_vec(), "application/vnd.docker.distribution.manifest.v1+prettyjws"),
        ("no config", format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","layers":[]}}"#).into_bytes(), OCI_MANIFEST),
        ("schemaVersion", format!(r#"{{"schemaVersion":1,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"a/b","digest":"{c}","size":3}},"layers":[]}}"#).into_bytes(), OCI_MANIFEST),
        ("bad digest", format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"a/b","digest":"sha256:XYZ","size":3}},"layers":[]}}"#).into_bytes(), OCI_MANIFEST),
        ("negative size", format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"a/b","digest":"{c}","size":-1}},"layers":[]}}"#).into_bytes(), OCI_MANIFEST),
        ("bad data", format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"a/b","digest":"{c}","size":3,"data":"e30="}},"layers":[]}}"#).into_bytes(), OCI_MANIFEST),
        ("annotations", image_manifest(&(c.clone(), 3), &[], Some(json!({"annotations": {"a": 1}}))), OCI_MANIFEST),
    ];
    for (what, body, ct) in cases {
        let r = t.put_manifest("r", "bad", ct, &body).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{what}");
        assert_eq!(codes(r).await, ["MANIFEST_INVALID"], "{what}");
    }
    for tag in ["-lead", "has:colon", &"t".repeat(129)] {
        let r = t.put_manifest("r", tag, OCI_MANIFEST, &good).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{tag}");
    }
    let r = t.put_manifest("r", ".dot", OCI_MANIFEST, &good).await;
    assert_eq!(codes(r).await, ["TAG_INVALID"]);
}

#[tokio::test]
async fn size_limit() {
    let t = start().await;
    let c = t.push_blob("r", b"cfg").await;
    let limit = 4 * 1024 * 1024;
    let sized = |n: usize| {
        let base = image_manifest(
            &(c.clone(), 3),
            &[],
            Some(json!({"annotations": {"pad": ""}})),
        );
        let pad = n - base.len();
        let m = image_manifest(
            &(c.clone(), 3),
            &[],
            Some(json!({"annotations": {"pad": "x".repeat(pad)}})),
        );
        assert_eq!(m.len(), n);
        m
    };
    assert_eq!(
        t.put_manifest("r", "max", OCI_MANIFEST, &sized(limit))
            .await
            .status(),
        StatusCode::CREATED
    );
    let r = t
        .put_manifest("r", "over", OCI_MANIFEST, &sized(limit + 1))
        .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(codes(r).await, ["SIZE_INVALID"]);
}

#[tokio::test]
async fn docker_and_index_types() {
    let t = start().await;
    let c = t.push_blob("r", b"cfg").await;
    let l = t.push_blob("r", b"layer").await;
    let docker = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": c, "size": 3},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": l, "size": 5}]
    }))
    .unwrap();
    let r = t
        .put_manifest("r", "docker", DOCKER_MANIFEST, &docker)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let dd = sha256(&docker);
    let list = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": DOCKER_LIST,
        "manifests": [{"mediaType": DOCKER_MANIFEST, "digest": dd, "size": docker.len(),
                       "platform": {"architecture": "amd64", "os": "linux"}}]
    }))
    .unwrap();
    assert_eq!(
        t.put_manifest("r", "list", DOCKER_LIST, &list)
            .await
            .status(),
        StatusCode::CREATED
    );
    let r = t.get("/v2/r/manifests/list").await;
    assert_eq!(header(&r, "content-type").as_deref(), Some(DOCKER_LIST));
    // An index whose child is missing.
    let missing = sha256(b"no such manifest");
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": "application/vnd.unknown+json", "digest": dd, "size": docker.len()},
                      {"mediaType": OCI_MANIFEST, "digest": missing, "size": 10}]
    }))
    .unwrap();
    let r = t.put_manifest("r", "idx", OCI_INDEX, &index).await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["code"], "MANIFEST_BLOB_UNKNOWN");
    assert_eq!(v["errors"][0]["detail"]["digest"], missing);
    assert_eq!(v["errors"].as_array().unwrap().len(), 1);
    // Artifact with an unknown config type and no mediaType in the body: Content-Type decides.
    let art = serde_json::to_vec(&json!({
        "schemaVersion": 2, "artifactType": "application/vnd.example.sbom",
        "config": {"mediaType": "application/vnd.example.whatever", "digest": c, "size": 3},
        "layers": []
    }))
    .unwrap();
    assert_eq!(
        t.put_manifest("r", "art", OCI_MANIFEST, &art)
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(
        header(&t.get("/v2/r/manifests/art").await, "content-type").as_deref(),
        Some(OCI_MANIFEST)
    );
}

#[tokio::test]
async fn multiple_tags_on_put_by_digest() {
    let t = start().await;
    let c = t.push_blob("r", b"cfg").await;
    let m = image_manifest(&(c, 3), &[], None);
    let d = sha256(&m);
    let r = t
        .req(
            Method::PUT,
            &format!("/v2/r/manifests/{d}?tag=a&tag=b&tag=c"),
        )
        .header("content-type", OCI_MANIFEST)
        .body(m.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(header(&r, "oci-tag").as_deref(), Some("a, b, c"));
    let v: Value = t.get("/v2/r/tags/list").await.json().await.unwrap();
    assert_eq!(v["tags"], json!(["a", "b", "c"]));
}

#[tokio::test]
async fn get_unknown() {
    let t = start().await;
    t.push_image("r", "v1", 1).await;
    let r = t.get("/v2/r/manifests/nope").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(codes(r).await, ["MANIFEST_UNKNOWN"]);
    let r = t.get(&format!("/v2/r/manifests/{}", sha256(b"x"))).await;
    assert_eq!(codes(r).await, ["MANIFEST_UNKNOWN"]);
    let r = t.get("/v2/nope/manifests/v1").await;
    assert_eq!(codes(r).await, ["NAME_UNKNOWN"]);
    // References that can't name a manifest are unknown manifests on reads (OCI end-3:
    // 404 only); tests/invalid_reference.rs pins the details.
    let r = t.get("/v2/r/manifests/sha256:XYZ").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(codes(r).await, ["MANIFEST_UNKNOWN"]);
    let r = t.get("/v2/r/manifests/.bad").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(codes(r).await, ["MANIFEST_UNKNOWN"]);
    assert_eq!(
        t.head("/v2/r/manifests/nope").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn tag_moves_and_old_manifest_stays() {
    let t = start().await;
    let (_, d1) = t.push_image("r", "v", 1).await;
    let (_, d2) = t.push_image("r", "v", 2).await;
    assert_eq!(
        header(&t.get("/v2/r/manifests/v").await, "docker-content-digest"),
        Some(d2)
    );
    assert_eq!(
        t.get(&format!("/v2/r/manifests/{d1}")).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn delete_by_digest_and_by_tag() {
    let t = start().await;
    let (_, d) = t.push_image("r", "v1", 1).await;
    t.req(Method::PUT, &format!("/v2/r/manifests/{d}?tag=v2"))
        .header("content-type", OCI_MANIFEST)
        .body(t.get("/v2/r/manifests/v1").await.bytes().await.unwrap())
        .send()
        .await
        .unwrap();
    // By tag: only the tag goes.
    let r = t.delete("/v2/r/manifests/v2").await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(
        t.get("/v2/r/manifests/v2").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.get(&format!("/v2/r/manifests/{d}")).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        codes(t.delete("/v2/r/manifests/v2").await).await,
        ["MANIFEST_UNKNOWN"]
    );
    // By digest: manifest and its tags go.
    let r = t.delete(&format!("/v2/r/manifests/{d}")).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(
        t.get(&format!("/v2/r/manifests/{d}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.head("/v2/r/manifests/v1").await.status(),
        StatusCode::NOT_FOUND
    );
    let v: Value = t.get("/v2/r/tags/list").await.json().await.unwrap();
    assert_eq!(v["tags"], json!([]));
    assert_eq!(
        codes(t.delete(&format!("/v2/r/manifests/{d}")).await).await,
        ["MANIFEST_UNKNOWN"]
    );
    assert_eq!(
        codes(t.delete(&format!("/v2/nope/manifests/{d}")).await).await,
        ["NAME_UNKNOWN"]
    );
}

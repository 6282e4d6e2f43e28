//! Shared test support: a real registry on 127.0.0.1:0 with a temporary root, and a
//! reqwest client that doesn't follow redirects.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use reference_server::{Config, RunningRegistry};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";

pub struct TestRegistry {
    pub registry: Option<RunningRegistry>,
    pub base: String,
    pub client: Client,
    pub root: PathBuf,
    // Keeps the directory alive for the test's duration.
    _dir: Option<tempfile::TempDir>,
}

pub async fn start() -> TestRegistry {
    start_with(|_| {}).await
}

pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestRegistry {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    let mut t = start_on(&root, adjust).await;
    t._dir = Some(dir);
    t
}

/// Starts a registry on an existing root (restart tests); the caller owns the directory.
pub async fn start_on(root: &Path, adjust: impl FnOnce(&mut Config)) -> TestRegistry {
    let mut config = Config::new(root);
    adjust(&mut config);
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let registry = reference_server::start(config, addr)
        .await
        .expect("start registry");
    let base = format!("http://{}", registry.local_addr());
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestRegistry {
        registry: Some(registry),
        base,
        client,
        root: root.to_path_buf(),
        _dir: None,
    }
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

pub fn sha512(bytes: &[u8]) -> String {
    use sha2::Sha512;
    format!("sha512:{}", hex::encode(Sha512::digest(bytes)))
}

/// Deterministic pseudo-random content.
pub fn content(size: usize, seed: u8) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9 ^ seed as u32;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

pub fn header(r: &Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

/// The error codes of a JSON error body, in order.
pub async fn codes(r: Response) -> Vec<String> {
    let v: Value = r.json().await.expect("JSON error body");
    v["errors"]
        .as_array()
        .expect("errors array")
        .iter()
        .map(|e| e["code"].as_str().unwrap().to_string())
        .collect()
}

impl TestRegistry {
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn get(&self, path: &str) -> Response {
        self.req(Method::GET, path).send().await.unwrap()
    }

    /// The body of a GET, as bytes (for comparing stored content with what was pushed).
    pub async fn get_bytes(&self, path: &str) -> Vec<u8> {
        self.get(path).await.bytes().await.unwrap().to_vec()
    }

    pub async fn head(&self, path: &str) -> Response {
        self.req(Method::HEAD, path).send().await.unwrap()
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.req(Method::DELETE, path).send().await.unwrap()
    }

    /// Opens an upload session and returns its `Location`.
    pub async fn open_session(&self, repo: &str) -> String {
        let r = self
            .req(Method::POST, &format!("/v2/{repo}/blobs/uploads/"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        header(&r, "location").expect("Location")
    }

    /// Appends `digest=` to a session location, keeping its query.
    pub fn with_digest(&self, location: &str, digest: &str) -> String {
        let sep = if location.contains('?') { '&' } else { '?' };
        self.url(&format!("{location}{sep}digest={digest}"))
    }

    /// POST + PUT with the whole blob; returns its digest.
    pub async fn push_blob(&self, repo: &str, data: &[u8]) -> String {
        let digest = sha256(data);
        let loc = self.open_session(repo).await;
        let r = self
            .client
            .put(self.with_digest(&loc, &digest))
            .header("content-type", "application/octet-stream")
            .body(data.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "push blob");
        digest
    }

    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> Response {
        self.req(Method::PUT, &format!("/v2/{repo}/manifests/{reference}"))
            .header("content-type", media_type)
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }

    /// Pushes a config and one layer, then an OCI manifest under `tag`; returns
    /// (manifest bytes, manifest digest).
    pub async fn push_image(&self, repo: &str, tag: &str, seed: u8) -> (Vec<u8>, String) {
        let config = format!("{{\"seed\":{seed}}}").into_bytes();
        let layer = content(1000 + seed as usize, seed);
        let cd = self.push_blob(repo, &config).await;
        let ld = self.push_blob(repo, &layer).await;
        let m = image_manifest(&(cd, config.len()), &[(ld, layer.len())], None);
        let r = self.put_manifest(repo, tag, OCI_MANIFEST, &m).await;
        assert_eq!(r.status(), StatusCode::CREATED, "push manifest");
        let d = sha256(&m);
        (m, d)
    }

    pub async fn stop(&mut self) {
        if let Some(r) = self.registry.take() {
            r.shutdown().await;
        }
    }
}

/// An OCI image manifest over (digest, size) pairs, with optional extra top-level fields.
pub fn image_manifest(
    config: &(String, usize),
    layers: &[(String, usize)],
    extra: Option<Value>,
) -> Vec<u8> {
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.0, "size": config.1 },
        "layers": layers.iter().map(|(d, s)| json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": s
        })).collect::<Vec<_>>(),
    });
    if let Some(Value::Object(extra)) = extra {
        for (k, v) in extra {
            m[k] = v;
        }
    }
    serde_json::to_vec(&m).unwrap()
}

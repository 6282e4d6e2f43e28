//! The preflight: a registry that cannot do the push/pull basics is not benched.
//!
//! Timing a registry that answers errors fast would report nonsense, so before anything is
//! measured each registry must: answer `/v2/`, take a small blob (POST + PUT), answer HEAD
//! and GET for it with the right length and digest, take a manifest by tag and give the
//! same bytes back. These requests go through the suite's own client (token flow,
//! transcripts), so a failure says which step failed and what the registry answered.
//! What they push is what the manifest workloads read afterwards.

use bytes::Bytes;
use reqwest::Method;

use super::data::Generator;
use super::session::{Target, snippet};
use crate::client::{Body, BodyCheck, OutBody, Response};
use crate::content::Content;
use crate::runner::{self, Preflight};

/// The tag the preflight pushes (and the manifest workloads read).
pub const TAG: &str = "bench";
/// The preflight blob's generator id (ids from here up are the preflight's).
pub const BLOB_ID: u64 = u64::MAX - 1024;
/// The preflight blob's size.
pub const BLOB_SIZE: u64 = 4096;

/// Which step failed and why.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The step (`push a 4 KiB blob: PUT ?digest=`).
    pub step: String,
    /// What happened.
    pub why: String,
    /// The registry asked for credentials that were not given (a setup problem).
    pub needs_credentials: bool,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.step, self.why)
    }
}

/// What the preflight left in the registry: an image to pull by tag.
#[derive(Debug, Clone)]
pub struct Image {
    /// Its repository.
    pub repo: String,
    /// Its tag ([`TAG`]).
    pub tag: String,
    /// The manifest's bytes.
    pub manifest: Bytes,
    /// The manifest's digest.
    pub digest: String,
    /// Config and layer: `(digest, size)`.
    pub blobs: Vec<(String, u64)>,
}

fn fail(step: &str, why: impl Into<String>) -> Failure {
    Failure {
        step: step.to_owned(),
        why: why.into(),
        needs_credentials: false,
    }
}

/// A response read whole.
struct Answer {
    status: reqwest::StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Body,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }

    /// `Ok` when the status is `want`, else the failure of `step`.
    fn expect(&self, step: &str, want: u16) -> Result<(), Failure> {
        if self.status.as_u16() == want {
            return Ok(());
        }
        Err(fail(
            step,
            format!(
                "answered {} (expected {want}): {}",
                self.status,
                snippet(&self.body.kept)
            ),
        ))
    }
}

/// One request through the suite's client, holding one of the registry's in-flight slots
/// until its answer is read.
async fn send(
    t: &Target,
    step: &str,
    method: Method,
    path_or_url: &str,
    headers: Vec<(String, String)>,
    body: Option<Bytes>,
) -> Result<Answer, Failure> {
    let url = if path_or_url.starts_with('/') {
        t.api(path_or_url)
    } else {
        t.resolve(path_or_url)
            .map_err(|e| fail(step, e.to_string()))?
    };
    let _slot = t.slot().await;
    let body = match body {
        None => OutBody::Empty,
        Some(b) => {
            let c = Content::Bytes(b);
            OutBody::Content {
                reader: c.reader(0, c.len()),
                stream: false,
                abort_after: None,
                describe: format!("{} bytes", c.len()),
            }
        }
    };
    let resp: Response = t
        .http
        .send(&crate::steps::simple(method, url, headers, body))
        .await
        .map_err(|e| fail(step, format!("no answer: {e}")))?;
    let status = resp.status;
    let headers = resp.headers.clone();
    let (body, _) = resp.read(BodyCheck::default()).await;
    if let Some(e) = &body.error {
        return Err(fail(step, format!("the body broke off: {e}")));
    }
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// Pushes `bytes` as a blob (POST + monolithic PUT) through the suite's client.
async fn push_blob(t: &Target, repo: &str, bytes: Bytes, what: &str) -> Result<String, Failure> {
    let digest = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes))
    );
    let step = format!("push {what}: POST /v2/{repo}/blobs/uploads/");
    let a = send(
        t,
        &step,
        Method::POST,
        &format!("/v2/{repo}/blobs/uploads/"),
        vec![],
        None,
    )
    .await?;
    a.expect(&step, 202)?;
    let loc = a
        .header("location")
        .ok_or_else(|| fail(&step, "answered 202 without a Location"))?;
    let url = t
        .resolve(&loc)
        .map(|u| super::session::with_digest(&u, &digest))
        .map_err(|e| fail(&step, e.to_string()))?;
    let step = format!("push {what}: PUT <location>?digest=");
    let a = send(
        t,
        &step,
        Method::PUT,
        url.as_str(),
        vec![(
            "Content-Type".to_owned(),
            "application/octet-stream".to_owned(),
        )],
        Some(bytes),
    )
    .await?;
    a.expect(&step, 201)?;
    t.pushed_blob(repo, &digest);
    Ok(digest)
}

/// Runs the preflight against `t`, pushing into `<namespace>/data`.
pub async fn run(t: &Target, g: &Generator) -> Result<Image, Failure> {
    let ready = {
        let _slot = t.slot().await;
        runner::preflight(&t.http).await
    };
    match ready {
        Preflight::Ready => {}
        Preflight::Unreachable(e) => return Err(fail("GET /v2/", e)),
        Preflight::NeedsCredentials(msg) => {
            return Err(Failure {
                needs_credentials: true,
                ..fail("GET /v2/", msg)
            });
        }
    }
    let repo = t.repo("data");
    let layer = g.bytes(BLOB_ID, BLOB_SIZE);
    let layer_digest = push_blob(t, &repo, layer.clone(), "a 4 KiB blob").await?;

    let step = format!("HEAD /v2/{repo}/blobs/<digest>");
    let path = format!("/v2/{repo}/blobs/{layer_digest}");
    let a = send(t, &step, Method::HEAD, &path, vec![], None).await?;
    a.expect(&step, 200)?;
    match a.header("content-length").map(|v| v.trim().to_owned()) {
        Some(v) if v == BLOB_SIZE.to_string() => {}
        other => {
            return Err(fail(
                &step,
                format!("Content-Length is {other:?}, the blob has {BLOB_SIZE} bytes"),
            ));
        }
    }
    if let Some(d) = a.header("docker-content-digest")
        && d.trim() != layer_digest
    {
        return Err(fail(
            &step,
            format!("Docker-Content-Digest is {d}, the blob's digest is {layer_digest}"),
        ));
    }
    let step = format!("GET /v2/{repo}/blobs/<digest>");
    let a = send(t, &step, Method::GET, &path, vec![], None).await?;
    a.expect(&step, 200)?;
    if a.body.digest != layer_digest || a.body.len != BLOB_SIZE {
        return Err(fail(
            &step,
            format!(
                "the body ({} bytes, {}) is not the blob pushed ({BLOB_SIZE} bytes, {layer_digest})",
                a.body.len, a.body.digest
            ),
        ));
    }

    let config = Bytes::from(format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer_digest}"]}}}}"#
    ));
    let config_len = config.len() as u64;
    let config_digest = push_blob(t, &repo, config, "the image config").await?;
    let manifest = Bytes::from(
        serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": config_len,
            },
            "layers": [{
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": layer_digest,
                "size": BLOB_SIZE,
            }],
        })
        .to_string(),
    );
    let digest = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&manifest))
    );
    let image = Image {
        repo: repo.clone(),
        tag: TAG.to_owned(),
        manifest,
        digest,
        blobs: vec![(config_digest, config_len), (layer_digest, BLOB_SIZE)],
    };
    put_manifest(t, &image, TAG).await?;

    let step = format!("GET /v2/{repo}/manifests/{TAG}");
    let a = send(
        t,
        &step,
        Method::GET,
        &format!("/v2/{repo}/manifests/{TAG}"),
        vec![(
            "Accept".to_owned(),
            super::manifest::ACCEPT_MANIFESTS.to_owned(),
        )],
        None,
    )
    .await?;
    a.expect(&step, 200)?;
    if a.body.digest != image.digest {
        return Err(fail(
            &step,
            format!(
                "the body ({}) is not the manifest pushed ({})",
                a.body.digest, image.digest
            ),
        ));
    }
    Ok(image)
}

/// `PUT /v2/<repo>/manifests/<tag>` of the image's manifest (through the suite's client).
pub async fn put_manifest(t: &Target, image: &Image, tag: &str) -> Result<(), Failure> {
    let step = format!("PUT /v2/{}/manifests/{tag}", image.repo);
    let a = send(
        t,
        &step,
        Method::PUT,
        &format!("/v2/{}/manifests/{tag}", image.repo),
        vec![(
            "Content-Type".to_owned(),
            "application/vnd.oci.image.manifest.v1+json".to_owned(),
        )],
        Some(image.manifest.clone()),
    )
    .await?;
    a.expect(&step, 201)?;
    t.pushed_manifest(&image.repo, &image.digest);
    Ok(())
}

/// The preflight's image copied into `repo` (its blobs pushed there), for the tag list.
pub async fn copy_image(
    t: &Target,
    g: &Generator,
    image: &Image,
    repo: &str,
) -> Result<Image, Failure> {
    let layer = g.bytes(BLOB_ID, BLOB_SIZE);
    push_blob(t, repo, layer, "the tag repository's layer").await?;
    let step = format!("read back the image config of {}", image.repo);
    let a = send(
        t,
        &step,
        Method::GET,
        &format!("/v2/{}/blobs/{}", image.repo, image.blobs[0].0),
        vec![],
        None,
    )
    .await?;
    a.expect(&step, 200)?;
    push_blob(t, repo, a.body.kept.clone(), "the tag repository's config").await?;
    Ok(Image {
        repo: repo.to_owned(),
        ..image.clone()
    })
}

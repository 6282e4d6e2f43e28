//! Blob pushes, one function per upload method of the distribution spec.
//!
//! Each returns once the registry answered `201 Created` to the closing request; the
//! caller times it. The digest is known up front ([`super::data::Digests`]), as a real
//! client knows its layer's. Bodies come straight from the generator: a fixed
//! `Content-Length` where the method sends one, chunked transfer encoding where it is the
//! point (the streamed PATCH, which is how docker pushes a layer).
//!
//! A push that fails after its POST opened a session cancels that session
//! ([`super::cancel`]) before returning its error: each method is its POST, then the rest
//! as one fallible step whose failure leads to the cancellation.

use anyhow::bail;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::{Method, Url};

use super::cancel;
use super::data::Generator;
use super::session::{Target, drain, expect, location, with_digest};

const OCTETS: &str = "application/octet-stream";

/// A blob to push: `(id, size)` of the generator, and its digest.
#[derive(Debug, Clone)]
pub struct Blob {
    /// Generator blob id.
    pub id: u64,
    /// Size in bytes.
    pub size: u64,
    /// `sha256:<hex>`.
    pub digest: String,
}

/// `POST /v2/<repo>/blobs/uploads/`: the session URL, and `OCI-Chunk-Min-Length` if sent.
pub async fn start(t: &Target, repo: &str) -> anyhow::Result<(Url, Option<u64>)> {
    let url = t.api(&format!("/v2/{repo}/blobs/uploads/"));
    let resp = t
        .send(repo, |c| {
            c.request(Method::POST, url.clone())
                .header(CONTENT_LENGTH, "0")
        })
        .await?;
    let resp = expect(resp, &[202], "POST (open an upload session)").await?;
    let min = resp
        .headers()
        .get("oci-chunk-min-length")
        .and_then(|v| v.to_str().ok()?.trim().parse().ok());
    let loc = location(t, &resp, "POST (open an upload session)")?;
    drain(resp).await?;
    Ok((loc, min))
}

/// Closes a session with `PUT ?digest=` and an empty body.
async fn close(t: &Target, repo: &str, session: &Url, digest: &str) -> anyhow::Result<()> {
    let url = with_digest(session, digest);
    let resp = t
        .send(repo, |c| {
            c.request(Method::PUT, url.clone())
                .header(CONTENT_LENGTH, "0")
        })
        .await?;
    drain(expect(resp, &[201], "PUT ?digest= (close the upload)").await?).await?;
    t.pushed_blob(repo, digest);
    Ok(())
}

/// POST, then the whole blob in one `PUT ?digest=` with `Content-Length`.
pub async fn monolithic(t: &Target, repo: &str, g: &Generator, b: &Blob) -> anyhow::Result<()> {
    let (session, _) = start(t, repo).await?;
    let put = put_whole(t, repo, g, b, &session).await;
    cancel::on_error(t, repo, &session, put).await
}

/// The monolithic push's `PUT ?digest=` with the whole blob.
async fn put_whole(
    t: &Target,
    repo: &str,
    g: &Generator,
    b: &Blob,
    session: &Url,
) -> anyhow::Result<()> {
    let url = with_digest(session, &b.digest);
    let resp = t
        .send(repo, |c| {
            c.request(Method::PUT, url.clone())
                .header(CONTENT_TYPE, OCTETS)
                .header(CONTENT_LENGTH, b.size.to_string())
                .body(g.body(b.id, b.size))
        })
        .await?;
    drain(expect(resp, &[201], "PUT ?digest= with the blob").await?).await?;
    t.pushed_blob(repo, &b.digest);
    Ok(())
}

/// Whether a single `POST ?digest=` stored the blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinglePost {
    /// 201: stored.
    Stored,
    /// Anything else the spec allows (202: a session was opened instead): what happened.
    NotSupported(String),
}

/// The whole blob in one `POST /v2/<repo>/blobs/uploads/?digest=`. A registry may answer
/// 202 and open a session instead (the spec lets it); that session is cancelled.
pub async fn single_post(
    t: &Target,
    repo: &str,
    g: &Generator,
    b: &Blob,
) -> anyhow::Result<SinglePost> {
    let url = with_digest(&t.api(&format!("/v2/{repo}/blobs/uploads/")), &b.digest);
    let resp = t
        .send(repo, |c| {
            c.request(Method::POST, url.clone())
                .header(CONTENT_TYPE, OCTETS)
                .header(CONTENT_LENGTH, b.size.to_string())
                .body(g.body(b.id, b.size))
        })
        .await?;
    match resp.status().as_u16() {
        201 => {
            drain(resp).await?;
            t.pushed_blob(repo, &b.digest);
            Ok(SinglePost::Stored)
        }
        202 => {
            let loc = location(t, &resp, "POST ?digest=").ok();
            drain(resp).await?;
            if let Some(loc) = loc {
                cancel::session(t, repo, &loc).await;
            }
            Ok(SinglePost::NotSupported(
                "POST ?digest= answered 202 (opened a session instead of storing the blob)"
                    .to_owned(),
            ))
        }
        s @ (400 | 404 | 405 | 501) => {
            let body = resp.bytes().await.unwrap_or_default();
            Ok(SinglePost::NotSupported(format!(
                "POST ?digest= answered {s}: {}",
                super::session::snippet(&body)
            )))
        }
        _ => {
            expect(resp, &[201], "POST ?digest= with the blob").await?;
            unreachable!("expect fails on any status but 201")
        }
    }
}

/// POST, one PATCH streaming the whole blob with chunked transfer encoding and no
/// `Content-Range`, then `PUT ?digest=` (how docker pushes a layer).
pub async fn streamed(t: &Target, repo: &str, g: &Generator, b: &Blob) -> anyhow::Result<()> {
    let (mut session, _) = start(t, repo).await?;
    let rest = patch_whole_and_close(t, repo, g, b, &mut session).await;
    cancel::on_error(t, repo, &session, rest).await
}

/// The streamed push after its POST: the PATCH, then the PUT on the URL it answered
/// (which `session` then holds, so a failed close cancels through the latest URL: some
/// registries carry the session's state in it).
async fn patch_whole_and_close(
    t: &Target,
    repo: &str,
    g: &Generator,
    b: &Blob,
    session: &mut Url,
) -> anyhow::Result<()> {
    let resp = t
        .send(repo, |c| {
            c.request(Method::PATCH, session.clone())
                .header(CONTENT_TYPE, OCTETS)
                .body(g.body_range(b.id, b.size, 0, b.size))
        })
        .await?;
    let resp = expect(resp, &[202], "PATCH (streamed, chunked)").await?;
    *session = location(t, &resp, "PATCH")?;
    drain(resp).await?;
    close(t, repo, session, &b.digest).await
}

/// POST, PATCHes of `chunk` bytes with `Content-Range` and `Content-Length` (raised to
/// the registry's `OCI-Chunk-Min-Length` if that is bigger), then `PUT ?digest=`.
pub async fn chunked(
    t: &Target,
    repo: &str,
    g: &Generator,
    b: &Blob,
    chunk: u64,
) -> anyhow::Result<()> {
    let (mut session, min) = start(t, repo).await?;
    let chunk = chunk.max(min.unwrap_or(0)).max(1);
    let rest = patches_and_close(t, repo, g, b, chunk, &mut session).await;
    cancel::on_error(t, repo, &session, rest).await
}

/// The chunked push after its POST; `session` follows each answer's Location, so a
/// failure cancels the session through the latest URL the registry gave.
async fn patches_and_close(
    t: &Target,
    repo: &str,
    g: &Generator,
    b: &Blob,
    chunk: u64,
    session: &mut Url,
) -> anyhow::Result<()> {
    let mut at = 0u64;
    while at < b.size {
        let end = (at + chunk).min(b.size);
        let range = format!("{at}-{}", end - 1);
        let resp = t
            .send(repo, |c| {
                c.request(Method::PATCH, session.clone())
                    .header(CONTENT_TYPE, OCTETS)
                    .header(CONTENT_LENGTH, (end - at).to_string())
                    .header("content-range", range.clone())
                    .body(g.body_range(b.id, b.size, at, end))
            })
            .await?;
        let resp = expect(resp, &[202], &format!("PATCH Content-Range {range}")).await?;
        *session = location(t, &resp, "PATCH")?;
        drain(resp).await?;
        at = end;
    }
    if b.size == 0 {
        bail!("a chunked upload needs at least one byte");
    }
    close(t, repo, session, &b.digest).await
}

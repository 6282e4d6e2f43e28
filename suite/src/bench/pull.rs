//! Blob pulls: one stream, and the same blob on N streams at once.
//!
//! The body is read and counted, not hashed: on loopback a fast registry serves faster
//! than SHA-256 runs on one core, and hashing here would measure the client. That the
//! registry serves the right bytes is checked once, by the preflight (GET and compare the
//! digest); here a short or long body is an error.

use anyhow::bail;
use reqwest::Method;

use super::push::Blob;
use super::session::{Target, drain, expect};

/// `GET /v2/<repo>/blobs/<digest>` read to the end; the bytes read.
pub async fn once(t: &Target, repo: &str, b: &Blob) -> anyhow::Result<u64> {
    let url = t.api(&format!("/v2/{repo}/blobs/{}", b.digest));
    let resp = t
        .send(repo, |c| c.request(Method::GET, url.clone()))
        .await?;
    let n = drain(expect(resp, &[200], "GET blob").await?).await?;
    if n != b.size {
        bail!("GET blob: {n} bytes came, the blob has {}", b.size);
    }
    Ok(n)
}

/// `n` GETs of the same blob at once; the bytes read in all.
pub async fn parallel(t: &Target, repo: &str, b: &Blob, n: usize) -> anyhow::Result<u64> {
    let all = futures_util::future::join_all((0..n.max(1)).map(|_| once(t, repo, b))).await;
    let mut total = 0;
    for r in all {
        total += r?;
    }
    Ok(total)
}

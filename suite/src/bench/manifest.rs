//! Manifest GET and HEAD by tag, at concurrency N for the run's duration: the request a
//! client makes first on every pull, and the one mirrors and CI poll.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::ACCEPT;

use super::session::{Target, drain, expect};
use super::stats::{RateRun, drive};

/// The Accept header of a pull of an OCI image (and Docker's, so any registry answers).
pub const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.manifest.v1+json, \
    application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.list.v2+json";

/// `GET` (or `HEAD`) `/v2/<repo>/manifests/<tag>` in a loop.
pub async fn run(
    t: Arc<Target>,
    repo: String,
    tag: String,
    method: Method,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<RateRun> {
    let url = t.api(&format!("/v2/{repo}/manifests/{tag}"));
    let what = format!("{method} manifest by tag");
    drive(concurrency, duration, move |_| {
        let (t, repo, url, method, what) = (
            t.clone(),
            repo.clone(),
            url.clone(),
            method.clone(),
            what.clone(),
        );
        async move {
            let resp = t
                .send(&repo, |c| {
                    c.request(method.clone(), url.clone())
                        .header(ACCEPT, ACCEPT_MANIFESTS)
                })
                .await?;
            drain(expect(resp, &[200], &what).await?).await?;
            Ok(())
        }
    })
    .await
}

//! Tag-list paging: a repository with [`TAGS`] tags listed [`PAGE`] at a time, following
//! the `Link: <...>; rel="next"` header (or `?last=` when a registry sends none), at
//! concurrency N for the run's duration. One operation is one page; a walk that does not
//! see every tag exactly once is an error. A registry that ignores `n` (distribution 2.8
//! does, for tags) answers all of them in one page; that is measured as it is, and
//! reported ([`probe`]).

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use reqwest::Method;

use super::session::{Target, expect};
use super::stats::{RateRun, drive};

/// Tags in the repository.
pub const TAGS: usize = 50;
/// Tags per page (`?n=`).
pub const PAGE: usize = 10;

/// The tag names, sorted as a registry lists them.
pub fn names() -> Vec<String> {
    (0..TAGS).map(|i| format!("t{i:03}")).collect()
}

/// The `rel="next"` target of a Link header.
fn next_link(v: &str) -> Option<&str> {
    v.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params
            .contains("rel=\"next\"")
            .then(|| target.trim().trim_start_matches('<').trim_end_matches('>'))
    })
}

/// Whether the registry honours `?n=` on the tag list: one walk, `false` if a page held
/// more than [`PAGE`] tags.
pub async fn probe(t: &Target, repo: &str) -> anyhow::Result<bool> {
    Ok(walk(t, repo, || {}).await? <= PAGE)
}

/// One full walk: `on_page` is called after each page (for its latency). Returns the
/// largest page's size.
async fn walk(t: &Target, repo: &str, mut on_page: impl FnMut()) -> anyhow::Result<usize> {
    let mut url = t.api(&format!("/v2/{repo}/tags/list?n={PAGE}"));
    let mut seen = 0usize;
    let mut largest = 0usize;
    loop {
        let resp = t
            .send(repo, |c| c.request(Method::GET, url.clone()))
            .await?;
        let resp = expect(resp, &[200], "GET tags/list").await?;
        let link = resp
            .headers()
            .get("link")
            .and_then(|v| v.to_str().ok())
            .and_then(next_link)
            .map(str::to_owned);
        let body: serde_json::Value = resp.json().await?;
        let tags: Vec<String> = body["tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        seen += tags.len();
        on_page();
        largest = largest.max(tags.len());
        match (link, tags.last()) {
            (Some(l), _) => url = t.resolve(&l)?,
            (None, Some(last)) if tags.len() == PAGE && seen < TAGS => {
                url = t.api(&format!("/v2/{repo}/tags/list?n={PAGE}&last={last}"));
            }
            _ => break,
        }
        if seen > TAGS {
            break;
        }
    }
    if seen != TAGS {
        bail!("paging tags/list?n={PAGE} listed {seen} tags, the repository has {TAGS}");
    }
    Ok(largest)
}

/// Walks the tag list on `concurrency` tasks for `duration`; one operation per page.
pub async fn run(
    t: Arc<Target>,
    repo: String,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<RateRun> {
    // drive() times operations; a walk is several pages, so its pages' latencies are
    // collected here and the walk count turned into pages.
    let pages = Arc::new(std::sync::Mutex::new(Vec::new()));
    let p2 = pages.clone();
    let mut run = drive(concurrency, duration, move |_| {
        let (t, repo, pages) = (t.clone(), repo.clone(), p2.clone());
        async move {
            let mut last = std::time::Instant::now();
            let mut mine = Vec::new();
            walk(&t, &repo, || {
                mine.push(last.elapsed());
                last = std::time::Instant::now();
            })
            .await?;
            if let Ok(mut p) = pages.lock() {
                p.extend(mine);
            }
            Ok(())
        }
    })
    .await?;
    run.latencies = std::mem::take(&mut *pages.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    run.ops = run.latencies.len() as u64;
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers() {
        assert_eq!(
            next_link(r#"</v2/a/tags/list?n=10&last=t009>; rel="next""#),
            Some("/v2/a/tags/list?n=10&last=t009")
        );
        assert_eq!(next_link(r#"<x>; rel="prev""#), None);
        assert_eq!(names().len(), TAGS);
        assert_eq!(names()[0], "t000");
    }
}

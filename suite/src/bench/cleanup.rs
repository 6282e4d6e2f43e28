//! Deleting what the bench pushed: manifests (which untags them), then blobs.
//!
//! The first delete of each kind goes through the suite's client, so the token flow can
//! widen the repository's token to `delete` (and a 405 / `UNSUPPORTED` is seen once);
//! the rest go through the lean client, N at a time. A registry without deletes is not an
//! error: what is left is reported.

use futures_util::StreamExt as _;
use reqwest::Method;
use serde::Serialize;

use super::session::Target;
use crate::client::{BodyCheck, OutBody};

/// What cleanup did on one registry.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Cleanup {
    /// Registry label.
    pub registry: String,
    /// Manifests and blobs deleted.
    pub deleted: usize,
    /// Left behind.
    pub left: usize,
    /// Why something was left (deletes refused, errors).
    pub note: Option<String>,
}

/// Deletes one thing through the suite's client: its status.
async fn delete_slow(t: &Target, path: &str) -> Option<u16> {
    let req = crate::steps::simple(Method::DELETE, t.api(path), vec![], OutBody::Empty);
    let resp = t.http.send(&req).await.ok()?;
    let s = resp.status.as_u16();
    let _ = resp.read(BodyCheck::default()).await;
    Some(s)
}

async fn delete_fast(t: &Target, repo: &str, path: &str) -> Option<u16> {
    let url = t.api(path);
    let resp = t
        .send(repo, |c| {
            c.request(Method::DELETE, url.clone())
                .header("content-length", "0")
        })
        .await
        .ok()?;
    let s = resp.status().as_u16();
    let _ = resp.bytes().await;
    Some(s)
}

/// Deletes everything in `t`'s ledger, `concurrency` at a time.
pub async fn run(t: &Target, concurrency: usize) -> Cleanup {
    let ledger = match t.ledger.lock() {
        Ok(mut l) => std::mem::take(&mut *l),
        Err(_) => Default::default(),
    };
    let mut out = Cleanup {
        registry: t.label.clone(),
        ..Cleanup::default()
    };
    let mut notes = Vec::new();
    for (kind, items) in [("manifests", &ledger.manifests), ("blobs", &ledger.blobs)] {
        let mut refused = false;
        for (repo, digests) in items {
            let mut paths: Vec<String> = digests
                .iter()
                .map(|d| format!("/v2/{repo}/{kind}/{d}"))
                .collect();
            if refused {
                out.left += paths.len();
                continue;
            }
            let Some(first) = paths.pop() else { continue };
            match delete_slow(t, &first).await {
                Some(200..=299) | Some(404) => out.deleted += 1,
                Some(s @ (405 | 501)) => {
                    refused = true;
                    notes.push(format!("the registry refuses {kind} deletes ({s})"));
                    out.left += paths.len() + 1;
                    continue;
                }
                other => {
                    out.left += 1;
                    notes.push(format!(
                        "DELETE {first} answered {}",
                        other.map_or("nothing".to_owned(), |s| s.to_string())
                    ));
                }
            }
            t.refresh(repo).await;
            let results: Vec<Option<u16>> = futures_util::stream::iter(paths)
                .map(|p| async move { delete_fast(t, repo, &p).await })
                .buffer_unordered(concurrency.max(1))
                .collect()
                .await;
            for r in results {
                match r {
                    Some(200..=299) | Some(404) => out.deleted += 1,
                    _ => out.left += 1,
                }
            }
        }
    }
    if out.left > 0 && notes.is_empty() {
        notes.push(format!("{} deletes failed", out.left));
    }
    notes.dedup();
    out.note = (!notes.is_empty()).then(|| notes.join("; "));
    out
}

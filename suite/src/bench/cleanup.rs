//! Deleting what the bench pushed: manifests (which untags them), then blobs.
//!
//! In two kinds of pass. After each workload — each repetition, on each registry, once
//! its measurement is over, so never inside a timed section — what it pushed is deleted
//! ([`after_workload`]): a run of 1 GiB blobs holds about one of them at a time on the
//! registry's disk, and an interrupted run leaves little behind. At the end, [`finish`]
//! deletes what the preflight and set-up pushed for the workloads to read, and tries again
//! whatever an earlier pass could not delete; only what is still there then counts as
//! left, and only the final pass's failures become notes.
//!
//! In each pass the first delete of each kind in a repository goes through the suite's
//! client, so the token flow can widen the repository's token to `delete` (and a 405 /
//! `UNSUPPORTED` is seen once: a refused kind is not tried again); the rest go through the
//! lean client, N at a time. Every delete holds one of the registry's in-flight slots. A
//! registry without deletes is not an error: what is left is reported.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use futures_util::StreamExt as _;
use reqwest::Method;
use serde::Serialize;

use super::session::{Ledger, Target};
use crate::client::{BodyCheck, OutBody};

/// What clean-up did on one registry over the whole run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Cleanup {
    /// Registry label.
    pub registry: String,
    /// Manifests and blobs deleted (by every pass).
    pub deleted: usize,
    /// Left behind after the final pass.
    pub left: usize,
    /// Upload sessions of failed pushes that were cancelled.
    pub sessions_cancelled: usize,
    /// Upload sessions of failed pushes that could not be cancelled.
    pub sessions_left: usize,
    /// Why something was left (deletes refused, errors).
    pub note: Option<String>,
    /// Kinds (`manifests`, `blobs`) the registry refused to delete, with its answer.
    #[serde(skip)]
    refused: BTreeMap<&'static str, u16>,
}

impl Cleanup {
    /// Nothing done yet on `registry`.
    pub fn new(registry: &str) -> Cleanup {
        Cleanup {
            registry: registry.to_owned(),
            ..Cleanup::default()
        }
    }
}

const KINDS: [&str; 2] = ["manifests", "blobs"];

fn of_kind<'a>(
    l: &'a mut Ledger,
    kind: &str,
) -> &'a mut BTreeMap<String, std::collections::BTreeSet<String>> {
    match kind {
        "manifests" => &mut l.manifests,
        _ => &mut l.blobs,
    }
}

/// Deletes one thing through the suite's client: its status.
async fn delete_slow(t: &Target, path: &str) -> Option<u16> {
    let _slot = t.slot().await;
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

/// Whether a DELETE's answer means the thing is gone (404: it was already).
fn gone(status: Option<u16>) -> bool {
    matches!(status, Some(200..=299 | 404))
}

/// After a workload on `t`: deletes what it pushed; what could not be deleted goes back
/// to the ledger for the final pass.
pub async fn after_workload(t: &Target, c: &mut Cleanup, concurrency: usize) {
    let pushed = t.take_pushed();
    if pushed.is_empty() {
        return;
    }
    let rest = delete(t, c, pushed, concurrency, &mut Vec::new()).await;
    t.return_pushed(rest);
}

/// The final pass on `t`: the set-up's content and anything an earlier pass left. Fills
/// in what is left, the sessions of failed pushes and the notes.
pub async fn finish(t: &Target, c: &mut Cleanup, concurrency: usize) {
    let mut all = t.take_pushed();
    if let Ok(mut kept) = t.kept.lock() {
        all.merge(std::mem::take(&mut *kept));
    }
    let mut notes: Vec<String> = c
        .refused
        .iter()
        .map(|(kind, s)| format!("the registry refuses {kind} deletes ({s})"))
        .collect();
    let rest = delete(t, c, all, concurrency, &mut notes).await;
    c.left = rest.len();
    if c.left > 0 && notes.is_empty() {
        notes.push(format!("{} deletes failed", c.left));
    }
    c.sessions_cancelled = t.abandoned.cancelled.load(Ordering::Relaxed);
    c.sessions_left = t.abandoned.left.load(Ordering::Relaxed);
    if c.sessions_left > 0 {
        notes.push(format!(
            "{} upload sessions of failed pushes could not be cancelled",
            c.sessions_left
        ));
    }
    notes.dedup();
    c.note = (!notes.is_empty()).then(|| notes.join("; "));
}

/// Deletes `ledger`'s manifests, then its blobs, counting them into `c`; returns what is
/// still there. A kind found refused is recorded in `c` (with a note) and not tried again.
async fn delete(
    t: &Target,
    c: &mut Cleanup,
    mut ledger: Ledger,
    concurrency: usize,
    notes: &mut Vec<String>,
) -> Ledger {
    let mut rest = Ledger::default();
    for kind in KINDS {
        for (repo, digests) in std::mem::take(of_kind(&mut ledger, kind)) {
            let mut todo: Vec<String> = digests.into_iter().collect();
            let left = of_kind(&mut rest, kind).entry(repo.clone()).or_default();
            if c.refused.contains_key(kind) {
                left.extend(todo);
                continue;
            }
            let Some(first) = todo.pop() else { continue };
            match delete_slow(t, &format!("/v2/{repo}/{kind}/{first}")).await {
                s if gone(s) => c.deleted += 1,
                Some(s @ (405 | 501)) => {
                    c.refused.insert(kind, s);
                    notes.push(format!("the registry refuses {kind} deletes ({s})"));
                    left.insert(first);
                    left.extend(todo);
                    continue;
                }
                other => {
                    notes.push(format!(
                        "DELETE /v2/{repo}/{kind}/{first} answered {}",
                        other.map_or("nothing".to_owned(), |s| s.to_string())
                    ));
                    left.insert(first);
                }
            }
            t.refresh(&repo).await;
            let repo = repo.as_str();
            let results: Vec<(String, Option<u16>)> = futures_util::stream::iter(todo)
                .map(|d| async move {
                    let s = delete_fast(t, repo, &format!("/v2/{repo}/{kind}/{d}")).await;
                    (d, s)
                })
                .buffer_unordered(concurrency.max(1))
                .collect()
                .await;
            for (d, s) in results {
                if gone(s) {
                    c.deleted += 1;
                } else {
                    left.insert(d);
                }
            }
        }
    }
    rest
}

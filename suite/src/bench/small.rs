//! The small-blob push rate: 4 KiB blobs, each POST + monolithic PUT, as fast as they go
//! for the run's duration — on one connection (one task, requests in sequence) and on N.
//!
//! Every blob is new (its id comes from a counter), so the registry stores each one,
//! as it would a stream of small layers or artifacts. The digest of 4 KiB is hashed inside
//! the timed loop: about 2 µs, nothing next to a request.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::data::Generator;
use super::push::{self, Blob};
use super::session::Target;
use super::stats::{RateRun, drive};

/// The size of a small blob.
pub const SIZE: u64 = 4096;

/// Pushes new small blobs to `repo` on `concurrency` tasks for `duration`.
pub async fn run(
    t: Arc<Target>,
    repo: String,
    g: Generator,
    ids: Arc<AtomicU64>,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<RateRun> {
    drive(concurrency, duration, move |_| {
        let (t, repo, g) = (t.clone(), repo.clone(), g.clone());
        let id = ids.fetch_add(1, Ordering::Relaxed);
        async move {
            let b = Blob {
                id,
                size: SIZE,
                digest: g.digest(id, SIZE),
            };
            push::monolithic(&t, &repo, &g, &b).await
        }
    })
    .await
}

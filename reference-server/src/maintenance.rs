//! Background work of a running registry: purging idle upload sessions and, when asked
//! for, scheduled garbage collection.
//!
//! The tasks hold only a `Weak` reference to the registry: when the server stops and the
//! last request finishes, the registry (and its root lock) is dropped and the tasks end on
//! their next tick, so a restart on the same root in the same process is never refused.

use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use crate::state::Registry;

/// Starts the background tasks of `registry`.
pub fn spawn(registry: &Arc<Registry>) {
    let ttl = registry.config.upload_ttl;
    // Often enough that a session is gone soon after its TTL, rarely enough to cost
    // nothing: half the TTL, between 100 ms and 10 minutes.
    let every = (ttl / 2).clamp(Duration::from_millis(100), Duration::from_secs(600));
    every_tick(Arc::downgrade(registry), every, |r| async move {
        purge_idle_sessions(&r).await
    });
    if let Some(every) = registry.config.gc_interval {
        every_tick(Arc::downgrade(registry), every, |r| async move {
            scheduled_gc(&r).await
        });
    }
}

fn every_tick<F, Fut>(registry: Weak<Registry>, every: Duration, work: F)
where
    F: Fn(Arc<Registry>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(r) = registry.upgrade() else { return };
            work(r).await;
        }
    });
}

/// Removes every upload session that received nothing for longer than `upload_ttl`
/// (PUSH-39). A session with a request in progress holds its lock and is skipped; a request
/// that was waiting for the lock finds the session gone and answers 404.
pub(crate) async fn purge_idle_sessions(registry: &Registry) {
    let storage = &registry.storage;
    let ids = match storage.list_session_ids().await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list upload sessions to purge");
            return;
        }
    };
    let ttl = registry.config.upload_ttl;
    let idle = |last: Option<SystemTime>| {
        last.and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > ttl)
    };
    for id in ids {
        if !idle(storage.session_last_activity(&id).await.ok().flatten()) {
            continue;
        }
        let lock = registry.session_lock(&id);
        let Ok(_busy) = lock.try_lock() else {
            continue;
        };
        // Re-read under the lock: a PATCH may have just finished.
        if !idle(storage.session_last_activity(&id).await.ok().flatten()) {
            continue;
        }
        match storage.remove_session(&id).await {
            Ok(()) => {
                tracing::info!(session = %id, ttl_secs = ttl.as_secs(), "purged an idle upload session")
            }
            Err(e) => {
                tracing::warn!(session = %id, error = %e, "cannot purge an idle upload session")
            }
        }
        registry.forget_session(&id);
    }
}

async fn scheduled_gc(registry: &Registry) {
    let Some(local) = &registry.local else {
        tracing::warn!(
            store = registry.storage.kind(),
            "garbage collection runs on filesystem storage only; skipped"
        );
        return;
    };
    let started = std::time::Instant::now();
    match crate::gc::collect(
        local,
        registry.pins.clone(),
        false,
        registry.config.gc_grace,
    )
    .await
    {
        Ok(report) => tracing::info!(
            blobs = report.blobs.len(),
            bytes = report.bytes(),
            links = report.links.len(),
            kept = report.kept,
            ms = started.elapsed().as_millis() as u64,
            "garbage collection"
        ),
        Err(e) => tracing::warn!(error = %e, "garbage collection failed"),
    }
}

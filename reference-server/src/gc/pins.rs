//! Pins: how a collection running inside the server keeps its hands off content that a
//! request is about to reference.
//!
//! A collection marks what the manifest revisions reference, then sweeps the rest. Without
//! coordination it could sweep a blob between a manifest PUT's "is every layer here?" check
//! and the PUT's revision write, or between an upload's publication of a blob and its link,
//! and an acknowledged push would then point at nothing. So every write that makes content
//! reachable pins the digests involved *before* it checks or publishes anything, and holds
//! the pin until its last file is written:
//!
//! - pinned while a collection runs → protected until that collection ends;
//! - pinned when a collection starts → protected too (the set starts from what is in flight);
//! - pinned and released before the collection starts → the write finished, so the mark
//!   phase (which starts afterwards) sees its revision or link.
//!
//! The sweep decides and deletes each blob under the same lock ([`Pins::unless_pinned`]),
//! so a write that pins after that decision finds the blob gone and answers as for any
//! missing blob (`MANIFEST_BLOB_UNKNOWN`, or a mount falling back to an upload session).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use crate::digest::Digest;

/// The digests writes hold now, and the protected set of the collection running, if any.
#[derive(Debug, Default)]
pub struct Pins {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    in_flight: HashMap<Digest, usize>,
    /// `Some` while a collection runs: every digest pinned since it started.
    protected: Option<HashSet<Digest>>,
}

/// Releases its digests when dropped.
#[must_use = "the pin lasts as long as this value"]
pub struct Pinned<'a> {
    pins: &'a Pins,
    digests: Vec<Digest>,
}

/// A collection in progress; ends (and forgets its protected set) when dropped.
pub(crate) struct Collecting<'a> {
    pins: &'a Pins,
}

impl Pins {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Pins `digests` until the returned value is dropped.
    pub fn pin(&self, digests: impl IntoIterator<Item = Digest>) -> Pinned<'_> {
        let digests: Vec<Digest> = digests.into_iter().collect();
        let mut inner = self.lock();
        for d in &digests {
            *inner.in_flight.entry(d.clone()).or_default() += 1;
            if let Some(p) = inner.protected.as_mut() {
                p.insert(d.clone());
            }
        }
        Pinned {
            pins: self,
            digests,
        }
    }

    /// Starts a collection; `None` when one is already running.
    pub(crate) fn begin(&self) -> Option<Collecting<'_>> {
        let mut inner = self.lock();
        if inner.protected.is_some() {
            return None;
        }
        inner.protected = Some(inner.in_flight.keys().cloned().collect());
        Some(Collecting { pins: self })
    }

    /// Runs `sweep` under the lock unless `d` is protected by the running collection (or
    /// pinned right now); `None` when it was protected.
    pub(crate) fn unless_pinned<T>(&self, d: &Digest, sweep: impl FnOnce() -> T) -> Option<T> {
        let inner = self.lock();
        let protected = inner.in_flight.contains_key(d)
            || inner.protected.as_ref().is_some_and(|p| p.contains(d));
        if protected { None } else { Some(sweep()) }
    }
}

impl Drop for Pinned<'_> {
    fn drop(&mut self) {
        let mut inner = self.pins.lock();
        for d in &self.digests {
            if let Some(n) = inner.in_flight.get_mut(d) {
                *n -= 1;
                if *n == 0 {
                    inner.in_flight.remove(d);
                }
            }
        }
    }
}

impl Drop for Collecting<'_> {
    fn drop(&mut self) {
        self.pins.lock().protected = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> Digest {
        crate::digest::Algorithm::Sha256.digest_of(&[n])
    }

    #[test]
    fn pinned_during_or_before_a_collection_is_protected_until_it_ends() {
        let pins = Pins::default();
        let before = pins.pin([d(1)]);
        let gc = pins.begin().expect("first collection");
        assert!(pins.begin().is_none(), "one collection at a time");
        drop(before);
        let during = pins.pin([d(2)]);
        drop(during);
        // Both released, yet both still protected for this collection.
        assert!(pins.unless_pinned(&d(1), || ()).is_none());
        assert!(pins.unless_pinned(&d(2), || ()).is_none());
        assert!(pins.unless_pinned(&d(3), || ()).is_some());
        drop(gc);
        assert!(pins.unless_pinned(&d(1), || ()).is_some());
        let _held = pins.pin([d(4)]);
        assert!(pins.unless_pinned(&d(4), || ()).is_none());
    }
}

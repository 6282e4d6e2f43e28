//! The sorted tag lists of recently listed repositories, each kept with a stamp of its tags
//! directory, so a tag list can be answered without listing and sorting the directory, and
//! (with [`super::inline`]) without leaving the runtime thread.
//!
//! Coherence: a tag is a file in `_manifests/tags/`, and every tag change (create, move,
//! delete) adds, replaces or removes an entry of that directory, which sets its `mtime` and
//! `ctime`. Several servers may share one root (see [`super::lock`]), so a server cannot
//! rely on seeing every change itself; it re-reads the stamp (device, inode, times, size:
//! one `fstat` of the directory) on every request and uses its list only if nothing moved.
//! A stamp is taken *before* the listing it describes, so a change during the listing makes
//! the next stamp differ.
//!
//! Timestamps have a granularity (a clock tick, or a whole second on some filesystems), so
//! two changes close together can leave the same times: the list read between them would
//! look current after the second. As git does for its index ("racily clean" entries), a
//! list is kept only when its directory last changed [`SETTLED`] or more before the stamp
//! was taken; a later change then necessarily gets later times. A repository that is being
//! tagged right now is therefore listed from disk until it has been quiet that long.

use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a tags directory must have been unchanged before its listing is kept: more
/// than one second (the coarsest timestamp granularity of the filesystems a registry root
/// lives on) plus the lag of the kernel's coarse clock.
pub const SETTLED: Duration = Duration::from_secs(2);

/// At most this many tag names are kept over all repositories; past it the cache starts
/// again from empty (it only saves work, so forgetting is always safe).
const MAX_NAMES: usize = 100_000;

/// What identifies one state of a tags directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    pub fn of(meta: &Metadata) -> Self {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// Whether the directory was last changed at least [`SETTLED`] before `now`.
    fn settled(&self, now: SystemTime) -> bool {
        let (secs, nanos) = self.ctime;
        let (Ok(secs), Ok(nanos)) = (u64::try_from(secs), u32::try_from(nanos)) else {
            return false;
        };
        let changed = UNIX_EPOCH + Duration::new(secs, nanos);
        changed + SETTLED <= now
    }
}

#[derive(Debug, Default)]
pub struct TagCache {
    inner: Mutex<Inner>,
    /// Lists served from the cache, for tests that must know the cache was really used.
    hits: AtomicU64,
}

#[derive(Debug, Default)]
struct Inner {
    lists: HashMap<PathBuf, (Stamp, Arc<[String]>)>,
    names: usize,
}

impl TagCache {
    /// The list kept for `dir`, if it was taken at exactly this `stamp`.
    pub fn get(&self, dir: &Path, stamp: Stamp) -> Option<Arc<[String]>> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match inner.lists.get(dir) {
            Some((kept, tags)) if *kept == stamp => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(tags.clone())
            }
            _ => None,
        }
    }

    /// How many lists were served from the cache.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Keeps `tags`, listed after `stamp` was taken at `now`, if the directory had settled.
    pub fn put(&self, dir: &Path, stamp: Stamp, now: SystemTime, tags: &[String]) {
        if !stamp.settled(now) || tags.len() > MAX_NAMES {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.names + tags.len() > MAX_NAMES {
            inner.lists.clear();
            inner.names = 0;
        }
        inner.names += tags.len();
        if let Some((_, old)) = inner.lists.insert(dir.to_path_buf(), (stamp, tags.into())) {
            inner.names -= old.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(dir: &Path) -> Stamp {
        Stamp::of(&std::fs::metadata(dir).unwrap())
    }

    /// A list is kept only for a settled directory, served only for the same stamp, and a
    /// change of the directory's entries changes the stamp.
    #[test]
    fn kept_only_while_the_directory_is_unchanged_and_settled() {
        let dir = tempfile::tempdir().unwrap();
        let tags = dir.path().join("tags");
        std::fs::create_dir(&tags).unwrap();
        std::fs::write(tags.join("v1"), "x").unwrap();
        // Times from an hour ago, so the change below cannot share them (within one clock
        // tick it could: that is what SETTLED is for).
        let hour_ago = SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::open(&tags)
            .unwrap()
            .set_modified(hour_ago)
            .unwrap();
        let cache = TagCache::default();
        let s = stamp(&tags);
        let list = vec!["v1".to_string()];

        cache.put(&tags, s, SystemTime::now(), &list);
        assert!(cache.get(&tags, s).is_none(), "just changed: not settled");

        let later = SystemTime::now() + SETTLED;
        cache.put(&tags, s, later, &list);
        assert_eq!(cache.get(&tags, s).as_deref(), Some(&list[..]));

        std::fs::write(tags.join("v2"), "x").unwrap();
        let moved = stamp(&tags);
        assert_ne!(moved, s, "adding a tag changes the stamp");
        assert!(cache.get(&tags, moved).is_none());
    }

    /// The cache forgets everything rather than grow past its bound.
    #[test]
    fn bounded() {
        let dir = tempfile::tempdir().unwrap();
        let s = stamp(dir.path());
        let later = SystemTime::now() + SETTLED;
        let cache = TagCache::default();
        let big: Vec<String> = (0..MAX_NAMES / 2 + 1).map(|i| i.to_string()).collect();
        cache.put(Path::new("/a"), s, later, &big);
        cache.put(Path::new("/b"), s, later, &big);
        assert!(cache.get(Path::new("/a"), s).is_none());
        assert!(cache.get(Path::new("/b"), s).is_some());
        assert!(cache.inner.lock().unwrap().names <= MAX_NAMES);
    }
}

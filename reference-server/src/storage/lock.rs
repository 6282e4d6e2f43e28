//! Who uses a storage root: a serving registry holds a shared lock on `<root>/.lock`; the
//! offline tools that remove things (`gc`, `fsck --repair`) need it exclusively.
//!
//! The offline collector knows nothing of the pushes a server has in flight (only the
//! server's own collector does, through [`crate::gc::pins`]), and a leftover file under
//! `tmp/` is debris only when nobody is writing. The lock turns "run it while the registry
//! is stopped" from advice into a check. It is an advisory `flock`, released by the kernel
//! when the process dies, so a `kill -9` never leaves a stale lock behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::Path;

/// A held lock on a storage root; released on drop.
#[derive(Debug)]
pub struct RootLock {
    _file: File,
}

fn open(root: &Path) -> io::Result<File> {
    std::fs::create_dir_all(root)?;
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join(".lock"))
}

impl RootLock {
    /// The root to oneself: `None` when a registry (or another tool) is using it.
    pub fn exclusive(root: &Path) -> io::Result<Option<RootLock>> {
        let file = open(root)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(RootLock { _file: file })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }

    /// A serving registry's lock: shared with other registries, refused while an offline
    /// tool holds the root.
    pub fn shared(root: &Path) -> io::Result<RootLock> {
        let file = open(root)?;
        match file.try_lock_shared() {
            Ok(()) => Ok(RootLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "{} is in use by `reference-registry gc` or `fsck --repair`; start the \
                     registry when it has finished",
                    root.display()
                ),
            )),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }
}

/// The error offline tools give when a registry is serving the root.
pub fn in_use(root: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::WouldBlock,
        format!(
            "{} is in use by a running registry; stop it before `{what}` (or let the \
             registry collect garbage itself: `serve --gc-interval`)",
            root.display()
        ),
    )
}

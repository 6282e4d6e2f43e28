//! Metadata reads answered on the runtime thread when the kernel's caches hold everything
//! they need, and on the blocking pool otherwise.
//!
//! A manifest GET or tag list reads a few small files that are nearly always in the page
//! cache. Sending that work to the blocking pool costs two thread handoffs, which `perf`
//! showed to be about 30% of the server's time on those requests. Reading inline would be
//! faster but, on a cold cache, would stall every connection of that runtime worker while
//! the disk answers, which tokio's guidance rules out. Linux can tell the two cases apart
//! without blocking, the way io_uring does its inline attempts:
//!
//! - `openat2` with `RESOLVE_CACHED` resolves a path from the dentry cache only, and fails
//!   with `EAGAIN` where it would have to read a directory from disk;
//! - `preadv2` with `RWF_NOWAIT` reads from the page cache only, and fails with `EAGAIN`
//!   where it would wait for the disk.
//!
//! [`run`] first calls a read procedure in [`Mode::Cached`], where every file operation uses
//! those calls and reports [`io::ErrorKind::WouldBlock`] for anything the caches cannot
//! answer (or any other error, so that the authoritative answer comes from the blocking
//! attempt); on `WouldBlock` it runs the same procedure in [`Mode::Blocking`] on the pool.
//! The two modes share the procedure, so they cannot disagree on what they read. Elsewhere
//! than Linux, or where a kernel or seccomp profile refuses `openat2`, every read takes the
//! blocking path, as before.

use std::fs::File;
use std::io;
use std::path::Path;

use super::atomic;

/// How a read procedure may touch the filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// From the kernel's caches only; anything else is [`io::ErrorKind::WouldBlock`].
    Cached,
    /// Ordinary blocking calls (on the blocking pool).
    Blocking,
}

/// Runs `read` inline in [`Mode::Cached`], and again on the blocking pool in
/// [`Mode::Blocking`] if the caches could not answer.
pub async fn run<T: Send + 'static>(
    read: impl Fn(Mode) -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    match read(Mode::Cached) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            atomic::blocking(move || read(Mode::Blocking)).await
        }
        done => done,
    }
}

/// Reads a small file whole, `None` when it doesn't exist.
pub fn read_optional(p: &Path, mode: Mode) -> io::Result<Option<Vec<u8>>> {
    match mode {
        Mode::Blocking => super::read_optional_sync(p),
        Mode::Cached => cached::read_optional(p),
    }
}

/// Whether `p` is a directory (following symbolic links); `false` on any error, as
/// [`Path::is_dir`].
pub fn is_dir(p: &Path, mode: Mode) -> io::Result<bool> {
    match mode {
        Mode::Blocking => Ok(p.is_dir()),
        Mode::Cached => cached::is_dir(p),
    }
}

/// Whether `p` is a regular file (following symbolic links); `false` on any error, as
/// [`Path::is_file`].
pub fn is_file(p: &Path, mode: Mode) -> io::Result<bool> {
    match mode {
        Mode::Blocking => Ok(p.is_file()),
        Mode::Cached => cached::is_file(p),
    }
}

/// Opens a file for reading, with its length; `None` when it doesn't exist.
pub fn open_with_len(p: &Path, mode: Mode) -> io::Result<Option<(File, u64)>> {
    match mode {
        Mode::Blocking => match File::open(p) {
            Ok(f) => {
                let len = f.metadata()?.len();
                Ok(Some((f, len)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        },
        Mode::Cached => cached::open_with_len(p),
    }
}

/// The length of a file, `None` when it doesn't exist.
pub fn file_len(p: &Path, mode: Mode) -> io::Result<Option<u64>> {
    match mode {
        Mode::Blocking => match std::fs::metadata(p) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        },
        Mode::Cached => cached::file_len(p),
    }
}

/// Opens a directory for reading, to `fstat` it; `None` when it doesn't exist.
pub fn open_dir(p: &Path, mode: Mode) -> io::Result<Option<File>> {
    match mode {
        Mode::Blocking => match File::open(p) {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        },
        Mode::Cached => cached::open_dir(p),
    }
}

#[cfg(target_os = "linux")]
mod cached {
    use std::fs::File;
    use std::io::{self, IoSliceMut};
    use std::path::Path;

    use rustix::fs::{CWD, Mode as Perm, OFlags, ResolveFlags};
    use rustix::io::{Errno, ReadWriteFlags};

    fn would_block() -> io::Error {
        io::ErrorKind::WouldBlock.into()
    }

    /// `openat2(RESOLVE_CACHED)`, with the kernel's answer as is.
    fn open_cached(p: &Path, flags: OFlags) -> Result<File, Errno> {
        rustix::fs::openat2(
            CWD,
            p,
            flags | OFlags::CLOEXEC,
            Perm::empty(),
            ResolveFlags::CACHED,
        )
        .map(File::from)
    }

    /// [`open_cached`]: `Ok(None)` for a definite "no such file" from the dentry cache,
    /// `WouldBlock` for everything else that is not a success (a miss, a kernel without
    /// `openat2`, a seccomp refusal, a real error the blocking attempt will report).
    fn open(p: &Path, flags: OFlags) -> io::Result<Option<File>> {
        match open_cached(p, flags) {
            Ok(f) => Ok(Some(f)),
            Err(Errno::NOENT) => Ok(None),
            Err(_) => Err(would_block()),
        }
    }

    /// An `O_PATH` handle on `p` for a type test; `None` where a path test
    /// ([`Path::is_dir`], [`Path::is_file`]) says `false` for sure (nothing there, or a
    /// component that is not a directory).
    fn probe(p: &Path, flags: OFlags) -> io::Result<Option<File>> {
        match open_cached(p, OFlags::PATH | flags) {
            Ok(f) => Ok(Some(f)),
            Err(Errno::NOENT | Errno::NOTDIR) => Ok(None),
            Err(_) => Err(would_block()),
        }
    }

    /// Files are read without updating their access time (`O_NOATIME`): under `relatime`
    /// the first read after a change would otherwise dirty the inode, which on ext4 starts
    /// a journal handle, a wait this path exists to avoid. The flag needs the server to own
    /// the file (it created it) or `CAP_FOWNER`; where it is refused the read is simply made
    /// on the blocking pool.
    fn open_read(p: &Path) -> io::Result<Option<File>> {
        open(p, OFlags::RDONLY | OFlags::NOATIME)
    }

    pub fn open_dir(p: &Path) -> io::Result<Option<File>> {
        open(p, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOATIME)
    }

    pub fn is_dir(p: &Path) -> io::Result<bool> {
        Ok(probe(p, OFlags::DIRECTORY)?.is_some())
    }

    pub fn is_file(p: &Path) -> io::Result<bool> {
        match probe(p, OFlags::empty())? {
            Some(f) => Ok(f.metadata().map_err(|_| would_block())?.is_file()),
            None => Ok(false),
        }
    }

    pub fn open_with_len(p: &Path) -> io::Result<Option<(File, u64)>> {
        let Some(file) = open_read(p)? else {
            return Ok(None);
        };
        let len = file.metadata().map_err(|_| would_block())?.len();
        Ok(Some((file, len)))
    }

    pub fn file_len(p: &Path) -> io::Result<Option<u64>> {
        // An `O_PATH` descriptor's `fstat` reads the inode the lookup already brought in.
        match open(p, OFlags::PATH)? {
            Some(f) => Ok(Some(f.metadata().map_err(|_| would_block())?.len())),
            None => Ok(None),
        }
    }

    pub fn read_optional(p: &Path) -> io::Result<Option<Vec<u8>>> {
        // Files read here are published by rename and never written in place, so the
        // length seen now is the length of what this descriptor reads.
        let Some((file, len)) = open_with_len(p)? else {
            return Ok(None);
        };
        let len = usize::try_from(len).map_err(|_| would_block())?;
        let mut buf = vec![0u8; len];
        let mut filled = 0;
        while filled < len {
            let mut rest = [IoSliceMut::new(&mut buf[filled..])];
            match rustix::io::preadv2(&file, &mut rest, filled as u64, ReadWriteFlags::NOWAIT) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(Errno::INTR) => continue,
                Err(_) => return Err(would_block()),
            }
        }
        buf.truncate(filled);
        Ok(Some(buf))
    }
}

#[cfg(not(target_os = "linux"))]
mod cached {
    use std::fs::File;
    use std::io;
    use std::path::Path;

    fn would_block<T>() -> io::Result<T> {
        Err(io::ErrorKind::WouldBlock.into())
    }

    pub fn open_dir(_: &Path) -> io::Result<Option<File>> {
        would_block()
    }

    pub fn is_dir(_: &Path) -> io::Result<bool> {
        would_block()
    }

    pub fn read_optional(_: &Path) -> io::Result<Option<Vec<u8>>> {
        would_block()
    }

    pub fn file_len(_: &Path) -> io::Result<Option<u64>> {
        would_block()
    }

    pub fn is_file(_: &Path) -> io::Result<bool> {
        would_block()
    }

    pub fn open_with_len(_: &Path) -> io::Result<Option<(File, u64)>> {
        would_block()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both modes read the same bytes, see the same missing files and the same directories;
    /// a cached read either agrees with the blocking one or defers to it.
    #[test]
    fn modes_agree() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"sha256:abc").unwrap();
        let missing = dir.path().join("nothing/here");
        for mode in [Mode::Blocking, Mode::Cached] {
            let agree = |got: io::Result<Option<Vec<u8>>>, want: Option<&[u8]>| match got {
                Ok(v) => assert_eq!(v.as_deref(), want, "{mode:?}"),
                Err(e) => {
                    assert_eq!(mode, Mode::Cached);
                    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
                }
            };
            agree(read_optional(&file, mode), Some(b"sha256:abc"));
            agree(read_optional(&missing, mode), None);
            for (p, want) in [(&file, Some(10)), (&missing, None)] {
                match file_len(p, mode) {
                    Ok(got) => assert_eq!(got, want, "{mode:?} {p:?}"),
                    Err(e) => assert_eq!(e.kind(), io::ErrorKind::WouldBlock),
                }
            }
            for (p, want) in [(dir.path(), true), (file.as_path(), false)] {
                match is_dir(p, mode) {
                    Ok(got) => assert_eq!(got, want, "{mode:?} {p:?}"),
                    Err(e) => assert_eq!(e.kind(), io::ErrorKind::WouldBlock),
                }
                match is_file(p, mode) {
                    Ok(got) => assert_eq!(got, !want, "{mode:?} {p:?}"),
                    Err(e) => assert_eq!(e.kind(), io::ErrorKind::WouldBlock),
                }
            }
            match open_with_len(&file, mode) {
                Ok(got) => assert_eq!(got.map(|(_, len)| len), Some(10)),
                Err(e) => assert_eq!(e.kind(), io::ErrorKind::WouldBlock),
            }
            match open_with_len(&missing, mode) {
                Ok(got) => assert!(got.is_none()),
                Err(e) => assert_eq!(e.kind(), io::ErrorKind::WouldBlock),
            }
        }
    }

    /// On Linux, a file just written and read is in the caches, so the inline attempt answers
    /// without the blocking pool: the fast path is really taken.
    #[cfg(target_os = "linux")]
    #[test]
    fn cached_mode_answers_from_warm_caches() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("warm");
        std::fs::write(&file, vec![7u8; 100_000]).unwrap();
        assert_eq!(std::fs::read(&file).unwrap().len(), 100_000);
        let got = read_optional(&file, Mode::Cached).expect("warm file read inline");
        assert_eq!(got, Some(vec![7u8; 100_000]));
        assert!(is_dir(dir.path(), Mode::Cached).expect("warm directory inline"));
        assert!(open_dir(dir.path(), Mode::Cached).unwrap().is_some());
        assert_eq!(file_len(&file, Mode::Cached).unwrap(), Some(100_000));
    }

    /// [`run`] falls back to the blocking attempt when the cached one would block.
    #[tokio::test]
    async fn run_falls_back_to_blocking() {
        let got = run(|mode| match mode {
            Mode::Cached => Err(io::ErrorKind::WouldBlock.into()),
            Mode::Blocking => Ok(42),
        })
        .await
        .unwrap();
        assert_eq!(got, 42);
    }
}

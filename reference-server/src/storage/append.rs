//! The session writer: appends request body chunks to a session's `data` file on a
//! blocking thread of its own, so receiving and hashing (on the request's task) overlap
//! with writing (here), and starts the kernel's write-back as it goes, so the fsync that
//! acknowledges a chunk finds little left to do.
//!
//! Where the time of a 1 GiB push went before (`perf record` of `serve` during a
//! monolithic PUT): half of the server's CPU hashing, the rest copying — hyper's buffer into
//! a `BufWriter`, that into `tokio::fs::File`'s own buffer, that into the page cache — all
//! on one task, one step after the other; then `sync_data` wrote the whole GiB back to the
//! disk after the last byte had arrived. Now:
//!
//! - the chunks hyper hands over (`Bytes`) travel to the writer without a copy, in batches
//!   of [`BATCH`] bytes through a channel of [`DEPTH`] batches (so at most
//!   `BATCH × (DEPTH + 1)` bytes are in flight: memory stays constant for any blob size);
//! - the writer issues one vectored `write` per batch, the only copy on the server;
//! - every [`WRITEBACK`] bytes it asks the kernel to start writing that range to disk
//!   (`sync_file_range(SYNC_FILE_RANGE_WRITE)`, Linux), which does not wait and changes
//!   nothing about durability: the chunk is still acknowledged only after `fdatasync`
//!   returns, but by then most of it is already on disk.

use std::fs::File;
use std::io::{self, IoSlice, Seek, Write};
use std::path::PathBuf;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Bytes collected before they are handed to the writer thread in one vectored write.
/// Small enough that the data is still in the CPU's cache when the writer copies it (it
/// was just received and hashed): 1 MiB batches 8 deep measured slower.
const BATCH: usize = 256 * 1024;
/// Batches queued for the writer; the request task waits when the queue is full.
const DEPTH: usize = 4;
/// Write-back is started for every this many bytes written.
const WRITEBACK: u64 = 8 * 1024 * 1024;

/// Appends to one session data file from a given offset: all or nothing. [`Appender::finish`]
/// makes the bytes durable; when it fails, or on [`Appender::abort`], the file is cut back
/// to where the appender started. (Dropping it stops the writer and leaves what it wrote.)
///
/// The writer thread starts with the first full batch: a body smaller than [`BATCH`] (a
/// small blob, a manifest-sized chunk) is written and fsynced in one trip to the blocking
/// pool.
pub struct Appender {
    path: PathBuf,
    start: u64,
    batch: Vec<Bytes>,
    batch_len: usize,
    writer: Option<Writer>,
}

/// The running writer thread and its queue.
struct Writer {
    tx: mpsc::Sender<Vec<Bytes>>,
    handle: JoinHandle<io::Result<File>>,
}

impl Appender {
    /// An appender for `path` from `offset`; the file is opened when there is something to
    /// write, or at [`Appender::finish`].
    pub fn new(path: PathBuf, offset: u64) -> Appender {
        Appender {
            path,
            start: offset,
            batch: Vec::new(),
            batch_len: 0,
            writer: None,
        }
    }

    /// Queues `chunk`; waits only when the writer is [`DEPTH`] batches behind. An error is
    /// the writer's (a full disk, say), reported as early as it is known.
    pub async fn write(&mut self, chunk: Bytes) -> io::Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        self.batch_len += chunk.len();
        self.batch.push(chunk);
        if self.batch_len >= BATCH {
            self.send().await?;
        }
        Ok(())
    }

    async fn send(&mut self) -> io::Result<()> {
        let batch = std::mem::take(&mut self.batch);
        self.batch_len = 0;
        if self.writer.is_none() {
            let file = open_at(self.path.clone(), self.start).await?;
            let (tx, rx) = mpsc::channel(DEPTH);
            let start = self.start;
            let handle = tokio::task::spawn_blocking(move || write_loop(file, start, rx));
            self.writer = Some(Writer { tx, handle });
        }
        let sent = match &self.writer {
            Some(w) => w.tx.send(batch).await.is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            // The writer stopped: it failed, and says why.
            Err(self.stop().await.err().unwrap_or_else(writer_gone))
        }
    }

    /// Waits for the writer to write everything queued; returns the file.
    async fn stop(&mut self) -> io::Result<File> {
        match self.writer.take() {
            Some(Writer { tx, handle }) => {
                drop(tx);
                handle.await.map_err(io::Error::other)?
            }
            None => Err(writer_gone()),
        }
    }

    /// Writes what is left and makes it durable (`fdatasync`): only then may the bytes be
    /// acknowledged. On failure (a full disk, say) the file is cut back and the error
    /// returned.
    pub async fn finish(mut self) -> io::Result<()> {
        let written = async {
            // With a writer running, the rest goes through it; without one, the whole
            // body is still in `batch` and is written below, in the same trip as the fsync.
            let file = match self.writer {
                Some(_) => {
                    if !self.batch.is_empty() {
                        self.send().await?;
                    }
                    Some(self.stop().await?)
                }
                None => None,
            };
            let batch = std::mem::take(&mut self.batch);
            let (path, start) = (self.path.clone(), self.start);
            super::atomic::blocking(move || {
                let mut file = match file {
                    Some(f) => f,
                    None => open_at_sync(&path, start)?,
                };
                write_batch(&mut file, &batch)?;
                file.sync_data()
            })
            .await
        }
        .await;
        match written {
            Ok(()) => Ok(()),
            Err(e) => {
                self.abort().await?;
                Err(e)
            }
        }
    }

    /// Cuts the file back to where the appender started (a failed or refused chunk), after
    /// the writer has stopped, so nothing it still had queued lands after the cut.
    pub async fn abort(mut self) -> io::Result<()> {
        self.batch.clear();
        // Whatever the writer's fate, the file is cut through a handle of our own.
        let _ = self.stop().await;
        let (path, len) = (self.path.clone(), self.start);
        super::atomic::blocking(move || {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)?
                .set_len(len)
        })
        .await
    }
}

async fn open_at(path: PathBuf, offset: u64) -> io::Result<File> {
    super::atomic::blocking(move || open_at_sync(&path, offset)).await
}

fn open_at_sync(path: &std::path::Path, offset: u64) -> io::Result<File> {
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.seek(io::SeekFrom::Start(offset))?;
    Ok(f)
}

fn writer_gone() -> io::Error {
    io::Error::other("session writer stopped")
}

/// Writes all of `batch` with vectored writes; returns the bytes written.
fn write_batch(file: &mut File, batch: &[Bytes]) -> io::Result<u64> {
    let mut slices: Vec<IoSlice<'_>> = batch.iter().map(|b| IoSlice::new(b)).collect();
    let mut rest: &mut [IoSlice<'_>] = &mut slices;
    let mut written = 0;
    while !rest.is_empty() {
        match file.write_vectored(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                written += n as u64;
                IoSlice::advance_slices(&mut rest, n);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(written)
}

/// The writer thread: one vectored write per batch, write-back started every
/// [`WRITEBACK`] bytes.
fn write_loop(mut file: File, start: u64, mut rx: mpsc::Receiver<Vec<Bytes>>) -> io::Result<File> {
    let mut pos = start;
    let mut kicked = start;
    while let Some(batch) = rx.blocking_recv() {
        pos += write_batch(&mut file, &batch)?;
        if pos - kicked >= WRITEBACK {
            start_writeback(&file, kicked, pos - kicked);
            kicked = pos;
        }
    }
    Ok(file)
}

/// Asks the kernel to start writing `[offset, offset + len)` back to disk, without waiting
/// and without any durability promise (that is `fdatasync`'s job). Elsewhere than Linux it
/// does nothing and the final `fdatasync` does all the work, as before.
#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: a plain system call on a file descriptor `file` keeps open for the call's
    // duration; it reads no memory of ours. A failure only means write-back starts later.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File, _offset: u64, _len: u64) {}

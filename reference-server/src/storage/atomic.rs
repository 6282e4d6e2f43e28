//! Crash-safe file publication: write a unique temporary file in `<root>/tmp` (same
//! filesystem as the destination), fsync it, rename it over the destination, fsync the
//! destination directory. A reader sees either the old file or the complete new one, and
//! a crash at any point leaves at most an orphan temporary file, which `gc` removes.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Atomically replaces `dest` with `bytes`.
pub async fn write_file(tmp_dir: PathBuf, dest: PathBuf, bytes: Vec<u8>) -> io::Result<()> {
    blocking(move || write_file_sync(&tmp_dir, &dest, &bytes)).await
}

/// Like [`write_file`] for a file whose *name* is the information and whose content is
/// never read (blob links): the rename is made durable, the content is not fsynced. A crash
/// can leave such a file with its content missing, which changes nothing, and it saves a
/// data flush (about 1 ms here) per blob upload.
pub async fn write_name(tmp_dir: PathBuf, dest: PathBuf, bytes: Vec<u8>) -> io::Result<()> {
    blocking(move || write_name_sync(&tmp_dir, &dest, &bytes)).await
}

/// [`write_name`] for code already on a blocking thread.
pub fn write_name_sync(tmp_dir: &Path, dest: &Path, bytes: &[u8]) -> io::Result<()> {
    create_parent(dest)?;
    let mut tmp = tempfile::NamedTempFile::new_in(tmp_dir)?;
    tmp.write_all(bytes)?;
    tmp.persist(dest).map_err(|e| e.error)?;
    sync_parent(dest)
}

/// Atomically moves the already-fsynced file `src` to `dest` (both on the same filesystem).
pub async fn rename_into(src: PathBuf, dest: PathBuf) -> io::Result<()> {
    blocking(move || rename_into_sync(&src, &dest)).await
}

/// [`rename_into`] for code already on a blocking thread.
pub fn rename_into_sync(src: &Path, dest: &Path) -> io::Result<()> {
    create_parent(dest)?;
    fs::rename(src, dest)?;
    sync_parent(dest)
}

/// Removes `path` if it exists; returns whether it existed.
pub async fn remove_file(path: PathBuf) -> io::Result<bool> {
    match tokio::fs::remove_file(&path).await {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn write_file_sync(tmp_dir: &Path, dest: &Path, bytes: &[u8]) -> io::Result<()> {
    create_dir_all_durable(tmp_dir)?;
    create_parent(dest)?;
    let mut tmp = tempfile::NamedTempFile::new_in(tmp_dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(dest).map_err(|e| e.error)?;
    sync_parent(dest)
}

fn create_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(p) => create_dir_all_durable(p),
        None => Ok(()),
    }
}

/// `create_dir_all` whose new directories survive a power cut: each directory created is
/// made durable in its parent (fsync of the parent) before anything is placed in it, so a
/// name later made durable in `dir` is reachable after a crash on any filesystem, not only
/// on those (ext4, XFS) whose journal happens to commit the `mkdir` with it. Directories
/// that exist cost one `stat`; a blob push creates one only for a new repository or the
/// first blob of a two-hex-digit prefix.
pub fn create_dir_all_durable(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(parent) = parent {
        create_dir_all_durable(parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        // Another request created it at the same moment; its entry may not be durable
        // yet, so it is synced here too rather than relied upon.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {}
        Err(e) => return Err(e),
    }
    if let Some(parent) = parent {
        sync_dir(parent);
    }
    Ok(())
}

/// Makes a rename durable. Directories can't be fsynced on every platform; failing to
/// do so is not an error for correctness (the rename itself is still atomic).
fn sync_parent(path: &Path) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        sync_dir(parent);
    }
    Ok(())
}

/// fsyncs a directory, where the platform allows it (see [`sync_parent`]).
fn sync_dir(dir: &Path) {
    if let Ok(dir) = fs::File::open(dir) {
        let _ = dir.sync_all();
    }
}

pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(io::Error::other)?
}

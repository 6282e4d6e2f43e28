//! Global blob content and per-repository links.
//!
//! Content is stored once under its digest; a repository may read a blob only when it has
//! a link to it (PULL-19), which an upload or a mount creates.

use std::io;
use std::path::{Path, PathBuf};

use super::{Storage, atomic, inline, is_file};
use crate::digest::Digest;

impl Storage {
    /// Where the content of `d` lives, whether or not it exists.
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        Self::blob_path_in(&self.root, d)
    }

    /// [`Storage::blob_path`] for blocking code that has only the root.
    pub(crate) fn blob_path_in(root: &Path, d: &Digest) -> PathBuf {
        root.join("blobs")
            .join(d.algorithm().as_str())
            .join(&d.hex()[..2])
            .join(d.hex())
    }

    pub(crate) fn link_path(&self, name: &str, d: &Digest) -> PathBuf {
        Self::link_path_in(&self.root, name, d)
    }

    pub(crate) fn link_path_in(root: &Path, name: &str, d: &Digest) -> PathBuf {
        root.join("repositories")
            .join(name)
            .join("_layers")
            .join(Self::digest_rel(d))
    }

    pub async fn blob_exists_globally(&self, d: &Digest) -> bool {
        is_file(&self.blob_path(d)).await
    }

    /// Whether `name` may serve `d`: linked there and the content still exists. Blobs are
    /// per repository (PULL-19), and so is the existence check of manifest PUT (MPUT-16).
    pub async fn blob_linked(&self, name: &str, d: &Digest) -> bool {
        let (link, blob) = (self.link_path(name, d), self.blob_path(d));
        inline::run(move |mode| Ok(inline::is_file(&link, mode)? && inline::is_file(&blob, mode)?))
            .await
            .unwrap_or(false)
    }

    /// Opens a blob readable in `name` for streaming, with its length: the link check, the
    /// open and the length in one [`inline`] read.
    pub async fn open_blob(
        &self,
        name: &str,
        d: &Digest,
    ) -> io::Result<Option<(std::fs::File, u64)>> {
        let (link, blob) = (self.link_path(name, d), self.blob_path(d));
        inline::run(move |mode| {
            if !inline::is_file(&link, mode)? {
                return Ok(None);
            }
            inline::open_with_len(&blob, mode)
        })
        .await
    }

    /// Links `d` into `name` (idempotent). The content must already be committed, so a
    /// link never points at nothing. The link's name says everything (its content, the
    /// digest again as in distribution's layout, is read by nobody: not reads, `gc` or
    /// `fsck`), so only its directory entry is made durable ([`atomic::write_name`]).
    pub async fn link_blob(&self, name: &str, d: &Digest) -> io::Result<()> {
        atomic::write_name(
            self.tmp_dir(),
            self.link_path(name, d),
            d.to_string().into_bytes(),
        )
        .await
    }

    /// Removes the link of `d` from `name` (blob DELETE, MGMT-13); the content, and other
    /// repositories' links to it, stay until `gc`.
    pub async fn unlink_blob(&self, name: &str, d: &Digest) -> io::Result<bool> {
        atomic::remove_file(self.link_path(name, d)).await
    }

    /// Publishes a complete, fsynced file as the content of `d`. When two uploads of the
    /// same content race, both renames succeed and the content is the same either way
    /// (PUSH-47).
    pub async fn commit_blob_file(&self, src: &Path, d: &Digest) -> io::Result<()> {
        if self.blob_exists_globally(d).await {
            let _ = tokio::fs::remove_file(src).await;
            return Ok(());
        }
        atomic::rename_into(src.to_path_buf(), self.blob_path(d)).await
    }

    /// Publishes small in-memory content (manifests) under `d`.
    pub async fn put_blob_bytes(&self, d: &Digest, bytes: Vec<u8>) -> io::Result<()> {
        if self.blob_exists_globally(d).await {
            return Ok(());
        }
        atomic::write_file(self.tmp_dir(), self.blob_path(d), bytes).await
    }

    /// Reads small content (manifests) by digest.
    pub async fn read_blob_bytes(&self, d: &Digest) -> io::Result<Option<Vec<u8>>> {
        super::read_optional(&self.blob_path(d)).await
    }
}

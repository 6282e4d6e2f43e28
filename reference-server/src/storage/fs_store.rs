//! [`Store`] on the local filesystem: [`Storage`]'s own methods (in `blobs.rs`,
//! `manifests.rs`, `referrers.rs`, `uploads.rs`), behind the trait, plus the few
//! operations only the trait needs (reading a session back, copying it out).

use std::io;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::Value;
use tokio::io::AsyncReadExt;

use super::manifests::{Lookup, ManifestMeta, Reference};
use super::store::{Blob, BlobBody, ByteStream, SessionWriter, Store};
use super::uploads::{Opened, SessionInfo};
use super::{Storage, atomic, inline};
use crate::digest::Digest;

/// An open blob file: the range is streamed in mapped windows ([`super::read`]).
struct FileBody(std::fs::File);

impl BlobBody for FileBody {
    fn range(self: Box<Self>, start: u64, len: u64) -> ByteStream {
        Box::pin(super::read::stream_range(self.0, start, len))
    }
}

fn blob((file, len): (std::fs::File, u64)) -> Blob {
    Blob {
        len,
        body: Box::new(FileBody(file)),
    }
}

#[async_trait]
impl SessionWriter for super::append::Appender {
    async fn write(&mut self, chunk: Bytes) -> io::Result<()> {
        super::append::Appender::write(self, chunk).await
    }
    async fn finish(self: Box<Self>) -> io::Result<()> {
        super::append::Appender::finish(*self).await
    }
    async fn abort(self: Box<Self>) -> io::Result<()> {
        super::append::Appender::abort(*self).await
    }
}

/// Reads a file in 1 MiB pieces as a stream, in constant memory.
fn file_stream(file: tokio::fs::File) -> ByteStream {
    Box::pin(futures_util::stream::try_unfold(file, |mut f| async move {
        let mut buf = vec![0u8; 1024 * 1024];
        let n = f.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some((Bytes::from(buf), f)))
    }))
}

#[async_trait]
impl Store for Storage {
    fn kind(&self) -> &'static str {
        "filesystem"
    }

    async fn repo_exists(&self, name: &str) -> bool {
        Storage::repo_exists(self, name).await
    }
    async fn list_repositories(&self) -> io::Result<Vec<String>> {
        Storage::list_repositories(self).await
    }

    async fn blob_exists_globally(&self, d: &Digest) -> bool {
        Storage::blob_exists_globally(self, d).await
    }
    async fn blob_linked(&self, name: &str, d: &Digest) -> bool {
        Storage::blob_linked(self, name, d).await
    }
    async fn open_blob(&self, name: &str, d: &Digest) -> io::Result<Option<Blob>> {
        Ok(Storage::open_blob(self, name, d).await?.map(blob))
    }
    async fn open_content(&self, d: &Digest) -> io::Result<Option<Blob>> {
        let path = self.blob_path(d);
        let found = inline::run(move |mode| inline::open_with_len(&path, mode)).await?;
        Ok(found.map(blob))
    }
    async fn link_blob(&self, name: &str, d: &Digest) -> io::Result<()> {
        Storage::link_blob(self, name, d).await
    }
    async fn unlink_blob(&self, name: &str, d: &Digest) -> io::Result<bool> {
        Storage::unlink_blob(self, name, d).await
    }
    async fn put_blob_bytes(&self, d: &Digest, bytes: Vec<u8>) -> io::Result<()> {
        Storage::put_blob_bytes(self, d, bytes).await
    }
    async fn read_blob_bytes(&self, d: &Digest) -> io::Result<Option<Vec<u8>>> {
        Storage::read_blob_bytes(self, d).await
    }
    async fn delete_content(&self, d: &Digest) -> io::Result<bool> {
        atomic::remove_file(self.blob_path(d)).await
    }

    async fn lookup_manifest(&self, name: &str, reference: &Reference) -> io::Result<Lookup> {
        Storage::lookup_manifest(self, name, reference).await
    }
    async fn manifest_meta(&self, name: &str, d: &Digest) -> io::Result<Option<ManifestMeta>> {
        Storage::manifest_meta(self, name, d).await
    }
    async fn put_manifest_revision(
        &self,
        name: &str,
        d: &Digest,
        meta: &ManifestMeta,
    ) -> io::Result<()> {
        Storage::put_manifest_revision(self, name, d, meta).await
    }
    async fn delete_manifest_revision(&self, name: &str, d: &Digest) -> io::Result<bool> {
        Storage::delete_manifest_revision(self, name, d).await
    }
    async fn list_manifest_revisions(&self, name: &str) -> io::Result<Vec<Digest>> {
        Storage::list_manifest_revisions(self, name).await
    }
    async fn resolve_tag(&self, name: &str, tag: &str) -> io::Result<Option<Digest>> {
        Storage::resolve_tag(self, name, tag).await
    }
    async fn set_tag(&self, name: &str, tag: &str, d: &Digest) -> io::Result<()> {
        Storage::set_tag(self, name, tag, d).await
    }
    async fn delete_tag(&self, name: &str, tag: &str) -> io::Result<bool> {
        Storage::delete_tag(self, name, tag).await
    }
    async fn repository_tags(&self, name: &str) -> io::Result<Option<Vec<String>>> {
        Storage::repository_tags(self, name).await
    }
    async fn untag_digest(&self, name: &str, d: &Digest) -> io::Result<()> {
        Storage::untag_digest(self, name, d).await
    }

    async fn add_referrer(
        &self,
        name: &str,
        subject: &Digest,
        referrer: &Digest,
        descriptor: &Value,
    ) -> io::Result<()> {
        Storage::add_referrer(self, name, subject, referrer, descriptor).await
    }
    async fn remove_referrer(
        &self,
        name: &str,
        subject: &Digest,
        referrer: &Digest,
    ) -> io::Result<()> {
        Storage::remove_referrer(self, name, subject, referrer).await
    }
    async fn list_referrers(&self, name: &str, subject: &Digest) -> io::Result<Vec<Value>> {
        Storage::list_referrers(self, name, subject).await
    }

    async fn create_session_within(&self, repository: &str, max: usize) -> io::Result<Opened> {
        Storage::create_session_within(self, repository, max).await
    }
    async fn session_info(&self, id: &str) -> io::Result<Option<SessionInfo>> {
        Storage::session_info(self, id).await
    }
    async fn session_status(&self, id: &str) -> io::Result<Option<(SessionInfo, u64)>> {
        Storage::session_status(self, id).await
    }
    async fn session_writer(&self, id: &str, offset: u64) -> io::Result<Box<dyn SessionWriter>> {
        Ok(Box::new(self.session_appender(id, offset)))
    }
    async fn read_session(&self, id: &str) -> io::Result<ByteStream> {
        let file = tokio::fs::File::open(self.session_data_path(id)).await?;
        Ok(file_stream(file))
    }
    async fn publish_session(&self, id: &str, name: &str, d: &Digest) -> io::Result<bool> {
        Storage::publish_session(self, id, name, d).await
    }
    async fn copy_session(&self, id: &str, name: &str, d: &Digest) -> io::Result<()> {
        let copy = self
            .tmp_dir()
            .join(format!("copy-{id}-{}", uuid::Uuid::new_v4()));
        let (from, to) = (self.session_data_path(id), copy.clone());
        atomic::blocking(move || {
            std::fs::copy(&from, &to)?;
            std::fs::File::open(&to)?.sync_all()
        })
        .await?;
        self.commit_blob_file(&copy, d).await?;
        Storage::link_blob(self, name, d).await
    }
    async fn remove_session(&self, id: &str) -> io::Result<()> {
        Storage::remove_session(self, id).await
    }
    async fn list_session_ids(&self) -> io::Result<Vec<String>> {
        Storage::list_session_ids(self).await
    }
    async fn session_last_activity(&self, id: &str) -> io::Result<Option<SystemTime>> {
        Storage::session_last_activity(self, id).await
    }
}

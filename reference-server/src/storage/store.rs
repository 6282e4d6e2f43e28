//! The storage seam: everything a request handler may ask of storage, as one trait.
//!
//! Handlers hold an `Arc<dyn Store>` and nothing else of storage: no paths, no files.
//! Two backends implement it: the local filesystem ([`crate::storage::Storage`]) and S3
//! ([`crate::storage::s3::S3Store`]); one test suite (`tests/store_contract.rs`) runs
//! against both. This is the shape of distribution's `storagedriver` under its handlers,
//! one level up: our trait speaks of blobs, links, manifests, tags and sessions, not of
//! paths, so each backend can use what its medium offers (rename and fsync on a
//! filesystem; whole-object puts, copies and listings on S3) to keep the one guarantee
//! both must give: content becomes visible only once it is complete and verified, and a
//! crash at any point leaves nothing partial visible (principle 4).

use std::io;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;
use serde_json::Value;

use super::manifests::{Lookup, ManifestMeta, Reference};
use super::uploads::{Opened, SessionInfo};
use crate::digest::Digest;

/// A blob's bytes as a stream. `Sync` because warp's streamed replies require it; a
/// backend whose stream is not wraps it in `sync_wrapper::SyncStream`.
pub type ByteStream = std::pin::Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + Sync>>;

/// An opened blob: its length, and a way to read any range of it.
pub struct Blob {
    pub len: u64,
    pub body: Box<dyn BlobBody>,
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blob").field("len", &self.len).finish()
    }
}

/// The bytes of an opened blob. Opening and reading are apart so a handler can answer
/// HEAD, 304 and 416 from the length alone, without reading anything.
pub trait BlobBody: Send {
    /// The bytes `[start, start + len)`; the caller keeps within the blob's length.
    fn range(self: Box<Self>, start: u64, len: u64) -> ByteStream;
}

/// Appends one request body to an upload session, all or nothing.
///
/// Bytes given to [`SessionWriter::write`] become part of the session only at
/// [`SessionWriter::finish`], and durably so; [`SessionWriter::abort`] (or a failing
/// `finish`) cuts the session back to the offset the writer started at.
#[async_trait]
pub trait SessionWriter: Send {
    async fn write(&mut self, chunk: Bytes) -> io::Result<()>;
    async fn finish(self: Box<Self>) -> io::Result<()>;
    async fn abort(self: Box<Self>) -> io::Result<()>;
}

/// Storage as the handlers see it. Names are validated repository names, digests parsed
/// digests; every method may be called concurrently from any number of requests and,
/// where the backend is shared (S3, or several servers on one root), from any number of
/// registry processes.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// What this backend is, for logs and `/metrics`-like answers: `filesystem` or `s3`.
    fn kind(&self) -> &'static str;

    // --- repositories -------------------------------------------------------------

    /// A repository exists once a blob was pushed or mounted into it or a manifest was
    /// pushed to it (NAME-11). Open upload sessions do not create it.
    async fn repo_exists(&self, name: &str) -> bool;

    /// Every repository, in byte order (catalog, DISC-01).
    async fn list_repositories(&self) -> io::Result<Vec<String>>;

    // --- blobs --------------------------------------------------------------------

    /// Whether the content of `d` exists, in any repository.
    async fn blob_exists_globally(&self, d: &Digest) -> bool;

    /// Whether `name` may serve `d`: linked there and the content exists (PULL-19,
    /// MPUT-16).
    async fn blob_linked(&self, name: &str, d: &Digest) -> bool;

    /// Opens `d` for reading when `name` may serve it.
    async fn open_blob(&self, name: &str, d: &Digest) -> io::Result<Option<Blob>>;

    /// Opens the content of `d` whatever links it.
    async fn open_content(&self, d: &Digest) -> io::Result<Option<Blob>>;

    /// Links committed content `d` into `name` (idempotent; never a link to nothing).
    async fn link_blob(&self, name: &str, d: &Digest) -> io::Result<()>;

    /// Removes the link of `d` from `name` (MGMT-13); `false` when there was none.
    async fn unlink_blob(&self, name: &str, d: &Digest) -> io::Result<bool>;

    /// Publishes small verified content (a manifest) under `d`.
    async fn put_blob_bytes(&self, d: &Digest, bytes: Vec<u8>) -> io::Result<()>;

    /// Reads small content (a manifest) by digest.
    async fn read_blob_bytes(&self, d: &Digest) -> io::Result<Option<Vec<u8>>>;

    /// Deletes the content of `d` (not its links); `false` when it did not exist.
    async fn delete_content(&self, d: &Digest) -> io::Result<bool>;

    // --- manifests and tags -------------------------------------------------------

    /// Everything a manifest GET or HEAD needs, in one call.
    async fn lookup_manifest(&self, name: &str, reference: &Reference) -> io::Result<Lookup>;

    /// The metadata of revision `d` of `name`, `None` when `name` holds no such manifest.
    async fn manifest_meta(&self, name: &str, d: &Digest) -> io::Result<Option<ManifestMeta>>;

    /// Records `d` as a manifest of `name` (its content must be committed first).
    async fn put_manifest_revision(
        &self,
        name: &str,
        d: &Digest,
        meta: &ManifestMeta,
    ) -> io::Result<()>;

    async fn delete_manifest_revision(&self, name: &str, d: &Digest) -> io::Result<bool>;

    async fn list_manifest_revisions(&self, name: &str) -> io::Result<Vec<Digest>>;

    async fn resolve_tag(&self, name: &str, tag: &str) -> io::Result<Option<Digest>>;

    /// Points `tag` at `d`; the last of racing writers wins, whole.
    async fn set_tag(&self, name: &str, tag: &str, d: &Digest) -> io::Result<()>;

    async fn delete_tag(&self, name: &str, tag: &str) -> io::Result<bool>;

    /// The tags of `name` in byte order; `None` when the repository does not exist.
    async fn repository_tags(&self, name: &str) -> io::Result<Option<Vec<String>>>;

    /// Removes every tag of `name` that points at `d`.
    async fn untag_digest(&self, name: &str, d: &Digest) -> io::Result<()>;

    // --- referrers ----------------------------------------------------------------

    async fn add_referrer(
        &self,
        name: &str,
        subject: &Digest,
        referrer: &Digest,
        descriptor: &Value,
    ) -> io::Result<()>;

    async fn remove_referrer(
        &self,
        name: &str,
        subject: &Digest,
        referrer: &Digest,
    ) -> io::Result<()>;

    /// Descriptors of the manifests of `name` whose subject is `subject`, by digest.
    async fn list_referrers(&self, name: &str, subject: &Digest) -> io::Result<Vec<Value>>;

    // --- upload sessions ----------------------------------------------------------

    /// Opens a session for `repository` unless `max` are open already.
    async fn create_session_within(&self, repository: &str, max: usize) -> io::Result<Opened>;

    async fn session_info(&self, id: &str) -> io::Result<Option<SessionInfo>>;

    /// The session and its committed length (the offset the next chunk must start at).
    async fn session_status(&self, id: &str) -> io::Result<Option<(SessionInfo, u64)>>;

    /// A writer appending to the session from `offset`, its committed length. The caller
    /// holds the session's lock.
    async fn session_writer(&self, id: &str, offset: u64) -> io::Result<Box<dyn SessionWriter>>;

    /// The session's committed bytes, from the start.
    async fn read_session(&self, id: &str) -> io::Result<ByteStream>;

    /// Makes the session's verified bytes the content of `d`, links it into `name` and
    /// ends the session. `false` when the session had already gone (a racing cancel).
    async fn publish_session(&self, id: &str, name: &str, d: &Digest) -> io::Result<bool>;

    /// Copies the session's bytes to the content of `d` and links it into `name`,
    /// leaving the session in place.
    async fn copy_session(&self, id: &str, name: &str, d: &Digest) -> io::Result<()>;

    /// Ends a session, whatever it holds (idempotent).
    async fn remove_session(&self, id: &str) -> io::Result<()>;

    async fn list_session_ids(&self) -> io::Result<Vec<String>>;

    /// When the session last received bytes (or was opened).
    async fn session_last_activity(&self, id: &str) -> io::Result<Option<SystemTime>>;
}

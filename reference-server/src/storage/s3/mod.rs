//! [`Store`] on S3 or any S3-compatible service, through `object_store` (Apache Arrow's
//! object-storage crate): `reference-registry serve --storage s3://BUCKET/PREFIX`.
//!
//! Several registry processes may share one bucket: nothing lives in an instance but
//! caches of nothing (the per-session hash is rebuilt from the bucket when another instance
//! moved the session on, see `routes/uploads.rs`).
//!
//! How the filesystem's guarantees carry over (principle 4):
//! - an object appears whole or not at all (a PUT, a copy, a multipart completion), which
//!   is what the filesystem gets from write-to-temporary-then-rename;
//! - content is written before anything names it (a link, a revision, a tag), and removed
//!   only after (links before content in deletes);
//! - a successful PUT is durable; there is no fsync to issue.
//!
//! Layout: [`keys`]. Sessions: [`session`].

pub mod keys;
mod session;

use std::io;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    WriteMultipart,
};
use serde_json::Value;

use super::manifests::{Lookup, ManifestMeta, Reference};
use super::store::{Blob, BlobBody, ByteStream, SessionWriter, Store};
use super::uploads::{Opened, SessionInfo, now_secs};
use crate::digest::Digest;
use keys::Keys;
use session::S3SessionWriter;

/// Where the bucket is and how to reach it (`serve --storage s3://… --s3-endpoint …`).
/// Credentials come from the usual `AWS_*` variables (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT`, ...), never
/// from flags, so they stay out of process listings and logs (principle 7).
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct S3Config {
    /// `s3://BUCKET` or `s3://BUCKET/PREFIX`.
    pub url: String,
    /// A non-AWS endpoint, such as `http://127.0.0.1:3900`.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Allow plain HTTP to the endpoint (a local service).
    pub allow_http: bool,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("url", &self.url)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

impl S3Config {
    pub fn new(url: impl Into<String>) -> Self {
        S3Config {
            url: url.into(),
            ..Default::default()
        }
    }
}

/// The S3 store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct S3Store {
    store: Arc<dyn ObjectStore>,
    keys: Keys,
}

pub(crate) fn io_err(e: object_store::Error) -> io::Error {
    match e {
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, e),
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. } => {
            io::Error::new(io::ErrorKind::AlreadyExists, e)
        }
        e => io::Error::other(e),
    }
}

/// The offset a session part's key names.
pub(crate) fn part_offset(key: &Path) -> Option<u64> {
    key.filename()?.parse().ok()
}

/// Piece size when a session of several parts is joined into one content object.
const PART: usize = 8 * 1024 * 1024;

impl S3Store {
    /// Connects (lazily: the first request reaches the service) to the bucket in `config`.
    pub fn open(config: &S3Config) -> io::Result<Self> {
        let rest = config.url.strip_prefix("s3://").ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("--storage {:?}: expected s3://BUCKET[/PREFIX]", config.url),
            )
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("--storage {:?}: no bucket", config.url),
            ));
        }
        let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Some(e) = &config.endpoint {
            b = b.with_endpoint(e);
        }
        if let Some(r) = &config.region {
            b = b.with_region(r);
        }
        if config.allow_http {
            b = b.with_allow_http(true);
        }
        let store = b.build().map_err(io_err)?;
        Ok(Self::with_object_store(Arc::new(store), prefix))
    }

    /// A store on any `object_store` backend (tests use this to reach a bucket directly).
    pub fn with_object_store(store: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        S3Store {
            store,
            keys: Keys::new(prefix),
        }
    }

    async fn get_optional(&self, key: &Path) -> io::Result<Option<Bytes>> {
        match self.store.get(key).await {
            Ok(r) => Ok(Some(r.bytes().await.map_err(io_err)?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(io_err(e)),
        }
    }

    async fn size_of(&self, key: &Path) -> io::Result<Option<u64>> {
        match self.store.head(key).await {
            Ok(m) => Ok(Some(m.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(io_err(e)),
        }
    }

    async fn exists(&self, key: &Path) -> bool {
        matches!(self.size_of(key).await, Ok(Some(_)))
    }

    async fn put(&self, key: &Path, bytes: impl Into<Bytes>) -> io::Result<()> {
        self.store
            .put(key, PutPayload::from_bytes(bytes.into()))
            .await
            .map(|_| ())
            .map_err(io_err)
    }

    /// Deletes `key`; `false` when it was not there.
    async fn delete(&self, key: &Path) -> io::Result<bool> {
        // S3's DELETE answers the same whether or not the key existed.
        if !self.exists(key).await {
            return Ok(false);
        }
        match self.store.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(true),
            Err(e) => Err(io_err(e)),
        }
    }

    /// Every key under `base`, as the part after `base/`.
    async fn list_under(&self, base: &Path) -> io::Result<Vec<(String, object_store::ObjectMeta)>> {
        let all: Vec<_> = self
            .store
            .list(Some(base))
            .try_collect()
            .await
            .map_err(io_err)?;
        Ok(all
            .into_iter()
            .filter_map(|m| self.keys.relative(base, &m.location).map(|r| (r, m)))
            .collect())
    }

    async fn mark_repository(&self, name: &str) -> io::Result<()> {
        let marker = self.keys.repo_marker(name);
        if self.exists(&marker).await {
            return Ok(());
        }
        self.put(&marker, Bytes::new()).await
    }

    /// The session's parts in offset order, up to the first gap: what has been committed.
    async fn session_parts(&self, id: &str) -> io::Result<Vec<(u64, object_store::ObjectMeta)>> {
        let mut parts: Vec<_> = self
            .store
            .list(Some(&self.keys.session_parts(id)))
            .try_collect::<Vec<_>>()
            .await
            .map_err(io_err)?
            .into_iter()
            .filter_map(|m| part_offset(&m.location).map(|o| (o, m)))
            .collect();
        parts.sort_by_key(|(o, _)| *o);
        let mut next = 0;
        let mut out = Vec::new();
        for (o, m) in parts {
            if o != next {
                break;
            }
            next += m.size;
            out.push((o, m));
        }
        Ok(out)
    }

    /// Stores the session's bytes as the content of `d`: a server-side copy when the
    /// session is one part, else a multipart upload fed from the parts in constant memory.
    /// Either way the content appears whole, once.
    async fn session_to_content(&self, id: &str, d: &Digest) -> io::Result<()> {
        let dest = self.keys.blob(d);
        if self.exists(&dest).await {
            return Ok(());
        }
        let parts = self.session_parts(id).await?;
        match parts.as_slice() {
            [] => self.put(&dest, Bytes::new()).await,
            [(_, only)] => self.store.copy(&only.location, &dest).await.map_err(io_err),
            _ => {
                let upload = self.store.put_multipart(&dest).await.map_err(io_err)?;
                let mut up = WriteMultipart::new_with_chunk_size(upload, PART);
                let mut bytes = self.read_session(id).await?;
                let fed = async {
                    while let Some(chunk) = bytes.next().await {
                        up.wait_for_capacity(2).await.map_err(io_err)?;
                        up.put(chunk?);
                    }
                    Ok::<(), io::Error>(())
                }
                .await;
                match fed {
                    Ok(()) => up.finish().await.map(|_| ()).map_err(io_err),
                    Err(e) => {
                        let _ = up.abort().await;
                        Err(e)
                    }
                }
            }
        }
    }

    async fn open_key(&self, key: Path) -> io::Result<Option<Blob>> {
        let Some(len) = self.size_of(&key).await? else {
            return Ok(None);
        };
        Ok(Some(Blob {
            len,
            body: Box::new(ObjectBody {
                store: self.store.clone(),
                key,
            }),
        }))
    }
}

/// A blob in the bucket, read by ranged GETs.
struct ObjectBody {
    store: Arc<dyn ObjectStore>,
    key: Path,
}

impl BlobBody for ObjectBody {
    fn range(self: Box<Self>, start: u64, len: u64) -> ByteStream {
        if len == 0 {
            return Box::pin(futures_util::stream::empty());
        }
        let stream = futures_util::stream::once(async move {
            let opts = GetOptions {
                range: Some(GetRange::Bounded(start..start + len)),
                ..Default::default()
            };
            let r = self.store.get_opts(&self.key, opts).await.map_err(io_err)?;
            Ok::<_, io::Error>(r.into_stream().map_err(io_err))
        })
        .try_flatten();
        // object_store's streams are `Send` only; warp wants `Sync` too.
        Box::pin(sync_wrapper::SyncStream::new(stream))
    }
}

fn parse_digest(bytes: &[u8]) -> Option<Digest> {
    String::from_utf8_lossy(bytes).trim().parse().ok()
}

#[async_trait]
impl Store for S3Store {
    fn kind(&self) -> &'static str {
        "s3"
    }

    async fn repo_exists(&self, name: &str) -> bool {
        self.exists(&self.keys.repo_marker(name)).await
    }

    async fn list_repositories(&self) -> io::Result<Vec<String>> {
        let mut names: Vec<String> = self
            .list_under(&self.keys.catalog())
            .await?
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        names.sort();
        Ok(names)
    }

    async fn blob_exists_globally(&self, d: &Digest) -> bool {
        self.exists(&self.keys.blob(d)).await
    }

    async fn blob_linked(&self, name: &str, d: &Digest) -> bool {
        self.exists(&self.keys.link(name, d)).await && self.blob_exists_globally(d).await
    }

    async fn open_blob(&self, name: &str, d: &Digest) -> io::Result<Option<Blob>> {
        if !self.exists(&self.keys.link(name, d)).await {
            return Ok(None);
        }
        self.open_key(self.keys.blob(d)).await
    }

    async fn open_content(&self, d: &Digest) -> io::Result<Option<Blob>> {
        self.open_key(self.keys.blob(d)).await
    }

    async fn link_blob(&self, name: &str, d: &Digest) -> io::Result<()> {
        self.put(&self.keys.link(name, d), d.to_string()).await?;
        self.mark_repository(name).await
    }

    async fn unlink_blob(&self, name: &str, d: &Digest) -> io::Result<bool> {
        self.delete(&self.keys.link(name, d)).await
    }

    async fn put_blob_bytes(&self, d: &Digest, bytes: Vec<u8>) -> io::Result<()> {
        let key = self.keys.blob(d);
        if self.exists(&key).await {
            return Ok(());
        }
        self.put(&key, bytes).await
    }

    async fn read_blob_bytes(&self, d: &Digest) -> io::Result<Option<Vec<u8>>> {
        Ok(self
            .get_optional(&self.keys.blob(d))
            .await?
            .map(|b| b.to_vec()))
    }

    async fn delete_content(&self, d: &Digest) -> io::Result<bool> {
        self.delete(&self.keys.blob(d)).await
    }

    async fn lookup_manifest(&self, name: &str, reference: &Reference) -> io::Result<Lookup> {
        if !self.repo_exists(name).await {
            return Ok(Lookup::NoRepository);
        }
        let digest = match reference {
            Reference::Digest(d) => d.clone(),
            Reference::Tag(t) => match self.resolve_tag(name, t).await? {
                Some(d) => d,
                None => return Ok(Lookup::Unknown),
            },
        };
        let Some(meta) = self.manifest_meta(name, &digest).await? else {
            return Ok(Lookup::Unknown);
        };
        match self.read_blob_bytes(&digest).await? {
            Some(bytes) => Ok(Lookup::Found {
                digest,
                meta,
                bytes,
            }),
            None => Ok(Lookup::Unknown),
        }
    }

    async fn manifest_meta(&self, name: &str, d: &Digest) -> io::Result<Option<ManifestMeta>> {
        let Some(bytes) = self.get_optional(&self.keys.revision(name, d)).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(io::Error::other)
    }

    async fn put_manifest_revision(
        &self,
        name: &str,
        d: &Digest,
        meta: &ManifestMeta,
    ) -> io::Result<()> {
        let bytes = serde_json::to_vec(meta).map_err(io::Error::other)?;
        self.put(&self.keys.revision(name, d), bytes).await?;
        self.mark_repository(name).await
    }

    async fn delete_manifest_revision(&self, name: &str, d: &Digest) -> io::Result<bool> {
        self.delete(&self.keys.revision(name, d)).await
    }

    async fn list_manifest_revisions(&self, name: &str) -> io::Result<Vec<Digest>> {
        Ok(self
            .list_under(&self.keys.revisions(name))
            .await?
            .into_iter()
            .filter_map(|(rel, _)| rel.replacen('/', ":", 1).parse().ok())
            .collect())
    }

    async fn resolve_tag(&self, name: &str, tag: &str) -> io::Result<Option<Digest>> {
        let bytes = self.get_optional(&self.keys.tag(name, tag)).await?;
        Ok(bytes.and_then(|b| parse_digest(&b)))
    }

    async fn set_tag(&self, name: &str, tag: &str, d: &Digest) -> io::Result<()> {
        self.put(&self.keys.tag(name, tag), d.to_string()).await
    }

    async fn delete_tag(&self, name: &str, tag: &str) -> io::Result<bool> {
        self.delete(&self.keys.tag(name, tag)).await
    }

    /// One listing per request: a bucket offers nothing like the filesystem's directory
    /// stamp that would tell a cached list is still right (`storage/tag_cache.rs`).
    async fn repository_tags(&self, name: &str) -> io::Result<Option<Vec<String>>> {
        if !self.repo_exists(name).await {
            return Ok(None);
        }
        let mut tags: Vec<String> = self
            .list_under(&self.keys.tags(name))
            .await?
            .into_iter()
            .map(|(t, _)| t)
            .filter(|t| crate::names::is_valid_tag(t))
            .collect();
        tags.sort();
        Ok(Some(tags))
    }

    async fn untag_digest(&self, name: &str, d: &Digest) -> io::Result<()> {
        for (tag, _) in self.list_under(&self.keys.tags(name)).await? {
            if self.resolve_tag(name, &tag).await?.as_ref() == Some(d) {
                self.delete_tag(name, &tag).await?;
            }
        }
        Ok(())
    }

    async fn add_referrer(
        &self,
        name: &str,
        subject: &Digest,
        referrer: &Digest,
        descriptor: &Value,
    ) -> io::Result<()> {
        let bytes = serde_json::to_vec(descriptor).map_err(io::Error::other)?;
        self.put(&self.keys.referrer(name, subject, referrer), bytes)
            .await
    }

    async fn remove_referrer(
        &self,
        name: &str,
        subject: &Digest,
        referrer: &Digest,
    ) -> io::Result<()> {
        self.delete(&self.keys.referrer(name, subject, referrer))
            .await
            .map(|_| ())
    }

    /// As on the filesystem: sorted by digest, and only manifests the repository holds.
    async fn list_referrers(&self, name: &str, subject: &Digest) -> io::Result<Vec<Value>> {
        let mut entries = self.list_under(&self.keys.referrers(name, subject)).await?;
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = Vec::new();
        for (file, meta) in entries {
            let Some((alg, hex)) = file.split_once('-') else {
                continue;
            };
            let Ok(d) = format!("{alg}:{hex}").parse::<Digest>() else {
                continue;
            };
            if self.manifest_meta(name, &d).await?.is_none() {
                continue;
            }
            if let Some(bytes) = self.get_optional(&meta.location).await?
                && let Ok(v) = serde_json::from_slice::<Value>(&bytes)
            {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// Counting and creating are two requests here: instances sharing the bucket can
    /// together pass the cap by the number of POSTs racing at the limit (the cap is a
    /// guard against exhaustion, not an exact quota).
    async fn create_session_within(&self, repository: &str, max: usize) -> io::Result<Opened> {
        if max > 0 {
            let open = self.list_session_ids().await?.len();
            if open >= max {
                return Ok(Opened::Full(open));
            }
        }
        let id = uuid::Uuid::new_v4().to_string();
        let info = SessionInfo {
            repository: repository.to_string(),
            started_at: now_secs(),
        };
        let bytes = serde_json::to_vec(&info).map_err(io::Error::other)?;
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        self.store
            .put_opts(&self.keys.session_info(&id), bytes.into(), opts)
            .await
            .map_err(io_err)?;
        Ok(Opened::Session(id))
    }

    async fn session_info(&self, id: &str) -> io::Result<Option<SessionInfo>> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Ok(None);
        }
        let bytes = self.get_optional(&self.keys.session_info(id)).await?;
        Ok(bytes.and_then(|b| serde_json::from_slice(&b).ok()))
    }

    async fn session_status(&self, id: &str) -> io::Result<Option<(SessionInfo, u64)>> {
        let Some(info) = self.session_info(id).await? else {
            return Ok(None);
        };
        let len = self
            .session_parts(id)
            .await?
            .iter()
            .map(|(_, m)| m.size)
            .sum();
        Ok(Some((info, len)))
    }

    async fn session_writer(&self, id: &str, offset: u64) -> io::Result<Box<dyn SessionWriter>> {
        // The session is cut to `offset` first: a writer from an earlier offset replaces
        // what follows it (`restart-session`'s writer from 0), and parts past a gap would
        // otherwise be taken for this writer's bytes.
        session::cut(&*self.store, &self.keys, id, offset).await?;
        Ok(Box::new(S3SessionWriter {
            store: self.store.clone(),
            keys: self.keys.clone(),
            id: id.to_string(),
            start: offset,
            small: BytesMut::new(),
            upload: None,
        }))
    }

    async fn read_session(&self, id: &str) -> io::Result<ByteStream> {
        let parts = self.session_parts(id).await?;
        let store = self.store.clone();
        let stream = futures_util::stream::iter(parts)
            .then(move |(_, m)| {
                let store = store.clone();
                async move {
                    let r = store.get(&m.location).await.map_err(io_err)?;
                    Ok::<_, io::Error>(r.into_stream().map_err(io_err))
                }
            })
            .try_flatten();
        Ok(Box::pin(sync_wrapper::SyncStream::new(stream)))
    }

    /// The content is written (or found) first, then linked; the session ends last, info
    /// first so it is unknown at once. A crash in between leaves a session a retried PUT
    /// publishes again, to the same result.
    async fn publish_session(&self, id: &str, name: &str, d: &Digest) -> io::Result<bool> {
        if self.session_info(id).await?.is_none() {
            return Ok(false);
        }
        self.session_to_content(id, d).await?;
        self.link_blob(name, d).await?;
        self.remove_session(id).await?;
        Ok(true)
    }

    async fn copy_session(&self, id: &str, name: &str, d: &Digest) -> io::Result<()> {
        self.session_to_content(id, d).await?;
        self.link_blob(name, d).await
    }

    async fn remove_session(&self, id: &str) -> io::Result<()> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Ok(());
        }
        self.delete(&self.keys.session_info(id)).await?;
        session::cut(&*self.store, &self.keys, id, 0).await
    }

    async fn list_session_ids(&self) -> io::Result<Vec<String>> {
        let listed = self
            .store
            .list_with_delimiter(Some(&self.keys.uploads()))
            .await
            .map_err(io_err)?;
        Ok(listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .filter(|id| uuid::Uuid::parse_str(id).is_ok())
            .collect())
    }

    async fn session_last_activity(&self, id: &str) -> io::Result<Option<SystemTime>> {
        let newest = self
            .store
            .list(Some(&self.keys.session_parts(id)))
            .try_collect::<Vec<_>>()
            .await
            .map_err(io_err)?
            .into_iter()
            .map(|m| m.last_modified)
            .max();
        if let Some(t) = newest {
            return Ok(Some(t.into()));
        }
        match self.store.head(&self.keys.session_info(id)).await {
            Ok(m) => Ok(Some(m.last_modified.into())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(io_err(e)),
        }
    }
}

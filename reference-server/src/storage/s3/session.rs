//! Upload sessions in the bucket, so any instance sharing it can continue a session
//! another started (or one whose instance died).
//!
//! A session is `uploads/<id>/info.json` and its bytes as parts `uploads/<id>/data/<offset>`,
//! one object per accepted request body. The committed length is the sum of the parts that
//! follow each other from offset 0; an object appears only once complete (a single PUT, or a
//! multipart upload's completion), so a crash mid-chunk leaves the length where it was.
//!
//! A body streams in constant memory: up to [`SMALL`] bytes are collected and stored in one
//! PUT; past that a multipart upload starts and [`PART`]-sized pieces go out at most
//! [`IN_FLIGHT`] at a time.

use std::io;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, WriteMultipart};

use super::keys::Keys;
use super::{io_err, part_offset};
use crate::storage::store::SessionWriter;

/// Bodies up to this size are stored with one PUT.
const SMALL: usize = 8 * 1024 * 1024;
/// Multipart piece size (S3's minimum is 5 MiB).
const PART: usize = 8 * 1024 * 1024;
/// Pieces uploading at once: with [`PART`], at most 24 MiB of a body is held.
const IN_FLIGHT: usize = 2;

pub(super) struct S3SessionWriter {
    pub(super) store: Arc<dyn ObjectStore>,
    pub(super) keys: Keys,
    pub(super) id: String,
    pub(super) start: u64,
    pub(super) small: BytesMut,
    pub(super) upload: Option<WriteMultipart>,
}

impl S3SessionWriter {
    fn key(&self) -> Path {
        self.keys.session_part(&self.id, self.start)
    }
}

#[async_trait]
impl SessionWriter for S3SessionWriter {
    async fn write(&mut self, chunk: Bytes) -> io::Result<()> {
        if let Some(up) = &mut self.upload {
            up.wait_for_capacity(IN_FLIGHT).await.map_err(io_err)?;
            up.put(chunk);
            return Ok(());
        }
        self.small.extend_from_slice(&chunk);
        if self.small.len() > SMALL {
            let upload = self
                .store
                .put_multipart(&self.key())
                .await
                .map_err(io_err)?;
            let mut up = WriteMultipart::new_with_chunk_size(upload, PART);
            up.put(std::mem::take(&mut self.small).freeze());
            self.upload = Some(up);
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> io::Result<()> {
        let key = self.key();
        let done = match self.upload.take() {
            Some(up) => up.finish().await.map(|_| ()),
            None if self.small.is_empty() => return Ok(()),
            None => {
                // Create-only: a second instance writing the same offset of the same
                // session loses instead of replacing bytes already acknowledged.
                let opts = PutOptions {
                    mode: PutMode::Create,
                    ..Default::default()
                };
                let body = PutPayload::from_bytes(std::mem::take(&mut self.small).freeze());
                self.store.put_opts(&key, body, opts).await.map(|_| ())
            }
        };
        match done {
            Ok(()) => Ok(()),
            Err(e) => {
                self.abort().await?;
                Err(io_err(e))
            }
        }
    }

    /// Nothing a writer sends is visible before [`SessionWriter::finish`] succeeds, and
    /// [`super::S3Store`]'s `session_writer` cut the session to `start` when it made this
    /// writer: so aborting only abandons the multipart upload, if one began.
    async fn abort(mut self: Box<Self>) -> io::Result<()> {
        if let Some(up) = self.upload.take() {
            let _ = up.abort().await;
        }
        Ok(())
    }
}

/// Deletes every part of the session from `offset` on.
pub(super) async fn cut(
    store: &dyn ObjectStore,
    keys: &Keys,
    id: &str,
    offset: u64,
) -> io::Result<()> {
    let parts: Vec<_> = store
        .list(Some(&keys.session_parts(id)))
        .try_collect()
        .await
        .map_err(io_err)?;
    for p in parts {
        if part_offset(&p.location).is_some_and(|o| o >= offset) {
            match store.delete(&p.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(io_err(e)),
            }
        }
    }
    Ok(())
}

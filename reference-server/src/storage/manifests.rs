//! Manifest revisions (digest → media type) and tags (tag → digest).
//!
//! Manifest bytes live in the global content store; a revision file says "this repository
//! holds this manifest, with this media type". A tag is a file holding a digest, replaced
//! atomically, so a concurrent `PUT` of the same tag leaves one of the two values.

use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Storage, atomic, list_dir, read_optional};
use crate::digest::Digest;

/// What we keep about a manifest besides its bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestMeta {
    #[serde(rename = "mediaType")]
    pub media_type: String,
}

impl Storage {
    fn revision_path(&self, name: &str, d: &Digest) -> PathBuf {
        self.repo_dir(name)
            .join("_manifests/revisions")
            .join(Self::digest_rel(d))
    }

    fn tags_dir(&self, name: &str) -> PathBuf {
        self.repo_dir(name).join("_manifests/tags")
    }

    /// The metadata of a manifest held by `name`, if any.
    pub async fn manifest_meta(&self, name: &str, d: &Digest) -> io::Result<Option<ManifestMeta>> {
        let Some(bytes) = read_optional(&self.revision_path(name, d)).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(io::Error::other)
    }

    /// Records that `name` holds manifest `d` (its bytes must already be committed).
    pub async fn put_manifest_revision(
        &self,
        name: &str,
        d: &Digest,
        meta: &ManifestMeta,
    ) -> io::Result<()> {
        let bytes = serde_json::to_vec(meta).map_err(io::Error::other)?;
        atomic::write_file(self.tmp_dir(), self.revision_path(name, d), bytes).await
    }

    pub async fn delete_manifest_revision(&self, name: &str, d: &Digest) -> io::Result<bool> {
        atomic::remove_file(self.revision_path(name, d)).await
    }

    /// Every manifest digest held by `name` (used by gc).
    pub async fn list_manifest_revisions(&self, name: &str) -> io::Result<Vec<Digest>> {
        let base = self.repo_dir(name).join("_manifests/revisions");
        let mut out = Vec::new();
        for alg in list_dir(&base).await? {
            for hex in list_dir(&base.join(&alg)).await? {
                if let Ok(d) = format!("{alg}:{hex}").parse() {
                    out.push(d);
                }
            }
        }
        Ok(out)
    }

    pub async fn resolve_tag(&self, name: &str, tag: &str) -> io::Result<Option<Digest>> {
        let Some(bytes) = read_optional(&self.tags_dir(name).join(tag)).await? else {
            return Ok(None);
        };
        let s = String::from_utf8_lossy(&bytes);
        Ok(s.trim().parse().ok())
    }

    pub async fn set_tag(&self, name: &str, tag: &str, d: &Digest) -> io::Result<()> {
        atomic::write_file(
            self.tmp_dir(),
            self.tags_dir(name).join(tag),
            d.to_string().into_bytes(),
        )
        .await
    }

    pub async fn delete_tag(&self, name: &str, tag: &str) -> io::Result<bool> {
        atomic::remove_file(self.tags_dir(name).join(tag)).await
    }

    /// All tags of `name`, in byte (ASCII) order, which both OCI main and Docker allow
    /// (DISC-04, FUT-07).
    pub async fn list_tags(&self, name: &str) -> io::Result<Vec<String>> {
        let mut tags: Vec<String> = list_dir(&self.tags_dir(name))
            .await?
            .into_iter()
            .filter(|t| crate::names::is_valid_tag(t))
            .collect();
        tags.sort();
        Ok(tags)
    }

    /// Removes every tag of `name` that points at `d`, so they 404 and leave the tag list
    /// (manifest delete, MGMT-03, DISC-15).
    pub async fn untag_digest(&self, name: &str, d: &Digest) -> io::Result<()> {
        for tag in self.list_tags(name).await? {
            if self.resolve_tag(name, &tag).await?.as_ref() == Some(d) {
                self.delete_tag(name, &tag).await?;
            }
        }
        Ok(())
    }
}

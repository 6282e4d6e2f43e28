//! Manifest revisions (digest → media type) and tags (tag → digest).
//!
//! Manifest bytes live in the global content store; a revision file says "this repository
//! holds this manifest, with this media type". A tag is a file holding a digest, replaced
//! atomically, so a concurrent `PUT` of the same tag leaves one of the two values.

use std::io;
use std::path::PathBuf;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::inline::{self, Mode};
use super::tag_cache::Stamp;
use super::{Storage, atomic, list_dir, list_dir_sync, read_optional};
use crate::digest::Digest;

/// A manifest reference from the path: a tag or a digest (NAME-06).
#[derive(Debug, Clone)]
pub enum Reference {
    Tag(String),
    Digest(Digest),
}

/// What a manifest GET or HEAD finds ([`Storage::lookup_manifest`]).
#[derive(Debug)]
pub enum Lookup {
    /// The repository does not exist (404 `NAME_UNKNOWN`).
    NoRepository,
    /// The repository exists; the tag or digest names no manifest held there.
    Unknown,
    /// The manifest: its digest, the media type it was pushed with, its exact bytes.
    Found {
        digest: Digest,
        meta: ManifestMeta,
        bytes: Vec<u8>,
    },
}

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

    /// Everything a manifest GET needs: the repository, the tag's digest, the revision's
    /// media type and the bytes. Each is a small file nearly always in the page cache, so
    /// this is an [`inline`] read: on the runtime thread when the caches hold it all, else
    /// one blocking trip (one `tokio::fs` call at a time cost four thread handoffs a GET).
    pub async fn lookup_manifest(&self, name: &str, reference: &Reference) -> io::Result<Lookup> {
        let repo = self.repo_dir(name);
        let tags = self.tags_dir(name);
        let storage = self.clone();
        let (name, reference) = (name.to_string(), reference.clone());
        inline::run(move |mode| {
            if !super::repo_exists_with(&repo, mode)? {
                return Ok(Lookup::NoRepository);
            }
            let digest = match &reference {
                Reference::Digest(d) => d.clone(),
                Reference::Tag(t) => match inline::read_optional(&tags.join(t), mode)? {
                    Some(bytes) => match parse_tag(&bytes) {
                        Some(d) => d,
                        None => return Ok(Lookup::Unknown),
                    },
                    None => return Ok(Lookup::Unknown),
                },
            };
            let revision = storage.revision_path(&name, &digest);
            let Some(meta) = inline::read_optional(&revision, mode)? else {
                return Ok(Lookup::Unknown);
            };
            let meta: ManifestMeta = serde_json::from_slice(&meta).map_err(io::Error::other)?;
            match inline::read_optional(&storage.blob_path(&digest), mode)? {
                Some(bytes) => Ok(Lookup::Found {
                    digest,
                    meta,
                    bytes,
                }),
                None => Ok(Lookup::Unknown),
            }
        })
        .await
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
        Ok(parse_tag(&bytes))
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
        let dir = self.tags_dir(name);
        atomic::blocking(move || sorted_tags(&dir)).await
    }

    /// The tags of `name` as [`Storage::list_tags`] has them, or `None` when the
    /// repository does not exist. A repository listed before and unchanged since is
    /// answered from the [`tag_cache`](super::tag_cache) after one `fstat` of its tags
    /// directory, inline when the caches hold the directory; otherwise one blocking trip.
    pub async fn repository_tags(&self, name: &str) -> io::Result<Option<Vec<String>>> {
        let (repo, dir) = (self.repo_dir(name), self.tags_dir(name));
        let cache = self.tag_cache.clone();
        inline::run(move |mode| {
            // The stamp first: a change while the directory is listed makes the next one differ.
            let stamp = match inline::open_dir(&dir, mode)? {
                Some(d) => Some(Stamp::of(&d.metadata()?)),
                None => None,
            };
            let now = SystemTime::now();
            if let Some(tags) = stamp.and_then(|s| cache.get(&dir, s)) {
                return Ok(Some(tags.to_vec()));
            }
            if mode == Mode::Cached {
                // Listing a directory has no "caches only" form.
                return Err(io::ErrorKind::WouldBlock.into());
            }
            if !super::repo_exists_with(&repo, mode)? {
                return Ok(None);
            }
            let tags = sorted_tags(&dir)?;
            if let Some(s) = stamp {
                cache.put(&dir, s, now, &tags);
            }
            Ok(Some(tags))
        })
        .await
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

/// A tag file's digest; `None` when it holds none (a torn or foreign file reads as no tag).
fn parse_tag(bytes: &[u8]) -> Option<Digest> {
    String::from_utf8_lossy(bytes).trim().parse().ok()
}

fn sorted_tags(dir: &std::path::Path) -> io::Result<Vec<String>> {
    let mut tags: Vec<String> = list_dir_sync(dir)?
        .into_iter()
        .filter(|t| crate::names::is_valid_tag(t))
        .collect();
    tags.sort();
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::digest::Algorithm;

    fn found_digest(l: Lookup) -> Option<(Digest, String, Vec<u8>)> {
        match l {
            Lookup::Found {
                digest,
                meta,
                bytes,
            } => Some((digest, meta.media_type, bytes)),
            _ => None,
        }
    }

    /// `lookup_manifest` tells an unknown repository from an unknown reference, and finds a
    /// manifest by tag and by digest only in the repository holding it.
    #[tokio::test]
    async fn lookup_manifest_by_tag_and_digest() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::open(dir.path()).unwrap();
        let bytes = br#"{"schemaVersion":2}"#.to_vec();
        let d = Algorithm::Sha256.digest_of(&bytes);
        let tag = Reference::Tag("v1".into());
        let by_digest = Reference::Digest(d.clone());
        assert!(matches!(
            s.lookup_manifest("a/b", &tag).await.unwrap(),
            Lookup::NoRepository
        ));

        s.put_blob_bytes(&d, bytes.clone()).await.unwrap();
        let meta = ManifestMeta {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        };
        s.put_manifest_revision("a/b", &d, &meta).await.unwrap();
        assert!(matches!(
            s.lookup_manifest("a/b", &tag).await.unwrap(),
            Lookup::Unknown
        ));
        let (got, media_type, body) =
            found_digest(s.lookup_manifest("a/b", &by_digest).await.unwrap()).unwrap();
        assert_eq!(
            (got, media_type.as_str(), body),
            (d.clone(), meta.media_type.as_str(), bytes.clone())
        );

        s.set_tag("a/b", "v1", &d).await.unwrap();
        let (got, _, body) = found_digest(s.lookup_manifest("a/b", &tag).await.unwrap()).unwrap();
        assert_eq!((got, body), (d.clone(), bytes));
        assert_eq!(
            s.repository_tags("a/b").await.unwrap(),
            Some(vec!["v1".to_string()])
        );
        assert_eq!(s.repository_tags("a/c").await.unwrap(), None);

        // Another repository with its own manifest does not see this one.
        let other = Algorithm::Sha256.digest_of(b"{}");
        s.put_blob_bytes(&other, b"{}".to_vec()).await.unwrap();
        s.put_manifest_revision("a/c", &other, &meta).await.unwrap();
        assert!(matches!(
            s.lookup_manifest("a/c", &by_digest).await.unwrap(),
            Lookup::Unknown
        ));
        assert_eq!(s.repository_tags("a/c").await.unwrap(), Some(vec![]));
    }

    /// Two servers sharing one root (two `Storage` handles, each with its own tag cache):
    /// once A keeps a tag list, tags added and deleted through B show in A's next list.
    /// (Waits for the tags directory to settle, as a cached list needs; see `tag_cache`.)
    #[tokio::test]
    async fn tag_lists_stay_coherent_across_servers_sharing_a_root() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (
            Storage::open(dir.path()).unwrap(),
            Storage::open(dir.path()).unwrap(),
        );
        let bytes = br#"{"schemaVersion":2}"#.to_vec();
        let d = Algorithm::Sha256.digest_of(&bytes);
        a.put_blob_bytes(&d, bytes).await.unwrap();
        let meta = ManifestMeta {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        };
        a.put_manifest_revision("r", &d, &meta).await.unwrap();
        a.set_tag("r", "v1", &d).await.unwrap();
        let tags = |t: &[&str]| Some(t.iter().map(|s| s.to_string()).collect::<Vec<_>>());

        tokio::time::sleep(crate::storage::tag_cache::SETTLED + Duration::from_millis(100)).await;
        assert_eq!(a.repository_tags("r").await.unwrap(), tags(&["v1"]));
        assert_eq!(a.repository_tags("r").await.unwrap(), tags(&["v1"]));
        assert!(
            a.tag_cache.hits() >= 1,
            "the second list came from the cache"
        );

        b.set_tag("r", "v2", &d).await.unwrap();
        assert_eq!(a.repository_tags("r").await.unwrap(), tags(&["v1", "v2"]));
        b.delete_tag("r", "v1").await.unwrap();
        assert_eq!(a.repository_tags("r").await.unwrap(), tags(&["v2"]));
    }
}

//! The referrers index: for each subject digest, one descriptor file per referrer.
//!
//! Written when a manifest with `subject` is pushed and removed when it is deleted, so
//! `GET /referrers/<digest>` is a directory listing rather than a scan of all manifests.

use std::io;
use std::path::PathBuf;

use serde_json::Value;

use super::{Storage, atomic, list_dir, read_optional};
use crate::digest::Digest;

impl Storage {
    fn referrers_dir(&self, name: &str, subject: &Digest) -> PathBuf {
        self.repo_dir(name)
            .join("_referrers")
            .join(Self::digest_rel(subject))
    }

    fn referrer_file(referrer: &Digest) -> String {
        format!("{}-{}", referrer.algorithm().as_str(), referrer.hex())
    }

    pub async fn add_referrer(
        &self,
        name: &str,
        subject: &Digest,
        referrer: &Digest,
        descriptor: &Value,
    ) -> io::Result<()> {
        let path = self
            .referrers_dir(name, subject)
            .join(Self::referrer_file(referrer));
        let bytes = serde_json::to_vec(descriptor).map_err(io::Error::other)?;
        atomic::write_file(self.tmp_dir(), path, bytes).await
    }

    pub async fn remove_referrer(
        &self,
        name: &str,
        subject: &Digest,
        referrer: &Digest,
    ) -> io::Result<()> {
        let path = self
            .referrers_dir(name, subject)
            .join(Self::referrer_file(referrer));
        atomic::remove_file(path).await.map(|_| ())
    }

    /// Descriptors of the manifests in `name` whose subject is `subject`, sorted by digest.
    /// Entries whose manifest is gone (a crash between the two writes) are skipped, so the
    /// list only names manifests the repository holds (DISC-24, DISC-32).
    pub async fn list_referrers(&self, name: &str, subject: &Digest) -> io::Result<Vec<Value>> {
        let dir = self.referrers_dir(name, subject);
        let mut files = list_dir(&dir).await?;
        files.sort();
        let mut out = Vec::new();
        for f in files {
            let Some((alg, hex)) = f.split_once('-') else {
                continue;
            };
            let Ok(d) = format!("{alg}:{hex}").parse::<Digest>() else {
                continue;
            };
            if self.manifest_meta(name, &d).await?.is_none() {
                continue;
            }
            if let Some(bytes) = read_optional(&dir.join(&f)).await?
                && let Ok(v) = serde_json::from_slice::<Value>(&bytes)
            {
                out.push(v);
            }
        }
        Ok(out)
    }
}

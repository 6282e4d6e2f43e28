//! Where each thing lives in the bucket, under the store's prefix. The layout mirrors the
//! filesystem's (`storage/mod.rs`), so the two read alike:
//!
//! ```text
//! blobs/<alg>/<hex>                                           content (blobs and manifests)
//! _catalog/<name>                                             "this repository exists"
//! repositories/<name>/_layers/<alg>/<hex>                     blob links
//! repositories/<name>/_manifests/revisions/<alg>/<hex>        manifest metadata
//! repositories/<name>/_manifests/tags/<tag>                   tag -> digest
//! repositories/<name>/_referrers/<alg>/<subject hex>/<alg>-<hex>   descriptor JSON
//! uploads/<uuid>/info.json                                    an open session
//! uploads/<uuid>/data/<offset, 20 digits>                     its bytes from that offset
//! ```
//!
//! A bucket has no directories, so "the repository exists" (NAME-11) cannot be the
//! presence of `_layers/`, which vanishes with the last link: it is a marker object under
//! `_catalog/`, written with the first link or manifest and listed by the catalog in one
//! prefix listing. Repository components never start with `_` (`crate::names`), so no
//! repository's keys run into another's.

use object_store::path::Path;

use crate::digest::Digest;

/// Key builder for one store prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// `prefix` without leading or trailing slashes; empty for the bucket's root.
    pub fn new(prefix: &str) -> Self {
        Keys {
            prefix: prefix.trim_matches('/').to_string(),
        }
    }

    fn at(&self, rest: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(rest)
        } else {
            Path::from(format!("{}/{rest}", self.prefix))
        }
    }

    /// The part of `key` after `base/`, if `key` is under `base`.
    pub fn relative(&self, base: &Path, key: &Path) -> Option<String> {
        key.prefix_match(base).map(|parts| {
            parts
                .map(|p| p.as_ref().to_string())
                .collect::<Vec<_>>()
                .join("/")
        })
    }

    fn digest_rel(d: &Digest) -> String {
        format!("{}/{}", d.algorithm().as_str(), d.hex())
    }

    pub fn blob(&self, d: &Digest) -> Path {
        self.at(&format!("blobs/{}", Self::digest_rel(d)))
    }

    pub fn blobs(&self) -> Path {
        self.at("blobs")
    }

    pub fn catalog(&self) -> Path {
        self.at("_catalog")
    }

    pub fn repo_marker(&self, name: &str) -> Path {
        self.at(&format!("_catalog/{name}"))
    }

    fn repo(&self, name: &str, rest: &str) -> Path {
        self.at(&format!("repositories/{name}/{rest}"))
    }

    pub fn link(&self, name: &str, d: &Digest) -> Path {
        self.repo(name, &format!("_layers/{}", Self::digest_rel(d)))
    }

    pub fn revision(&self, name: &str, d: &Digest) -> Path {
        self.repo(
            name,
            &format!("_manifests/revisions/{}", Self::digest_rel(d)),
        )
    }

    pub fn revisions(&self, name: &str) -> Path {
        self.repo(name, "_manifests/revisions")
    }

    pub fn tag(&self, name: &str, tag: &str) -> Path {
        self.repo(name, &format!("_manifests/tags/{tag}"))
    }

    pub fn tags(&self, name: &str) -> Path {
        self.repo(name, "_manifests/tags")
    }

    pub fn referrers(&self, name: &str, subject: &Digest) -> Path {
        self.repo(name, &format!("_referrers/{}", Self::digest_rel(subject)))
    }

    pub fn referrer(&self, name: &str, subject: &Digest, referrer: &Digest) -> Path {
        self.repo(
            name,
            &format!(
                "_referrers/{}/{}-{}",
                Self::digest_rel(subject),
                referrer.algorithm().as_str(),
                referrer.hex()
            ),
        )
    }

    pub fn uploads(&self) -> Path {
        self.at("uploads")
    }

    pub fn session_info(&self, id: &str) -> Path {
        self.at(&format!("uploads/{id}/info.json"))
    }

    pub fn session_parts(&self, id: &str) -> Path {
        self.at(&format!("uploads/{id}/data"))
    }

    /// The part holding a session's bytes from `offset`: zero-padded, so parts list in
    /// offset order.
    pub fn session_part(&self, id: &str, offset: u64) -> Path {
        self.at(&format!("uploads/{id}/data/{offset:020}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let d: Digest = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
        let k = Keys::new("/reg/");
        assert_eq!(k.blob(&d).as_ref(), format!("reg/blobs/sha256/{}", d.hex()));
        assert_eq!(k.repo_marker("a/b").as_ref(), "reg/_catalog/a/b");
        assert_eq!(
            k.tag("a/b", "v1").as_ref(),
            "reg/repositories/a/b/_manifests/tags/v1"
        );
        assert_eq!(
            k.session_part("u", 42).as_ref(),
            "reg/uploads/u/data/00000000000000000042"
        );
        assert_eq!(
            k.relative(&k.catalog(), &k.repo_marker("a/b")).as_deref(),
            Some("a/b")
        );
        assert_eq!(
            Keys::new("").blob(&d).as_ref(),
            format!("blobs/sha256/{}", d.hex())
        );
    }
}

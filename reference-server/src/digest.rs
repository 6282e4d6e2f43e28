//! Digests: strict OCI parsing (DIG-01, DIG-02, DIG-03, DIG-06) and streaming hashers
//! (DIG-04, DIG-05, DIG-07).
//!
//! Only `sha256` and `sha512` are supported. A digest that fits the general grammar but
//! names another algorithm is reported as unsupported (FUT-03), which the handlers turn
//! into `400 DIGEST_INVALID` with a message saying why.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;
use sha2::{Digest as _, Sha256, Sha512};

/// The general digest grammar from the image spec, algorithm lowercase (DIG-01).
static GRAMMAR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$").expect("static regex")
});

/// A supported hash algorithm: sha256, which every registry must verify (DIG-04), and
/// sha512, which it may (DIG-05).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// The exact length of the encoded part: 64 for sha256 (DIG-02), 128 for sha512
    /// (DIG-03), lowercase hex only.
    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    /// Digest of a complete in-memory buffer (manifests, small data), over exactly these
    /// bytes, never a canonical form (DIG-07).
    pub fn digest_of(self, bytes: &[u8]) -> Digest {
        let mut h = Hasher::new(self);
        h.update(bytes);
        h.finish()
    }
}

/// A parsed, validated digest such as `sha256:<64 lowercase hex>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

/// Why a digest string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("invalid digest {0:?}: expected <algorithm>:<lowercase hex>")]
    Malformed(String),
    #[error("unsupported digest algorithm in {0:?}: this registry supports sha256 and sha512")]
    Unsupported(String),
}

impl Digest {
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// Checks only the general grammar (any algorithm). Used for descriptors inside
    /// manifests, where an unknown algorithm must not make the manifest invalid (DIG-06).
    pub fn is_well_formed(s: &str) -> bool {
        if !GRAMMAR.is_match(s) {
            return false;
        }
        match s.parse::<Digest>() {
            Ok(_) => true,
            Err(DigestError::Unsupported(_)) => true,
            Err(DigestError::Malformed(_)) => false,
        }
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !GRAMMAR.is_match(s) {
            return Err(DigestError::Malformed(s.to_string()));
        }
        let (alg, hex) = s
            .split_once(':')
            .ok_or_else(|| DigestError::Malformed(s.into()))?;
        let algorithm =
            Algorithm::from_name(alg).ok_or_else(|| DigestError::Unsupported(s.into()))?;
        let lower_hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
        if hex.len() != algorithm.hex_len() || !hex.chars().all(lower_hex) {
            return Err(DigestError::Malformed(s.to_string()));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.as_str(), self.hex)
    }
}

/// An incremental hasher for one algorithm; `Clone` so a chunk can be rolled back. Fed the
/// raw bytes as they arrive, so a blob's digest is over exactly what was sent (DIG-07).
#[derive(Clone)]
pub enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    pub fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    /// The digest so far, without consuming the state.
    pub fn finish(&self) -> Digest {
        match self {
            Hasher::Sha256(h) => Digest {
                algorithm: Algorithm::Sha256,
                hex: hex::encode(h.clone().finalize()),
            },
            Hasher::Sha512(h) => Digest {
                algorithm: Algorithm::Sha512,
                hex: hex::encode(h.clone().finalize()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parse() {
        assert_eq!(EMPTY.parse::<Digest>().unwrap().to_string(), EMPTY);
        assert_eq!(Algorithm::Sha256.digest_of(b"").to_string(), EMPTY);
        assert!(matches!(
            EMPTY.to_uppercase().parse::<Digest>(),
            Err(DigestError::Malformed(_))
        ));
        assert!(matches!(
            "sha256:abc".parse::<Digest>(),
            Err(DigestError::Malformed(_))
        ));
        assert!(matches!(
            "md5:abc".parse::<Digest>(),
            Err(DigestError::Unsupported(_))
        ));
        assert!(matches!(
            "latest".parse::<Digest>(),
            Err(DigestError::Malformed(_))
        ));
        assert!(Digest::is_well_formed("foo+bar:AbC="));
        assert!(!Digest::is_well_formed("sha256:ABC"));
        let d512 = Algorithm::Sha512.digest_of(b"x");
        assert_eq!(d512.to_string().parse::<Digest>().unwrap(), d512);
    }
}

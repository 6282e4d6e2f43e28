//! ES256 JSON Web Tokens, hand-rolled over aws-lc-rs's `signature` API.
//!
//! Why not the jsonwebtoken crate: the registry needs exactly one algorithm, must refuse
//! everything else (`alg: none`, HS*) by construction, writes an `x5c` header, and its
//! defect switchboard needs to accept deliberately broken tokens (`alg: none`, expired).
//! A compact JWT is three base64url segments; with aws-lc-rs already in the tree (rustls)
//! the whole thing is a few dozen lines, and one crypto library stays in the build.
//!
//! Signatures are the fixed-width `r‖s` form JOSE requires for ES256 (RFC 7518 §3.4).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde_json::{Value, json};

/// Why a token was refused. The text never contains the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("malformed token")]
    Malformed,
    #[error("algorithm {0:?} not accepted (ES256 only)")]
    Algorithm(String),
    #[error("bad signature")]
    Signature,
}

/// A P-256 signing key.
pub struct Es256Key {
    pair: EcdsaKeyPair,
}

impl Es256Key {
    /// From a PKCS#8 DER document.
    pub fn from_pkcs8(der: &[u8]) -> Result<Es256Key, String> {
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map(|pair| Es256Key { pair })
            .map_err(|_| "not a PKCS#8 P-256 (prime256v1) private key".to_string())
    }

    /// The uncompressed public point (65 bytes, `04‖x‖y`).
    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// A compact JWT with header `{"alg":"ES256","typ":typ, ...extra}` over `claims`.
    pub fn sign(&self, typ: &str, extra_header: Value, claims: &Value) -> String {
        let mut header = json!({"alg": "ES256", "typ": typ});
        if let (Some(h), Some(extra)) = (header.as_object_mut(), extra_header.as_object()) {
            for (k, v) in extra {
                h.insert(k.clone(), v.clone());
            }
        }
        let signing_input = format!(
            "{}.{}",
            B64URL.encode(header.to_string()),
            B64URL.encode(claims.to_string())
        );
        let sig = self
            .pair
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .expect("ECDSA signing with a valid key does not fail");
        format!("{signing_input}.{}", B64URL.encode(sig.as_ref()))
    }
}

/// A decoded, verified token: its header and claims.
#[derive(Debug, Clone)]
pub struct Verified {
    pub header: Value,
    pub claims: Value,
}

/// Checks the structure, that `alg` is ES256 and the signature against `public_key`, and
/// returns header and claims (AUTH-22). With `accept_unsigned` (a defect only), a token
/// with `alg: none` is returned unverified.
pub fn verify(token: &str, public_key: &[u8], accept_unsigned: bool) -> Result<Verified, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let decode = |seg: &str| -> Result<Value, JwtError> {
        let bytes = B64URL.decode(seg).map_err(|_| JwtError::Malformed)?;
        serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
    };
    let header = decode(h)?;
    let claims = decode(c)?;
    if !header.is_object() || !claims.is_object() {
        return Err(JwtError::Malformed);
    }
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if accept_unsigned && alg.eq_ignore_ascii_case("none") {
        return Ok(Verified { header, claims });
    }
    if alg != "ES256" {
        return Err(JwtError::Algorithm(alg.to_string()));
    }
    let sig = B64URL.decode(s).map_err(|_| JwtError::Malformed)?;
    let signing_input = &token[..h.len() + 1 + c.len()];
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public_key)
        .verify(signing_input.as_bytes(), &sig)
        .map_err(|_| JwtError::Signature)?;
    Ok(Verified { header, claims })
}

/// Builds an unsigned token (`alg: none`): for tests proving it is refused.
pub fn unsigned(claims: &Value) -> String {
    format!(
        "{}.{}.",
        B64URL.encode(json!({"alg": "none", "typ": "JWT"}).to_string()),
        B64URL.encode(claims.to_string())
    )
}

//! Reading a token as a JWT, for `alter_token` (which alters one) and `wait` (which waits
//! until one expires).
//!
//! A JWT here is three base64url parts whose first decodes to a JSON object with `alg`.
//! Opaque tokens are allowed by the token spec, so what needs a JWT skips the scenario on
//! any other token rather than failing it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// Why a check that needs a JWT skips on an opaque token.
pub const NOT_JWT: &str = "the registry's tokens are not JWTs (opaque tokens are allowed)";

/// A JWT's claims, `None` for an opaque token.
pub fn jwt_claims(token: &str) -> Option<Map<String, Value>> {
    let (_, p, _) = split_jwt(token)?;
    decode_object(p)
}

/// `(header, payload, signature)` when the token is a JWT.
pub(super) fn split_jwt(token: &str) -> Option<(&str, &str, &str)> {
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header = decode_object(h)?;
    header.get("alg")?;
    Some((h, p, s))
}

/// A base64url part that decodes to a JSON object.
pub(super) fn decode_object(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

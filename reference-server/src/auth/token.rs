//! [`TokenConfig`]: the token issuer's key and certificate, and issuing and verifying
//! access and refresh tokens (AUTH-11, AUTH-20..AUTH-22, AUTH-26).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64STD;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};

use super::AuthError;
use super::jwt::{self, Es256Key};
use super::scope::Access;

/// Clock skew tolerated on `exp` and `nbf`, as distribution does (AUTH-22).
pub const LEEWAY_SECS: u64 = 60;
/// The shortest token lifetime: a token should never live less than 60 s (AUTH-11).
pub const MIN_TTL: Duration = Duration::from_secs(60);
/// How long a refresh token lives.
pub const REFRESH_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Header `typ` of refresh tokens, so an access token is never taken for one and back.
pub const REFRESH_TYP: &str = "refresh+jwt";

/// The token issuer and verifier settings (`--auth token`).
#[derive(Clone)]
pub struct TokenConfig {
    /// The audience: `aud` of issued tokens and the `service` of challenges (AUTH-20).
    pub service: String,
    /// `iss` of issued tokens, required on verification.
    pub issuer: String,
    /// Access token lifetime, at least [`MIN_TTL`] (AUTH-11).
    pub ttl: Duration,
    /// External base URL (`https://registry.example`) when behind a proxy; the realm is
    /// then `<public_url>/token` instead of being derived from the request's Host.
    pub public_url: Option<String>,
    key: Arc<Es256Key>,
    cert_der: Arc<Vec<u8>>,
}

/// Never prints key material.
impl fmt::Debug for TokenConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenConfig")
            .field("service", &self.service)
            .field("issuer", &self.issuer)
            .field("ttl", &self.ttl)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// Why a Bearer token was refused: all of them are `error="invalid_token"` (AUTH-22).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    #[error("{0}")]
    Jwt(#[from] jwt::JwtError),
    #[error("wrong token type")]
    WrongType,
    #[error("issuer not trusted")]
    Issuer,
    #[error("token is for another service")]
    Audience,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("malformed claims")]
    Claims,
}

/// Which claim checks to skip: the defect switchboard's hook (`expired-token-accepted`,
/// `alg-none-accepted`); both `false` normally.
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyOptions {
    pub skip_expiry: bool,
    pub accept_unsigned: bool,
}

/// A verified access token's subject and grants.
#[derive(Debug, Clone)]
pub struct TokenClaims {
    /// `sub`: empty for an anonymous token (AUTH-21).
    pub subject: String,
    pub access: Vec<Access>,
}

/// An issued access token with the values the token response reports.
#[derive(Debug, Clone)]
pub struct Issued {
    pub token: String,
    pub issued_at: u64,
    pub expires_in: u64,
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl TokenConfig {
    /// From a PKCS#8 PEM P-256 key and the PEM certificate carrying its public key (the
    /// `x5c` leaf; distribution's `rootcertbundle` must trust it). Service and issuer
    /// default to `reference-registry`, the lifetime to 300 s.
    pub fn from_pem(key_pem: &str, cert_pem: &str) -> Result<TokenConfig, AuthError> {
        let key = match PrivateKeyDer::from_pem_slice(key_pem.as_bytes()) {
            Ok(PrivateKeyDer::Pkcs8(k)) => Es256Key::from_pkcs8(k.secret_pkcs8_der())
                .map_err(|e| AuthError::new(format!("token key: {e}")))?,
            Ok(_) => {
                return Err(AuthError::new(
                    "token key: expected a PKCS#8 key (-----BEGIN PRIVATE KEY-----)",
                ));
            }
            Err(_) => return Err(AuthError::new("token key: no PEM private key found")),
        };
        let cert = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .next()
            .and_then(Result::ok)
            .ok_or_else(|| AuthError::new("token certificate: no PEM CERTIFICATE found"))?;
        // The SubjectPublicKeyInfo holds the uncompressed point verbatim; finding it in the
        // DER is a cheap, sufficient check that certificate and key belong together.
        let public = key.public_key();
        if !cert.windows(public.len()).any(|w| w == public) {
            return Err(AuthError::new(
                "token certificate does not carry the token key's public key",
            ));
        }
        Ok(TokenConfig {
            service: "reference-registry".into(),
            issuer: "reference-registry".into(),
            ttl: Duration::from_secs(300),
            public_url: None,
            key: Arc::new(key),
            cert_der: Arc::new(cert.to_vec()),
        })
    }

    /// Reads [`TokenConfig::from_pem`]'s inputs from files.
    pub fn from_files(
        key: &std::path::Path,
        cert: &std::path::Path,
    ) -> Result<TokenConfig, AuthError> {
        let read = |p: &std::path::Path| {
            std::fs::read_to_string(p)
                .map_err(|e| AuthError::new(format!("cannot read {}: {e}", p.display())))
        };
        TokenConfig::from_pem(&read(key)?, &read(cert)?)
    }

    /// The lifetime actually used: never below [`MIN_TTL`] (AUTH-11).
    pub fn effective_ttl(&self) -> Duration {
        self.ttl.max(MIN_TTL)
    }

    /// Signs arbitrary claims with the token key and the usual header (`typ: JWT`, `x5c`).
    /// For tests and tools that need tokens the issuer would never produce (expired, for
    /// another audience); the registry itself only issues through [`TokenConfig::issue`].
    pub fn sign_claims(&self, claims: &Value) -> String {
        self.key.sign("JWT", self.x5c_header(), claims)
    }

    fn x5c_header(&self) -> Value {
        json!({ "x5c": [B64STD.encode(self.cert_der.as_slice())] })
    }

    /// An access token for `subject` (empty = anonymous) granting `access` (AUTH-21):
    /// ES256, `typ: JWT`, `x5c` = the certificate, claims `iss`, `sub`, `aud` (a string:
    /// distribution refuses an array), `exp`, `nbf`, `iat`, `jti`, `access`.
    pub fn issue(&self, subject: &str, access: &[Access]) -> Issued {
        let iat = now();
        let ttl = self.effective_ttl().as_secs();
        let claims = json!({
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": iat + ttl,
            "nbf": iat,
            "iat": iat,
            "jti": uuid::Uuid::new_v4().to_string(),
            "access": access,
        });
        Issued {
            token: self.sign_claims(&claims),
            issued_at: iat,
            expires_in: ttl,
        }
    }

    /// A refresh token bound to `subject` and this service (AUTH-26): signed like an access
    /// token, so it needs no server state, but with header `typ` [`REFRESH_TYP`] and no
    /// `access`, so neither kind is accepted in place of the other.
    pub fn issue_refresh(&self, subject: &str) -> String {
        let iat = now();
        let claims = json!({
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": iat + REFRESH_TTL.as_secs(),
            "nbf": iat,
            "iat": iat,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        self.key.sign(REFRESH_TYP, self.x5c_header(), &claims)
    }

    /// Verifies an access token (AUTH-20, AUTH-22): ES256 signature by our key, `typ` not
    /// a refresh token, `iss` = issuer, `aud` = service (a string), `exp`/`nbf` with
    /// [`LEEWAY_SECS`], and a well-formed `access` list.
    pub fn verify_access(
        &self,
        token: &str,
        opts: VerifyOptions,
    ) -> Result<TokenClaims, TokenRejection> {
        let v = jwt::verify(token, self.key.public_key(), opts.accept_unsigned)?;
        if v.header.get("typ").and_then(Value::as_str) == Some(REFRESH_TYP) {
            return Err(TokenRejection::WrongType);
        }
        let subject = self.check_claims(&v.claims, opts)?;
        let access = match v.claims.get("access") {
            None | Some(Value::Null) => Vec::new(),
            Some(a) => serde_json::from_value(a.clone()).map_err(|_| TokenRejection::Claims)?,
        };
        Ok(TokenClaims { subject, access })
    }

    /// Verifies a refresh token and returns its subject (AUTH-26).
    pub fn verify_refresh(&self, token: &str) -> Result<String, TokenRejection> {
        let v = jwt::verify(token, self.key.public_key(), false)?;
        if v.header.get("typ").and_then(Value::as_str) != Some(REFRESH_TYP) {
            return Err(TokenRejection::WrongType);
        }
        self.check_claims(&v.claims, VerifyOptions::default())
    }

    fn check_claims(&self, c: &Value, opts: VerifyOptions) -> Result<String, TokenRejection> {
        if c.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(TokenRejection::Issuer);
        }
        if c.get("aud").and_then(Value::as_str) != Some(self.service.as_str()) {
            return Err(TokenRejection::Audience);
        }
        let t = now();
        if !opts.skip_expiry {
            // A token without exp counts as expired, as in distribution.
            let exp = c.get("exp").and_then(Value::as_u64).unwrap_or(0);
            if exp + LEEWAY_SECS <= t {
                return Err(TokenRejection::Expired);
            }
        }
        if let Some(nbf) = c.get("nbf").and_then(Value::as_u64)
            && nbf > t + LEEWAY_SECS
        {
            return Err(TokenRejection::NotYetValid);
        }
        Ok(c.get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string())
    }
}

/// `secs` since the epoch as RFC 3339 UTC (`2006-01-02T15:04:05Z`), for `issued_at`
/// (AUTH-12).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_values() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn issue_and_verify() {
        let (key, cert) = super::super::keygen(&["localhost"]).unwrap();
        let tc = TokenConfig::from_pem(&key, &cert).unwrap();
        let issued = tc.issue("alice", &[Access::repository("a", &["pull"])]);
        let c = tc
            .verify_access(&issued.token, VerifyOptions::default())
            .unwrap();
        assert_eq!(c.subject, "alice");
        assert_eq!(c.access, vec![Access::repository("a", &["pull"])]);
        let refresh = tc.issue_refresh("alice");
        assert_eq!(tc.verify_refresh(&refresh).unwrap(), "alice");
        assert_eq!(
            tc.verify_access(&refresh, VerifyOptions::default())
                .unwrap_err(),
            TokenRejection::WrongType
        );
        assert!(tc.verify_refresh(&issued.token).is_err());
        let (key2, cert2) = super::super::keygen(&["localhost"]).unwrap();
        assert!(TokenConfig::from_pem(&key, &cert2).is_err());
        let other = TokenConfig::from_pem(&key2, &cert2).unwrap();
        assert!(matches!(
            tc.verify_access(&other.issue("alice", &[]).token, VerifyOptions::default()),
            Err(TokenRejection::Jwt(jwt::JwtError::Signature))
        ));
        let debug = format!("{tc:?}");
        assert!(!debug.contains("PRIVATE"), "{debug}");
    }
}

//! Token responses and the token cache (docker-token-auth.md, docker-token-oauth.md).
//!
//! A token server answers `{"token": ...}` (Quay, GitLab, GHCR), `{"access_token": ...}`
//! (ACR) or both (Docker Hub): either is accepted (AUTH-10). `expires_in` defaults to 60 s
//! and counts from `issued_at` when given (AUTH-14). Tokens are cached per identity,
//! realm, service and scope set until shortly before they expire.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// Lifetime when the response states none (docker-token-auth.md: "defaults to 60").
pub const DEFAULT_EXPIRES_IN: u64 = 60;

/// A token as the token server issued it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// The bearer token (never printed).
    pub value: String,
    /// When it stops working.
    pub expires_at: SystemTime,
    /// Its lifetime as stated (or the default).
    pub lifetime: Duration,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token(<redacted>, {} s)", self.lifetime.as_secs())
    }
}

impl Token {
    /// Usable now: not within the safety margin of its expiry (a tenth of its lifetime,
    /// at most 10 s), so a token never expires between the check and the request.
    pub fn fresh_at(&self, now: SystemTime) -> bool {
        let margin = (self.lifetime / 10).min(Duration::from_secs(10));
        now + margin < self.expires_at
    }
}

/// Reads a token response body (AUTH-10, AUTH-14). The error never holds the body (it
/// may hold a token under another name).
pub fn parse_token_response(body: &[u8], now: SystemTime) -> Result<Token, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| "the token response is not JSON".to_owned())?;
    let pick = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let value = pick("token")
        .or_else(|| pick("access_token"))
        .ok_or_else(|| {
            "the token response has neither a \"token\" nor an \"access_token\" string".to_owned()
        })?;
    let secs = match v.get("expires_in") {
        Some(Value::Number(n)) => n.as_u64().filter(|s| *s > 0).unwrap_or(DEFAULT_EXPIRES_IN),
        _ => DEFAULT_EXPIRES_IN,
    };
    let lifetime = Duration::from_secs(secs);
    // A clock ahead of ours must not make the token look valid longer than it is.
    let issued = v
        .get("issued_at")
        .and_then(Value::as_str)
        .and_then(parse_rfc3339)
        .map_or(now, |t| t.min(now));
    // An `expires_in` beyond what SystemTime can hold (`u64::MAX` seconds) panicked in
    // `issued + lifetime`: such a token lasts as long as anything can.
    let expires_at = issued
        .checked_add(lifetime)
        .unwrap_or_else(|| issued + Duration::from_secs(u64::from(u32::MAX) * 1000));
    Ok(Token {
        value,
        expires_at,
        lifetime,
    })
}

/// `2009-11-10T23:00:00Z`, `...00.123456789+01:00`: RFC 3339 as token servers write it.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(frac.len());
        rest = &frac[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        // Byte checks and `get`: slicing `&o[..1]` panicked on a non-ASCII first character.
        o if o.len() == 6 && matches!(o.as_bytes()[0], b'+' | b'-') && o.as_bytes()[3] == b':' => {
            let v =
                o.get(1..3)?.parse::<i64>().ok()? * 3600 + o.get(4..6)?.parse::<i64>().ok()? * 60;
            if o.starts_with('-') { -v } else { v }
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset;
    u64::try_from(secs)
        .ok()
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

/// What a token is cached under: who asked, where, for what.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// `writer`, `reader`, ...
    pub identity: String,
    /// The realm URL.
    pub realm: String,
    /// The challenge's service (none for Google Artifact Registry).
    pub service: Option<String>,
    /// The scopes asked for, sorted (see [`crate::auth::union_scopes`]).
    pub scopes: Vec<String>,
}

/// Tokens of a run (shared by every trial).
#[derive(Debug, Default)]
pub struct TokenCache {
    tokens: Mutex<HashMap<CacheKey, Token>>,
}

impl TokenCache {
    /// A fresh token for `key`, if cached.
    pub fn get(&self, key: &CacheKey, now: SystemTime) -> Option<Token> {
        let map = self.tokens.lock().ok()?;
        map.get(key).filter(|t| t.fresh_at(now)).cloned()
    }

    /// Stores a token.
    pub fn put(&self, key: CacheKey, token: Token) {
        if let Ok(mut map) = self.tokens.lock() {
            map.insert(key, token);
        }
    }

    /// Forgets a token the registry refused.
    pub fn forget(&self, key: &CacheKey) {
        if let Ok(mut map) = self.tokens.lock() {
            map.remove(key);
        }
    }
}

/// The `application/x-www-form-urlencoded` body of an OAuth2 refresh-token request
/// (docker-token-oauth.md): `scope` is space-joined there, unlike the GET form.
pub fn refresh_form(service: Option<&str>, refresh_token: &str, scopes: &[String]) -> String {
    let mut f = form_urlencoded::Serializer::new(String::new());
    f.append_pair("grant_type", "refresh_token");
    if let Some(s) = service {
        f.append_pair("service", s);
    }
    f.append_pair("client_id", "registry-conformance");
    f.append_pair("refresh_token", refresh_token);
    if !scopes.is_empty() {
        f.append_pair("scope", &scopes.join(" "));
    }
    f.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    #[test]
    fn token_or_access_token_is_accepted() {
        let now = at(1_000_000);
        assert_eq!(
            parse_token_response(br#"{"token":"t1"}"#, now)
                .unwrap()
                .value,
            "t1"
        );
        assert_eq!(
            parse_token_response(br#"{"access_token":"a1"}"#, now)
                .unwrap()
                .value,
            "a1"
        );
        // Docker Hub sends both (the same value); `token` wins.
        assert_eq!(
            parse_token_response(br#"{"token":"t","access_token":"a"}"#, now)
                .unwrap()
                .value,
            "t"
        );
        let e = parse_token_response(br#"{"tok":"secret-value"}"#, now).unwrap_err();
        assert!(e.contains("neither") && !e.contains("secret-value"), "{e}");
        assert!(parse_token_response(br#"{"token":""}"#, now).is_err());
        assert!(parse_token_response(b"<html>", now).is_err());
    }

    #[test]
    fn expires_in_defaults_to_60_and_counts_from_issued_at() {
        let now = parse_rfc3339("2026-01-01T00:01:00Z").unwrap();
        let t = parse_token_response(br#"{"token":"t"}"#, now).unwrap();
        assert_eq!(t.expires_at, now + Duration::from_secs(60));
        let t = parse_token_response(
            br#"{"token":"t","expires_in":300,"issued_at":"2026-01-01T00:00:00Z"}"#,
            now,
        )
        .unwrap();
        assert_eq!(t.expires_at, now + Duration::from_secs(240));
        // An issued_at in the future (a skewed clock) counts from now.
        let t = parse_token_response(
            br#"{"token":"t","expires_in":300,"issued_at":"2027-01-01T00:00:00Z"}"#,
            now,
        )
        .unwrap();
        assert_eq!(t.expires_at, now + Duration::from_secs(300));
        // Nonsense lifetimes fall back to the default.
        let t = parse_token_response(br#"{"token":"t","expires_in":"300"}"#, now).unwrap();
        assert_eq!(t.lifetime, Duration::from_secs(60));
    }

    #[test]
    fn hostile_token_responses_do_not_panic() {
        // A non-ASCII character where the zone offset goes: `&o[..1]` cut it in half.
        assert!(std::panic::catch_unwind(|| parse_rfc3339("2009-11-10T23:00:00é0:00")).is_ok());
        assert!(std::panic::catch_unwind(|| parse_rfc3339("2009-11-10T23:00:00+0é00")).is_ok());
        assert_eq!(parse_rfc3339("2009-11-10T23:00:00é0:00"), None);
        assert_eq!(parse_rfc3339("2009-11-10T23:00:00+0é00"), None);
        assert_eq!(parse_rfc3339("2009-11-10T23:00:00.5+é:00"), None);
        // An `expires_in` past what SystemTime holds overflowed `issued + lifetime`.
        let body = br#"{"token":"t","expires_in":18446744073709551615}"#;
        let t = std::panic::catch_unwind(|| parse_token_response(body, at(1_000)))
            .expect("no panic")
            .unwrap();
        assert!(t.expires_at > at(1_000) && t.fresh_at(at(1_000)));
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(at(0)));
        assert_eq!(
            parse_rfc3339("2009-11-10T23:00:00Z"),
            Some(at(1_257_894_000))
        );
        assert_eq!(
            parse_rfc3339("2009-11-10T23:00:00.123456789+01:00"),
            Some(at(1_257_890_400))
        );
        assert_eq!(parse_rfc3339("2009-11-10"), None);
        assert_eq!(parse_rfc3339("2009-13-10T23:00:00Z"), None);
    }

    #[test]
    fn the_cache_serves_fresh_tokens_per_key_only() {
        let cache = TokenCache::default();
        let key = |id: &str, scopes: &[&str]| CacheKey {
            identity: id.into(),
            realm: "http://127.0.0.1:1/token".into(),
            service: Some("reg".into()),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        };
        let now = at(1_000);
        let tok = parse_token_response(br#"{"token":"w","expires_in":100}"#, now).unwrap();
        cache.put(key("writer", &["repository:a:pull"]), tok);
        assert_eq!(
            cache
                .get(&key("writer", &["repository:a:pull"]), now)
                .unwrap()
                .value,
            "w"
        );
        assert!(
            cache
                .get(&key("reader", &["repository:a:pull"]), now)
                .is_none()
        );
        assert!(
            cache
                .get(&key("writer", &["repository:a:push"]), now)
                .is_none()
        );
        // 91 s into a 100 s token: within the margin, so not served.
        assert!(
            cache
                .get(&key("writer", &["repository:a:pull"]), at(1_089))
                .is_some()
        );
        assert!(
            cache
                .get(&key("writer", &["repository:a:pull"]), at(1_091))
                .is_none()
        );
        cache.forget(&key("writer", &["repository:a:pull"]));
        assert!(
            cache
                .get(&key("writer", &["repository:a:pull"]), now)
                .is_none()
        );
    }

    #[test]
    fn the_refresh_form_has_every_field() {
        let f = refresh_form(
            Some("reg"),
            "r t",
            &["repository:a:pull".into(), "repository:b:pull".into()],
        );
        assert_eq!(
            f,
            "grant_type=refresh_token&service=reg&client_id=registry-conformance\
             &refresh_token=r+t&scope=repository%3Aa%3Apull+repository%3Ab%3Apull"
        );
        assert!(!refresh_form(None, "x", &[]).contains("service"));
    }
}

//! `GET`/`HEAD`/`DELETE /v2/<name>/blobs/<digest>`: blob pulls (PULL-16 to PULL-30) and
//! deletes (MGMT-10 to MGMT-13).
//!
//! Bodies are streamed from the file in mapped windows ([`crate::storage::read`]) with an
//! explicit `Content-Length`, so memory stays flat for any blob size. Single RFC 7233 byte
//! ranges get `206`.

use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use crate::defects::{self, Defect};
use crate::digest::Digest;
use crate::errors::RegistryError;
use crate::request::RegistryRequest;
use crate::response;
use crate::state::Registry;

/// What a `Range` header asks for, given the blob size.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Wanted {
    Whole,
    /// Inclusive byte range.
    Part(u64, u64),
    Unsatisfiable,
}

/// Reads an RFC 9110 `Range` header (PULL-25): one `bytes=a-b`, `a-` or `-n` range is a
/// part (206, PULL-26); a malformed or unsatisfiable one is 416 (PULL-27); several ranges
/// are answered with the whole blob, which RFC 9110 allows.
pub(crate) fn parse_range(header: Option<&str>, size: u64) -> Wanted {
    let Some(h) = header else {
        return Wanted::Whole;
    };
    let h = h.trim();
    let Some(spec) = h
        .get(..6)
        .filter(|p| p.eq_ignore_ascii_case("bytes="))
        .map(|_| &h[6..])
    else {
        return Wanted::Unsatisfiable;
    };
    if spec.contains(',') {
        // Multiple ranges: RFC 7233 lets a server ignore Range and send the whole entity.
        return Wanted::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Wanted::Unsatisfiable;
    };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| {
        s.parse::<u64>()
            .ok()
            .filter(|_| s.bytes().all(|c| c.is_ascii_digit()))
    };
    match (a.is_empty(), b.is_empty()) {
        (true, false) => match num(b) {
            Some(n) if n > 0 && size > 0 => Wanted::Part(size.saturating_sub(n), size - 1),
            _ => Wanted::Unsatisfiable,
        },
        (false, _) => {
            let Some(start) = num(a) else {
                return Wanted::Unsatisfiable;
            };
            let end = if b.is_empty() { Some(u64::MAX) } else { num(b) };
            match end {
                Some(end) if end >= start && start < size => Wanted::Part(start, end.min(size - 1)),
                _ => Wanted::Unsatisfiable,
            }
        }
        (true, true) => Wanted::Unsatisfiable,
    }
}

fn etag(d: &Digest) -> String {
    format!("\"{d}\"")
}

/// Whether `If-None-Match` names this entity (then the answer is 304): the cache
/// validator of manifests and blobs (HDR-10, PULL-29, BASE-10).
pub(crate) fn not_modified(req: &RegistryRequest, d: &Digest) -> bool {
    let Some(v) = req.header("if-none-match") else {
        return false;
    };
    let tag = etag(d);
    v.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t == tag || t.trim_start_matches("W/") == tag)
}

/// `GET`/`HEAD` of a blob linked into `name`.
///
/// - GET: 200 with the bytes (PULL-16), `Content-Length` equal to the size (PULL-18),
///   `Docker-Content-Digest` of the whole blob, also on 206 and 304 (HDR-02, HDR-03,
///   PULL-17, FUT-01).
/// - HEAD: 200 without a body (PULL-20), with `Content-Length` and `Docker-Content-Digest`
///   (PULL-21, FUT-01).
/// - Caching (BASE-10, PULL-29, HDR-10): `ETag`, `If-None-Match` → 304, a year of
///   `Cache-Control` (content-addressed bytes never change), `Accept-Ranges: bytes`, and
///   single ranges (PULL-25, PULL-26, PULL-27). No compression: blobs are usually
///   compressed already.
/// - Unknown repository → 404 `NAME_UNKNOWN` (PULL-10); a blob not linked here → 404
///   `BLOB_UNKNOWN`, even when another repository has it (PULL-19, PULL-22); a malformed or
///   unsupported digest → 400 `DIGEST_INVALID` (DIG-09, ERR-15). Unlike manifest
///   references, the blob path keeps Docker's 400, which DIG-09 names for it: OCI's
///   endpoint table lists 404 for an absent blob but says nothing about malformed digests.
/// - Never a redirect: blobs are served directly (PULL-23 is a MAY), so content reached
///   through redirects meets the same rules trivially (PULL-24).
/// - Stateless: a blob can be fetched without any prior manifest GET, in any order (PULL-30).
pub async fn get(
    registry: &Registry,
    req: &RegistryRequest,
    name: &str,
    digest: &str,
    head: bool,
) -> Result<Response, RegistryError> {
    let d: Digest = digest.parse()?;
    let storage = &registry.storage;
    if !storage.repo_exists(name).await {
        return Err(RegistryError::name_unknown(name));
    }
    let defects = registry.config.defects;
    let found = if defects.has(Defect::BlobAnyRepository) {
        defects::open_blob_unscoped(storage.as_ref(), &d).await?
    } else {
        storage.open_blob(name, &d).await?
    };
    let Some(blob) = found else {
        return Err(RegistryError::blob_unknown(digest));
    };
    let common = |r: &mut Response| {
        response::set(r, "docker-content-digest", &d);
        response::set(r, "etag", etag(&d));
        response::set(r, "accept-ranges", "bytes");
        response::set(r, "cache-control", "max-age=31536000");
    };
    if not_modified(req, &d) {
        let mut r = response::empty(StatusCode::NOT_MODIFIED);
        r.headers_mut().remove("content-length");
        common(&mut r);
        return Ok(r);
    }
    let size = blob.len;
    let (status, start, len) = match parse_range(req.header("range"), size) {
        Wanted::Whole => (StatusCode::OK, 0, size),
        Wanted::Part(a, b) => {
            let short = u64::from(defects.has(Defect::RangeEndExclusive) && b > a);
            (StatusCode::PARTIAL_CONTENT, a, b - a + 1 - short)
        }
        Wanted::Unsatisfiable if defects.has(Defect::UnsatisfiableRange200) => {
            (StatusCode::OK, 0, size)
        }
        Wanted::Unsatisfiable => {
            let mut r = response::empty(StatusCode::RANGE_NOT_SATISFIABLE);
            response::set(&mut r, "content-range", format!("bytes */{size}"));
            common(&mut r);
            return Ok(r);
        }
    };
    let mut r = if head {
        response::empty(status)
    } else {
        let stream = blob.body.range(start, len);
        let mut r = warp::reply::stream(stream).into_response();
        *r.status_mut() = status;
        r
    };
    response::set(&mut r, "content-length", len);
    response::set(&mut r, "content-type", "application/octet-stream");
    if status == StatusCode::PARTIAL_CONTENT {
        response::set(
            &mut r,
            "content-range",
            format!("bytes {}-{}/{size}", start, start + len - 1),
        );
    }
    common(&mut r);
    Ok(r)
}

/// `DELETE` of a blob in one repository (deletes may be disabled: MGMT-01, MGMT-12, refused
/// before this handler).
///
/// 202 with `Docker-Content-Digest` (MGMT-10, HDR-05). Only this repository's link goes, so
/// GET and HEAD here are 404 afterwards (MGMT-13) while other repositories holding the same
/// content keep it (PULL-19); the bytes stay until `gc`. An unknown or already deleted blob
/// is 404 `BLOB_UNKNOWN` (MGMT-11).
pub async fn delete(
    registry: &Registry,
    name: &str,
    digest: &str,
) -> Result<Response, RegistryError> {
    let d: Digest = digest.parse()?;
    let storage = &registry.storage;
    if !storage.repo_exists(name).await {
        return Err(RegistryError::name_unknown(name));
    }
    if !storage.blob_linked(name, &d).await {
        return Err(RegistryError::blob_unknown(digest));
    }
    let keep = registry.config.defects.has(Defect::DeletedBlobReadable);
    if !keep && !storage.unlink_blob(name, &d).await? {
        return Err(RegistryError::blob_unknown(digest));
    }
    if registry.config.defects.has(Defect::BlobDeleteGlobal) {
        defects::delete_blob_everywhere(storage.as_ref(), &d).await?;
    }
    let mut r = response::empty(StatusCode::ACCEPTED);
    response::set(&mut r, "docker-content-digest", &d);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), Wanted::Whole);
        assert_eq!(parse_range(Some("bytes=0-4"), 10), Wanted::Part(0, 4));
        assert_eq!(parse_range(Some("bytes=5-"), 10), Wanted::Part(5, 9));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Wanted::Part(7, 9));
        assert_eq!(parse_range(Some("bytes=-30"), 10), Wanted::Part(0, 9));
        assert_eq!(parse_range(Some("bytes=2-100"), 10), Wanted::Part(2, 9));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Wanted::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=5-4"), 10), Wanted::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 10), Wanted::Unsatisfiable);
        assert_eq!(parse_range(Some("items=0-1"), 10), Wanted::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=a-b"), 10), Wanted::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-0"), 0), Wanted::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10), Wanted::Whole);
    }
}

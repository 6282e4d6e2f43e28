//! The registry error model: one enum of codes, each with the HTTP status the specs give
//! it, rendered as `{"errors":[{"code","message","detail"}]}` (ERR-02).
//!
//! Handlers return `Result<Response, RegistryError>`; the dispatcher renders the error
//! in one place, so HEAD stripping, `Content-Type` and the API version header are uniform.

use serde_json::{Value, json};
use warp::http::StatusCode;

use crate::digest::DigestError;

/// Error codes: the 14 OCI codes (ERR-06) plus the Docker-only ones we use where OCI has
/// none. All are upper-case letters and underscores (ERR-03). `MANIFEST_UNVERIFIED` is never
/// sent: schema1 is refused outright (ERR-19 is excused). `RANGE_INVALID` is never sent
/// either: a bad upload range is a bodiless 416 (ERR-29, PUSH-22).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    TooManyRequests,
    /// Docker legacy code, used for malformed tags on manifest PUT (ERR-23, NAME-09; OCI
    /// tolerates it as legacy).
    TagInvalid,
    /// Docker-only: a bad `n` on tags or catalog (ERR-28, DISC-13).
    PaginationNumberInvalid,
    /// Internal failure (storage I/O); Docker's catch-all code.
    Unknown,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BlobUnknown => "BLOB_UNKNOWN",
            Code::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            Code::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            Code::DigestInvalid => "DIGEST_INVALID",
            Code::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            Code::ManifestInvalid => "MANIFEST_INVALID",
            Code::ManifestUnknown => "MANIFEST_UNKNOWN",
            Code::NameInvalid => "NAME_INVALID",
            Code::NameUnknown => "NAME_UNKNOWN",
            Code::SizeInvalid => "SIZE_INVALID",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Denied => "DENIED",
            Code::Unsupported => "UNSUPPORTED",
            Code::TooManyRequests => "TOOMANYREQUESTS",
            Code::TagInvalid => "TAG_INVALID",
            Code::PaginationNumberInvalid => "PAGINATION_NUMBER_INVALID",
            Code::Unknown => "UNKNOWN",
        }
    }

    /// The status each code has in the Docker detail tables (OCI rarely names one):
    /// `BLOB_UNKNOWN` 404 (ERR-12), `BLOB_UPLOAD_INVALID` 400 (ERR-13), `BLOB_UPLOAD_UNKNOWN`
    /// 404 (ERR-14), `DIGEST_INVALID` 400 (ERR-15), `MANIFEST_BLOB_UNKNOWN` 400 (ERR-16),
    /// `MANIFEST_INVALID` 400 (ERR-17), `MANIFEST_UNKNOWN` 404 (ERR-18), `NAME_INVALID` 400
    /// (ERR-20), `NAME_UNKNOWN` 404 (ERR-21), `SIZE_INVALID` 400 (ERR-22; 413 is set
    /// explicitly for an oversized manifest, MPUT-20), `UNAUTHORIZED` 401 (ERR-24), `DENIED`
    /// 403 (ERR-25), `UNSUPPORTED` 405 (ERR-26), `TOOMANYREQUESTS` 429 (ERR-27),
    /// `TAG_INVALID` and `PAGINATION_NUMBER_INVALID` 400 (ERR-23, ERR-28).
    pub fn status(self) -> StatusCode {
        match self {
            Code::BlobUnknown
            | Code::BlobUploadUnknown
            | Code::ManifestUnknown
            | Code::NameUnknown => StatusCode::NOT_FOUND,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::Denied => StatusCode::FORBIDDEN,
            Code::Unsupported => StatusCode::METHOD_NOT_ALLOWED,
            Code::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Code::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
            Code::BlobUploadInvalid
            | Code::DigestInvalid
            | Code::ManifestBlobUnknown
            | Code::ManifestInvalid
            | Code::NameInvalid
            | Code::SizeInvalid
            | Code::TagInvalid
            | Code::PaginationNumberInvalid => StatusCode::BAD_REQUEST,
        }
    }
}

/// One entry of the `errors` array.
#[derive(Debug, Clone)]
pub struct ErrorEntry {
    pub code: Code,
    pub message: String,
    pub detail: Value,
}

/// A failed request: a status and one or more error entries.
#[derive(Debug, Clone)]
pub struct RegistryError {
    pub status: StatusCode,
    pub errors: Vec<ErrorEntry>,
    /// Extra answer headers (`WWW-Authenticate` on 401, AUTH-01), sent on HEAD too.
    pub headers: Vec<(String, String)>,
}

impl RegistryError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        RegistryError {
            status: code.status(),
            errors: vec![ErrorEntry {
                code,
                message: message.into(),
                detail: json!({}),
            }],
            headers: Vec::new(),
        }
    }

    /// Sets `detail` on the (single) entry.
    pub fn detail(mut self, detail: Value) -> Self {
        if let Some(e) = self.errors.last_mut() {
            e.detail = detail;
        }
        self
    }

    /// Adds an answer header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Several errors in one answer (ERR-07; e.g. one per missing blob, MPUT-15).
    pub fn many(status: StatusCode, errors: Vec<ErrorEntry>) -> Self {
        RegistryError {
            status,
            errors,
            headers: Vec::new(),
        }
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error");
        RegistryError::new(Code::Unknown, format!("internal storage error: {err}"))
    }

    pub fn code(&self) -> Code {
        self.errors.first().map(|e| e.code).unwrap_or(Code::Unknown)
    }

    /// The JSON body `{"errors":[{"code","message","detail"}]}` (ERR-02): always a message
    /// (ERR-04) and a `detail` object (ERR-05) naming what was wrong.
    pub fn body(&self) -> Value {
        let errors: Vec<Value> = self
            .errors
            .iter()
            .map(|e| json!({"code": e.code.as_str(), "message": e.message, "detail": e.detail}))
            .collect();
        json!({ "errors": errors })
    }

    // Shorthands for the most common answers.

    /// 400 `NAME_INVALID` for a name outside the grammar (NAME-05, ERR-20).
    pub fn name_invalid(name: &str) -> Self {
        RegistryError::new(Code::NameInvalid, "invalid repository name")
            .detail(json!({ "name": name }))
    }

    /// 404 `NAME_UNKNOWN` for a repository that doesn't exist (PULL-10, MGMT-04, DISC-03,
    /// ERR-21).
    pub fn name_unknown(name: &str) -> Self {
        RegistryError::new(Code::NameUnknown, "repository name not known to registry")
            .detail(json!({ "name": name }))
    }

    /// 404 `BLOB_UNKNOWN` for a blob not linked into the repository (PULL-19, PULL-22,
    /// MGMT-11, ERR-12).
    pub fn blob_unknown(digest: &str) -> Self {
        RegistryError::new(Code::BlobUnknown, "blob unknown to registry")
            .detail(json!({ "digest": digest }))
    }

    /// 404 `MANIFEST_UNKNOWN` for a tag or digest the repository doesn't hold (PULL-09,
    /// PULL-15, MGMT-05, ERR-18).
    pub fn manifest_unknown(reference: &str) -> Self {
        RegistryError::new(Code::ManifestUnknown, "manifest unknown")
            .detail(json!({ "reference": reference }))
    }

    /// 404 `BLOB_UPLOAD_UNKNOWN` for an unknown, finished or cancelled session (PUSH-34,
    /// PUSH-38, ERR-14).
    pub fn upload_unknown(id: &str) -> Self {
        RegistryError::new(Code::BlobUploadUnknown, "blob upload unknown to registry")
            .detail(json!({ "uuid": id }))
    }

    /// 405 `UNSUPPORTED` for a disabled operation or a method an endpoint doesn't have
    /// (ERR-26).
    pub fn unsupported(message: impl Into<String>) -> Self {
        RegistryError::new(Code::Unsupported, message)
    }

    /// 400 `MANIFEST_INVALID` for a manifest failing validation (MPUT-18, ERR-17).
    pub fn manifest_invalid(message: impl Into<String>) -> Self {
        RegistryError::new(Code::ManifestInvalid, message)
    }
}

/// A malformed or unsupported digest in a path or query is 400 `DIGEST_INVALID` with the
/// digest in `detail` (DIG-09, ERR-15, FUT-03). Manifest references are the exception: see
/// `routes::manifests::read_reference`.
impl From<DigestError> for RegistryError {
    fn from(e: DigestError) -> Self {
        let digest = match &e {
            DigestError::Malformed(d) | DigestError::Unsupported(d) => d.clone(),
        };
        RegistryError::new(Code::DigestInvalid, e.to_string()).detail(json!({ "digest": digest }))
    }
}

/// Whether a storage error means the disk (or the quota) is full: `ENOSPC`, `EDQUOT`.
pub fn is_storage_full(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    // The kinds cover errors that lost their raw code on the way (tempfile adds the path);
    // the raw codes cover platforms whose std maps them differently.
    matches!(e.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded)
        || (cfg!(target_os = "linux") && matches!(e.raw_os_error(), Some(28 | 122)))
}

/// Storage I/O failures are 500 `UNKNOWN` "internal storage error", except a full disk or
/// quota, which is 507 Insufficient Storage (RFC 4918: "unable to store the representation
/// needed to complete the request") with a message that says so. A 5xx, because the client
/// did nothing wrong and may retry the same request unchanged once space is freed; 507
/// rather than 503, because 503 suggests a passing overload that a quick retry gets past,
/// while a full disk lasts until an operator acts; rather than 500, because "internal
/// error" would send the operator hunting for a bug. The code stays `UNKNOWN`: neither
/// spec has one for it (ERR-06). Whatever write failed has been rolled back by then
/// (temporary files removed, a chunk truncated back), and reads keep working.
impl From<std::io::Error> for RegistryError {
    fn from(e: std::io::Error) -> Self {
        if is_storage_full(&e) {
            tracing::error!(error = %e, "storage full");
            return RegistryError::new(
                Code::Unknown,
                "the registry's storage is full: no space left on device",
            )
            .with_status(StatusCode::INSUFFICIENT_STORAGE)
            .detail(json!({ "reason": e.to_string() }));
        }
        RegistryError::internal(e)
    }
}

/// A request body that failed to arrive: 400 `SIZE_INVALID` when it ended early (PUSH-14,
/// ERR-22), 408 Request Timeout with the same code when it stopped arriving for the idle
/// timeout (`Config::idle_timeout`; the body is incomplete either way, and neither spec has
/// a code for a timeout). After a 408 the connection is closed, since the rest of the body
/// would never be read.
pub fn body_error(e: std::io::Error) -> RegistryError {
    let err = RegistryError::new(Code::SizeInvalid, format!("request body ended early: {e}"));
    if e.kind() == std::io::ErrorKind::TimedOut {
        err.with_status(StatusCode::REQUEST_TIMEOUT)
    } else {
        err
    }
}

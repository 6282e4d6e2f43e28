//! The registry error model: one enum of codes, each with the HTTP status the specs give
//! it, rendered as `{"errors":[{"code","message","detail"}]}` (ERR-02).
//!
//! Handlers return `Result<Response, RegistryError>`; the dispatcher renders the error
//! in one place, so HEAD stripping, `Content-Type` and the API version header are uniform.

use serde_json::{Value, json};
use warp::http::StatusCode;

use crate::digest::DigestError;

/// Error codes: the 14 OCI codes plus the Docker-only ones we use.
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
    /// Docker legacy code, used for malformed tags (OCI tolerates it as legacy).
    TagInvalid,
    /// Docker-only: a bad `n` on tags or catalog.
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

    /// The status each code has in the Docker detail tables (OCI rarely names one).
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
        }
    }

    /// Sets `detail` on the (single) entry.
    pub fn detail(mut self, detail: Value) -> Self {
        if let Some(e) = self.errors.last_mut() {
            e.detail = detail;
        }
        self
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Several errors in one answer (e.g. one per missing blob, MPUT-15).
    pub fn many(status: StatusCode, errors: Vec<ErrorEntry>) -> Self {
        RegistryError { status, errors }
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error");
        RegistryError::new(Code::Unknown, format!("internal storage error: {err}"))
    }

    pub fn code(&self) -> Code {
        self.errors.first().map(|e| e.code).unwrap_or(Code::Unknown)
    }

    /// The JSON body (ERR-02).
    pub fn body(&self) -> Value {
        let errors: Vec<Value> = self
            .errors
            .iter()
            .map(|e| json!({"code": e.code.as_str(), "message": e.message, "detail": e.detail}))
            .collect();
        json!({ "errors": errors })
    }

    // Shorthands for the most common answers.

    pub fn name_invalid(name: &str) -> Self {
        RegistryError::new(Code::NameInvalid, "invalid repository name")
            .detail(json!({ "name": name }))
    }

    pub fn name_unknown(name: &str) -> Self {
        RegistryError::new(Code::NameUnknown, "repository name not known to registry")
            .detail(json!({ "name": name }))
    }

    pub fn blob_unknown(digest: &str) -> Self {
        RegistryError::new(Code::BlobUnknown, "blob unknown to registry")
            .detail(json!({ "digest": digest }))
    }

    pub fn manifest_unknown(reference: &str) -> Self {
        RegistryError::new(Code::ManifestUnknown, "manifest unknown")
            .detail(json!({ "reference": reference }))
    }

    pub fn upload_unknown(id: &str) -> Self {
        RegistryError::new(Code::BlobUploadUnknown, "blob upload unknown to registry")
            .detail(json!({ "uuid": id }))
    }

    pub fn unsupported(message: impl Into<String>) -> Self {
        RegistryError::new(Code::Unsupported, message)
    }

    pub fn manifest_invalid(message: impl Into<String>) -> Self {
        RegistryError::new(Code::ManifestInvalid, message)
    }
}

impl From<DigestError> for RegistryError {
    fn from(e: DigestError) -> Self {
        let digest = match &e {
            DigestError::Malformed(d) | DigestError::Unsupported(d) => d.clone(),
        };
        RegistryError::new(Code::DigestInvalid, e.to_string()).detail(json!({ "digest": digest }))
    }
}

impl From<std::io::Error> for RegistryError {
    fn from(e: std::io::Error) -> Self {
        RegistryError::internal(e)
    }
}

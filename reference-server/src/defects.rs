//! The defect switchboard: deliberate, individually switchable spec violations.
//!
//! The conformance suite is only worth something if it notices a broken registry. Each
//! [`Defect`] is one mistake a registry author could plausibly make, tied to the
//! requirement ID(s) it breaks; `reference-registry serve --defect NAME` switches it on and
//! the suite's mutation test (`suite/tests/mutation.rs`) checks that some failing scenario
//! cites that requirement.
//!
//! Everything defect-specific lives here. Handlers see a defect only as one
//! `registry.config.defects.has(Defect::X)` test at the few sites where the mistake has to
//! happen inside storage or validation; everything that can be expressed as rewriting the
//! request before routing ([`on_request`]) or the answer after it ([`on_result`]) is done
//! here, in one place. The set is a `u128` bitset, so the clean path pays one integer test
//! (`is_empty`) per request and nothing else.

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;
use serde_json::json;
use warp::http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use warp::http::{Method, StatusCode};
use warp::reply::Response;

use crate::auth::token::VerifyOptions;
use crate::authz::Action;
use crate::errors::{Code, RegistryError};
use crate::request::RegistryRequest;
use crate::response;
use crate::routes::Route;

/// Declares the defects: variant, CLI name, requirement IDs it breaks, one-line description.
macro_rules! defects {
    ($( $variant:ident = $name:literal, [$($req:literal),+], $desc:literal; )+) => {
        /// One deliberate spec violation (see the module docs).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Defect { $($variant),+ }

        impl Defect {
            /// Every defect, in the order of the table in the README.
            pub const ALL: &'static [Defect] = &[$(Defect::$variant),+];

            /// The kebab-case name used on the command line.
            pub fn name(self) -> &'static str {
                match self { $(Defect::$variant => $name),+ }
            }

            /// The requirement IDs (fixtures/requirements.json) this defect violates.
            pub fn requirements(self) -> &'static [&'static str] {
                match self { $(Defect::$variant => &[$($req),+]),+ }
            }

            /// What the registry does wrong, in one line.
            pub fn describe(self) -> &'static str {
                match self { $(Defect::$variant => $desc),+ }
            }
        }
    };
}

impl Defect {
    /// For the few variants the specification permits, why: they stay on the switchboard
    /// as negative controls (principle 6: the suite must never fail a registry for them),
    /// and the mutation test requires that they produce no failure at all.
    pub fn allowed_by_spec(self) -> Option<&'static str> {
        match self {
            Defect::MissingBlobsAccepted => Some(
                "OCI: a registry MAY reject a manifest whose blobs or manifests are absent \
                 (MPUT-13); accepting it is the sparse-manifests policy",
            ),
            Defect::SchemaVersionUnchecked => Some(
                "no sentence obliges a registry to check schemaVersion; the image spec binds \
                 the document (MFMT-06)",
            ),
            Defect::AnnotationsUnchecked => Some(
                "no sentence obliges a registry to check annotation values; the image spec \
                 binds the document (MFMT-05)",
            ),
            _ => None,
        }
    }

    /// The auth mode a defect needs to be observable (`"token"`), or `None` for defects
    /// visible without authentication. The mutation test runs these against a registry
    /// started with `--auth token` (they change nothing with `--auth none`).
    pub fn auth_mode(self) -> Option<&'static str> {
        match self {
            Defect::PushWithPullToken
            | Defect::ReaderCanDelete
            | Defect::MountLeaks
            | Defect::ChallengeWithoutScope
            | Defect::ExpiredTokenAccepted
            | Defect::AlgNoneAccepted
            | Defect::CatalogUnfiltered
            | Defect::TokenRepoUnchecked
            | Defect::NoWwwAuthenticate
            | Defect::WrongPasswordToken => Some("token"),
            _ => None,
        }
    }
}

defects! {
    // Base and common headers.
    BaseNotFound = "base-404", ["BASE-01"], "GET /v2/ answers 404, as if the API were not implemented";
    NoApiVersion = "no-api-version-header", ["BASE-04"], "no Docker-Distribution-API-Version header on any answer";
    BlobGetNoDigest = "blob-get-no-digest-header", ["HDR-02"], "blob GET answers lack Docker-Content-Digest";
    BlobHeadNoLength = "blob-head-no-content-length", ["PULL-21"], "blob HEAD answers lack Content-Length";
    ManifestHeadNoDigest = "manifest-head-no-digest-header", ["PULL-13"], "manifest HEAD answers lack Docker-Content-Digest";
    ManifestContentTypeJson = "manifest-content-type-json", ["PULL-04"], "manifest GET/HEAD always say Content-Type: application/json";
    ManifestPutNoDigest = "manifest-put-no-digest-header", ["HDR-05"], "manifest PUT 201 lacks Docker-Content-Digest";
    ManifestPutBody = "manifest-put-has-body", ["HDR-07"], "manifest PUT 201 echoes the digest as a JSON body";
    TagsContentTypeText = "tags-content-type-text", ["HDR-09"], "the tag list is served as text/plain";
    ErrorBodyPlainText = "error-body-plain-text", ["ERR-02"], "error answers are a plain-text message, not the JSON errors object";
    // Error codes and statuses.
    ManifestUnknownAsNameUnknown = "manifest-unknown-as-name-unknown", ["PULL-09", "ERR-18"], "an unknown manifest in an existing repository answers NAME_UNKNOWN";
    BlobUnknownAsNameUnknown = "blob-unknown-as-name-unknown", ["ERR-12"], "an unknown blob in an existing repository answers NAME_UNKNOWN";
    UnknownSession400 = "unknown-session-400", ["PUSH-34", "ERR-14"], "an unknown upload session answers 400 instead of 404";
    InvalidManifest500 = "invalid-manifest-500", ["MPUT-18", "ERR-17"], "manifest validation failures answer 500 UNKNOWN instead of 400 MANIFEST_INVALID";
    ManifestBlobUnknown500 = "manifest-blob-unknown-500", ["MPUT-14", "ERR-16"], "a manifest referring to missing content answers 500 instead of 400 MANIFEST_BLOB_UNKNOWN";
    MissingBlobFirstOnly = "missing-blob-first-only", ["MPUT-15"], "a manifest with several missing blobs reports only the first";
    MalformedDigest404 = "malformed-digest-404", ["DIG-09"], "a malformed digest in a blob path answers 404 instead of 400";
    ManifestTooLarge400 = "manifest-too-large-400", ["MPUT-20"], "an oversized manifest answers 400 instead of 413";
    // Upload sessions.
    UploadStatus200 = "upload-status-200", ["PUSH-30"], "GET on an upload session answers 200 instead of 204";
    UploadStartNoLocation = "upload-start-no-location", ["PUSH-01"], "the 202 opening an upload session has no Location";
    UploadRangeExclusive = "upload-range-end-exclusive", ["PUSH-20", "PUSH-30"], "upload Range ends one byte late (0-<offset> instead of 0-<offset-1>)";
    UploadUuidChanges = "upload-uuid-changes", ["PUSH-40", "HDR-06"], "Docker-Upload-UUID is a fresh random value on every answer";
    BareRangeNotSatisfiable = "upload-416-without-headers", ["PUSH-23"], "a 416 on an upload lacks Location, Range and Docker-Upload-UUID";
    ContentRangeIgnored = "content-range-ignored", ["PUSH-21"], "PATCH ignores Content-Range and appends whatever arrives";
    BlobDigestUnchecked = "blob-digest-unchecked", ["PUSH-13", "PUSH-17"], "closing an upload does not verify the digest against the data";
    PatchRestartsSession = "patch-overwrites-session", ["PUSH-18"], "each PATCH rewrites the session from byte 0 instead of appending";
    PutBodyIgnored = "put-body-ignored", ["PUSH-26"], "a final chunk sent in the closing PUT is dropped";
    CancelKeepsSession = "cancel-keeps-session", ["PUSH-37"], "DELETE on a session answers 204 but the session lives on";
    FinishedSessionLingers = "finished-session-lingers", ["PUSH-34"], "a completed session's record is not removed";
    ForeignSessionAccepted = "foreign-session-accepted", ["PUSH-34"], "an upload session is usable through any repository's URL";
    MountUnchecked = "mount-without-source-check", ["PUSH-43"], "a mount answers 201 without checking that the blob exists anywhere";
    // Pulls.
    BlobAnyRepository = "blob-readable-from-any-repository", ["PULL-19"], "blob reads ignore repository links: any stored blob is readable everywhere";
    RangeEndExclusive = "range-end-exclusive", ["PULL-26"], "a blob range stops one byte short (the end treated as exclusive)";
    UnsatisfiableRange200 = "unsatisfiable-range-200", ["PULL-27"], "an unsatisfiable blob range answers 200 with the whole blob";
    // Manifest push and validation.
    ManifestReserialized = "manifest-reserialized", ["MPUT-07"], "manifests are stored re-serialised, not byte for byte";
    ManifestDigestUnchecked = "manifest-digest-unchecked", ["MPUT-03"], "a manifest PUT by digest does not check the body hashes to it";
    MissingBlobsAccepted = "missing-blobs-accepted", ["MPUT-14", "MPUT-15"], "a manifest whose config or layers are missing is accepted";
    BlobsCheckedGlobally = "manifest-blobs-checked-globally", ["MPUT-16"], "manifest PUT accepts blobs that exist only in another repository";
    SchemaVersionUnchecked = "schema-version-unchecked", ["MFMT-06"], "image manifests and indexes with schemaVersion other than 2 are accepted";
    AnnotationsUnchecked = "annotations-unchecked", ["MFMT-05"], "manifest annotations with non-string values are accepted";
    TagNotMoved = "tag-overwrite-ignored", ["MPUT-24"], "PUT to an existing tag leaves the tag on the old manifest";
    SubjectRequired = "subject-required", ["MPUT-12"], "a manifest whose subject is not (yet) in the repository is refused";
    // Names, tags and digests.
    UppercaseNames = "uppercase-names-accepted", ["NAME-01"], "repository names with upper-case letters are accepted";
    NameLengthUnchecked = "name-length-unchecked", ["NAME-03"], "repository names of 256 characters or more are accepted";
    TagGrammarLax = "invalid-tags-accepted", ["NAME-07"], "tags outside [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127} are accepted";
    // Tag list, catalog, pagination.
    TagsUnsorted = "tags-unsorted", ["DISC-04"], "tags are listed in descending order";
    TagsNIgnored = "tags-n-ignored", ["DISC-05"], "the tag list ignores n and answers everything";
    NZeroReturnsAll = "n-zero-returns-all", ["DISC-06"], "n=0 is treated as \"no limit\"";
    LastInclusive = "last-inclusive", ["DISC-09"], "last is inclusive: the page starts with the given tag";
    LinkWithoutRel = "link-without-rel", ["DISC-07"], "the Link header lacks rel=\"next\"";
    TagsNullWhenEmpty = "tags-null-when-empty", ["DISC-02"], "an empty tag list is \"tags\": null";
    TagsUnknownRepoEmpty = "tags-unknown-repository-200", ["DISC-03"], "tags of an unknown repository answer 200 with an empty list";
    InvalidNIgnored = "invalid-n-ignored", ["DISC-13"], "a non-numeric n is ignored instead of refused";
    CatalogUnsorted = "catalog-unsorted", ["DISC-16"], "the catalog is listed in descending order";
    CatalogNIgnored = "catalog-n-ignored", ["DISC-17"], "the catalog ignores n";
    // Deletes.
    DeleteManifest200 = "delete-manifest-200", ["MGMT-02"], "DELETE of a manifest answers 200 instead of 202";
    DeleteKeepsTags = "delete-keeps-tags", ["MGMT-03", "DISC-15"], "deleting a manifest by digest leaves its tags pointing at it";
    DeleteTagRemovesManifest = "delete-tag-removes-manifest", ["MGMT-09"], "deleting a tag also deletes the manifest it points at";
    DeletedBlobReadable = "deleted-blob-readable", ["MGMT-13"], "DELETE of a blob answers 202 but the blob stays readable";
    DeleteUnknownManifest202 = "delete-unknown-manifest-202", ["MGMT-05"], "deleting an unknown manifest answers 202";
    DeleteUnknownBlob202 = "delete-unknown-blob-202", ["MGMT-11"], "deleting an unknown blob answers 202";
    BlobDeleteGlobal = "blob-delete-global", ["PULL-16", "PULL-19"], "a blob DELETE in one repository removes the blob from every repository (the content and all links)";
    // Referrers.
    Referrers404 = "referrers-404-unknown-subject", ["DISC-22"], "referrers of a subject nothing refers to answer 404";
    ReferrersFilterIgnored = "referrers-filter-ignored", ["DISC-28"], "artifactType is not applied, yet OCI-Filters-Applied is sent";
    NoOciSubject = "no-oci-subject-header", ["MPUT-22"], "manifest PUT with a subject does not answer OCI-Subject";
    ReferrerArtifactTypeDropped = "referrer-artifact-type-dropped", ["DISC-25"], "referrers entries have no artifactType";
    ReferrerAnnotationsDropped = "referrer-annotations-dropped", ["DISC-26"], "referrers entries have no annotations";
    // Authentication and authorization (only observable with `--auth basic|token`; see
    // `Defect::auth_mode`).
    PushWithPullToken = "push-with-pull-token", ["AUTH-19"], "a token granting pull is accepted for push";
    ReaderCanDelete = "reader-can-delete", ["AUTH-19", "AUTH-24"], "deleting needs only pull";
    MountLeaks = "mount-leaks", ["AUTH-19"], "a mount from a repository the caller may not read succeeds with 201";
    ChallengeWithoutScope = "challenge-without-scope", ["AUTH-03"], "the Bearer challenge lacks the scope parameter";
    ExpiredTokenAccepted = "expired-token-accepted", ["AUTH-22"], "a token's exp is not checked";
    AlgNoneAccepted = "alg-none-accepted", ["AUTH-22"], "an unsigned alg: none token with valid claims is accepted";
    CatalogUnfiltered = "catalog-unfiltered", ["AUTH-19"], "the catalog lists every repository to anyone";
    TokenRepoUnchecked = "token-repo-unchecked", ["AUTH-19"], "a token's grants are not matched against the repository name: a token for A works on B";
    NoWwwAuthenticate = "no-www-authenticate", ["AUTH-01"], "401 answers lack WWW-Authenticate";
    WrongPasswordToken = "wrong-password-token", ["AUTH-07"], "the token endpoint issues the user's token for a wrong password";
}

// The set is a u128 bitset.
const _: () = assert!(Defect::ALL.len() <= 128);

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown defect name; the message lists the valid ones.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown defect {name:?}; valid defects: {}", valid_names())]
pub struct UnknownDefect {
    pub name: String,
}

fn valid_names() -> String {
    Defect::ALL
        .iter()
        .map(|d| d.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for Defect {
    type Err = UnknownDefect;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Defect::ALL
            .iter()
            .copied()
            .find(|d| d.name() == s)
            .ok_or_else(|| UnknownDefect {
                name: s.to_string(),
            })
    }
}

/// The defects switched on for one registry: a bitset, `Copy`, empty by default.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Defects(u128);

impl Defects {
    pub const NONE: Defects = Defects(0);

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn has(self, d: Defect) -> bool {
        self.0 & (1u128 << d as u32) != 0
    }

    pub fn insert(&mut self, d: Defect) {
        self.0 |= 1u128 << d as u32;
    }

    pub fn iter(self) -> impl Iterator<Item = Defect> {
        Defect::ALL.iter().copied().filter(move |d| self.has(*d))
    }
}

impl FromIterator<Defect> for Defects {
    fn from_iter<I: IntoIterator<Item = Defect>>(iter: I) -> Self {
        let mut s = Defects::NONE;
        for d in iter {
            s.insert(d);
        }
        s
    }
}

impl fmt::Debug for Defects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(Defect::name))
            .finish()
    }
}

/// Repository-name check with the name defects applied (used instead of
/// [`crate::names::is_valid_name`] when any defect is on).
pub(crate) fn name_ok(defects: Defects, name: &str) -> bool {
    let folded;
    let mut name = name;
    if defects.has(Defect::UppercaseNames) {
        folded = name.to_ascii_lowercase();
        name = &folded;
    }
    if defects.has(Defect::NameLengthUnchecked) {
        return crate::names::matches_name_grammar(name);
    }
    crate::names::is_valid_name(name)
}

/// Tag check with the tag defect applied.
pub(crate) fn tag_ok(defects: Defects, tag: &str) -> bool {
    if defects.has(Defect::TagGrammarLax) {
        return !tag.is_empty() && !tag.contains(['/', ':']) && tag.len() <= 255;
    }
    crate::names::is_valid_tag(tag)
}

// Auth hooks: each auth defect is one of these functions, called at the single place the
// decision is made (`authz`, the token verifier, the token endpoint, the mount source
// check), or the `WWW-Authenticate` rewrite in `on_error`.

/// The action actually required (`reader-can-delete`: delete needs only pull).
pub(crate) fn needed_action(defects: Defects, action: Action) -> Action {
    if action == Action::Delete && defects.has(Defect::ReaderCanDelete) {
        Action::Pull
    } else {
        action
    }
}

/// Whether a token grant on `granted` covers `repository` (`token-repo-unchecked`: any).
pub(crate) fn grant_covers_name(defects: Defects, granted: &str, repository: &str) -> bool {
    granted == repository || defects.has(Defect::TokenRepoUnchecked)
}

/// Whether a granted action covers the needed one (`push-with-pull-token`: pull covers
/// push).
pub(crate) fn grant_covers_action(defects: Defects, granted: &str, needed: &str) -> bool {
    granted == needed
        || (defects.has(Defect::PushWithPullToken) && granted == "pull" && needed == "push")
}

/// Token checks to skip (`expired-token-accepted`, `alg-none-accepted`).
pub(crate) fn token_verify_options(defects: Defects) -> VerifyOptions {
    VerifyOptions {
        skip_expiry: defects.has(Defect::ExpiredTokenAccepted),
        accept_unsigned: defects.has(Defect::AlgNoneAccepted),
    }
}

/// Whether the catalog is shown in full to anyone (`catalog-unfiltered`).
pub(crate) fn catalog_unfiltered(defects: Defects) -> bool {
    defects.has(Defect::CatalogUnfiltered)
}

/// The token endpoint's password verdict (`wrong-password-token`: always accepted).
pub(crate) fn accept_credentials(defects: Defects, verified: bool) -> bool {
    verified || defects.has(Defect::WrongPasswordToken)
}

/// Whether a mount skips the pull check on its source (`mount-leaks`).
pub(crate) fn mount_source_unchecked(defects: Defects) -> bool {
    defects.has(Defect::MountLeaks)
}

/// Rewrites the request before the handler sees it: the defects that consist of ignoring
/// something the client sent.
pub(crate) fn on_request(defects: Defects, route: &Route, req: &mut RegistryRequest) {
    match route {
        Route::Upload { .. }
            if req.method == Method::PATCH && defects.has(Defect::ContentRangeIgnored) =>
        {
            req.headers.remove("content-range");
        }
        Route::Tags { .. } | Route::Catalog => {
            let ignore_n = match route {
                Route::Tags { .. } => defects.has(Defect::TagsNIgnored),
                _ => defects.has(Defect::CatalogNIgnored),
            };
            req.query.retain(|(k, v)| {
                k != "n"
                    || !(ignore_n
                        || (v == "0" && defects.has(Defect::NZeroReturnsAll))
                        || (v.parse::<u64>().is_err() && defects.has(Defect::InvalidNIgnored)))
            });
        }
        _ => {}
    }
}

/// Rewrites the handler's result: wrong statuses, codes and headers.
pub(crate) fn on_result(
    defects: Defects,
    route: &Route,
    method: &Method,
    result: Result<Response, RegistryError>,
) -> Result<Response, RegistryError> {
    let head = *method == Method::HEAD;
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => return on_error(defects, route, method, e),
    };
    let status = resp.status();
    let has = |d| defects.has(d);
    match route {
        Route::Base if has(Defect::BaseNotFound) => {
            return Err(RegistryError::new(Code::Unsupported, "not found")
                .with_status(StatusCode::NOT_FOUND));
        }
        Route::Blob { .. } if *method == Method::DELETE => {}
        Route::Blob { .. } => {
            if has(Defect::BlobGetNoDigest) && !head {
                resp.headers_mut().remove("docker-content-digest");
            }
            if has(Defect::BlobHeadNoLength) && head {
                resp.headers_mut().remove(CONTENT_LENGTH);
            }
        }
        Route::Manifest { .. } if *method == Method::PUT => {
            if has(Defect::ManifestPutNoDigest) {
                resp.headers_mut().remove("docker-content-digest");
            }
            if has(Defect::NoOciSubject) {
                resp.headers_mut().remove("oci-subject");
            }
            if has(Defect::ManifestPutBody)
                && let Some(d) = resp.headers().get("docker-content-digest").cloned()
            {
                // Keep the 201's headers; only the body and its length/type change.
                let mut r = response::json(status, &json!({ "digest": d.to_str().ok() }));
                for (k, v) in resp.headers() {
                    if k != CONTENT_LENGTH && k != CONTENT_TYPE {
                        r.headers_mut().insert(k, v.clone());
                    }
                }
                resp = r;
            }
        }
        Route::Manifest { .. }
            if *method == Method::DELETE
                && has(Defect::DeleteManifest200)
                && status == StatusCode::ACCEPTED =>
        {
            *resp.status_mut() = StatusCode::OK;
        }
        Route::Manifest { .. } if *method == Method::DELETE => {}
        Route::Manifest { .. } => {
            if has(Defect::ManifestHeadNoDigest) && head {
                resp.headers_mut().remove("docker-content-digest");
            }
            if has(Defect::ManifestContentTypeJson) && resp.headers().contains_key(CONTENT_TYPE) {
                response::set(&mut resp, CONTENT_TYPE, "application/json");
            }
        }
        Route::UploadStart { .. } | Route::Upload { .. } => {
            upload_headers(defects, &mut resp);
            if has(Defect::UploadStatus200)
                && status == StatusCode::NO_CONTENT
                && !is_delete(method)
            {
                *resp.status_mut() = StatusCode::OK;
            }
            if has(Defect::UploadStartNoLocation)
                && matches!(route, Route::UploadStart { .. })
                && status == StatusCode::ACCEPTED
            {
                resp.headers_mut().remove("location");
            }
            if has(Defect::BareRangeNotSatisfiable) && status == StatusCode::RANGE_NOT_SATISFIABLE {
                for h in ["location", "range", "docker-upload-uuid"] {
                    resp.headers_mut().remove(h);
                }
            }
        }
        Route::Tags { .. } if has(Defect::TagsContentTypeText) => {
            response::set(&mut resp, CONTENT_TYPE, "text/plain; charset=utf-8");
        }
        _ => {}
    }
    if has(Defect::LinkWithoutRel)
        && let Some(link) = resp.headers().get("link").and_then(|v| v.to_str().ok())
    {
        let bare = link.split(';').next().unwrap_or_default().to_string();
        response::set(&mut resp, "link", bare);
    }
    Ok(resp)
}

fn is_delete(m: &Method) -> bool {
    *m == Method::DELETE
}

/// Range and Docker-Upload-UUID rewrites on upload-session answers.
fn upload_headers(defects: Defects, resp: &mut Response) {
    if defects.has(Defect::UploadRangeExclusive)
        && let Some(end) = resp
            .headers()
            .get("range")
            .and_then(|v| v.to_str().ok())
            .and_then(|r| r.strip_prefix("0-"))
            .and_then(|e| e.parse::<u64>().ok())
    {
        response::set(resp, "range", format!("0-{}", end + 1));
    }
    if defects.has(Defect::UploadUuidChanges) && resp.headers().contains_key("docker-upload-uuid") {
        response::set(resp, "docker-upload-uuid", uuid::Uuid::new_v4());
    }
}

/// Error rewrites: wrong codes and statuses, errors turned into successes.
fn on_error(
    defects: Defects,
    route: &Route,
    method: &Method,
    mut e: RegistryError,
) -> Result<Response, RegistryError> {
    let has = |d| defects.has(d);
    if has(Defect::NoWwwAuthenticate) {
        e.headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case("www-authenticate"));
    }
    if has(Defect::ChallengeWithoutScope) {
        for (k, v) in &mut e.headers {
            if k.eq_ignore_ascii_case("www-authenticate") {
                *v = strip_scope(v);
            }
        }
    }
    let code = e.code();
    let get = matches!(*method, Method::GET | Method::HEAD);
    let recode = |e: &mut RegistryError, to: Code| {
        for entry in &mut e.errors {
            entry.code = to;
        }
        e.status = to.status();
    };
    match (route, code) {
        (Route::Manifest { .. }, Code::ManifestUnknown)
            if get && has(Defect::ManifestUnknownAsNameUnknown) =>
        {
            recode(&mut e, Code::NameUnknown);
        }
        (Route::Manifest { .. }, Code::ManifestUnknown)
            if is_delete(method) && has(Defect::DeleteUnknownManifest202) =>
        {
            return Ok(response::empty(StatusCode::ACCEPTED));
        }
        (Route::Blob { .. }, Code::BlobUnknown) if get && has(Defect::BlobUnknownAsNameUnknown) => {
            recode(&mut e, Code::NameUnknown);
        }
        (Route::Blob { .. }, Code::BlobUnknown)
            if is_delete(method) && has(Defect::DeleteUnknownBlob202) =>
        {
            return Ok(response::empty(StatusCode::ACCEPTED));
        }
        (Route::Blob { .. }, Code::DigestInvalid) if get && has(Defect::MalformedDigest404) => {
            recode(&mut e, Code::BlobUnknown);
        }
        (Route::Upload { .. }, Code::BlobUploadUnknown) if has(Defect::UnknownSession400) => {
            e.status = StatusCode::BAD_REQUEST;
        }
        (Route::Manifest { .. }, Code::ManifestInvalid) if has(Defect::InvalidManifest500) => {
            recode(&mut e, Code::Unknown);
        }
        (Route::Manifest { .. }, Code::ManifestBlobUnknown) => {
            if has(Defect::MissingBlobFirstOnly) {
                e.errors.truncate(1);
            }
            if has(Defect::ManifestBlobUnknown500) {
                recode(&mut e, Code::Unknown);
            }
        }
        (Route::Manifest { .. }, Code::SizeInvalid)
            if e.status == StatusCode::PAYLOAD_TOO_LARGE && has(Defect::ManifestTooLarge400) =>
        {
            e.status = StatusCode::BAD_REQUEST;
        }
        (Route::Tags { name }, Code::NameUnknown) if has(Defect::TagsUnknownRepoEmpty) => {
            return Ok(response::json(
                StatusCode::OK,
                &json!({ "name": name, "tags": [] }),
            ));
        }
        _ => {}
    }
    if has(Defect::ErrorBodyPlainText) && *method != Method::HEAD {
        let text = e
            .errors
            .first()
            .map(|x| x.message.clone())
            .unwrap_or_default();
        return Ok(plain_text(e.status, text));
    }
    Err(e)
}

/// Drops the `scope="…"` parameter from a challenge.
fn strip_scope(challenge: &str) -> String {
    match challenge.find(",scope=\"") {
        Some(i) => {
            let rest = &challenge[i + 8..];
            let end = rest
                .find('"')
                .map(|j| i + 8 + j + 1)
                .unwrap_or(challenge.len());
            format!("{}{}", &challenge[..i], &challenge[end..])
        }
        None => challenge.to_string(),
    }
}

fn plain_text(status: StatusCode, text: String) -> Response {
    let len = text.len();
    let mut r = Response::new(Bytes::from(text).into());
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response::set(&mut r, CONTENT_LENGTH, len);
    r
}

/// Re-serialises a manifest the way a registry that parses into a typed struct and writes
/// it back out would (key order and whitespace change, so the digest no longer matches).
pub(crate) fn reserialize(body: Vec<u8>) -> Vec<u8> {
    serde_json::from_slice::<serde_json::Value>(&body)
        .and_then(|v| serde_json::to_vec_pretty(&v))
        .unwrap_or(body)
}

/// Opens a blob by digest alone, ignoring repository links.
pub(crate) async fn open_blob_unscoped(
    storage: &dyn crate::storage::store::Store,
    d: &crate::digest::Digest,
) -> std::io::Result<Option<crate::storage::store::Blob>> {
    storage.open_content(d).await
}

/// Deletes a blob the way a registry without per-repository links would: the content
/// itself and every repository's link to it, so a blob deleted in one repository vanishes
/// from all others that pushed or mounted it.
pub(crate) async fn delete_blob_everywhere(
    storage: &dyn crate::storage::store::Store,
    d: &crate::digest::Digest,
) -> std::io::Result<()> {
    for repo in storage.list_repositories().await? {
        storage.unlink_blob(&repo, d).await?;
    }
    storage.delete_content(d).await?;
    Ok(())
}

/// Throws away a session's data, as a registry that opens the session file for writing
/// instead of appending would: a writer from offset 0, aborted, cuts the session to 0.
pub(crate) async fn restart_session(
    registry: &crate::state::Registry,
    id: &str,
    state: &mut crate::state::SessionState,
) -> std::io::Result<()> {
    registry
        .storage
        .session_writer(id, 0)
        .await?
        .abort()
        .await?;
    *state = crate::state::SessionState::fresh();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for d in Defect::ALL {
            assert_eq!(d.name().parse::<Defect>().unwrap(), *d);
            assert!(seen.insert(d.name()), "duplicate name {}", d.name());
            assert!(!d.requirements().is_empty() && !d.describe().is_empty());
        }
        assert!(Defect::ALL.len() >= 40);
        let err = "no-such".parse::<Defect>().unwrap_err().to_string();
        assert!(err.contains("no-such") && err.contains("base-404"), "{err}");
    }

    #[test]
    fn set_operations() {
        let s: Defects = [Defect::BaseNotFound, Defect::TagsUnsorted]
            .into_iter()
            .collect();
        assert!(s.has(Defect::BaseNotFound) && s.has(Defect::TagsUnsorted));
        assert!(!s.has(Defect::RangeEndExclusive));
        assert!(Defects::default().is_empty());
        assert_eq!(s.iter().count(), 2);
        assert_eq!(format!("{s:?}"), r#"{"base-404", "tags-unsorted"}"#);
    }

    #[test]
    fn scope_stripping() {
        assert_eq!(
            strip_scope(
                r#"Bearer realm="r",service="s",scope="repository:a:pull",error="invalid_token""#
            ),
            r#"Bearer realm="r",service="s",error="invalid_token""#
        );
        assert_eq!(strip_scope(r#"Bearer realm="r""#), r#"Bearer realm="r""#);
    }

    #[test]
    fn name_defects() {
        let none = Defects::NONE;
        assert!(!name_ok(none, "a/B"));
        let upper: Defects = [Defect::UppercaseNames].into_iter().collect();
        assert!(name_ok(upper, "a/B"));
        let long = "a/".repeat(200) + "b";
        assert!(!name_ok(none, &long));
        let lax: Defects = [Defect::NameLengthUnchecked].into_iter().collect();
        assert!(name_ok(lax, &long));
        assert!(!name_ok(lax, "a//b"));
    }
}

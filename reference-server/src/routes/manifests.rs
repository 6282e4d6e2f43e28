//! `GET`/`HEAD`/`PUT`/`DELETE /v2/<name>/manifests/<reference>`: pulls (PULL-01 to PULL-15),
//! pushes (MPUT-01 to MPUT-24) and deletes (MGMT-02 to MGMT-09) of manifests. Each function
//! names the requirement IDs it implements.
//!
//! Manifests are stored byte-exact with the media type they were pushed with; GET never
//! converts or negotiates (OCI byte-exactness wins over Docker's schema1 rewriting,
//! PULL-08 is excused).

use std::collections::BTreeSet;

use futures_util::StreamExt;
use serde_json::{Value, json};
use warp::http::StatusCode;
use warp::reply::Response;

use super::blobs::not_modified;
use super::validate::{self, OCI_INDEX};
use crate::defects::{self, Defect, Defects};
use crate::digest::{Algorithm, Digest};
use crate::errors::{Code, ErrorEntry, RegistryError};
use crate::names;
use crate::request::{BodyStream, RegistryRequest};
use crate::response;
use crate::state::Registry;
use crate::storage::manifests::{Lookup, ManifestMeta, Reference};

/// The reference of a GET, HEAD or DELETE, or 404 `MANIFEST_UNKNOWN` when it cannot name any
/// manifest.
///
/// A reference that is neither a valid tag (NAME-07) nor a well-formed digest of a
/// supported algorithm cannot name anything stored here, so reads and deletes answer
/// 404 `MANIFEST_UNKNOWN` for it rather than 400. OCI's endpoint table lists only 404 as
/// the failure of GET/HEAD manifest (end-3) and 404 among those of DELETE (end-9), and the
/// official OCI conformance tests (v1.1.1) request `/v2/<name>/manifests/.INVALID_MANIFEST_NAME`
/// with HEAD and GET and require 404 (PULL-09, PULL-15, MGMT-05). This is a deliberate
/// departure from Docker's 400 `TAG_INVALID` on GET/DELETE (NAME-09, a Docker SHOULD);
/// distribution answers 404 here too. The same holds for a malformed digest (`sha256:abc`,
/// upper-case hex) and a digest of an unsupported algorithm: DIG-09's 400 covers blob
/// paths, `?digest=`, `?mount=` and referrers, not manifest references.
fn read_reference(s: &str, defects: Defects) -> Result<Reference, RegistryError> {
    let r = if s.contains(':') {
        s.parse().ok().map(Reference::Digest)
    } else {
        (names::is_valid_tag(s) || defects::tag_ok(defects, s))
            .then(|| Reference::Tag(s.to_string()))
    };
    r.ok_or_else(|| unusable_reference(s))
}

/// The reference of a PUT, where a bad one is the client's mistake and gets 400: a
/// reference with `:` is a digest and must be well formed and supported (NAME-08, DIG-09,
/// 400 `DIGEST_INVALID`); anything else must be a valid tag (NAME-07, NAME-09, 400
/// `TAG_INVALID`, the legacy code OCI tolerates, ERR-23).
fn push_reference(s: &str, defects: Defects) -> Result<Reference, RegistryError> {
    if s.contains(':') {
        return Ok(Reference::Digest(s.parse()?));
    }
    if names::is_valid_tag(s) || defects::tag_ok(defects, s) {
        return Ok(Reference::Tag(s.to_string()));
    }
    Err(tag_invalid(s))
}

fn tag_invalid(tag: &str) -> RegistryError {
    RegistryError::new(Code::TagInvalid, "invalid tag").detail(json!({ "tag": tag }))
}

/// 404 `MANIFEST_UNKNOWN` for a reference that is not a tag or a usable digest.
fn unusable_reference(reference: &str) -> RegistryError {
    RegistryError::new(
        Code::ManifestUnknown,
        "manifest unknown: the reference is neither a valid tag nor a supported digest",
    )
    .detail(json!({ "reference": reference }))
}

/// `GET`/`HEAD` of a manifest by tag (PULL-01) or digest (PULL-02): 200 with the stored
/// bytes exactly as pushed (PULL-03, MPUT-07), whose digest is the one asked for.
///
/// - `Content-Type` is the stored media type, i.e. the body's `mediaType` when it has one
///   (PULL-06), else the pushed `Content-Type` (PULL-04, PULL-05), without parameters
///   (HDR-08). HEAD sends the same `Content-Type` (PULL-14).
/// - `Docker-Content-Digest` is the digest of the whole served manifest, on GET and HEAD
///   (HDR-02, HDR-03, PULL-11, PULL-13, FUT-01); HEAD also has `Content-Length` (PULL-13)
///   and no body (PULL-12; the dispatcher strips error bodies too, BASE-14).
/// - `ETag` and `If-None-Match` → 304 (HDR-10).
/// - Unknown repository → 404 `NAME_UNKNOWN` (PULL-10); unknown tag or digest, and a
///   reference that is neither a tag nor a usable digest → 404 `MANIFEST_UNKNOWN` (PULL-09,
///   PULL-15, NAME-09: see [`read_reference`]).
pub async fn get(
    registry: &Registry,
    req: &RegistryRequest,
    name: &str,
    reference: &str,
    head: bool,
) -> Result<Response, RegistryError> {
    let storage = &registry.storage;
    let r = match read_reference(reference, registry.config.defects) {
        Ok(r) => r,
        // An unknown repository answers NAME_UNKNOWN whatever the reference.
        Err(_) if !storage.repo_exists(name).await => {
            return Err(RegistryError::name_unknown(name));
        }
        Err(e) => return Err(e),
    };
    let (d, meta, bytes) = match storage.lookup_manifest(name, &r).await? {
        Lookup::NoRepository => return Err(RegistryError::name_unknown(name)),
        Lookup::Unknown => return Err(RegistryError::manifest_unknown(reference)),
        Lookup::Found {
            digest,
            meta,
            bytes,
        } => (digest, meta, bytes),
    };
    let media_type = validate::bare_media_type(&meta.media_type).to_string();
    let mut resp = if not_modified(req, &d) {
        let mut r = response::empty(StatusCode::NOT_MODIFIED);
        r.headers_mut().remove("content-length");
        r
    } else if head {
        let mut r = response::empty(StatusCode::OK);
        response::set(&mut r, "content-length", bytes.len());
        response::set(&mut r, "content-type", &media_type);
        r
    } else {
        response::bytes(StatusCode::OK, &media_type, bytes)
    };
    response::set(&mut resp, "docker-content-digest", &d);
    response::set(&mut resp, "etag", format!("\"{d}\""));
    Ok(resp)
}

/// How much of an oversized manifest body is read and thrown away before answering 413.
/// Answering while the client is still sending makes the client see a broken pipe instead of
/// the 413 (hyper drops the response), so the rest is drained, but only up to this bound.
const OVERSIZE_DRAIN_LIMIT: u64 = 64 * 1024 * 1024;

/// Reads the body up to `limit` bytes; `None` when it is larger (413).
async fn read_limited(
    req: &mut RegistryRequest,
    limit: usize,
) -> Result<Option<Vec<u8>>, RegistryError> {
    let mut body = req.take_body();
    if req.content_length().is_some_and(|l| l > limit as u64) {
        drain(&mut body, OVERSIZE_DRAIN_LIMIT).await;
        return Ok(None);
    }
    let mut buf = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(crate::errors::body_error)?;
        if buf.len() + chunk.len() > limit {
            drain(&mut body, OVERSIZE_DRAIN_LIMIT).await;
            return Ok(None);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Some(buf))
}

/// Reads and discards the rest of a body, stopping after `limit` bytes or at the first error.
async fn drain(body: &mut BodyStream, limit: u64) {
    let mut seen = 0u64;
    while seen <= limit {
        match body.next().await {
            Some(Ok(chunk)) => seen += chunk.len() as u64,
            _ => return,
        }
    }
}

/// `PUT` of a manifest by tag (MPUT-01) or by digest (MPUT-02): 201 with a `Location` that
/// serves it (MPUT-04), `Docker-Content-Digest` of the uploaded bytes (MPUT-05, HDR-05) and
/// an empty body (MPUT-06, HDR-07).
///
/// - The digest is computed over the received bytes, which are stored unchanged (DIG-07,
///   MPUT-07, MPUT-08); a body that doesn't hash to the digest reference is 400
///   `DIGEST_INVALID` (MPUT-03). A digest reference may be sha512 (DIG-05).
/// - Validation ([`validate::check_with`]) gives 400 `MANIFEST_INVALID` (MPUT-18); bodies
///   above `max_manifest_size` (4 MiB by default, so at least 4 MB is accepted, MPUT-21)
///   get 413 (MPUT-20).
/// - Missing references: see [`missing_references`] (MPUT-12 to MPUT-16).
/// - A tag reference and every `?tag=` (FUT-06, answered in `OCI-Tag`) are set, moving an
///   existing tag while the old manifest stays reachable by digest (MPUT-24); the tag list
///   shows them at once (DISC-15). A malformed tag is 400 `TAG_INVALID` (NAME-07, NAME-09).
/// - With a `subject`, the referrers index gets an entry (DISC-20, DISC-30; see
///   [`referrer_descriptor`]) and the answer carries `OCI-Subject` (MPUT-22). The referrers
///   API always exists here, so there is no registry state in which `OCI-Subject` must be
///   withheld (MPUT-23).
/// - `If-Match`/`If-None-Match` on the PUT are ignored: OCI lets clients use conditional
///   requests to update a referrers tag (DISC-34), but a registry need not honour them, and
///   with the referrers API clients don't need the tag.
pub async fn put(
    registry: &Registry,
    req: &mut RegistryRequest,
    name: &str,
    reference: &str,
) -> Result<Response, RegistryError> {
    let defects = registry.config.defects;
    let r = push_reference(reference, defects)?;
    let mut tags: Vec<String> = Vec::new();
    if let Reference::Tag(t) = &r {
        tags.push(t.clone());
    }
    let extra_tags: Vec<String> = req
        .query_all("tag")
        .into_iter()
        .map(str::to_string)
        .collect();
    for t in &extra_tags {
        if !names::is_valid_tag(t) && !defects::tag_ok(defects, t) {
            return Err(tag_invalid(t));
        }
    }
    tags.extend(extra_tags.iter().cloned());
    let limit = registry.config.max_manifest_size;
    let Some(body) = read_limited(req, limit).await? else {
        return Err(RegistryError::new(
            Code::SizeInvalid,
            format!("manifest larger than {limit} bytes"),
        )
        .with_status(StatusCode::PAYLOAD_TOO_LARGE)
        .detail(json!({ "limit": limit })));
    };
    let checked = validate::check_with(&body, req.header("content-type"), defects)?;
    let algorithm = match &r {
        Reference::Digest(d) => d.algorithm(),
        Reference::Tag(_) => Algorithm::Sha256,
    };
    let d = algorithm.digest_of(&body);
    if let Reference::Digest(want) = &r
        && *want != d
        && !defects.has(Defect::ManifestDigestUnchecked)
    {
        return Err(RegistryError::new(
            Code::DigestInvalid,
            "manifest digest does not match the reference",
        )
        .detail(json!({ "digest": want.to_string(), "actual": d.to_string() })));
    }
    // Pinned before the references are checked and until the last file is written, so a
    // collection running now cannot remove what this manifest needs (see `crate::gc::pins`).
    let _pinned = registry.pins.pin(
        checked
            .required_blobs
            .iter()
            .chain(&checked.required_manifests)
            .filter_map(|s| s.parse::<Digest>().ok())
            .chain([d.clone()]),
    );
    missing_references(registry, name, &checked).await?;

    // Publish in an order where a crash never leaves anything visible that points at
    // nothing, or a manifest whose referrer entry is missing: bytes, then the referrer
    // entry (listed only once the revision exists), then the revision, then the tags.
    let storage = &registry.storage;
    let size = body.len();
    let body = match defects.has(Defect::ManifestReserialized) {
        true => defects::reserialize(body),
        false => body,
    };
    storage.put_blob_bytes(&d, body).await?;
    let subject = checked
        .subject
        .as_deref()
        .and_then(|s| s.parse::<Digest>().ok());
    if let Some(subject) = &subject {
        let desc = referrer_descriptor(&checked, &d, size, defects);
        storage.add_referrer(name, subject, &d, &desc).await?;
    }
    storage
        .put_manifest_revision(
            name,
            &d,
            &ManifestMeta {
                media_type: checked.media_type.clone(),
            },
        )
        .await?;
    for t in &tags {
        if defects.has(Defect::TagNotMoved) && storage.resolve_tag(name, t).await?.is_some() {
            continue;
        }
        storage.set_tag(name, t, &d).await?;
    }
    let mut resp = response::empty(StatusCode::CREATED);
    response::set(&mut resp, "location", format!("/v2/{name}/manifests/{d}"));
    response::set(&mut resp, "docker-content-digest", &d);
    if let Some(s) = &checked.subject {
        response::set(&mut resp, "oci-subject", s);
    }
    if !extra_tags.is_empty() {
        response::set(&mut resp, "oci-tag", tags.join(", "));
    }
    Ok(resp)
}

/// The referrers-list entry of a manifest with a `subject` (MFMT-12): a descriptor of the
/// manifest itself (DISC-24) with its `artifactType`, falling back to the config's media
/// type for image manifests and absent for indexes (DISC-25), and its annotations copied
/// (DISC-26).
fn referrer_descriptor(
    checked: &validate::Checked,
    d: &Digest,
    size: usize,
    defects: Defects,
) -> Value {
    let mut desc =
        json!({ "mediaType": checked.media_type, "digest": d.to_string(), "size": size });
    if let Some(at) = &checked.artifact_type
        && !defects.has(Defect::ReferrerArtifactTypeDropped)
    {
        desc["artifactType"] = Value::String(at.clone());
    }
    if let Some(a) = &checked.annotations
        && !defects.has(Defect::ReferrerAnnotationsDropped)
    {
        desc["annotations"] = a.clone();
    }
    desc
}

/// One `MANIFEST_BLOB_UNKNOWN` per missing blob or child manifest, each naming its digest
/// in `detail` (MPUT-13, MPUT-14, MPUT-15, ERR-16, ERR-07). Blobs count only when linked into
/// this repository, so content pushed elsewhere is missing here (MPUT-16). The `subject`
/// is never required: a referrer may be pushed before its subject (MPUT-12, DISC-30).
///
/// With [`crate::Config::allow_sparse_manifests`] nothing is required at all: rejecting is
/// a MAY (MPUT-13), and accepting is what sparse mirrors need. Nothing downstream assumes
/// the references exist: GET/HEAD serve the stored bytes, DELETE and the referrers index
/// look only at the manifest itself, and gc marks digests without opening them.
async fn missing_references(
    registry: &Registry,
    name: &str,
    checked: &validate::Checked,
) -> Result<(), RegistryError> {
    let storage = &registry.storage;
    let defects = registry.config.defects;
    let mut missing = BTreeSet::new();
    let sparse = registry.config.allow_sparse_manifests;
    let required_blobs = checked.required_blobs.iter().filter(|_| !sparse);
    let required_manifests = checked.required_manifests.iter().filter(|_| !sparse);
    for b in required_blobs {
        let present = match b.parse::<Digest>() {
            _ if defects.has(Defect::MissingBlobsAccepted) => true,
            Ok(d) if defects.has(Defect::BlobsCheckedGlobally) => {
                storage.blob_exists_globally(&d).await
            }
            Ok(d) => storage.blob_linked(name, &d).await,
            Err(_) => false,
        };
        if !present {
            missing.insert(b.clone());
        }
    }
    let subject = checked
        .subject
        .iter()
        .filter(|_| defects.has(Defect::SubjectRequired));
    for m in required_manifests.chain(subject) {
        let present = match m.parse::<Digest>() {
            Ok(d) => storage.manifest_meta(name, &d).await?.is_some(),
            Err(_) => false,
        };
        if !present {
            missing.insert(m.clone());
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let errors = missing
        .into_iter()
        .map(|d| ErrorEntry {
            code: Code::ManifestBlobUnknown,
            message: "manifest references a blob or manifest unknown to this repository".into(),
            detail: json!({ "digest": d }),
        })
        .collect();
    Err(RegistryError::many(StatusCode::BAD_REQUEST, errors))
}

/// `DELETE` of a manifest (deletes may be disabled: MGMT-01, refused before this handler).
///
/// - By digest: 202 (MGMT-02); the manifest, every tag pointing at it and its referrers
///   entry go, so GET by digest or by those tags is 404 afterwards (MGMT-03, DISC-15,
///   DISC-32). Blobs and child manifests stay until `gc`.
/// - By tag: 202 and only the tag goes; the manifest stays reachable by digest (MGMT-07,
///   MGMT-09).
/// - Unknown repository → 404 `NAME_UNKNOWN` (MGMT-04); unknown tag or digest, or a
///   reference that is neither → 404 `MANIFEST_UNKNOWN` (MGMT-05, [`read_reference`]).
pub async fn delete(
    registry: &Registry,
    name: &str,
    reference: &str,
) -> Result<Response, RegistryError> {
    let defects = registry.config.defects;
    let storage = &registry.storage;
    if !storage.repo_exists(name).await {
        return Err(RegistryError::name_unknown(name));
    }
    let r = read_reference(reference, defects)?;
    match r {
        Reference::Tag(t) => {
            // Delete by tag removes only the tag (MGMT-07, MGMT-09).
            let also_manifest = match defects.has(Defect::DeleteTagRemovesManifest) {
                true => storage.resolve_tag(name, &t).await?,
                false => None,
            };
            if !storage.delete_tag(name, &t).await? {
                return Err(RegistryError::manifest_unknown(reference));
            }
            if let Some(d) = also_manifest {
                storage.delete_manifest_revision(name, &d).await?;
            }
        }
        Reference::Digest(d) => {
            if storage.manifest_meta(name, &d).await?.is_none() {
                return Err(RegistryError::manifest_unknown(reference));
            }
            // The reverse of PUT's order: tags, the revision (the manifest is gone), then
            // its referrer entry, so a crash leaves at most an entry nobody lists.
            if !defects.has(Defect::DeleteKeepsTags) {
                storage.untag_digest(name, &d).await?;
            }
            let subject = storage
                .read_blob_bytes(&d)
                .await?
                .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
                .and_then(|v| {
                    v.pointer("/subject/digest")
                        .and_then(Value::as_str)
                        .and_then(|s| s.parse::<Digest>().ok())
                });
            storage.delete_manifest_revision(name, &d).await?;
            if let Some(subject) = subject {
                storage.remove_referrer(name, &subject, &d).await?;
            }
        }
    }
    Ok(response::empty(StatusCode::ACCEPTED))
}

/// The media type of the referrers answer, shared with the referrers handler.
pub const REFERRERS_MEDIA_TYPE: &str = OCI_INDEX;

//! `GET`/`HEAD`/`PUT`/`DELETE /v2/<name>/manifests/<reference>` (PULL-01..15, MPUT-*, MGMT-02..09).
//!
//! Manifests are stored byte-exact with the media type they were pushed with; GET never
//! converts or negotiates (OCI byte-exactness wins over Docker's schema1 rewriting).

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
use crate::storage::manifests::ManifestMeta;

/// A manifest reference from the path.
enum Reference {
    Tag(String),
    Digest(Digest),
}

/// Tags can't contain `:`, so anything with one is a digest (NAME-08).
fn parse_reference(s: &str, defects: Defects) -> Result<Reference, RegistryError> {
    if s.contains(':') {
        return Ok(Reference::Digest(s.parse()?));
    }
    if names::is_valid_tag(s) || defects::tag_ok(defects, s) {
        return Ok(Reference::Tag(s.to_string()));
    }
    Err(RegistryError::new(Code::TagInvalid, "invalid tag").detail(json!({ "tag": s })))
}

async fn resolve(
    registry: &Registry,
    name: &str,
    reference: &Reference,
) -> Result<Option<Digest>, RegistryError> {
    Ok(match reference {
        Reference::Digest(d) => Some(d.clone()),
        Reference::Tag(t) => registry.storage.resolve_tag(name, t).await?,
    })
}

pub async fn get(
    registry: &Registry,
    req: &RegistryRequest,
    name: &str,
    reference: &str,
    head: bool,
) -> Result<Response, RegistryError> {
    let r = parse_reference(reference, registry.config.defects)?;
    let storage = &registry.storage;
    if !storage.repo_exists(name).await {
        return Err(RegistryError::name_unknown(name));
    }
    let unknown = || RegistryError::manifest_unknown(reference);
    let d = resolve(registry, name, &r).await?.ok_or_else(unknown)?;
    let meta = storage.manifest_meta(name, &d).await?.ok_or_else(unknown)?;
    let bytes = storage.read_blob_bytes(&d).await?.ok_or_else(unknown)?;
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
        let chunk = chunk.map_err(|e| {
            RegistryError::new(Code::SizeInvalid, format!("request body ended early: {e}"))
        })?;
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

pub async fn put(
    registry: &Registry,
    req: &mut RegistryRequest,
    name: &str,
    reference: &str,
) -> Result<Response, RegistryError> {
    let defects = registry.config.defects;
    let r = parse_reference(reference, defects)?;
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
            return Err(
                RegistryError::new(Code::TagInvalid, "invalid tag").detail(json!({ "tag": t }))
            );
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
    missing_references(registry, name, &checked).await?;

    // Publish in an order where a crash never leaves a tag or referrer without content:
    // bytes, then the revision, then the referrer entry, then the tags.
    let storage = &registry.storage;
    let size = body.len();
    let body = match defects.has(Defect::ManifestReserialized) {
        true => defects::reserialize(body),
        false => body,
    };
    storage.put_blob_bytes(&d, body).await?;
    storage
        .put_manifest_revision(
            name,
            &d,
            &ManifestMeta {
                media_type: checked.media_type.clone(),
            },
        )
        .await?;
    let subject = checked
        .subject
        .as_deref()
        .and_then(|s| s.parse::<Digest>().ok());
    if let Some(subject) = &subject {
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
        storage.add_referrer(name, subject, &d, &desc).await?;
    }
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

/// One `MANIFEST_BLOB_UNKNOWN` per missing blob or child manifest (MPUT-14..16).
async fn missing_references(
    registry: &Registry,
    name: &str,
    checked: &validate::Checked,
) -> Result<(), RegistryError> {
    let storage = &registry.storage;
    let defects = registry.config.defects;
    let mut missing = BTreeSet::new();
    for b in &checked.required_blobs {
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
    for m in checked.required_manifests.iter().chain(subject) {
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

pub async fn delete(
    registry: &Registry,
    name: &str,
    reference: &str,
) -> Result<Response, RegistryError> {
    let defects = registry.config.defects;
    let r = parse_reference(reference, defects)?;
    let storage = &registry.storage;
    if !storage.repo_exists(name).await {
        return Err(RegistryError::name_unknown(name));
    }
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
            if !defects.has(Defect::DeleteKeepsTags) {
                storage.untag_digest(name, &d).await?;
            }
            if let Some(bytes) = storage.read_blob_bytes(&d).await?
                && let Ok(v) = serde_json::from_slice::<Value>(&bytes)
                && let Some(subject) = v.pointer("/subject/digest").and_then(Value::as_str)
                && let Ok(subject) = subject.parse::<Digest>()
            {
                storage.remove_referrer(name, &subject, &d).await?;
            }
            storage.delete_manifest_revision(name, &d).await?;
        }
    }
    Ok(response::empty(StatusCode::ACCEPTED))
}

/// The media type of the referrers answer, shared with the referrers handler.
pub const REFERRERS_MEDIA_TYPE: &str = OCI_INDEX;

//! Blob upload sessions (PUSH-01 to PUSH-48): open, mount, single POST, chunked and streamed
//! PATCH, status, closing PUT, cancel. Each function names the requirement IDs it
//! implements.
//!
//! The session's bytes are appended through the store's session writer
//! ([`crate::storage::store::SessionWriter`]) while a sha256 runs over them; a chunk is all
//! or nothing (any failure cuts the session back to the previous offset and restores the
//! hash). If the closing digest is sha512 we read the session back once instead of hashing
//! every upload twice.

use std::io;

use futures_util::StreamExt;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;

use super::blob_location;
use crate::authz::{self, Action};
use crate::defects::{self, Defect};
use crate::digest::{Algorithm, Digest, Hasher};
use crate::errors::{Code, RegistryError};
use crate::request::{BodyStream, RegistryRequest};
use crate::response;
use crate::state::{Registry, SessionState};
use crate::storage::uploads::SessionInfo;

/// Session `Location`: relative, holding the session's unique id (NAME-10, PUSH-05). The
/// `_state` query is ignored on input; it is there so clients that build upload URLs
/// themselves instead of using `Location` as given break early (PUSH-06).
fn session_location(name: &str, id: &str, offset: u64) -> String {
    format!("/v2/{name}/blobs/uploads/{id}?_state={offset}")
}

/// Upload progress: `0-<last byte>`, inclusive, no unit (PUSH-20), so after a PATCH its end
/// is the end of the chunk's `Content-Range` (FUT-12); `0-0` for an empty session (as
/// distribution does; PUSH-33 leaves it undefined).
fn progress(offset: u64) -> String {
    format!("0-{}", offset.saturating_sub(1))
}

/// The headers every session answer carries: `Location`, `Range`, and
/// `Docker-Upload-UUID` (HDR-06), the session id, so it stays the same for the session's
/// whole life (PUSH-40); with `Content-Length: 0` this is Docker's 202 (PUSH-03).
fn session_reply(status: StatusCode, name: &str, id: &str, offset: u64) -> Response {
    let mut r = response::empty(status);
    response::set(&mut r, "location", session_location(name, id, offset));
    response::set(&mut r, "range", progress(offset));
    response::set(&mut r, "docker-upload-uuid", id);
    r
}

/// Checks that `id` is a live session of `name`: unknown, finished, cancelled, purged
/// sessions and sessions of another repository are 404 `BLOB_UPLOAD_UNKNOWN` (PUSH-34,
/// ERR-14).
async fn lookup(registry: &Registry, name: &str, id: &str) -> Result<(), RegistryError> {
    match registry.storage.session_info(id).await? {
        Some(info) if belongs(registry, &info, name) => Ok(()),
        _ => Err(RegistryError::upload_unknown(id)),
    }
}

/// Whether a session opened for `info.repository` may be used through `name`.
fn belongs(registry: &Registry, info: &SessionInfo, name: &str) -> bool {
    info.repository == name || registry.config.defects.has(Defect::ForeignSessionAccepted)
}

/// Takes the session's lock and returns it with the committed offset. The session is
/// looked up before (no lock for unknown ids) and again after waiting: a PUT, a cancel or
/// the idle purge may have ended it meanwhile, and that is a 404, never a 500.
async fn acquire(
    registry: &Registry,
    name: &str,
    id: &str,
) -> Result<(tokio::sync::OwnedMutexGuard<SessionState>, u64), RegistryError> {
    lookup(registry, name, id).await?;
    let guard = registry.session_lock(id).lock_owned().await;
    match registry.storage.session_status(id).await? {
        Some((info, offset)) if belongs(registry, &info, name) => Ok((guard, offset)),
        _ => Err(RegistryError::upload_unknown(id)),
    }
}

/// `POST /v2/<name>/blobs/uploads/`: mount, single-request upload, or a new session.
///
/// - Plain POST: 202 with `Location`, `Range` and `Docker-Upload-UUID` (PUSH-01, PUSH-03).
///   A body is not expected (PUSH-02) and is ignored; the data comes in PATCH or PUT.
/// - `?mount=&from=`: see [`try_mount`]; a mount that can't happen falls back to a fresh
///   session, 202 (PUSH-43). A malformed `mount` digest is 400 `DIGEST_INVALID` (DIG-09).
/// - `?digest=`: single-POST upload ([`single_post`], PUSH-15). Since it is supported, the
///   202 fallback of registries without it (PUSH-16) never happens here.
/// - `?digest-algorithm=` (OCI main): sha256 and sha512 open a session as usual (FUT-02; the
///   algorithm is decided by the closing digest); any other is 400 `DIGEST_INVALID` (FUT-03).
/// - Whatever opens a session is 429 `TOOMANYREQUESTS` with `Retry-After` past
///   `--max-upload-sessions` (ERR-27, [`crate::limits::create_session`]).
pub async fn start(
    registry: &Registry,
    req: &mut RegistryRequest,
    name: &str,
) -> Result<Response, RegistryError> {
    if let Some(mount) = req.query("mount") {
        let d: Digest = mount.parse()?;
        if let Some(r) = try_mount(registry, req, name, &d).await? {
            return Ok(r);
        }
        // Fallback: an ordinary session (PUSH-43).
    } else if !req.query_all("digest").is_empty() {
        return single_post(registry, req, name).await;
    } else if let Some(alg) = req.query("digest-algorithm")
        && Algorithm::from_name(alg).is_none()
    {
        return Err(RegistryError::new(
            Code::DigestInvalid,
            format!(
                "unsupported digest algorithm {alg:?}: this registry supports sha256 and sha512"
            ),
        ));
    }
    let id = crate::limits::create_session(registry, name).await?;
    Ok(session_reply(StatusCode::ACCEPTED, name, &id, 0))
}

/// Links `d` into `name` from `from`, or from any repository the caller may read, through
/// the single authorization hook so a mount never leaks content (PUSH-44, PUSH-45).
///
/// Success is 201 with the blob's `Location`, `Docker-Content-Digest`, `Docker-Upload-UUID`
/// and `Content-Length: 0`, and the blob is then readable in `name` (PUSH-41, PUSH-42,
/// HDR-05). `None` when no readable repository has it: the caller falls back (PUSH-43).
async fn try_mount(
    registry: &Registry,
    req: &RegistryRequest,
    name: &str,
    d: &Digest,
) -> Result<Option<Response>, RegistryError> {
    let storage = &registry.storage;
    // Held until the link is written, so a collection cannot take the blob in between.
    let _pinned = registry.pins.pin([d.clone()]);
    let unchecked = registry.config.defects.has(Defect::MountUnchecked);
    if !unchecked && !storage.blob_exists_globally(d).await {
        return Ok(None);
    }
    let leaks = crate::defects::mount_source_unchecked(registry.config.defects);
    let readable = |repo: &str| {
        crate::names::is_valid_name(repo)
            && (leaks || authz::allowed(&req.caller, repo, Action::Pull))
    };
    let mut source = None;
    if let Some(from) = req.query("from")
        && readable(from)
        && storage.blob_linked(from, d).await
    {
        source = Some(from.to_string());
    }
    if source.is_none() {
        for repo in storage.list_repositories().await? {
            if readable(&repo) && storage.blob_linked(&repo, d).await {
                source = Some(repo);
                break;
            }
        }
    }
    if source.is_none() && !unchecked {
        return Ok(None);
    }
    storage.link_blob(name, d).await?;
    let mut r = response::empty(StatusCode::CREATED);
    response::set(&mut r, "location", blob_location(name, d));
    response::set(&mut r, "docker-content-digest", d);
    response::set(&mut r, "docker-upload-uuid", uuid::Uuid::new_v4());
    Ok(Some(r))
}

/// `POST …?digest=`: the whole blob in one request (PUSH-15), checked against the digest
/// and the declared length like a closing PUT; a mismatch is 400 and nothing is stored
/// (PUSH-17).
async fn single_post(
    registry: &Registry,
    req: &mut RegistryRequest,
    name: &str,
) -> Result<Response, RegistryError> {
    let digests = requested_digests(req)?;
    let id = crate::limits::create_session(registry, name).await?;
    let lock = registry.session_lock(&id);
    let mut state = lock.lock().await;
    *state = SessionState::fresh();
    let declared = req.content_length();
    let result = async {
        append(registry, &id, &mut state, req.take_body(), declared, 0).await?;
        commit(registry, name, &id, &mut state, &digests).await
    }
    .await;
    match result {
        Ok(d) => Ok(created(name, &id, &d)),
        Err(e) => {
            registry.storage.remove_session(&id).await?;
            registry.forget_session(&id);
            Err(e)
        }
    }
}

/// `GET <location>`: 204 with `Location` and `Range` (PUSH-30), the offset a client resumes
/// from after an interrupted or refused chunk (PUSH-32).
///
/// After a crash the offset is the length of the data file, which may include bytes of a
/// chunk the client never saw acknowledged: they are the client's bytes in order, so
/// resuming from `Range` is correct.
pub async fn status(registry: &Registry, name: &str, id: &str) -> Result<Response, RegistryError> {
    // Wait for a PATCH in flight on this session: until it ends (or is cut back after a
    // broken connection), the data file's length is not a committed offset.
    let (_state, offset) = acquire(registry, name, id).await?;
    Ok(session_reply(StatusCode::NO_CONTENT, name, id, offset))
}

/// `DELETE <location>`: cancel, 204 (PUSH-37, FUT-05); the session is then unknown (404).
/// Cancelling an unknown session is 404 `BLOB_UPLOAD_UNKNOWN` (PUSH-38).
pub async fn cancel(registry: &Registry, name: &str, id: &str) -> Result<Response, RegistryError> {
    let (_state, _) = acquire(registry, name, id).await?;
    if !registry.config.defects.has(Defect::CancelKeepsSession) {
        registry.storage.remove_session(id).await?;
        registry.forget_session(id);
    }
    let mut r = response::empty(StatusCode::NO_CONTENT);
    response::set(&mut r, "docker-upload-uuid", id);
    Ok(r)
}

/// Parses `Content-Range: <a>-<b>`, inclusive, no unit (PUSH-19); the lenient `bytes a-b/*`
/// and `bytes=a-b` are accepted too.
pub(crate) fn parse_content_range(v: &str) -> Option<(u64, u64)> {
    let v = v.trim();
    let v = v
        .strip_prefix("bytes=")
        .or_else(|| v.strip_prefix("bytes "))
        .unwrap_or(v);
    let v = v.split_once('/').map(|(r, _)| r).unwrap_or(v);
    let (a, b) = v.trim().split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if !digits(a) || !digits(b) {
        return None;
    }
    let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
    // `0-18446744073709551615` is a range of 2^64 bytes: its length, `b - a + 1` in
    // `chunk_length`, does not fit a u64 (an overflow panic in debug builds; the
    // `content_range` fuzz target checks it). No body is that long: malformed, like `5-4`.
    (b >= a && (b - a).checked_add(1).is_some()).then_some((a, b))
}

/// Decides how many bytes a request body must carry. `Err(())`: the chunk can't be taken
/// at this offset (416): it doesn't start at the current offset (PUSH-21), or the
/// `Content-Range` is malformed or disagrees with `Content-Length` (PUSH-22). Without
/// `Content-Range` the body is streamed as it comes (PUSH-25).
fn chunk_length(req: &RegistryRequest, offset: u64) -> Result<Option<u64>, ()> {
    let Some(cr) = req.header("content-range") else {
        return Ok(req.content_length());
    };
    let (a, b) = parse_content_range(cr).ok_or(())?;
    let len = b - a + 1;
    if a != offset || req.content_length().is_some_and(|cl| cl != len) {
        return Err(());
    }
    Ok(Some(len))
}

/// The 416 answer: empty body, `Location`, `Range`, `Docker-Upload-UUID`, so the client
/// can resume from the current progress (PUSH-23, PUSH-32).
fn range_not_satisfiable(name: &str, id: &str, offset: u64) -> Response {
    session_reply(StatusCode::RANGE_NOT_SATISFIABLE, name, id, offset)
}

/// `PATCH <location>`: append a chunk (with `Content-Range`) or a stream (without,
/// PUSH-25); 202 with `Location` and `Range` (PUSH-18, PUSH-20).
pub async fn patch(
    registry: &Registry,
    req: &mut RegistryRequest,
    name: &str,
    id: &str,
) -> Result<Response, RegistryError> {
    let (mut state, offset) = acquire(registry, name, id).await?;
    let Ok(declared) = chunk_length(req, offset) else {
        return Ok(range_not_satisfiable(name, id, offset));
    };
    let mut len = offset;
    if registry.config.defects.has(Defect::PatchRestartsSession) {
        defects::restart_session(registry, id, &mut state).await?;
        len = 0;
    }
    append(registry, id, &mut state, req.take_body(), declared, len).await?;
    Ok(session_reply(StatusCode::ACCEPTED, name, id, state.offset))
}

/// `PUT <location>?digest=`: optional last chunk, verify, commit. 201 with the blob's
/// `Location` (PUSH-08, PUSH-09), `Docker-Content-Digest` and `Content-Length: 0` (PUSH-11,
/// HDR-05).
///
/// - Only a PUT commits a session (PUSH-27); without `digest` it is 400 and nothing is
///   committed (PUSH-12).
/// - The last chunk may travel in the PUT, or the PUT may be empty (PUSH-26); a final chunk
///   whose `Content-Range` doesn't start at the current offset is 416 (PUSH-29, FUT-04) and
///   the session stays usable.
/// - The digest is checked over the whole session (PUSH-28): a mismatch is 400
///   `DIGEST_INVALID` and nothing is stored (PUSH-13).
pub async fn put(
    registry: &Registry,
    req: &mut RegistryRequest,
    name: &str,
    id: &str,
) -> Result<Response, RegistryError> {
    let (mut state, offset) = acquire(registry, name, id).await?;
    let digests = requested_digests(req)?;
    let Ok(declared) = chunk_length(req, offset) else {
        return Ok(range_not_satisfiable(name, id, offset));
    };
    if registry.config.defects.has(Defect::PutBodyIgnored) {
        sync_state(registry, id, &mut state, offset).await?;
    } else {
        append(registry, id, &mut state, req.take_body(), declared, offset).await?;
    }
    match commit(registry, name, id, &mut state, &digests).await {
        Ok(d) => Ok(created(name, id, &d)),
        Err(e) => {
            // Like distribution, a failed close ends the session: nothing is committed and
            // the client starts over.
            registry.storage.remove_session(id).await?;
            registry.forget_session(id);
            Err(e)
        }
    }
}

fn created(name: &str, id: &str, d: &Digest) -> Response {
    let mut r = response::empty(StatusCode::CREATED);
    response::set(&mut r, "location", blob_location(name, d));
    response::set(&mut r, "docker-content-digest", d);
    response::set(&mut r, "docker-upload-uuid", id);
    r
}

/// Every `digest` query parameter, validated (DIG-09, DIG-10, PUSH-12, FUT-03).
fn requested_digests(req: &RegistryRequest) -> Result<Vec<Digest>, RegistryError> {
    let raw = req.query_all("digest");
    if raw.is_empty() {
        return Err(RegistryError::new(
            Code::DigestInvalid,
            "the digest query parameter is required to close an upload",
        ));
    }
    raw.into_iter()
        .map(|s| s.parse::<Digest>().map_err(RegistryError::from))
        .collect()
}

/// Makes `state` describe the data file exactly, given its length `len` (read under the
/// session's lock), re-reading the file after a restart.
async fn sync_state(
    registry: &Registry,
    id: &str,
    state: &mut SessionState,
    len: u64,
) -> Result<(), RegistryError> {
    if state.sha256.is_some() && state.offset == len {
        return Ok(());
    }
    if len == 0 {
        // A new session (or one first touched after a restart, with nothing in it yet).
        *state = SessionState::fresh();
        return Ok(());
    }
    let h = hash_session(registry, id, Algorithm::Sha256).await?;
    *state = SessionState {
        offset: len,
        sha256: Some(h),
    };
    Ok(())
}

/// Hashes the session's committed bytes, read back from storage.
async fn hash_session(registry: &Registry, id: &str, alg: Algorithm) -> io::Result<Hasher> {
    let mut bytes = registry.storage.read_session(id).await?;
    let mut h = Hasher::new(alg);
    while let Some(chunk) = bytes.next().await {
        h.update(&chunk?);
    }
    Ok(h)
}

/// Appends `body` to the session. When `declared` is given the body must have exactly
/// that many bytes (else 400 `SIZE_INVALID`: PUSH-14, ERR-22). On any failure the data and
/// hash are rolled back to where they were, so the session can be resumed from its last
/// good offset (PUSH-32). A zero-length body is fine, so an empty blob can be uploaded
/// (PUSH-48). `len` is the data file's length, read under the session's lock.
async fn append(
    registry: &Registry,
    id: &str,
    state: &mut SessionState,
    mut body: BodyStream,
    declared: Option<u64>,
    len: u64,
) -> Result<u64, RegistryError> {
    sync_state(registry, id, state, len).await?;
    let saved = state.clone();
    let mut file = registry.storage.session_writer(id, saved.offset).await?;
    let mut hasher = saved
        .sha256
        .clone()
        .unwrap_or_else(|| Hasher::new(Algorithm::Sha256));
    let mut written: u64 = 0;
    let outcome: Result<(), RegistryError> = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(crate::errors::body_error)?;
            written += chunk.len() as u64;
            if declared.is_some_and(|d| written > d) {
                return Err(size_invalid(declared, written));
            }
            // Hashed here while the writer thread writes the previous batches.
            hasher.update(&chunk);
            file.write(chunk).await?;
        }
        if declared.is_some_and(|d| written != d) {
            return Err(size_invalid(declared, written));
        }
        Ok(())
    }
    .await;
    let outcome = match outcome {
        Ok(()) => file.finish().await.map_err(RegistryError::from),
        Err(e) => {
            file.abort().await?;
            Err(e)
        }
    };
    match outcome {
        Ok(()) => {
            *state = SessionState {
                offset: saved.offset + written,
                sha256: Some(hasher),
            };
            Ok(written)
        }
        Err(e) => {
            *state = saved;
            Err(e)
        }
    }
}

fn size_invalid(declared: Option<u64>, got: u64) -> RegistryError {
    RegistryError::new(
        Code::SizeInvalid,
        "the body length does not match the declared length",
    )
    .detail(json!({ "declared": declared, "received": got }))
}

/// Verifies the requested digests and publishes the data as a blob of `name`.
///
/// sha256 is always verified (DIG-04), sha512 on request (DIG-05), both over the whole
/// session (PUSH-28); a mismatch is 400 `DIGEST_INVALID` with nothing stored (PUSH-13,
/// PUSH-17). On success the blob is linked into `name` and readable there with exactly
/// these bytes (PUSH-10). Two sessions committing the same content both succeed
/// (PUSH-47, see [`crate::storage::Storage::publish_session`]). `state` must describe the
/// data file exactly ([`sync_state`], which [`append`] does).
async fn commit(
    registry: &Registry,
    name: &str,
    id: &str,
    state: &mut SessionState,
    digests: &[Digest],
) -> Result<Digest, RegistryError> {
    for want in digests {
        let got = match want.algorithm() {
            Algorithm::Sha256 => state.sha256.as_ref().map(Hasher::finish),
            Algorithm::Sha512 => Some(
                hash_session(registry, id, Algorithm::Sha512)
                    .await?
                    .finish(),
            ),
        };
        if got.as_ref() != Some(want) && !registry.config.defects.has(Defect::BlobDigestUnchecked) {
            return Err(RegistryError::new(
                Code::DigestInvalid,
                "provided digest did not match uploaded content",
            )
            .detail(json!({ "digest": want.to_string() })));
        }
    }
    let d = digests[0].clone();
    let storage = &registry.storage;
    // A collection running now must not take the blob between its publication and its
    // link (see `crate::gc::pins`).
    let _pinned = registry.pins.pin([d.clone()]);
    if registry.config.defects.has(Defect::FinishedSessionLingers) {
        storage.copy_session(id, name, &d).await?;
        return Ok(d);
    }
    let published = storage.publish_session(id, name, &d).await;
    registry.forget_session(id);
    if !published? {
        return Err(RegistryError::upload_unknown(id));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        assert_eq!(parse_content_range("0-9"), Some((0, 9)));
        assert_eq!(parse_content_range("bytes 10-19/*"), Some((10, 19)));
        assert_eq!(parse_content_range("bytes=10-19"), Some((10, 19)));
        assert_eq!(parse_content_range("9-0"), None);
        assert_eq!(parse_content_range("-9"), None);
        assert_eq!(parse_content_range("x"), None);
        // Fuzzing: a length of 2^64 overflowed `chunk_length`'s `b - a + 1`.
        assert_eq!(parse_content_range("0-18446744073709551615"), None);
        assert_eq!(
            parse_content_range("1-18446744073709551615"),
            Some((1, u64::MAX))
        );
        assert_eq!(progress(0), "0-0");
        assert_eq!(progress(10), "0-9");
    }
}

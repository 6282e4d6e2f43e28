//! Request-level limits: the cap on open upload sessions and the idle timeout of request
//! bodies. The connection-level ones (head size, head timeout, idle connections, number of
//! connections) are in `server.rs` and `idle.rs`.

use std::io;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;

use crate::errors::{Code, RegistryError};
use crate::request::BodyStream;
use crate::state::Registry;
use crate::storage::uploads::Opened;

/// `Retry-After` of a refused session, in seconds. Sessions end when their pushes finish,
/// which for most is seconds to minutes, so a client may look again soon; a refusal costs
/// us one directory listing.
pub const SESSION_RETRY_AFTER_SECS: u64 = 10;

/// Opens an upload session for `name`, unless `Config::max_upload_sessions` are open already:
/// then 429 `TOOMANYREQUESTS` (ERR-27) with `Retry-After` and the limit in `detail`.
///
/// Open sessions are counted as the entries of `<root>/uploads` at the time of the request,
/// not kept in a counter: a listing of at most the cap's entries costs little next to
/// creating a session (a directory, a file, a rename), and it needs no bookkeeping that
/// every way a session ends (commit, cancel, a failed close, gc, expiry, a crash, files
/// removed by hand) would have to keep right. Admissions are serialized so that concurrent
/// POSTs can't all see room for one more; the lock is held only while counting and
/// creating, never while a body is read.
pub async fn create_session(registry: &Registry, name: &str) -> Result<String, RegistryError> {
    let max = registry.config.max_upload_sessions;
    let storage = &registry.storage;
    let _admission = match max {
        0 => None,
        _ => Some(registry.session_admission.lock().await),
    };
    match storage.create_session_within(name, max).await? {
        Opened::Session(id) => Ok(id),
        Opened::Full(open) => Err(RegistryError::new(
            Code::TooManyRequests,
            format!(
                "too many upload sessions open ({open}, the limit is {max}): finish or cancel one, or retry later"
            ),
        )
        .detail(json!({ "open": open, "limit": max }))
        .with_header("retry-after", SESSION_RETRY_AFTER_SECS.to_string())),
    }
}

/// Ends `body` with a `TimedOut` error when no data arrives for `idle` (zero: never), so a
/// client trickling a body (or stopping in the middle) can't hold a request, its upload
/// session lock and its connection forever. Only time spent waiting for the client counts:
/// the clock runs while the handler waits for the next chunk, not while it writes one.
/// Handlers turn the error into 408 (`errors::body_error`) and roll the chunk back.
pub fn with_idle_timeout(body: BodyStream, idle: Duration) -> BodyStream {
    if idle.is_zero() {
        return body;
    }
    Box::pin(futures_util::stream::unfold(
        Some(body),
        move |state| async move {
            let mut body = state?;
            match tokio::time::timeout(idle, body.next()).await {
                Ok(Some(item)) => Some((item, Some(body))),
                Ok(None) => None,
                Err(_) => Some((
                    Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "no data received for {} s (the idle timeout)",
                            idle.as_secs_f64()
                        ),
                    )),
                    None,
                )),
            }
        },
    ))
}

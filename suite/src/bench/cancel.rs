//! Cancelling the upload session of a push that failed.
//!
//! A push that fails after its POST opened a session (a PATCH or the closing PUT answered
//! an error, the connection broke) would otherwise leave a partial upload on the registry
//! until its own expiry, and a failing run may leave many. So the session is cancelled
//! with a `DELETE` on its latest URL: best effort, under a short timeout, its outcome only
//! counted ([`Target::abandoned_session`]) and reported with the clean-up. The push's own
//! error is what the caller sees.

use std::time::Duration;

use reqwest::header::CONTENT_LENGTH;
use reqwest::{Method, Url};

use super::session::{Target, drain};

/// How long a cancellation may take (it never fails the run).
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// `result`, after cancelling `session` if it is an error.
pub async fn on_error<T>(
    t: &Target,
    repo: &str,
    session: &Url,
    result: anyhow::Result<T>,
) -> anyhow::Result<T> {
    if result.is_err() {
        session_of_failed_push(t, repo, session).await;
    }
    result
}

/// [`session`], counted.
pub async fn session_of_failed_push(t: &Target, repo: &str, session: &Url) {
    let gone = self::session(t, repo, session).await;
    t.abandoned_session(gone);
}

/// `DELETE <session>` under [`TIMEOUT`]: whether the session is gone (2xx, or 404: the
/// registry had ended it already, as some do when a close fails).
pub async fn session(t: &Target, repo: &str, session: &Url) -> bool {
    let delete = async {
        let resp = t
            .send(repo, |c| {
                c.request(Method::DELETE, session.clone())
                    .header(CONTENT_LENGTH, "0")
            })
            .await
            .ok()?;
        let status = resp.status();
        drain(resp).await.ok()?;
        Some(status.is_success() || status.as_u16() == 404)
    };
    tokio::time::timeout(TIMEOUT, delete)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

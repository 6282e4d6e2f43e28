//! What `push_blob` and `push_manifest` share: sending one operation of the standard
//! upload flows, expecting success, and naming the requirement of the operation that
//! went wrong.

use reqwest::Url;

use super::exchange::{Exchange, exchange, request_line};
use super::outcome::{StepEnd, fail, fail_as};
use super::state::ScenarioState;
use crate::client::{BodyCheck, OutRequest};
use crate::expect::Problem;
use crate::model::Step;

/// The requirement each operation of the built-in flows rests on: a failure names this
/// one, so a registry that breaks one upload rule gets one root cause, not a failure of
/// whatever each scenario was about.
pub(super) mod ids {
    /// POST opens a session: 202 with `Location`.
    pub const OPEN: &str = "PUSH-01";
    /// PUT `?digest=` with the blob (or closing a session): 201 with `Location`.
    pub const PUT: &str = "PUSH-08";
    /// Single POST `?digest=` with the body: 201, or 202 with a session.
    pub const SINGLE_POST: &str = "PUSH-16";
    /// PATCH with `Content-Range` appends: 202.
    pub const PATCH: &str = "PUSH-18";
    /// An accepted PATCH answers with `Location` and `Range`.
    pub const PATCH_LOCATION: &str = "PUSH-20";
    /// PATCH without `Content-Range` streams into the session (Docker, MAY).
    pub const STREAMED: &str = "PUSH-25";
    /// The last chunk may travel in the closing PUT (MAY).
    pub const FINAL_IN_PUT: &str = "PUSH-26";
    /// After the 201 the blob is readable in that repository.
    pub const READABLE: &str = "PUSH-10";
    /// PUT manifest by tag: 201.
    pub const MANIFEST_BY_TAG: &str = "MPUT-01";
    /// PUT manifest by digest: 201.
    pub const MANIFEST_BY_DIGEST: &str = "MPUT-02";
}

/// The one requirement an operation rests on, as a failure lists it.
fn id_list(id: &str) -> Vec<String> {
    vec![id.to_owned()]
}

/// Sends `req` and checks the status is one of `allowed`; a failure breaks `id`.
pub(super) async fn expect_status(
    st: &ScenarioState<'_>,
    step: &Step,
    (what, id): (&str, &str),
    req: OutRequest,
    allowed: &[u16],
) -> Result<Exchange, StepEnd> {
    let ex = exchange(st, step, &req, BodyCheck::default())
        .await
        .map_err(|e| with_requirement(e, id))?;
    if !allowed.contains(&ex.status.as_u16()) {
        let expected = allowed
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(" or ");
        let status = ex.status.as_u16().to_string();
        return Err(ex.fail(
            step,
            &id_list(id),
            Some(request_line(&req)),
            vec![Problem::new(format!("{what}: status"), expected, status)],
        ));
    }
    Ok(ex)
}

/// A transport failure during an operation breaks that operation's requirement too.
fn with_requirement(e: StepEnd, id: &str) -> StepEnd {
    match e {
        StepEnd::Fail(mut f) => {
            f.requirements = id_list(id);
            StepEnd::Fail(f)
        }
        other => other,
    }
}

/// The `Location` of a response resolved against the URL that answered (RFC 9110), or a
/// failure of `id` when it is missing.
pub(super) fn location(
    step: &Step,
    (what, id): (&str, &str),
    ex: &Exchange,
) -> Result<(String, Url), StepEnd> {
    let Some(raw) = ex.header("location") else {
        return Err(fail_as(
            step,
            &id_list(id),
            None,
            vec![Problem::new(
                format!("{what}: header Location"),
                "present",
                "absent",
            )],
            ex.transcript.clone(),
        ));
    };
    match ex.url.join(&raw) {
        Ok(u) => Ok((raw, u)),
        Err(e) => Err(fail_as(
            step,
            &id_list(id),
            None,
            vec![Problem::new(
                format!("{what}: header Location"),
                "a URL",
                format!("{raw:?}: {e}"),
            )],
            ex.transcript.clone(),
        )),
    }
}

/// The loader rejects steps naming undefined content, so this only guards against a
/// harness bug; it fails loudly rather than letting the step pass unchecked.
pub(super) fn undefined(step: &Step, kind: &str, name: &str) -> StepEnd {
    fail(
        step,
        None,
        vec![Problem::new(
            format!("{kind} {name:?}"),
            "defined by the scenario",
            "not defined (harness bug)",
        )],
        String::new(),
    )
}

/// The URL of `path` on the registry; a failure of `step` when it is not one.
pub(super) fn url(st: &ScenarioState<'_>, step: &Step, path: &str) -> Result<Url, StepEnd> {
    st.client.url_for_path(path).map_err(|e| {
        fail(
            step,
            None,
            vec![Problem::new(
                "URL",
                "a usable URL",
                format!("{path:?}: {e}"),
            )],
            String::new(),
        )
    })
}

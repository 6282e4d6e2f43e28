//! `request`: one HTTP exchange, checked against `expect`, with captures.

use indexmap::IndexMap;
use reqwest::Method;
use serde_json::Value;

use super::capture::{self, captured};
use super::common::Common;
use super::exchange::{self, Exchange, request_line};
use super::expect_rules::{check_expect, header_matchers};
use super::outcome::{Failure, StepEnd, fail, missing};
use super::send::{build, check_body, check_target};
use super::state::ScenarioState;
use crate::client::{HttpErrorKind, OutRequest};
use crate::error::LoadError;
use crate::expect::{self, Problem, error_codes};
use crate::fields::raw_fields;
use crate::model::{
    Also, AlsoSpec, BodySpec, CaptureSpec, Expect, RequestSpec, RequestStep, SkipIf, Step, StepKind,
};
use crate::validate::{Scope, StepContext};
use crate::vars::{Missing, Vars};

/// The key that makes a step a `request` step.
pub const KEY: &str = "request";

/// The fields besides its own key that a `request` step takes.
pub const ACCEPTS: &[&str] = &[
    "expect",
    "profile_expect",
    "skip_if",
    "capture",
    "also",
    "as",
];

raw_fields! {
    /// A `request` step's own fields (`expect`, `profile_expect` and `as` it shares with
    /// `paginate`: [`Common`]).
    pub struct Raw {
        /// Further expectations with their own requirements and level.
        "also" => also: Option<Vec<AlsoSpec>>,
        /// What to send.
        "request" => request: Option<RequestSpec>,
        /// When the answer means "unsupported" rather than wrong.
        "skip_if" => skip_if: Option<SkipIf>,
        /// Values taken from the answer for later steps.
        "capture" => capture: Option<IndexMap<String, CaptureSpec>>,
    }
}

impl Raw {
    /// The request, its expectations, `skip_if`, captures (defined afterwards) and `also`
    /// entries, in that order.
    pub fn check(
        &self,
        common: &Common,
        cx: &StepContext<'_>,
        scope: &mut Scope,
    ) -> Result<StepKind, LoadError> {
        let Some(req) = self.request.clone() else {
            return Err(cx.err("request: missing"));
        };
        if reqwest::Method::from_bytes(req.method.as_bytes()).is_err()
            || req.method.chars().any(|c| c.is_ascii_lowercase())
        {
            return Err(cx.err(format!(
                "method {:?} is not an upper-case HTTP method",
                req.method
            )));
        }
        check_target(
            cx,
            req.path.as_deref(),
            req.url.as_deref(),
            &req.query,
            &req.headers,
            scope,
        )?;
        let mut aborts = false;
        if let Some(b) = &req.body {
            aborts = b.abort_after.is_some();
            check_body(cx, b, scope)?;
        }
        let expect = match &common.expect {
            Some(v) => check_expect(cx, "expect", v, scope)?,
            None => Expect::default(),
        };
        let mut profile_expect = IndexMap::new();
        for (p, v) in common.profile_expect.iter().flatten() {
            profile_expect.insert(
                *p,
                check_expect(cx, &format!("profile_expect.{p}"), v, scope)?,
            );
        }
        if aborts != (expect.aborted == Some(true)) {
            return Err(cx.err(
                "a body with abort_after goes with expect {\"aborted\": true}, and only then",
            ));
        }
        if let Some(si) = &self.skip_if {
            check_skip_if(cx, si, aborts, scope)?;
        }
        let identity = cx.identity(common.as_.as_ref(), scope)?;
        let capture = self.capture.clone().unwrap_or_default();
        capture::check(cx, &capture, aborts, scope)?;
        let mut also = Vec::new();
        for (i, a) in self.also.iter().flatten().enumerate() {
            also.push(check_also(cx, i, a, aborts, scope)?);
        }
        Ok(StepKind::Request(RequestStep {
            request: req,
            expect,
            profile_expect,
            skip_if: self.skip_if.clone(),
            capture,
            also,
            identity,
        }))
    }
}

/// `skip_if` states a condition, each part well-formed; never on an aborted request.
fn check_skip_if(
    cx: &StepContext<'_>,
    si: &SkipIf,
    aborts: bool,
    scope: &Scope,
) -> Result<(), LoadError> {
    if si.status.as_ref().is_some_and(|st| st.to_vec().is_empty()) {
        return Err(cx.err("skip_if.status: give at least one status"));
    }
    if si.status.is_none() && si.headers.is_none() && si.json_pointer.is_none() {
        return Err(cx.err("skip_if: give status, headers, json_pointer or several"));
    }
    for p in si.json_pointer.iter().flat_map(|m| m.keys()) {
        if !p.starts_with('/') {
            return Err(cx.err(format!(
                "skip_if.json_pointer {p}: not a JSON pointer (starts with /)"
            )));
        }
    }
    if let Some(hs) = &si.headers {
        header_matchers(cx, "skip_if", hs, scope)?;
    }
    if aborts {
        return Err(cx.err("skip_if cannot apply to an aborted request"));
    }
    Ok(())
}

/// `also[i]`: cites requirements, checks what `expect` cannot (the body is compared while
/// it streams, set up from `expect` alone), and names profiles if any.
fn check_also(
    cx: &StepContext<'_>,
    i: usize,
    a: &AlsoSpec,
    aborts: bool,
    scope: &Scope,
) -> Result<Also, LoadError> {
    let what = format!("also[{i}]");
    if a.requirements.is_empty() {
        return Err(cx.err(format!(
            "{what}.requirements: cite the requirement it rests on"
        )));
    }
    cx.check_ids(&a.requirements)?;
    if aborts {
        return Err(cx.err("an aborted request has nothing to check"));
    }
    let expect = check_expect(cx, &format!("{what}.expect"), &a.expect, scope)?;
    if expect.aborted.is_some() || expect.body.is_some() {
        return Err(cx.err(format!(
            "{what}.expect: aborted and body checks go in expect"
        )));
    }
    let profiles = a.profiles.clone().unwrap_or_default();
    if a.profiles.as_ref().is_some_and(Vec::is_empty) {
        return Err(cx.err(format!(
            "{what}.profiles: empty list (omit it for every profile)"
        )));
    }
    Ok(Also {
        requirements: a.requirements.clone(),
        level: a.level.clone(),
        profiles,
        expect,
    })
}

/// Sends the request, then checks in order: `skip_if`, `expect` (with the profile's
/// parts), captures, `also` entries (a violated SHOULD is a warning and the step goes on).
pub(super) async fn run(
    st: &ScenarioState<'_>,
    step: &Step,
    spec: &RequestStep,
    vars: &mut Vars,
) -> Result<(), StepEnd> {
    let RequestStep {
        request,
        expect,
        profile_expect,
        skip_if,
        capture,
        also,
        identity,
    } = spec;
    let expect = match profile_expect.get(&st.profile) {
        Some(over) => expect.overridden_by(over),
        None => expect.clone(),
    };
    let mut out = build(st, step, request, vars)?;
    out.identity = exchange::identity(step, identity, vars)?;
    note_writes(st, &out, request.body.as_ref());
    let check = expect::body_check(&expect, &st.items);

    let resp = match st.client.send(&out).await {
        Ok(r) => r,
        Err(e) => {
            let on_purpose = matches!(e.kind, HttpErrorKind::RequestBody | HttpErrorKind::Response);
            if expect.aborted == Some(true) && on_purpose {
                return Ok(());
            }
            return Err(fail(
                step,
                Some(request_line(&out)),
                vec![Problem::new("response", "an HTTP response", e.to_string())],
                e.transcript,
            ));
        }
    };
    let status = resp.status;
    let headers = resp.headers.clone();
    let url = resp.url.clone();
    let auth_note = resp.auth_note.clone();
    let (body, transcript) = resp.read(check).await;
    let ex = Exchange {
        status,
        headers,
        url,
        body,
        transcript,
        auth_note,
    };

    if expect.aborted == Some(true) {
        return Err(fail(
            step,
            Some(request_line(&out)),
            vec![Problem::new(
                "response",
                "none (the body was broken off on purpose)",
                format!("status {}", ex.status.as_u16()),
            )],
            ex.transcript,
        ));
    }
    if let Some(si) = skip_if
        && skip_matches(si, &ex, vars).map_err(|m| missing(step, m))?
    {
        return Err(StepEnd::Skip(format!(
            "{} (registry answered {} to {})",
            si.reason,
            ex.status.as_u16(),
            request_line(&out)
        )));
    }
    let mut problems = expect::check(&expect, ex.status, &ex.headers, &ex.body, vars, &st.items)
        .map_err(|m| missing(step, m))?;
    // A body that broke off is the fault to name first: whatever else differs (a `200`
    // where a `404` was due, say) was read from an answer that never came whole.
    if let Some(e) = &ex.body.error {
        problems.retain(|p| p.what != "body" || !p.actual.starts_with("broken off: "));
        problems.insert(
            0,
            Problem::new(
                "response body",
                "a complete body",
                format!("broken off: {e}"),
            ),
        );
    }
    if !problems.is_empty() {
        return Err(ex.fail(step, &step.requirements, Some(request_line(&out)), problems));
    }
    for (name, spec) in capture {
        match captured(spec, &ex) {
            Ok(v) => vars.set(name.clone(), v),
            Err(p) => return Err(fail(step, Some(request_line(&out)), vec![p], ex.transcript)),
        }
    }
    for a in also {
        if !(a.profiles.is_empty() || a.profiles.contains(&st.profile)) {
            continue;
        }
        let problems = expect::check(&a.expect, ex.status, &ex.headers, &ex.body, vars, &st.items)
            .map_err(|m| missing(step, m))?;
        if problems.is_empty() {
            continue;
        }
        let mut failure = Failure::of(
            step,
            &a.requirements,
            Some(request_line(&out)),
            problems,
            ex.transcript.clone(),
        );
        failure.level = a.level.clone();
        let level = st
            .levels
            .judge(&a.requirements, a.level.as_ref(), st.profile);
        if level.fails() {
            return Err(StepEnd::Fail(Box::new(failure)));
        }
        if let Ok(mut w) = st.warnings.lock() {
            w.push(failure);
        }
    }
    Ok(())
}

/// Every condition `skip_if` states holds: status, error code and header matchers.
fn skip_matches(si: &SkipIf, ex: &Exchange, vars: &Vars) -> Result<bool, Missing> {
    if let Some(status) = &si.status
        && !status.to_vec().contains(&ex.status.as_u16())
    {
        return Ok(false);
    }
    if let Some(codes) = &si.error_code {
        let codes = codes.to_vec();
        let found = serde_json::from_slice::<Value>(&ex.body.kept)
            .ok()
            .as_ref()
            .and_then(error_codes)
            .is_some_and(|found| found.iter().any(|c| codes.contains(c)));
        if !found {
            return Ok(false);
        }
    }
    for (name, m) in si.headers.iter().flatten() {
        if !expect::header_holds(name, m, &ex.headers, vars)? {
            return Ok(false);
        }
    }
    if let Some(pointers) = &si.json_pointer {
        let doc = serde_json::from_slice::<Value>(&ex.body.kept).unwrap_or(Value::Null);
        for (ptr, m) in pointers {
            if !expect::pointer_holds(ptr, m, &doc, vars)? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Records for clean-up what a write request may create: every blob or manifest of the
/// scenario whose digest is in the URL (`?digest=`, `?mount=`, a manifest reference) or
/// that is the body, in the repository of the URL's path, or in every repository the
/// scenario used (`""`) when the URL does not name one (an opaque upload `Location`).
/// Noted before the request is sent: a write whose answer was lost may have happened.
fn note_writes(st: &ScenarioState<'_>, out: &OutRequest, body: Option<&BodySpec>) {
    if !matches!(out.method, Method::PUT | Method::POST | Method::PATCH) {
        return;
    }
    let url = out.url.as_str();
    let repo = crate::token_flow::resource_of(&out.url)
        .strip_prefix("repository:")
        .map(str::to_owned)
        .unwrap_or_default();
    let body_blob = body.and_then(|b| b.blob.as_deref());
    let body_manifest = body.and_then(|b| b.manifest.as_deref());
    let blobs = st
        .items
        .blobs
        .iter()
        .map(|(n, (i, _))| (i, body_blob == Some(n.as_str())));
    let manifests = st
        .items
        .manifests
        .iter()
        .map(|(n, i)| (i, body_manifest == Some(n.as_str())));
    let Ok(mut pushed) = st.pushed.lock() else {
        return;
    };
    for (item, is_body) in blobs.chain(manifests) {
        // The hex part alone: a query value may be percent-encoded (`sha256%3A...`).
        if is_body || (!item.hex().is_empty() && url.contains(item.hex())) {
            pushed.insert((repo.clone(), item.digest.clone()));
        }
    }
}

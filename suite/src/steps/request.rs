//! `request`: one HTTP exchange, checked against `expect`, with captures.

use bytes::Bytes;
use indexmap::IndexMap;
use regex::Regex;
use reqwest::{Method, Url};
use serde_json::Value;

use super::{Exchange, Failure, ScenarioState, StepEnd, fail, missing, request_line};
use crate::client::{HttpErrorKind, OutBody, OutRequest};
use crate::content::Content;
use crate::expect::{self, Problem, error_codes};
use crate::model::{BodySpec, CaptureSpec, QueryValue, RequestSpec, RequestStep, SkipIf, Step};
use crate::vars::{Missing, Vars};

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
    out.identity = super::identity(step, identity, vars)?;
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

/// The URL of a `path` / `url` target with `query` appended (keeping an existing query).
pub(super) fn target_url(
    st: &ScenarioState<'_>,
    step: &Step,
    path: Option<&str>,
    url: Option<&str>,
    query: &IndexMap<String, QueryValue>,
    vars: &Vars,
) -> Result<Url, StepEnd> {
    let (text, parsed) = match (path, url) {
        (Some(p), _) => {
            let p = vars.render(p).map_err(|m| missing(step, m))?;
            let u = st.client.url_for_path(&p);
            (p, u)
        }
        (None, Some(u)) => {
            let u = vars.render(u).map_err(|m| missing(step, m))?;
            let r = st.client.resolve(&u);
            (u, r)
        }
        (None, None) => (String::new(), Err("no path or url".to_owned())),
    };
    let mut url = parsed.map_err(|e| {
        fail(
            step,
            None,
            vec![Problem::new(
                "URL",
                "a usable URL",
                format!("{text:?}: {e}"),
            )],
            String::new(),
        )
    })?;
    if !query.is_empty() {
        let mut pairs = Vec::new();
        for (k, vs) in query {
            let k = vars.render(k).map_err(|m| missing(step, m))?;
            for v in &vs.0 {
                pairs.push((k.clone(), vars.render(v).map_err(|m| missing(step, m))?));
            }
        }
        let mut qp = url.query_pairs_mut();
        for (k, v) in &pairs {
            qp.append_pair(k, v);
        }
    }
    Ok(url)
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

fn build(
    st: &ScenarioState<'_>,
    step: &Step,
    r: &RequestSpec,
    vars: &Vars,
) -> Result<OutRequest, StepEnd> {
    let url = target_url(
        st,
        step,
        r.path.as_deref(),
        r.url.as_deref(),
        &r.query,
        vars,
    )?;
    let method = Method::from_bytes(r.method.as_bytes()).unwrap_or(Method::GET);
    let mut headers = Vec::new();
    for (k, v) in &r.headers {
        headers.push((k.clone(), vars.render(v).map_err(|m| missing(step, m))?));
    }
    let body = match &r.body {
        None => OutBody::Empty,
        Some(b) => body(st, step, b, vars)?,
    };
    let follow_redirects = r
        .follow_redirects
        .unwrap_or(method == Method::GET || method == Method::HEAD);
    Ok(OutRequest {
        method,
        url,
        headers,
        body,
        follow_redirects,
        identity: crate::client::Identity::Writer,
        own_url: r.url.is_some(),
    })
}

fn body(
    st: &ScenarioState<'_>,
    step: &Step,
    b: &BodySpec,
    vars: &Vars,
) -> Result<OutBody, StepEnd> {
    let (reader, describe) = if let Some(name) = &b.blob {
        let Some((item, _)) = st.items.blobs.get(name) else {
            return Ok(OutBody::Empty);
        };
        let len = item.content.len();
        let (start, end) = if let Some(from) = &b.from {
            let f = vars.render(from).map_err(|m| missing(step, m))?;
            let off = f.trim().parse::<u64>().map_err(|_| {
                fail(
                    step,
                    None,
                    vec![Problem::new("body.from", "a byte offset", format!("{f:?}"))],
                    String::new(),
                )
            })?;
            (off, len)
        } else {
            (
                b.start.unwrap_or(0),
                b.end.map_or(len, |e| e.saturating_add(1)),
            )
        };
        let describe = if start == 0 && end >= len {
            format!("blob {name}")
        } else {
            format!(
                "blob {name} bytes {start}-{}",
                end.min(len).saturating_sub(1)
            )
        };
        (item.content.reader(start, end), describe)
    } else if let Some(name) = &b.manifest {
        let Some(item) = st.items.manifests.get(name) else {
            return Ok(OutBody::Empty);
        };
        (
            item.content.reader(0, item.content.len()),
            format!("manifest {name}"),
        )
    } else if let Some(t) = &b.text {
        let t = vars.render(t).map_err(|m| missing(step, m))?;
        let c = Content::Bytes(Bytes::from(t.clone()));
        (c.reader(0, c.len()), format!("text {}", shorten(&t)))
    } else if let Some(j) = &b.json {
        let v = vars.render_json(j).map_err(|m| missing(step, m))?;
        let text = serde_json::to_string(&v).unwrap_or_default();
        let c = Content::Bytes(Bytes::from(text.clone()));
        (c.reader(0, c.len()), format!("json {}", shorten(&text)))
    } else if let Some(fields) = &b.form {
        let mut enc = form_urlencoded::Serializer::new(String::new());
        let mut shown = Vec::new();
        for (k, v) in fields {
            let v = vars.render(v).map_err(|m| missing(step, m))?;
            enc.append_pair(k, &v);
            let secret = crate::redact::is_secret_field(k);
            shown.push(format!("{k}={}", if secret { "<redacted>" } else { &v }));
        }
        let c = Content::Bytes(Bytes::from(enc.finish()));
        (
            c.reader(0, c.len()),
            format!("form {}", shorten(&shown.join("&"))),
        )
    } else if let Some(n) = b.bytes {
        let seed = b.seed.unwrap_or(0);
        let c = Content::Generated {
            seed: seed ^ st.seed_mix,
            size: n,
        };
        (c.reader(0, n), format!("{n} generated bytes, seed {seed}"))
    } else {
        return Ok(OutBody::Empty);
    };
    Ok(OutBody::Content {
        reader,
        stream: b.stream,
        abort_after: b.abort_after,
        describe,
    })
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 200 {
        format!("{}...", s.chars().take(200).collect::<String>())
    } else {
        s.to_owned()
    }
}

/// The value a capture takes from an exchange.
pub(crate) fn captured(spec: &CaptureSpec, ex: &Exchange) -> Result<String, Problem> {
    if let Some(h) = &spec.header {
        let value = ex.header(h);
        if spec.upload_offset == Some(true) {
            return match value {
                None => Ok("0".to_owned()),
                Some(v) => upload_offset(&v).map(|n| n.to_string()).ok_or_else(|| {
                    Problem::new(
                        format!("capture from header {h}"),
                        "a progress range 0-<end>",
                        v,
                    )
                }),
            };
        }
        let v = value
            .ok_or_else(|| Problem::new(format!("capture from header {h}"), "present", "absent"))?;
        if let Some(re) = &spec.regex {
            let r = Regex::new(re)
                .map_err(|e| Problem::new("capture regex", "valid", e.to_string()))?;
            return r
                .captures(&v)
                .and_then(|c| c.get(1))
                .map(|m| m.as_str().to_owned())
                .ok_or_else(|| {
                    Problem::new(
                        format!("capture from header {h}"),
                        format!("a match for /{re}/"),
                        v,
                    )
                });
        }
        return Ok(v);
    }
    let ptrs = spec.json.as_ref().map(|j| j.to_vec()).unwrap_or_default();
    let ptr = ptrs.join(" or ");
    let doc: Value = serde_json::from_slice(&ex.body.kept).map_err(|_| {
        Problem::new(
            format!("capture from JSON {ptr}"),
            "a JSON body",
            crate::client::printable(&ex.body.kept),
        )
    })?;
    // The first pointer present wins (`["/token", "/access_token"]`).
    match ptrs
        .iter()
        .filter_map(|p| doc.pointer(p))
        .find(|v| !v.is_null())
    {
        Some(Value::String(s)) => Ok(s.clone()),
        None => Err(Problem::new(
            format!("capture from JSON {ptr}"),
            "a value",
            "absent",
        )),
        Some(other) => Ok(other.to_string()),
    }
}

/// `0-<end>` (or `bytes=0-<end>`) → `end + 1`. `0-0` counts as an empty session: Docker's
/// distribution sends it for empty and one-byte sessions alike, and an interrupted upload
/// that kept nothing is far more likely than one that kept exactly one byte.
pub fn upload_offset(v: &str) -> Option<u64> {
    let v = v.trim();
    let v = v.strip_prefix("bytes=").unwrap_or(v);
    let (start, end) = v.split_once('-')?;
    if start.trim() != "0" {
        return None;
    }
    let end = end.trim();
    if end == "-1" || end == "0" {
        return Some(0);
    }
    end.parse::<u64>().ok().map(|e| e + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Body;
    use reqwest::StatusCode;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn ex(headers: &[(&'static str, &'static str)], body: &'static [u8]) -> Exchange {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.append(*k, HeaderValue::from_static(v));
        }
        Exchange {
            status: StatusCode::ACCEPTED,
            headers: h,
            url: Url::parse("http://127.0.0.1/").unwrap(),
            body: Body {
                len: body.len() as u64,
                kept: Bytes::from_static(body),
                truncated: false,
                digest: String::new(),
                first_difference: None,
                error: None,
            },
            transcript: String::new(),
            auth_note: None,
        }
    }

    fn spec(v: Value) -> CaptureSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn header_captures() {
        let e = ex(
            &[
                ("Location", "/v2/r/blobs/uploads/abc?x=1"),
                ("Range", "0-1023"),
            ],
            b"",
        );
        assert_eq!(
            captured(&spec(serde_json::json!({"header": "location"})), &e).unwrap(),
            "/v2/r/blobs/uploads/abc?x=1"
        );
        assert_eq!(
            captured(
                &spec(serde_json::json!({"header": "Range", "regex": "^0-([0-9]+)$"})),
                &e
            )
            .unwrap(),
            "1023"
        );
        assert_eq!(
            captured(
                &spec(serde_json::json!({"header": "Range", "upload_offset": true})),
                &e
            )
            .unwrap(),
            "1024"
        );
        let none = ex(&[], b"");
        assert_eq!(
            captured(
                &spec(serde_json::json!({"header": "Range", "upload_offset": true})),
                &none
            )
            .unwrap(),
            "0"
        );
        let p = captured(&spec(serde_json::json!({"header": "Location"})), &none).unwrap_err();
        assert_eq!(
            p.summary(),
            "capture from header Location: expected present, got absent"
        );
        assert!(
            captured(
                &spec(serde_json::json!({"header": "Range", "regex": "^x(y)$"})),
                &e
            )
            .is_err()
        );
    }

    #[test]
    fn json_captures() {
        let e = ex(&[], br#"{"tags":["a","b"],"n":3,"o":{"k":1}}"#);
        assert_eq!(
            captured(&spec(serde_json::json!({"json": "/tags/1"})), &e).unwrap(),
            "b"
        );
        assert_eq!(
            captured(&spec(serde_json::json!({"json": "/n"})), &e).unwrap(),
            "3"
        );
        assert_eq!(
            captured(&spec(serde_json::json!({"json": "/o"})), &e).unwrap(),
            "{\"k\":1}"
        );
        assert!(captured(&spec(serde_json::json!({"json": "/missing"})), &e).is_err());
        // A list: the first pointer present wins.
        let tok = ex(&[], br#"{"access_token":"a","expires_in":60}"#);
        assert_eq!(
            captured(
                &spec(serde_json::json!({"json": ["/token", "/access_token"]})),
                &tok
            )
            .unwrap(),
            "a"
        );
        let both = ex(&[], br#"{"token":"t","access_token":"a"}"#);
        assert_eq!(
            captured(
                &spec(serde_json::json!({"json": ["/token", "/access_token"]})),
                &both
            )
            .unwrap(),
            "t"
        );
        // A failed capture never shows a token value.
        let p = captured(
            &spec(serde_json::json!({"json": "/x"})),
            &ex(&[], br#"{"token":"sekrit""#),
        )
        .unwrap_err();
        assert!(!p.summary().contains("sekrit"), "{}", p.summary());
        assert!(
            captured(
                &spec(serde_json::json!({"json": "/n"})),
                &ex(&[], b"<html>")
            )
            .is_err()
        );
    }

    #[test]
    fn upload_offsets() {
        assert_eq!(upload_offset("0-99"), Some(100));
        assert_eq!(upload_offset("bytes=0-99"), Some(100));
        assert_eq!(upload_offset("0-0"), Some(0));
        assert_eq!(upload_offset("0--1"), Some(0));
        assert_eq!(upload_offset("5-9"), None);
        assert_eq!(upload_offset("junk"), None);
    }
}

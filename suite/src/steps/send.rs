//! The request a `request` step describes (and the target of a `paginate` step): checked
//! when the scenario loads, built when the step runs.

use bytes::Bytes;
use indexmap::IndexMap;
use reqwest::{Method, Url};

use super::outcome::{StepEnd, fail, missing};
use super::state::ScenarioState;
use crate::client::{OutBody, OutRequest};
use crate::content::Content;
use crate::error::LoadError;
use crate::expect::Problem;
use crate::model::{BodySpec, QueryValue, RequestSpec, Step};
use crate::validate::{Scope, StepContext};
use crate::vars::Vars;

/// `path` or `url` (exactly one), `query` and `headers`: every template defined here,
/// every header name valid.
pub fn check_target(
    cx: &StepContext<'_>,
    path: Option<&str>,
    url: Option<&str>,
    query: &IndexMap<String, QueryValue>,
    headers: &IndexMap<String, String>,
    scope: &Scope,
) -> Result<(), LoadError> {
    match (path, url) {
        (Some(p), None) => {
            if !p.starts_with('/') {
                return Err(cx.err(format!("path {p:?} must start with /")));
            }
            cx.template("path", p, scope)?;
        }
        (None, Some(u)) => cx.template("url", u, scope)?,
        _ => return Err(cx.err("give exactly one of path, url")),
    }
    for (k, v) in query {
        cx.template("query", k, scope)?;
        for x in &v.0 {
            cx.template(&format!("query {k}"), x, scope)?;
        }
    }
    for (k, v) in headers {
        if reqwest::header::HeaderName::try_from(k.as_str()).is_err() {
            return Err(cx.err(format!("header name {k:?} is not valid")));
        }
        cx.template(&format!("header {k}"), v, scope)?;
    }
    Ok(())
}

/// A body: exactly one source, the slice fields only with a blob, named items defined.
pub fn check_body(cx: &StepContext<'_>, b: &BodySpec, scope: &Scope) -> Result<(), LoadError> {
    let forms = [
        b.blob.is_some(),
        b.manifest.is_some(),
        b.text.is_some(),
        b.json.is_some(),
        b.form.is_some(),
        b.bytes.is_some(),
    ];
    if forms.iter().filter(|x| **x).count() != 1 {
        return Err(cx.err("body: give exactly one of blob, manifest, text, json, form, bytes"));
    }
    for (k, v) in b.form.iter().flatten() {
        cx.template(&format!("body.form.{k}"), v, scope)?;
    }
    if b.blob.is_none() && (b.start.is_some() || b.end.is_some() || b.from.is_some()) {
        return Err(cx.err("body: start, end and from go with blob"));
    }
    if b.from.is_some() && (b.start.is_some() || b.end.is_some()) {
        return Err(cx.err("body: from excludes start/end"));
    }
    if let (Some(s), Some(e)) = (b.start, b.end)
        && s > e
    {
        return Err(cx.err(format!("body: start {s} is after end {e}")));
    }
    if b.seed.is_some() && b.bytes.is_none() {
        return Err(cx.err("body: seed goes with bytes"));
    }
    if let Some(n) = &b.blob
        && !cx.cx.blobs.contains_key(n)
    {
        return Err(cx.err(format!("body: unknown blob {n:?}")));
    }
    if let Some(m) = &b.manifest
        && !cx.cx.manifests.contains_key(m)
    {
        return Err(cx.err(format!("body: unknown manifest {m:?}")));
    }
    if let Some(f) = &b.from {
        cx.template("body.from", f, scope)?;
    }
    if let Some(t) = &b.text {
        cx.template("body.text", t, scope)?;
    }
    if let Some(j) = &b.json {
        cx.json_template("body.json", j, scope)?;
    }
    Ok(())
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

/// The request of a `request` step, its templates rendered.
pub(super) fn build(
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

/// A body's bytes and how transcripts describe them.
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

/// At most 200 characters of `s`, for transcripts.
fn shorten(s: &str) -> String {
    if s.chars().count() > 200 {
        format!("{}...", s.chars().take(200).collect::<String>())
    } else {
        s.to_owned()
    }
}

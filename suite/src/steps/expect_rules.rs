//! The rules of an `expect` object (a `request` step's `expect`, `profile_expect` and
//! `also` entries; its header matchers also serve `skip_if`), checked when the scenario
//! loads. The response is checked against it by [`crate::expect`].

use indexmap::IndexMap;
use serde_json::Value;

use crate::error::LoadError;
use crate::model::{Expect, HeaderMatcher, SortedSpec};
use crate::validate::{Scope, StepContext};

/// An `expect` object (field `what`: `expect`, `profile_expect.docker-v2`, `also[0].expect`)
/// read and checked: matchers that check something, templates defined, regexes that
/// compile, named items defined.
pub fn check_expect(
    cx: &StepContext<'_>,
    what: &str,
    v: &Value,
    scope: &Scope,
) -> Result<Expect, LoadError> {
    let e: Expect =
        serde_json::from_value(v.clone()).map_err(|e| cx.err(format!("{what}: {e}")))?;
    if let Some(hs) = &e.headers {
        header_matchers(cx, what, hs, scope)?;
    }
    if let Some(j) = &e.json {
        cx.json_template(&format!("{what}.json"), j, scope)?;
    }
    for (p, m) in e.json_pointer.iter().flatten() {
        let pw = format!("{what}.json_pointer {p}");
        cx.template(&pw, p, scope)?;
        if !(p.is_empty() || p.starts_with('/') || p.starts_with("${")) {
            return Err(cx.err(format!("{pw}: not a JSON pointer (starts with /)")));
        }
        for v in [&m.equals, &m.contains, &m.not_contains]
            .into_iter()
            .flatten()
        {
            cx.json_template(&pw, v, scope)?;
        }
        if let Some(re) = &m.matches {
            cx.regex(&format!("{pw}.matches"), re, scope)?;
        }
        if let Some(SortedSpec::Order(o)) = &m.sorted
            && o != "lexical"
            && o != "case-insensitive"
        {
            return Err(cx.err(format!(
                "{pw}: sorted is true, \"lexical\" or \"case-insensitive\""
            )));
        }
        let parts = [
            m.equals.is_some(),
            m.length.is_some(),
            m.contains.is_some(),
            m.not_contains.is_some(),
            m.sorted.is_some(),
            m.absent.is_some(),
            m.present.is_some(),
            m.at_least.is_some(),
            m.matches.is_some(),
        ];
        if !parts.iter().any(|x| *x) {
            return Err(cx.err(format!("{pw}: an empty matcher checks nothing")));
        }
    }
    if let Some(b) = &e.body {
        let bw = format!("{what}.body");
        let forms = [
            b.blob.is_some(),
            b.manifest.is_some(),
            b.empty.is_some(),
            b.digest.is_some(),
            b.length.is_some(),
        ];
        if !forms.iter().any(|x| *x) {
            return Err(cx.err(format!("{bw}: states nothing")));
        }
        if b.blob.is_none() && (b.start.is_some() || b.end.is_some()) {
            return Err(cx.err(format!("{bw}: start/end go with blob")));
        }
        if let Some(n) = &b.blob
            && !cx.cx.blobs.contains_key(n)
        {
            return Err(cx.err(format!("{bw}: unknown blob {n:?}")));
        }
        if let Some(m) = &b.manifest
            && !cx.cx.manifests.contains_key(m)
        {
            return Err(cx.err(format!("{bw}: unknown manifest {m:?}")));
        }
        if let Some(d) = &b.digest {
            cx.template(&bw, d, scope)?;
        }
    }
    for c in e.error_code.iter().flat_map(|c| c.to_vec()) {
        if c.is_empty() {
            return Err(cx.err(format!("{what}.error_code: empty code")));
        }
    }
    Ok(e)
}

/// Header matchers (of `expect` or `skip_if`): valid names, each matcher checks something
/// and does not contradict itself, templates defined, regexes compile.
pub fn header_matchers(
    cx: &StepContext<'_>,
    what: &str,
    matchers: &IndexMap<String, HeaderMatcher>,
    scope: &Scope,
) -> Result<(), LoadError> {
    for (h, m) in matchers {
        let hw = format!("{what}.headers.{h}");
        if reqwest::header::HeaderName::try_from(h.as_str()).is_err() {
            return Err(cx.err(format!("{hw}: not a valid header name")));
        }
        let parts = [
            m.present.is_some(),
            m.absent.is_some(),
            m.equals.is_some(),
            m.matches.is_some(),
            m.one_of.is_some(),
            m.list_contains.is_some(),
        ];
        if !parts.iter().any(|x| *x) {
            return Err(cx.err(format!("{hw}: an empty matcher checks nothing")));
        }
        if m.optional.is_some() && (m.present.is_some() || m.absent.is_some()) {
            return Err(cx.err(format!("{hw}: optional contradicts present/absent")));
        }
        if let Some(x) = &m.equals {
            cx.template(&hw, x, scope)?;
        }
        if let Some(x) = &m.matches {
            cx.regex(&hw, x, scope)?;
        }
        for x in m.one_of.iter().flatten() {
            cx.template(&hw, x, scope)?;
        }
        if let Some(items) = &m.list_contains {
            if items.is_empty() {
                return Err(cx.err(format!("{hw}: list_contains is empty")));
            }
            for x in items {
                if x.contains(',') || x.trim() != x || x.is_empty() {
                    return Err(cx.err(format!(
                        "{hw}: list element {x:?} cannot contain a comma or edge spaces"
                    )));
                }
                cx.template(&hw, x, scope)?;
            }
        }
    }
    Ok(())
}

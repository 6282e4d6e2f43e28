//! `paginate`: follow `Link: <...>; rel="next"` to the end, collecting an array per page.

use indexmap::IndexMap;
use reqwest::Method;
use serde_json::Value;

use super::common::Common;
use super::exchange::{self, exchange, request_line, simple};
use super::outcome::{StepEnd, fail, missing};
use super::send::{check_target, target_url};
use super::state::ScenarioState;
use crate::client::{BodyCheck, OutBody, printable};
use crate::error::LoadError;
use crate::expect::Problem;
use crate::fields::raw_fields;
use crate::model::{PageExpect, PaginateSpec, PaginateStep, Step, StepKind};
use crate::validate::{Scope, StepContext};
use crate::vars::Vars;

/// The key that makes a step a `paginate` step.
pub const KEY: &str = "paginate";

/// The fields besides its own key that a `paginate` step takes.
pub const ACCEPTS: &[&str] = &["expect", "profile_expect", "as"];

raw_fields! {
    /// A `paginate` step's own field (`expect`, `profile_expect` and `as` it shares with
    /// `request`: [`Common`]).
    pub struct Raw {
        /// The first page and what to collect from each.
        "paginate" => paginate: Option<PaginateSpec>,
    }
}

impl Raw {
    /// The target, `collect` a JSON pointer, and the expectations (a paginate step's own
    /// shape: items, pages, max_pages).
    pub fn check(
        &self,
        common: &Common,
        cx: &StepContext<'_>,
        scope: &mut Scope,
    ) -> Result<StepKind, LoadError> {
        let Some(spec) = self.paginate.clone() else {
            return Err(cx.err("paginate: missing"));
        };
        check_target(
            cx,
            spec.path.as_deref(),
            spec.url.as_deref(),
            &spec.query,
            &spec.headers,
            scope,
        )?;
        if !(spec.collect.is_empty() || spec.collect.starts_with('/')) {
            return Err(cx.err(format!("collect {:?} is not a JSON pointer", spec.collect)));
        }
        let expect = match &common.expect {
            Some(v) => check_expect(cx, v, "expect", scope)?,
            None => PageExpect::default(),
        };
        let mut profile_expect = IndexMap::new();
        for (p, v) in common.profile_expect.iter().flatten() {
            profile_expect.insert(
                *p,
                check_expect(cx, v, &format!("profile_expect.{p}"), scope)?,
            );
        }
        Ok(StepKind::Paginate(PaginateStep {
            spec,
            expect,
            profile_expect,
            identity: cx.identity(common.as_.as_ref(), scope)?,
        }))
    }
}

/// A paginate step's `expect` (field `what`): its items defined here, `max_pages` positive.
fn check_expect(
    cx: &StepContext<'_>,
    v: &Value,
    what: &str,
    scope: &Scope,
) -> Result<PageExpect, LoadError> {
    let e: PageExpect =
        serde_json::from_value(v.clone()).map_err(|e| cx.err(format!("{what}: {e}")))?;
    for item in e.items.iter().flatten() {
        cx.json_template(what, item, scope)?;
    }
    if e.max_pages == Some(0) {
        return Err(cx.err(format!("{what}: max_pages must be positive")));
    }
    Ok(e)
}

const DEFAULT_MAX_PAGES: u64 = 100;

/// Walks the pages from the first to the last and checks what was collected against
/// `expect` (with the profile's parts).
pub(super) async fn run(
    st: &ScenarioState<'_>,
    step: &Step,
    paginate: &PaginateStep,
    vars: &mut Vars,
) -> Result<(), StepEnd> {
    let PaginateStep {
        spec,
        expect,
        profile_expect,
        identity,
    } = paginate;
    let identity = exchange::identity(step, identity, vars)?;
    let expect = match profile_expect.get(&st.profile) {
        Some(over) => expect.overridden_by(over),
        None => expect.clone(),
    };
    let max_pages = expect.max_pages.unwrap_or(DEFAULT_MAX_PAGES);
    let mut url = target_url(
        st,
        step,
        spec.path.as_deref(),
        spec.url.as_deref(),
        &spec.query,
        vars,
    )?;
    let mut headers = Vec::new();
    for (k, v) in &spec.headers {
        headers.push((k.clone(), vars.render(v).map_err(|m| missing(step, m))?));
    }
    let mut items: Vec<Value> = Vec::new();
    let mut pages = 0u64;
    // Whether the page being read was asked for with `last=` (no `Link` was sent).
    let mut via_last = false;
    // Transcripts of every page, so a failure shows the whole walk.
    let mut walk = String::new();
    loop {
        if pages >= max_pages {
            return Err(fail(
                step,
                Some(format!("GET {url}")),
                vec![Problem::new(
                    "pages",
                    format!("at most {max_pages} pages"),
                    "another rel=\"next\" link",
                )],
                walk,
            ));
        }
        let mut req = simple(Method::GET, url.clone(), headers.clone(), OutBody::Empty);
        req.identity = identity.clone();
        req.own_url = spec.url.is_some();
        let ex = exchange(st, step, &req, BodyCheck::default()).await?;
        walk.push_str(&ex.transcript);
        walk.push('\n');
        pages += 1;
        let page_fail =
            |p: Problem, walk: String| fail(step, Some(request_line(&req)), vec![p], walk);
        if ex.status.as_u16() != 200 {
            return Err(page_fail(
                Problem::new(
                    format!("page {pages} status"),
                    "200",
                    ex.status.as_u16().to_string(),
                ),
                walk,
            ));
        }
        let doc: Value = match serde_json::from_slice(&ex.body.kept) {
            Ok(d) => d,
            Err(_) => {
                return Err(page_fail(
                    Problem::new(
                        format!("page {pages}"),
                        "a JSON body",
                        printable(&ex.body.kept),
                    ),
                    walk,
                ));
            }
        };
        let page_len;
        match doc.pointer(&spec.collect) {
            // A page asked for with `last=` that repeats an item already collected: the
            // registry ignored `last` (or `n`), and walking on would only loop.
            Some(Value::Array(a)) if via_last && a.iter().any(|x| items.contains(x)) => {
                return Err(page_fail(
                    Problem::new(
                        format!("page {pages} {} (asked with last=)", spec.collect),
                        "only items after the last one of the previous page",
                        Value::Array(a.clone()).to_string(),
                    ),
                    walk,
                ));
            }
            Some(Value::Array(a)) => {
                page_len = a.len();
                items.extend(a.iter().cloned());
            }
            // `"tags": null` is how several registries spell an empty page.
            Some(Value::Null) => page_len = 0,
            other => {
                return Err(page_fail(
                    Problem::new(
                        format!("page {pages} {}", spec.collect),
                        "an array",
                        other.map_or_else(|| "(absent)".to_owned(), Value::to_string),
                    ),
                    walk,
                ));
            }
        }
        let next = ex
            .headers
            .get_all("link")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(next_link);
        let next = match next {
            Some(n) => n,
            // OCI: "A `Link` header MAY be included"; a client that asked for `n` and got a
            // full page continues itself with `last=<the last item>`.
            None if spec.last_fallback => match last_fallback(&url, page_len, &items) {
                Some(u) => {
                    via_last = true;
                    u.to_string()
                }
                None => break,
            },
            None => break,
        };
        url = match ex.url.join(&next) {
            Ok(u) => u,
            Err(e) => {
                return Err(page_fail(
                    Problem::new("Link header", "a usable URL", format!("{next:?}: {e}")),
                    walk,
                ));
            }
        };
    }
    let mut problems = Vec::new();
    if let Some(want) = &expect.items {
        let want = want
            .iter()
            .map(|v| vars.render_json(v))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| missing(step, m))?;
        if want != items {
            let show = |v: &[Value]| {
                v.iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            problems.push(Problem::new("items (all pages)", show(&want), show(&items)));
        }
    }
    if let Some(n) = expect.pages
        && n != pages
    {
        problems.push(Problem::new("pages", n.to_string(), pages.to_string()));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(fail(
            step,
            Some(format!("GET {url} (last page)")),
            problems,
            walk,
        ))
    }
}

/// The next page's URL when a registry sends no `Link`: the same query with
/// `last=<the last item so far>`, when the page was full (`n` items, `n` from the query).
/// A page shorter than `n` (or a walk without `n`) is the last one.
fn last_fallback(url: &reqwest::Url, page_len: usize, items: &[Value]) -> Option<reqwest::Url> {
    let n = url
        .query_pairs()
        .find(|(k, _)| k == "n")
        .and_then(|(_, v)| v.parse::<usize>().ok())?;
    if n == 0 || page_len < n {
        return None;
    }
    let last = items.last()?.as_str()?.to_owned();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "last")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut next = url.clone();
    next.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("last", &last);
    Some(next)
}

/// The target of the `rel="next"` entry of a `Link` header value, if any.
pub fn next_link(header: &str) -> Option<String> {
    for part in split_links(header) {
        let part = part.trim();
        let Some(end) = part.find('>') else { continue };
        if !part.starts_with('<') {
            continue;
        }
        let target = &part[1..end];
        let is_next = part[end + 1..].split(';').any(|p| {
            let p = p.trim();
            p.strip_prefix("rel=")
                .map(|r| r.trim_matches('"'))
                .is_some_and(|r| r.split_whitespace().any(|x| x.eq_ignore_ascii_case("next")))
        });
        if is_next {
            return Some(target.to_owned());
        }
    }
    None
}

/// Splits a Link header on the commas between entries (not those inside `<...>`).
fn split_links(h: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = false;
    let mut start = 0;
    for (i, c) in h.char_indices() {
        match c {
            '<' => depth = true,
            '>' => depth = false,
            ',' if !depth => {
                out.push(&h[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&h[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_link_a_full_page_continues_after_its_last_item() {
        let url = reqwest::Url::parse("http://r/v2/x/tags/list?n=2").unwrap();
        let items = vec![Value::from("a"), Value::from("b")];
        assert_eq!(
            last_fallback(&url, 2, &items).unwrap().as_str(),
            "http://r/v2/x/tags/list?n=2&last=b"
        );
        let second = reqwest::Url::parse("http://r/v2/x/tags/list?n=2&last=b").unwrap();
        let more = vec![
            Value::from("a"),
            Value::from("b"),
            Value::from("c"),
            Value::from("d"),
        ];
        assert_eq!(
            last_fallback(&second, 2, &more).unwrap().as_str(),
            "http://r/v2/x/tags/list?n=2&last=d"
        );
        assert!(
            last_fallback(&url, 1, &items).is_none(),
            "a short page is the last"
        );
        let no_n = reqwest::Url::parse("http://r/v2/x/tags/list").unwrap();
        assert!(last_fallback(&no_n, 5, &items).is_none());
    }

    #[test]
    fn finds_the_next_link() {
        assert_eq!(
            next_link(r#"</v2/r/tags/list?n=2&last=b>; rel="next""#).as_deref(),
            Some("/v2/r/tags/list?n=2&last=b")
        );
        assert_eq!(
            next_link(r#"<http://x/a,b>; rel="prev", </v2/_catalog?last=x&n=1>; rel=next"#)
                .as_deref(),
            Some("/v2/_catalog?last=x&n=1")
        );
        assert_eq!(next_link(r#"</x>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }
}

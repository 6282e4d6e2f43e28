//! Expectations: does a response hold what a step states? Each mismatch becomes a
//! [`Problem`] with the expected and actual text, rendered with a unified diff.

use std::collections::HashMap;

use regex::Regex;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::client::{Body, BodyCheck, printable};
use crate::content::Item;
use crate::model::{Algorithm, BodyExpect, Expect, HeaderMatcher, PointerMatcher, SortedSpec};
use crate::vars::{Missing, Vars};

/// One way a response differs from the expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Which part (`status`, `header Location`, `json_pointer /tags length`, ...).
    pub what: String,
    /// What the step states.
    pub expected: String,
    /// What the registry sent.
    pub actual: String,
}

impl Problem {
    /// A problem.
    pub fn new(
        what: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> Problem {
        Problem {
            what: what.into(),
            expected: expected.into(),
            actual: actual.into(),
        }
    }

    /// One line: `status: expected 201, got 202`. Multi-line values (pretty JSON) are
    /// folded onto one line and cut at 100 characters.
    pub fn summary(&self) -> String {
        format!(
            "{}: expected {}, got {}",
            self.what,
            one_line(&self.expected),
            one_line(&self.actual)
        )
    }

    /// The summary line followed by a unified diff of expected against actual.
    pub fn render(&self) -> String {
        format!("{}\n{}", self.summary(), diff(&self.expected, &self.actual))
    }
}

/// A value folded onto one line and cut at 100 characters (pretty JSON in summaries).
pub fn one_line(s: &str) -> String {
    let folded: String = s.lines().map(str::trim).collect::<Vec<_>>().join(" ");
    if folded.chars().count() > 100 {
        format!("{}...", folded.chars().take(97).collect::<String>())
    } else {
        folded
    }
}

/// A unified diff (`similar`) of two texts.
pub fn diff(expected: &str, actual: &str) -> String {
    let e = format!("{}\n", expected.trim_end_matches('\n'));
    let a = format!("{}\n", actual.trim_end_matches('\n'));
    similar::TextDiff::from_lines(&e, &a)
        .unified_diff()
        .context_radius(3)
        .header("expected", "actual")
        .to_string()
}

/// The named blobs and manifests of a scenario run.
#[derive(Debug, Clone, Default)]
pub struct Items {
    /// Blobs by name.
    pub blobs: HashMap<String, (Item, Algorithm)>,
    /// Manifests by name.
    pub manifests: HashMap<String, Item>,
}

/// How to read the body so that `expect.body` can be checked in constant memory.
pub fn body_check(expect: &Expect, items: &Items) -> BodyCheck {
    let mut check = BodyCheck::default();
    let Some(b) = &expect.body else { return check };
    if let Some(name) = &b.blob
        && let Some((item, _)) = items.blobs.get(name)
    {
        let (start, end) = slice(b, item.content.len());
        check.compare = Some(item.content.reader(start, end));
    }
    if let Some(name) = &b.manifest
        && let Some(item) = items.manifests.get(name)
    {
        check.compare = Some(item.content.reader(0, item.content.len()));
    }
    if let Some(d) = &b.digest
        && d.starts_with("sha512:")
    {
        check.alg = Algorithm::Sha512;
    }
    check
}

/// `start..=end` inclusive → `start..end+1` exclusive, clamped.
fn slice(b: &BodyExpect, len: u64) -> (u64, u64) {
    let start = b.start.unwrap_or(0);
    let end = b.end.map_or(len, |e| e.saturating_add(1)).min(len);
    (start, end.max(start))
}

/// Checks everything `expect` states except `aborted` (which the step decides).
pub fn check(
    expect: &Expect,
    status: StatusCode,
    headers: &HeaderMap,
    body: &Body,
    vars: &Vars,
    items: &Items,
) -> Result<Vec<Problem>, Missing> {
    let mut problems = Vec::new();
    if let Some(allowed) = &expect.status {
        let allowed = allowed.to_vec();
        if !allowed.contains(&status.as_u16()) {
            problems.push(Problem::new(
                "status",
                list(&allowed),
                status.as_u16().to_string(),
            ));
        }
    }
    if let Some(hs) = &expect.headers {
        for (name, m) in hs {
            problems.extend(check_header(name, m, headers, vars)?);
        }
    }
    let parsed = || serde_json::from_slice::<Value>(&body.kept).ok();
    if let Some(codes) = &expect.error_code {
        let codes = codes.to_vec();
        let found = parsed().as_ref().and_then(error_codes);
        match found {
            Some(found) if found.iter().any(|c| codes.contains(c)) => {}
            Some(found) => problems.push(Problem::new(
                "error_code",
                format!("an error with code {}", list(&codes)),
                format!("codes {}\n{}", list(&found), printable(&body.kept)),
            )),
            None => problems.push(Problem::new(
                "error_code",
                format!(
                    "a JSON error body {{\"errors\":[{{\"code\": {}}}]}}",
                    list(&codes)
                ),
                format!(
                    "a body that is not the error shape:\n{}",
                    printable(&body.kept)
                ),
            )),
        }
    }
    if let Some(want) = &expect.json {
        let want = vars.render_json(want)?;
        match parsed() {
            Some(got) if json_subset(&want, &got) => {}
            Some(got) => problems.push(Problem::new("json (subset)", pretty(&want), pretty(&got))),
            None => problems.push(Problem::new("json", pretty(&want), not_json(body))),
        }
    }
    if let Some(pointers) = &expect.json_pointer {
        match parsed() {
            Some(doc) => {
                for (ptr, m) in pointers {
                    let ptr = vars.render(ptr)?;
                    problems.extend(check_pointer(&ptr, m, &doc, vars)?);
                }
            }
            None => problems.push(Problem::new("json_pointer", "a JSON body", not_json(body))),
        }
    }
    if let Some(b) = &expect.body {
        problems.extend(check_body(b, body, vars, items)?);
    }
    Ok(problems)
}

fn not_json(body: &Body) -> String {
    format!(
        "a body that is not JSON ({} bytes):\n{}",
        body.len,
        printable(&body.kept)
    )
}

fn list<T: std::fmt::Display>(v: &[T]) -> String {
    if v.len() == 1 {
        v[0].to_string()
    } else {
        format!(
            "one of {}",
            v.iter().map(T::to_string).collect::<Vec<_>>().join(", ")
        )
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

/// The `code`s of an OCI/Docker error body, `None` if the body is not that shape.
pub fn error_codes(v: &Value) -> Option<Vec<String>> {
    let errors = v.get("errors")?.as_array()?;
    errors
        .iter()
        .map(|e| e.get("code").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// Whether a header matcher holds (a `skip_if` condition).
pub fn header_holds(
    name: &str,
    m: &HeaderMatcher,
    headers: &HeaderMap,
    vars: &Vars,
) -> Result<bool, Missing> {
    Ok(check_header(name, m, headers, vars)?.is_empty())
}

fn check_header(
    name: &str,
    m: &HeaderMatcher,
    headers: &HeaderMap,
    vars: &Vars,
) -> Result<Vec<Problem>, Missing> {
    let values: Vec<String> = headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    let shown = if values.is_empty() {
        "(absent)".to_owned()
    } else {
        values.join("\n")
    };
    let what = format!("header {name}");
    let mut out = Vec::new();
    if m.optional == Some(true) && values.is_empty() {
        return Ok(out);
    }
    let want_present = m.present.or(m.absent.map(|a| !a));
    match want_present {
        Some(true) if values.is_empty() => out.push(Problem::new(&what, "present", "absent")),
        Some(false) if !values.is_empty() => out.push(Problem::new(&what, "absent", shown.clone())),
        _ => {}
    }
    if let Some(eq) = &m.equals {
        let eq = vars.render(eq)?;
        if !values.contains(&eq) {
            out.push(Problem::new(&what, eq, shown.clone()));
        }
    }
    if let Some(re) = &m.matches {
        let re_text = vars.render_regex(re)?;
        match Regex::new(&re_text) {
            Ok(r) if values.iter().any(|v| r.is_match(v)) => {}
            Ok(_) => out.push(Problem::new(
                &what,
                format!("a match for /{re_text}/"),
                shown.clone(),
            )),
            Err(e) => out.push(Problem::new(
                &what,
                format!("a valid regex /{re_text}/"),
                e.to_string(),
            )),
        }
    }
    if let Some(options) = &m.one_of {
        let options = options
            .iter()
            .map(|o| vars.render(o))
            .collect::<Result<Vec<_>, _>>()?;
        if !values.iter().any(|v| options.contains(v)) {
            out.push(Problem::new(
                &what,
                format!("one of:\n{}", options.join("\n")),
                shown.clone(),
            ));
        }
    }
    if let Some(items) = &m.list_contains {
        let items = items
            .iter()
            .map(|i| vars.render(i))
            .collect::<Result<Vec<_>, _>>()?;
        let elements: Vec<&str> = values
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let lacking: Vec<&str> = items
            .iter()
            .map(String::as_str)
            .filter(|i| !elements.contains(i))
            .collect();
        if !lacking.is_empty() {
            out.push(Problem::new(
                &what,
                format!("a list containing {}", items.join(", ")),
                format!("{shown}\n(missing: {})", lacking.join(", ")),
            ));
        }
    }
    Ok(out)
}

/// `expected` is contained in `actual`: objects compare the stated keys recursively,
/// arrays need the same length with elements matching pairwise, scalars are equal
/// (numbers by value, so `1` matches `1.0`).
pub fn json_subset(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e
            .iter()
            .all(|(k, ev)| a.get(k).is_some_and(|av| json_subset(ev, av))),
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(ev, av)| json_subset(ev, av))
        }
        (Value::Number(e), Value::Number(a)) => e == a || e.as_f64() == a.as_f64(),
        (e, a) => e == a,
    }
}

fn json_equal(e: &Value, a: &Value) -> bool {
    match (e, a) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => e == a,
    }
}

/// Whether a JSON-pointer matcher holds on `doc` (`skip_if.json_pointer`).
pub fn pointer_holds(
    ptr: &str,
    m: &PointerMatcher,
    doc: &Value,
    vars: &Vars,
) -> Result<bool, Missing> {
    Ok(check_pointer(ptr, m, doc, vars)?.is_empty())
}

fn check_pointer(
    ptr: &str,
    m: &PointerMatcher,
    doc: &Value,
    vars: &Vars,
) -> Result<Vec<Problem>, Missing> {
    let got = doc.pointer(ptr);
    let shown = got.map_or_else(|| "(absent)".to_owned(), pretty);
    let what = |part: &str| format!("json_pointer {ptr} {part}");
    let mut out = Vec::new();
    if got.is_none() && m.optional == Some(true) {
        return Ok(out);
    }
    let want_present = m.present.or(m.absent.map(|a| !a));
    match want_present {
        Some(true) if got.is_none() => out.push(Problem::new(what("present"), "present", "absent")),
        Some(false) if got.is_some() => {
            out.push(Problem::new(what("absent"), "absent", shown.clone()))
        }
        _ => {}
    }
    if let Some(want) = &m.equals {
        let want = vars.render_json(want)?;
        if !got.is_some_and(|g| json_equal(&want, g)) {
            out.push(Problem::new(what("equals"), pretty(&want), shown.clone()));
        }
    }
    if let Some(n) = m.length {
        let len = got.and_then(|g| match g {
            Value::Array(a) => Some(a.len()),
            Value::Object(o) => Some(o.len()),
            Value::String(s) => Some(s.chars().count()),
            _ => None,
        });
        if len != Some(n as usize) {
            let actual = match len {
                Some(l) => format!("length {l}:\n{shown}"),
                None => format!("no length:\n{shown}"),
            };
            out.push(Problem::new(what("length"), format!("length {n}"), actual));
        }
    }
    let contains = |needle: &Value| -> bool {
        match got {
            Some(Value::Array(items)) => items.iter().any(|i| json_subset(needle, i)),
            Some(Value::String(s)) => needle.as_str().is_some_and(|n| s.contains(n)),
            Some(Value::Object(o)) => needle.as_str().is_some_and(|n| o.contains_key(n)),
            _ => false,
        }
    };
    if let Some(needle) = &m.contains {
        let needle = vars.render_json(needle)?;
        if !contains(&needle) {
            out.push(Problem::new(
                what("contains"),
                format!("something containing\n{}", pretty(&needle)),
                shown.clone(),
            ));
        }
    }
    if let Some(needle) = &m.not_contains {
        let needle = vars.render_json(needle)?;
        if contains(&needle) {
            out.push(Problem::new(
                what("not_contains"),
                format!("nothing matching\n{}", pretty(&needle)),
                shown.clone(),
            ));
        }
    }
    if let Some(min) = m.at_least
        && !got.and_then(Value::as_f64).is_some_and(|n| n >= min)
    {
        out.push(Problem::new(
            what("at_least"),
            format!("a number >= {min}"),
            shown.clone(),
        ));
    }
    if let Some(re) = &m.matches {
        let re = vars.render(re)?;
        let ok = regex::Regex::new(&re)
            .ok()
            .zip(got.and_then(Value::as_str))
            .is_some_and(|(r, s)| r.is_match(s));
        if !ok {
            out.push(Problem::new(
                what("matches"),
                format!("a string matching {re}"),
                shown.clone(),
            ));
        }
    }
    if let Some(sorted) = &m.sorted {
        let strings: Option<Vec<&str>> = got
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect());
        let lexical = |v: &[&str]| v.windows(2).all(|w| w[0] <= w[1]);
        let folded = |v: &[&str]| {
            v.windows(2)
                .all(|w| w[0].to_lowercase() <= w[1].to_lowercase())
        };
        let (ok, wanted) = match (sorted, strings.as_deref()) {
            (SortedSpec::Flag(false), _) => (true, ""),
            (_, None) => (false, "a sorted array of strings"),
            (SortedSpec::Flag(true), Some(v)) => (
                lexical(v) || folded(v),
                "sorted (byte order or case-insensitive)",
            ),
            (SortedSpec::Order(o), Some(v)) if o == "case-insensitive" => {
                (folded(v), "sorted case-insensitively")
            }
            (SortedSpec::Order(_), Some(v)) => (lexical(v), "sorted in byte order"),
        };
        if !ok {
            out.push(Problem::new(what("sorted"), wanted, shown));
        }
    }
    Ok(out)
}

fn check_body(
    b: &BodyExpect,
    body: &Body,
    vars: &Vars,
    items: &Items,
) -> Result<Vec<Problem>, Missing> {
    let mut out = Vec::new();
    let mut compared = |label: String, expected_len: u64| {
        if let Some(at) = body.first_difference {
            let actual = if body.len != expected_len && at == body.len.min(expected_len) {
                format!("{} bytes", body.len)
            } else {
                format!("{} bytes, first difference at byte {at}", body.len)
            };
            out.push(Problem::new(
                "body",
                format!("{label} ({expected_len} bytes)"),
                actual,
            ));
        }
    };
    if let Some(name) = &b.blob
        && let Some((item, _)) = items.blobs.get(name)
    {
        let (s, e) = slice(b, item.content.len());
        let label = if b.start.is_some() || b.end.is_some() {
            format!("bytes {s}-{} of blob {name}", e.saturating_sub(1))
        } else {
            format!("blob {name}")
        };
        compared(label, e - s);
    }
    if let Some(name) = &b.manifest
        && let Some(item) = items.manifests.get(name)
    {
        compared(format!("manifest {name}"), item.content.len());
    }
    if b.empty == Some(true) && body.len != 0 {
        out.push(Problem::new(
            "body",
            "empty",
            format!("{} bytes:\n{}", body.len, printable(&body.kept)),
        ));
    }
    if let Some(d) = &b.digest {
        let d = vars.render(d)?;
        if body.digest != d {
            out.push(Problem::new("body digest", d, body.digest.clone()));
        }
    }
    if let Some(n) = b.length
        && body.len != n
    {
        out.push(Problem::new(
            "body length",
            n.to_string(),
            body.len.to_string(),
        ));
    }
    if let Some(e) = &body.error
        && !out.is_empty()
    {
        out.push(Problem::new(
            "body",
            "a complete body",
            format!("broken off: {e}"),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Content;
    use bytes::Bytes;
    use reqwest::header::HeaderValue;
    use serde_json::json;

    fn body(bytes: &'static [u8]) -> Body {
        Body {
            len: bytes.len() as u64,
            kept: Bytes::from_static(bytes),
            truncated: false,
            digest: Content::Bytes(Bytes::from_static(bytes)).digest(Algorithm::Sha256),
            first_difference: None,
            error: None,
        }
    }

    fn expect(v: Value) -> Expect {
        serde_json::from_value(v).unwrap()
    }

    fn run(
        e: Value,
        status: u16,
        headers: &[(&'static str, &'static str)],
        b: Body,
    ) -> Vec<Problem> {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.append(*k, HeaderValue::from_static(v));
        }
        let mut vars = Vars::new("ns", "ns/r");
        vars.set("digest", "sha256:abc");
        check(
            &expect(e),
            StatusCode::from_u16(status).unwrap(),
            &h,
            &b,
            &vars,
            &Items::default(),
        )
        .unwrap()
    }

    #[test]
    fn status_single_and_list() {
        assert!(run(json!({"status": 201}), 201, &[], body(b"")).is_empty());
        assert!(run(json!({"status": [201, 202]}), 202, &[], body(b"")).is_empty());
        let p = run(json!({"status": 201}), 202, &[], body(b""));
        assert_eq!(p[0].summary(), "status: expected 201, got 202");
        assert!(p[0].render().contains("-201\n+202"));
    }

    #[test]
    fn header_matchers() {
        let h = [
            ("Location", "/v2/ns/r/blobs/uploads/1"),
            ("Docker-Content-Digest", "sha256:abc"),
        ];
        let ok = json!({"headers": {
            "location": {"present": true, "matches": "^/v2/${repo}/blobs/uploads/"},
            "Docker-Content-Digest": {"equals": "${digest}", "one_of": ["x", "${digest}"]},
            "Range": {"absent": true}
        }});
        assert!(run(ok, 200, &h, body(b"")).is_empty());
        let bad = json!({"headers": {
            "Range": {"present": true},
            "Location": {"absent": true},
            "Docker-Content-Digest": {"equals": "sha256:def"},
            "Content-Type": {"matches": "json"}
        }});
        let p = run(bad, 200, &h, body(b""));
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(
            p.iter()
                .any(|x| x.summary() == "header Range: expected present, got absent"),
            "{p:?}"
        );
    }

    #[test]
    fn optional_headers_and_lists() {
        let h = [("OCI-Tag", "a, b"), ("OCI-Tag", "c")];
        let ok = json!({"headers": {
            "oci-tag": {"list_contains": ["a", "c", "b"]},
            "Range": {"optional": true, "matches": "^0-[0-9]+$"}
        }});
        assert!(run(ok, 201, &h, body(b"")).is_empty());
        let bad = json!({"headers": {
            "OCI-Tag": {"optional": true, "list_contains": ["a", "d"]},
            "Range": {"list_contains": ["x"]}
        }});
        let p = run(bad, 201, &h, body(b""));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].actual.contains("(missing: d)"), "{p:?}");
        // Present but not matching fails even when optional.
        let p = run(
            json!({"headers": {"OCI-Tag": {"optional": true, "matches": "^z$"}}}),
            201,
            &h,
            body(b""),
        );
        assert_eq!(p.len(), 1, "{p:?}");
    }

    #[test]
    fn regex_variables_are_literal() {
        // `.` in a substituted value must not match any character.
        let mut vars = Vars::new("ns", "n.s/r");
        vars.set("x", "a.c");
        let e = expect(json!({"headers": {"X": {"matches": "^${x}$"}}}));
        let mut h = HeaderMap::new();
        h.insert("x", HeaderValue::from_static("abc"));
        let p = check(&e, StatusCode::OK, &h, &body(b""), &vars, &Items::default()).unwrap();
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn error_code_shape() {
        let b = br#"{"errors":[{"code":"BLOB_UNKNOWN","message":"x"}]}"#;
        assert!(run(json!({"error_code": "BLOB_UNKNOWN"}), 404, &[], body(b)).is_empty());
        assert!(
            run(
                json!({"error_code": ["NAME_UNKNOWN", "BLOB_UNKNOWN"]}),
                404,
                &[],
                body(b)
            )
            .is_empty()
        );
        let p = run(json!({"error_code": "MANIFEST_UNKNOWN"}), 404, &[], body(b));
        assert!(p[0].actual.contains("BLOB_UNKNOWN"));
        let p = run(
            json!({"error_code": "BLOB_UNKNOWN"}),
            404,
            &[],
            body(b"not found"),
        );
        assert!(p[0].actual.contains("not the error shape"));
    }

    #[test]
    fn json_subset_semantics() {
        let b = br#"{"name":"ns/r","tags":["a","b"],"extra":{"x":1,"y":2}}"#;
        assert!(
            run(
                json!({"json": {"name": "${repo}", "extra": {"x": 1.0}}}),
                200,
                &[],
                body(b)
            )
            .is_empty()
        );
        assert_eq!(
            run(json!({"json": {"tags": ["a"]}}), 200, &[], body(b)).len(),
            1
        );
        assert_eq!(
            run(json!({"json": {"missing": 1}}), 200, &[], body(b)).len(),
            1
        );
        let p = run(json!({"json": {"name": "other"}}), 200, &[], body(b));
        assert!(
            p[0].render().contains("-  \"name\": \"other\""),
            "{}",
            p[0].render()
        );
    }

    #[test]
    fn json_pointer_matchers() {
        let b = br#"{"tags":["A","b","c"],"manifests":[{"digest":"sha256:abc","size":3}],"n":3}"#;
        let ok = json!({"json_pointer": {
            "/tags": {"length": 3, "contains": "b", "not_contains": "z", "sorted": true},
            "/tags/0": {"equals": "A"},
            "/manifests": {"contains": {"digest": "${digest}"}},
            "/n": {"equals": 3},
            "/nope": {"absent": true},
            "/tags/2": {"present": true}
        }});
        assert!(run(ok, 200, &[], body(b)).is_empty());
        // Byte order puts "A" before "b"; case-insensitively too. "b","A" is neither.
        let unsorted = br#"{"tags":["b","A"]}"#;
        assert_eq!(
            run(
                json!({"json_pointer": {"/tags": {"sorted": true}}}),
                200,
                &[],
                body(unsorted)
            )
            .len(),
            1
        );
        let mixed = br#"{"tags":["a","B"]}"#;
        assert!(
            run(
                json!({"json_pointer": {"/tags": {"sorted": true}}}),
                200,
                &[],
                body(mixed)
            )
            .is_empty()
        );
        assert_eq!(
            run(
                json!({"json_pointer": {"/tags": {"sorted": "lexical"}}}),
                200,
                &[],
                body(mixed)
            )
            .len(),
            1
        );
        let bad = json!({"json_pointer": {"/tags": {"length": 2, "contains": "z", "not_contains": "A"}, "/n": {"absent": true}}});
        assert_eq!(run(bad, 200, &[], body(b)).len(), 4);
    }

    #[test]
    fn body_matchers() {
        assert!(
            run(
                json!({"body": {"empty": true, "length": 0}}),
                200,
                &[],
                body(b"")
            )
            .is_empty()
        );
        assert_eq!(
            run(json!({"body": {"empty": true}}), 200, &[], body(b"x")).len(),
            1
        );
        let d = Content::Bytes(Bytes::from_static(b"abc")).digest(Algorithm::Sha256);
        let mut vars = Vars::new("ns", "ns/r");
        vars.set("d", d);
        let e = expect(json!({"body": {"digest": "${d}", "length": 3}}));
        assert!(
            check(
                &e,
                StatusCode::OK,
                &HeaderMap::new(),
                &body(b"abc"),
                &vars,
                &Items::default()
            )
            .unwrap()
            .is_empty()
        );
        assert_eq!(
            check(
                &e,
                StatusCode::OK,
                &HeaderMap::new(),
                &body(b"abd"),
                &vars,
                &Items::default()
            )
            .unwrap()
            .len(),
            1
        );
    }

    #[test]
    fn blob_body_uses_streamed_comparison() {
        let mut items = Items::default();
        let c = Content::Generated { seed: 1, size: 10 };
        items.blobs.insert(
            "l".into(),
            (Item::new(c, Algorithm::Sha256, None), Algorithm::Sha256),
        );
        let e = expect(json!({"body": {"blob": "l", "start": 2, "end": 5}}));
        let check_ = body_check(&e, &items);
        assert_eq!(check_.compare.as_ref().unwrap().remaining(), 4);
        let mut b = body(b"");
        b.len = 4;
        b.first_difference = Some(1);
        let p = check(
            &e,
            StatusCode::OK,
            &HeaderMap::new(),
            &b,
            &Vars::new("n", "n/r"),
            &items,
        )
        .unwrap();
        assert_eq!(
            p[0].summary(),
            "body: expected bytes 2-5 of blob l (4 bytes), got 4 bytes, first difference at byte 1"
        );
    }
}

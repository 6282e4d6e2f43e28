//! `capture` of a `request` step: checked when the scenario loads (the names become
//! defined for the steps after it), taken from the answer when the step runs.

use indexmap::IndexMap;
use regex::Regex;
use serde_json::Value;

use super::exchange::Exchange;
use crate::error::LoadError;
use crate::expect::Problem;
use crate::model::CaptureSpec;
use crate::validate::{Scope, StepContext, usable_capture_name};

/// Every capture names a usable variable and one well-formed source; `aborts`: the
/// request is broken off on purpose, so there is nothing to capture. The names are defined
/// afterwards.
pub fn check(
    cx: &StepContext<'_>,
    capture: &IndexMap<String, CaptureSpec>,
    aborts: bool,
    scope: &mut Scope,
) -> Result<(), LoadError> {
    for (name, c) in capture {
        let what = format!("capture {name}");
        if !usable_capture_name(name) {
            return Err(cx.err(format!("{what}: not a usable variable name")));
        }
        if c.header.is_some() == c.json.is_some() {
            return Err(cx.err(format!("{what}: give exactly one of header, json")));
        }
        if c.header.is_none() && (c.regex.is_some() || c.upload_offset.is_some()) {
            return Err(cx.err(format!("{what}: regex and upload_offset go with header")));
        }
        if c.regex.is_some() && c.upload_offset.is_some() {
            return Err(cx.err(format!(
                "{what}: regex and upload_offset exclude each other"
            )));
        }
        if let Some(re) = &c.regex {
            let r = Regex::new(re).map_err(|e| cx.err(format!("{what}: bad regex: {e}")))?;
            if r.captures_len() < 2 {
                return Err(cx.err(format!("{what}: the regex needs a group to capture")));
            }
        }
        if let Some(ps) = &c.json {
            let ps = ps.to_vec();
            if ps.is_empty() {
                return Err(cx.err(format!("{what}: give at least one pointer")));
            }
            if let Some(p) = ps.iter().find(|p| !(p.is_empty() || p.starts_with('/'))) {
                return Err(cx.err(format!("{what}: {p:?} is not a JSON pointer")));
            }
        }
        if aborts {
            return Err(cx.err("an aborted request has nothing to capture"));
        }
    }
    for name in capture.keys() {
        scope.define(name.clone());
    }
    Ok(())
}

/// The value a capture takes from an exchange.
pub(super) fn captured(spec: &CaptureSpec, ex: &Exchange) -> Result<String, Problem> {
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
    use bytes::Bytes;
    use reqwest::header::{HeaderMap, HeaderValue};
    use reqwest::{StatusCode, Url};

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

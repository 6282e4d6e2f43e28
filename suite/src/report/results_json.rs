//! `results.json`: every trial and the run's metadata for scripts and dashboards, in a
//! versioned schema ([`SCHEMA`], described in `reports/README.md`).
//!
//! JUnit has no place for a warning, the root cause or the run's profile and date, and
//! parsing XML for them is a chore; this file has them all under stable names. Fields are
//! only ever added within one schema version; renaming or removing one bumps it.

use serde::Serialize;

use super::summary::Counts;
use super::{RunInfo, clean, one_line, verdict};
use crate::events::{Outcome, ScenarioReport};

/// The schema identifier written as the file's `schema` field.
pub const SCHEMA: &str = "registry-conformance/results/v1";

#[derive(Serialize)]
struct Results<'a> {
    schema: &'static str,
    suite: Suite<'a>,
    run: Run<'a>,
    verdict: &'static str,
    counts: CountsJson,
    tests: Vec<Test<'a>>,
}

#[derive(Serialize)]
struct Suite<'a> {
    name: &'static str,
    version: &'a str,
}

#[derive(Serialize)]
struct Run<'a> {
    registry: &'a str,
    registry_note: &'a str,
    profile: &'a str,
    namespace: &'a str,
    date: &'a str,
    strict: bool,
    duration_seconds: f64,
}

#[derive(Serialize)]
struct CountsJson {
    total: usize,
    pass: usize,
    warn: usize,
    fail: usize,
    skip: usize,
    error: usize,
}

#[derive(Serialize)]
struct Test<'a> {
    name: &'a str,
    area: &'a str,
    scenario: &'a str,
    title: &'a str,
    profile: Option<String>,
    file: String,
    outcome: &'static str,
    requirements: &'a [String],
    broken_requirements: &'a [String],
    duration_seconds: f64,
    message: Option<String>,
    cause: Option<String>,
    details: Option<String>,
}

/// Seconds, rounded to the millisecond (as in the JUnit file).
fn secs(d: f64) -> f64 {
    (d * 1000.0).round() / 1000.0
}

fn test(r: &ScenarioReport) -> Test<'_> {
    const NONE: &[String] = &[];
    let (message, details, broken) = match (&r.outcome, r.outcome.problem()) {
        (Outcome::Skip { reason }, _) => (Some(one_line(reason)), None, NONE),
        (_, Some((summary, details, requirements))) => (
            Some(one_line(&clean(summary))),
            Some(clean(details)).filter(|d| !d.is_empty()),
            requirements,
        ),
        (_, None) => (None, None, NONE),
    };
    Test {
        name: &r.name,
        area: &r.area,
        scenario: &r.case,
        title: &r.title,
        profile: r.profile.map(|p| p.to_string()),
        file: r.file.display().to_string(),
        outcome: r.outcome.label(),
        requirements: &r.requirements,
        broken_requirements: broken,
        duration_seconds: secs(r.duration.as_secs_f64()),
        message,
        cause: r.outcome.cause().map(|c| one_line(&clean(c))),
        details,
    }
}

/// The file's text (pretty-printed, newline-terminated).
pub fn render(info: &RunInfo, reports: &[ScenarioReport]) -> String {
    let c = Counts::of(reports);
    let doc = Results {
        schema: SCHEMA,
        suite: Suite {
            name: "registry-conformance",
            version: &info.suite_version,
        },
        run: Run {
            registry: &info.registry,
            registry_note: &info.registry_note,
            profile: &info.profile,
            namespace: &info.namespace,
            date: &info.date,
            strict: info.strict,
            duration_seconds: secs(reports.iter().map(|r| r.duration.as_secs_f64()).sum()),
        },
        verdict: verdict(&c),
        counts: CountsJson {
            total: reports.len(),
            pass: c.pass,
            warn: c.warn,
            fail: c.fail,
            skip: c.skip,
            error: c.error,
        },
        tests: reports.iter().map(test).collect(),
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("plain data serializes");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::sample_report;

    #[test]
    fn schema_counts_and_fields() {
        let mut fail = sample_report(
            "push::blob-upload",
            &["PUSH-01", "PUSH-08"],
            Outcome::Fail {
                summary: "[PUSH-08] header Location: expected present\nsecond line".into(),
                details: "> POST /v2/x/blobs/uploads/\n< {\"token\":\"s3cr3t\"}".into(),
                requirements: vec!["PUSH-08".into()],
                cause: "[PUSH-08] header Location: expected present".into(),
            },
        );
        fail.area = "push".into();
        fail.duration = std::time::Duration::from_micros(12_345_678);
        let reports = vec![
            fail,
            sample_report("a::ok", &["BASE-01"], Outcome::Pass),
            sample_report(
                "a::skipped",
                &[],
                Outcome::Skip {
                    reason: "capability delete is off".into(),
                },
            ),
        ];
        let text = render(&crate::report::sample_info(), &reports);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["schema"], "registry-conformance/results/v1");
        assert_eq!(v["suite"]["version"], "0.1.0");
        assert_eq!(v["run"]["registry"], "http://127.0.0.1:5000");
        assert_eq!(v["run"]["profile"], "all");
        assert_eq!(v["run"]["namespace"], "conformance-x");
        assert_eq!(v["run"]["date"], "2026-12-01T05:30:00Z");
        assert_eq!(v["verdict"], "fail");
        assert_eq!(
            v["counts"],
            serde_json::json!({"total": 3, "pass": 1, "warn": 0, "fail": 1, "skip": 1, "error": 0})
        );
        let t = &v["tests"][0];
        assert_eq!(t["name"], "push::blob-upload");
        assert_eq!(t["area"], "push");
        assert_eq!(t["outcome"], "fail");
        assert_eq!(t["requirements"], serde_json::json!(["PUSH-01", "PUSH-08"]));
        assert_eq!(t["broken_requirements"], serde_json::json!(["PUSH-08"]));
        assert_eq!(t["duration_seconds"], 12.346);
        assert_eq!(t["message"], "[PUSH-08] header Location: expected present");
        assert_eq!(t["cause"], "[PUSH-08] header Location: expected present");
        let details = t["details"].as_str().unwrap();
        assert!(
            details.contains("<redacted>") && !text.contains("s3cr3t"),
            "{details}"
        );
        assert_eq!(v["tests"][1]["message"], serde_json::Value::Null);
        assert_eq!(v["tests"][2]["message"], "capability delete is off");
        // Stable field names: the v1 set.
        let mut keys: Vec<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut expected = [
            "name",
            "area",
            "scenario",
            "title",
            "profile",
            "file",
            "outcome",
            "requirements",
            "broken_requirements",
            "duration_seconds",
            "message",
            "cause",
            "details",
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected);
    }
}

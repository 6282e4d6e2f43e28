//! `--baseline FILE`: the expected non-pass outcomes of a registry. A run matches when
//! every trial that ran has exactly the baseline's outcome (pass when not listed), in both
//! directions: an expected failure that now passes is a difference too.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::events::ScenarioReport;

/// The baseline file (JSON).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// Expected non-pass outcomes.
    pub expected: Vec<Expected>,
}

/// One expected outcome.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// Test name, `<area>::<id>` (or `...@<profile>`).
    pub test: String,
    /// `warn`, `fail`, `skip`, `error`, or `flaky` (pass, warn and fail all match: for a
    /// registry whose answer depends on timing or on its filesystem; the reason must say
    /// which).
    pub outcome: String,
    /// Why (for humans).
    #[serde(default)]
    pub reason: Option<String>,
}

impl Baseline {
    /// Reads and checks a baseline file.
    pub fn load(path: &Path) -> Result<Baseline, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let b: Baseline =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for e in &b.expected {
            if !matches!(
                e.outcome.as_str(),
                "warn" | "fail" | "skip" | "error" | "flaky"
            ) {
                return Err(format!(
                    "{}: {}: outcome {:?} must be warn, fail, skip, error or flaky",
                    path.display(),
                    e.test,
                    e.outcome
                ));
            }
            if e.outcome == "flaky" && e.reason.as_deref().is_none_or(str::is_empty) {
                return Err(format!(
                    "{}: {}: a flaky entry needs a reason",
                    path.display(),
                    e.test
                ));
            }
        }
        Ok(b)
    }
}

/// Each trial whose outcome differs from the baseline, as `test: expected X, got Y`.
/// Baseline entries for trials that did not run (filtered out) are not differences.
pub fn compare(b: &Baseline, reports: &[ScenarioReport]) -> Vec<String> {
    let expected: HashMap<&str, &Expected> =
        b.expected.iter().map(|e| (e.test.as_str(), e)).collect();
    let mut out = Vec::new();
    for r in reports {
        let actual = r.outcome.label();
        let (want, why) = match expected.get(r.name.as_str()) {
            Some(e) => (e.outcome.as_str(), e.reason.as_deref()),
            None => ("pass", None),
        };
        let matches =
            want == actual || (want == "flaky" && matches!(actual, "pass" | "warn" | "fail"));
        if !matches {
            let mut line = format!("{}: baseline says {want}, got {actual}", r.name);
            if want != "pass" && want != "flaky" && actual == "pass" {
                line.push_str(" (fixed: remove it from the baseline)");
            }
            if let Some(w) = why {
                line.push_str(&format!(" [baseline reason: {w}]"));
            }
            out.push(line);
        }
    }
    out
}

/// Baseline entries that name no scenario of the loaded fixtures (a misspelt or removed
/// test would otherwise be silently ignored). `known` holds `<area>::<id>` names; an entry's
/// `@<profile>` suffix is ignored, so one baseline serves every `--profile`.
pub fn unknown_entries(b: &Baseline, known: &std::collections::HashSet<String>) -> Vec<String> {
    b.expected
        .iter()
        .filter(|e| {
            let base = e.test.split_once('@').map_or(e.test.as_str(), |(n, _)| n);
            !known.contains(base)
        })
        .map(|e| format!("{}: no such test in the loaded fixtures", e.test))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Outcome;

    fn report(name: &str, outcome: Outcome) -> ScenarioReport {
        crate::events::sample_report(name, &[], outcome)
    }

    fn fail() -> Outcome {
        Outcome::Fail {
            summary: "s".into(),
            details: "d".into(),
            requirements: vec![],
            cause: "c".into(),
        }
    }

    #[test]
    fn differences_in_both_directions() {
        let b: Baseline = serde_json::from_value(serde_json::json!({"expected": [
            {"test": "a::x", "outcome": "fail", "reason": "known bug"},
            {"test": "a::y", "outcome": "fail"},
            {"test": "a::gone", "outcome": "skip"}
        ]}))
        .unwrap();
        let reports = [
            report("a::x", fail()),
            report("a::y", Outcome::Pass),
            report("a::z", fail()),
            report("a::ok", Outcome::Pass),
        ];
        let d = compare(&b, &reports);
        assert_eq!(
            d,
            vec![
                "a::y: baseline says fail, got pass (fixed: remove it from the baseline)"
                    .to_owned(),
                "a::z: baseline says pass, got fail".to_owned(),
            ]
        );
        assert!(
            compare(&b, &reports[..1]).is_empty(),
            "entries for trials that did not run are not differences"
        );
    }

    #[test]
    fn warnings_are_an_outcome_of_their_own() {
        let b: Baseline = serde_json::from_value(serde_json::json!({"expected": [
            {"test": "a::w", "outcome": "warn", "reason": "no Link header (MAY)"}
        ]}))
        .unwrap();
        let warn = || Outcome::Warn {
            summary: "s".into(),
            details: "d".into(),
            requirements: vec![],
            cause: "c".into(),
        };
        assert!(compare(&b, &[report("a::w", warn())]).is_empty());
        assert_eq!(
            compare(&b, &[report("a::w", Outcome::Pass), report("a::v", warn())]),
            vec![
                "a::w: baseline says warn, got pass (fixed: remove it from the baseline) \
                 [baseline reason: no Link header (MAY)]"
                    .to_owned(),
                "a::v: baseline says pass, got warn".to_owned(),
            ]
        );
    }

    #[test]
    fn bad_outcomes_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.json");
        std::fs::write(&p, r#"{"expected":[{"test":"a::x","outcome":"broken"}]}"#).unwrap();
        assert!(
            Baseline::load(&p)
                .unwrap_err()
                .contains("must be warn, fail, skip, error or flaky")
        );
        std::fs::write(
            &p,
            r#"{"expected":[{"test":"a::x","outcome":"fail","why":"x"}]}"#,
        )
        .unwrap();
        assert!(Baseline::load(&p).unwrap_err().contains("unknown field"));
    }

    #[test]
    fn flaky_accepts_pass_and_fail_but_needs_a_reason() {
        let b: Baseline = serde_json::from_value(serde_json::json!({"expected": [
            {"test": "a::x", "outcome": "flaky", "reason": "timing"},
            {"test": "a::y", "outcome": "flaky", "reason": "timing"}
        ]}))
        .unwrap();
        let skipped = Outcome::Skip { reason: "r".into() };
        let reports = [
            report("a::x", Outcome::Pass),
            report("a::y", fail()),
            report("a::x", skipped),
        ];
        assert_eq!(
            compare(&b, &reports),
            vec!["a::x: baseline says flaky, got skip [baseline reason: timing]".to_owned()]
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.json");
        std::fs::write(&p, r#"{"expected":[{"test":"a::x","outcome":"flaky"}]}"#).unwrap();
        assert!(Baseline::load(&p).unwrap_err().contains("needs a reason"));
    }

    #[test]
    fn entries_naming_no_scenario_are_reported() {
        let b: Baseline = serde_json::from_value(serde_json::json!({"expected": [
            {"test": "a::x@oci-1.1", "outcome": "fail"},
            {"test": "a::typo", "outcome": "fail"}
        ]}))
        .unwrap();
        let known = ["a::x".to_owned()].into_iter().collect();
        assert_eq!(
            unknown_entries(&b, &known),
            vec!["a::typo: no such test in the loaded fixtures".to_owned()]
        );
    }
}

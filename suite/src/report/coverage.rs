//! `--coverage`: requirement → level → scenarios citing it → outcome in this run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use crate::events::{Outcome, ScenarioReport};
use crate::loader::{Catalog, Scenario};

/// One requirement's row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `PUSH-01`.
    pub id: String,
    /// `MUST`, ...
    pub level: String,
    /// `<area>::<id>` of every scenario citing it (whether or not it ran).
    pub scenarios: Vec<String>,
    /// `pass`, `fail`, `skip`, `error`, `not run`, or `excused`.
    pub outcome: String,
    /// The catalog's reason, for excused requirements.
    pub excused: Option<String>,
}

/// Totals of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Requirements not excused.
    pub testable: usize,
    /// Of those, cited by at least one scenario.
    pub covered: usize,
    /// Of those, passed in this run.
    pub passed: usize,
    /// Excused requirements.
    pub excused: usize,
}

/// Builds the matrix. A requirement fails when a failing step breaks it; it passes when a
/// scenario citing it passed; it is skipped when every scenario citing it that ran skipped.
pub fn matrix(
    catalog: &Catalog,
    scenarios: &[Arc<Scenario>],
    reports: &[ScenarioReport],
) -> (Vec<Row>, Totals) {
    let mut citing: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in scenarios {
        for id in s.cited_requirements() {
            citing
                .entry(id)
                .or_default()
                .push(format!("{}::{}", s.area, s.id));
        }
    }
    let mut rows = Vec::new();
    let mut t = Totals::default();
    for r in &catalog.requirements {
        let scenarios = citing.get(r.id.as_str()).cloned().unwrap_or_default();
        let ran: Vec<&ScenarioReport> = reports
            .iter()
            .filter(|x| x.requirements.contains(&r.id))
            .collect();
        let outcome = if r.excused.is_some() {
            t.excused += 1;
            "excused".to_owned()
        } else {
            t.testable += 1;
            if !scenarios.is_empty() {
                t.covered += 1;
            }
            // Broken in this run: a failure names it, or a setup step that broke it
            // blocked some scenario (its outcome is `error`, naming this ID).
            let broke = |x: &&ScenarioReport| match &x.outcome {
                Outcome::Fail { requirements, .. } | Outcome::Error { requirements, .. } => {
                    requirements.contains(&r.id)
                }
                _ => false,
            };
            let failed = reports.iter().any(|x| broke(&x));
            let warned = ran.iter().any(|x| {
                matches!(&x.outcome, Outcome::Warn { requirements, .. } if requirements.contains(&r.id))
            });
            let label = if failed {
                "fail"
            } else if warned {
                "warn"
            } else if ran.iter().any(|x| x.outcome == Outcome::Pass) {
                "pass"
            } else if ran
                .iter()
                .any(|x| matches!(x.outcome, Outcome::Error { .. }))
            {
                "error"
            } else if !ran.is_empty()
                && ran
                    .iter()
                    .all(|x| matches!(x.outcome, Outcome::Skip { .. }))
            {
                "skip"
            } else {
                "not run"
            };
            if label == "pass" {
                t.passed += 1;
            }
            label.to_owned()
        };
        rows.push(Row {
            id: r.id.clone(),
            level: r.level.clone(),
            scenarios,
            outcome,
            excused: r.excused.clone(),
        });
    }
    (rows, t)
}

/// The matrix as text.
pub fn render(rows: &[Row], t: &Totals) -> String {
    let mut s = String::from("coverage: requirement  level  outcome  scenarios\n");
    for r in rows {
        let what = match &r.excused {
            Some(reason) => format!("excused: {reason}"),
            None if r.scenarios.is_empty() => "(no scenario)".to_owned(),
            None => r.scenarios.join(", "),
        };
        let _ = writeln!(s, "{:<10} {:<18} {:<8} {what}", r.id, r.level, r.outcome);
    }
    let _ = writeln!(
        s,
        "covered {}/{} testable requirements ({} passed in this run); {} excused",
        t.covered, t.testable, t.passed, t.excused
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::Requirement;

    fn req(id: &str, excused: Option<&str>) -> Requirement {
        Requirement {
            id: id.into(),
            level: "MUST".into(),
            spec: String::new(),
            source: String::new(),
            summary: String::new(),
            excused: excused.map(str::to_owned),
            check: None,
            url: None,
            docker_url: None,
        }
    }

    fn report(name: &str, reqs: &[&str], outcome: Outcome) -> ScenarioReport {
        crate::events::sample_report(name, reqs, outcome)
    }

    #[test]
    fn outcomes_per_requirement() {
        let cat = Catalog {
            requirements: vec![
                req("R-1", None),
                req("R-2", None),
                req("R-3", None),
                req("R-4", None),
                req("R-5", Some("cannot be observed")),
            ],
        };
        let reports = vec![
            report("a::pass", &["R-1", "R-2"], Outcome::Pass),
            report(
                "a::fail",
                &["R-2", "R-3"],
                Outcome::Fail {
                    summary: String::new(),
                    details: String::new(),
                    requirements: vec!["R-2".into()],
                    cause: String::new(),
                },
            ),
            report("a::skip", &["R-4"], Outcome::Skip { reason: "x".into() }),
        ];
        let (rows, t) = matrix(&cat, &[], &reports);
        let outcome: Vec<&str> = rows.iter().map(|r| r.outcome.as_str()).collect();
        // R-3 was cited by the failing scenario, but its failing step broke only R-2.
        assert_eq!(outcome, ["pass", "fail", "not run", "skip", "excused"]);
        assert_eq!(
            t,
            Totals {
                testable: 4,
                covered: 0,
                passed: 1,
                excused: 1
            }
        );
        let text = render(&rows, &t);
        assert!(text.contains("excused: cannot be observed"));
        assert!(text.contains("covered 0/4 testable requirements"));
    }
}

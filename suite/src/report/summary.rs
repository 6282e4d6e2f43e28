//! The short text summary printed after libtest's output and written to `summary.txt`.
//!
//! Failures and errors are grouped by root cause first (the requirement that actually
//! broke, and what it asks), so one defect that blocks 135 scenarios reads as one line.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::events::{Outcome, ScenarioReport};

/// Counts of the five outcomes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Passed.
    pub pass: usize,
    /// Passed every MUST, missed a SHOULD.
    pub warn: usize,
    /// Failed.
    pub fail: usize,
    /// Skipped.
    pub skip: usize,
    /// Could not run (setup or harness).
    pub error: usize,
}

impl Counts {
    /// Counts one more outcome.
    pub fn add(&mut self, o: &Outcome) {
        match o {
            Outcome::Pass => self.pass += 1,
            Outcome::Warn { .. } => self.warn += 1,
            Outcome::Fail { .. } => self.fail += 1,
            Outcome::Skip { .. } => self.skip += 1,
            Outcome::Error { .. } => self.error += 1,
        }
    }

    /// Totals over reports.
    pub fn of(reports: &[ScenarioReport]) -> Counts {
        let mut c = Counts::default();
        for r in reports {
            c.add(&r.outcome);
        }
        c
    }
}

/// One root cause: the scenarios it blocked, by outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootCause {
    /// `[PUSH-08] blob created: header Location: expected present`.
    pub cause: String,
    /// Names of the failing scenarios.
    pub failed: Vec<String>,
    /// Names of the scenarios that could not be set up.
    pub errored: Vec<String>,
}

impl RootCause {
    /// Scenarios this cause blocked.
    pub fn count(&self) -> usize {
        self.failed.len() + self.errored.len()
    }
}

/// Failures and errors grouped by cause, the cause blocking most scenarios first (ties by
/// cause text, so the order is stable).
pub fn root_causes(reports: &[ScenarioReport]) -> Vec<RootCause> {
    let mut by: BTreeMap<&str, RootCause> = BTreeMap::new();
    for r in reports {
        let Some(cause) = r.outcome.cause() else {
            continue;
        };
        let entry = by.entry(cause).or_insert_with(|| RootCause {
            cause: cause.to_owned(),
            failed: Vec::new(),
            errored: Vec::new(),
        });
        match r.outcome {
            Outcome::Fail { .. } => entry.failed.push(r.name.clone()),
            Outcome::Error { .. } => entry.errored.push(r.name.clone()),
            _ => {}
        }
    }
    let mut out: Vec<RootCause> = by.into_values().filter(|c| c.count() > 0).collect();
    out.sort_by(|a, b| b.count().cmp(&a.count()).then(a.cause.cmp(&b.cause)));
    out
}

/// How many scenario names a root cause lists before "and N more".
const NAMES_SHOWN: usize = 5;

/// The summary text. `header` describes the run (registry, profile, namespace).
pub fn render(header: &str, reports: &[ScenarioReport]) -> String {
    let mut s = String::new();
    let total = Counts::of(reports);
    let _ = writeln!(s, "registry-conformance summary: {header}");
    let _ = writeln!(
        s,
        "{} scenarios: {} pass, {} warn, {} fail, {} skip, {} error",
        reports.len(),
        total.pass,
        total.warn,
        total.fail,
        total.skip,
        total.error
    );
    let mut areas: BTreeMap<&str, Counts> = BTreeMap::new();
    for r in reports {
        areas.entry(&r.area).or_default().add(&r.outcome);
    }
    if !areas.is_empty() {
        let w = areas.keys().map(|a| a.len()).max().unwrap_or(4).max(4);
        let _ = writeln!(
            s,
            "\n{:<w$}  {:>4}  {:>4}  {:>4}  {:>4}  {:>5}",
            "area", "pass", "warn", "fail", "skip", "error"
        );
        for (a, c) in &areas {
            let _ = writeln!(
                s,
                "{a:<w$}  {:>4}  {:>4}  {:>4}  {:>4}  {:>5}",
                c.pass, c.warn, c.fail, c.skip, c.error
            );
        }
    }
    let causes = root_causes(reports);
    if !causes.is_empty() {
        let blocked: usize = causes.iter().map(RootCause::count).sum();
        let _ = writeln!(
            s,
            "\n{} root cause(s) behind {blocked} failed or blocked scenario(s):",
            causes.len()
        );
        for c in &causes {
            let mut parts = Vec::new();
            if !c.failed.is_empty() {
                parts.push(format!("{} fail", c.failed.len()));
            }
            if !c.errored.is_empty() {
                parts.push(format!("{} could not be set up", c.errored.len()));
            }
            let names: Vec<&String> = c.failed.iter().chain(&c.errored).collect();
            let mut shown = names
                .iter()
                .take(NAMES_SHOWN)
                .map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            if names.len() > NAMES_SHOWN {
                shown.push_str(&format!(", and {} more", names.len() - NAMES_SHOWN));
            }
            let _ = writeln!(
                s,
                "  {}\n      blocks {} scenario(s) ({}): {shown}",
                c.cause,
                c.count(),
                parts.join(", ")
            );
        }
    }
    let section = |s: &mut String, title: &str, pick: &dyn Fn(&Outcome) -> Option<String>| {
        let lines: Vec<String> = reports
            .iter()
            .filter_map(|r| pick(&r.outcome).map(|x| format!("  {}  {x}", r.name)))
            .collect();
        if !lines.is_empty() {
            let _ = writeln!(s, "\n{title}:");
            for l in lines {
                let _ = writeln!(s, "{l}");
            }
        }
    };
    section(&mut s, "failed", &|o| match o {
        Outcome::Fail { summary, .. } => Some(summary.clone()),
        _ => None,
    });
    section(
        &mut s,
        "errors (could not set up, or could not run)",
        &|o| match o {
            Outcome::Error {
                summary, details, ..
            } => Some(if summary.starts_with("could not set up") {
                summary.clone()
            } else {
                format!("{summary}: {}", details.lines().next().unwrap_or(""))
            }),
            _ => None,
        },
    );
    section(
        &mut s,
        "warnings (a SHOULD or weaker not met; not failures)",
        &|o| match o {
            Outcome::Warn { summary, .. } => Some(summary.clone()),
            _ => None,
        },
    );
    section(&mut s, "skipped", &|o| match o {
        Outcome::Skip { reason } => Some(reason.clone()),
        _ => None,
    });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(name: &str, outcome: Outcome) -> ScenarioReport {
        crate::events::sample_report(name, &[], outcome)
    }

    fn setup_error(cause: &str) -> Outcome {
        Outcome::Error {
            summary: format!("could not set up: {cause}"),
            details: String::new(),
            requirements: vec!["PUSH-08".into()],
            cause: Some(cause.into()),
        }
    }

    #[test]
    fn one_defect_is_one_root_cause() {
        let loc = "[PUSH-08] blob created: header Location: expected present";
        let reports = vec![
            report("a::1", setup_error(loc)),
            report("a::2", setup_error(loc)),
            report(
                "a::3",
                Outcome::Fail {
                    summary: "s".into(),
                    details: String::new(),
                    requirements: vec!["PUSH-08".into()],
                    cause: loc.into(),
                },
            ),
            report(
                "a::4",
                Outcome::Fail {
                    summary: "s".into(),
                    details: String::new(),
                    requirements: vec!["DISC-04".into()],
                    cause: "[DISC-04] status: expected 200".into(),
                },
            ),
            report(
                "a::5",
                Outcome::Warn {
                    summary: "w".into(),
                    details: String::new(),
                    requirements: vec!["HDR-08".into()],
                    cause: "[HDR-08] header Content-Type".into(),
                },
            ),
        ];
        let causes = root_causes(&reports);
        assert_eq!(causes.len(), 2, "{causes:#?}");
        assert_eq!(causes[0].cause, loc);
        assert_eq!(causes[0].failed, vec!["a::3".to_owned()]);
        assert_eq!(
            causes[0].errored,
            vec!["a::1".to_owned(), "a::2".to_owned()]
        );
        let text = render("h", &reports);
        assert!(
            text.contains("5 scenarios: 0 pass, 1 warn, 2 fail, 0 skip, 2 error"),
            "{text}"
        );
        assert!(
            text.contains("2 root cause(s) behind 4 failed or blocked scenario(s):"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "  {loc}\n      blocks 3 scenario(s) (1 fail, 2 could not be set up): a::3, a::1, a::2"
            )),
            "{text}"
        );
        assert!(text.contains("warnings (a SHOULD or weaker not met; not failures):\n  a::5  w"));
    }
}

//! The short text summary printed after libtest's output and written to `summary.txt`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::events::{Outcome, ScenarioReport};

/// Counts of the four outcomes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Passed.
    pub pass: usize,
    /// Failed.
    pub fail: usize,
    /// Skipped.
    pub skip: usize,
    /// Harness errors.
    pub error: usize,
}

impl Counts {
    fn add(&mut self, o: &Outcome) {
        match o {
            Outcome::Pass => self.pass += 1,
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

/// The summary text. `header` describes the run (registry, profile, namespace).
pub fn render(header: &str, reports: &[ScenarioReport]) -> String {
    let mut s = String::new();
    let total = Counts::of(reports);
    let _ = writeln!(s, "registry-conformance summary: {header}");
    let _ = writeln!(
        s,
        "{} scenarios: {} pass, {} fail, {} skip, {} error",
        reports.len(),
        total.pass,
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
            "\n{:<w$}  {:>4}  {:>4}  {:>4}  {:>5}",
            "area", "pass", "fail", "skip", "error"
        );
        for (a, c) in &areas {
            let _ = writeln!(
                s,
                "{a:<w$}  {:>4}  {:>4}  {:>4}  {:>5}",
                c.pass, c.fail, c.skip, c.error
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
        "errors (harness or setup, not the registry)",
        &|o| match o {
            Outcome::Error { summary, details } => Some(format!(
                "{summary}: {}",
                details.lines().next().unwrap_or("")
            )),
            _ => None,
        },
    );
    section(&mut s, "skipped", &|o| match o {
        Outcome::Skip { reason } => Some(reason.clone()),
        _ => None,
    });
    s
}

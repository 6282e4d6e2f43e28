//! The one stream of events a run produces. The console summary, the JUnit writer, the
//! coverage matrix and the baseline check all read the same [`ScenarioReport`]s.

use std::path::PathBuf;
use std::time::Duration;

use crate::model::Profile;

/// How a scenario ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Every step held.
    Pass,
    /// Every MUST held, but a SHOULD (or weaker) did not: counted apart, never a failure
    /// unless the run is `--strict`.
    Warn {
        /// One line: the requirement IDs and the first problem.
        summary: String,
        /// Every warning of the scenario, with the request, diff and exchange.
        details: String,
        /// The IDs whose SHOULDs were not met.
        requirements: Vec<String>,
        /// The root cause of the first warning (see [`Outcome::cause`]).
        cause: String,
    },
    /// A step broke a MUST: the registry's fault.
    Fail {
        /// One line: the requirement IDs and the first problem.
        summary: String,
        /// The full message: request, diff, exchange.
        details: String,
        /// The IDs the failing step breaks.
        requirements: Vec<String>,
        /// The root cause (see [`Outcome::cause`]).
        cause: String,
    },
    /// Not applicable: a capability is off, or the registry said "unsupported" as allowed.
    Skip {
        /// Why.
        reason: String,
    },
    /// The scenario could not be run: a bad fixture, a registry unreachable at start, or
    /// a setup step (an upload or push the scenario needs) that the registry refused.
    Error {
        /// One line.
        summary: String,
        /// Details.
        details: String,
        /// For a setup failure: the IDs the setup step broke (the real cause); empty for
        /// harness errors.
        requirements: Vec<String>,
        /// The root cause, when one is known (see [`Outcome::cause`]).
        cause: Option<String>,
    },
}

impl Outcome {
    /// `pass`, `warn`, `fail`, `skip`, `error`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Warn { .. } => "warn",
            Outcome::Fail { .. } => "fail",
            Outcome::Skip { .. } => "skip",
            Outcome::Error { .. } => "error",
        }
    }

    /// The root cause behind a non-passing outcome: the requirement that actually broke
    /// and what was expected of it, without the scenario-specific details (step numbers,
    /// digests, URLs). Scenarios sharing a cause are blocked by one defect.
    pub fn cause(&self) -> Option<&str> {
        match self {
            Outcome::Warn { cause, .. } | Outcome::Fail { cause, .. } => Some(cause),
            Outcome::Error { cause, .. } => cause.as_deref(),
            Outcome::Pass | Outcome::Skip { .. } => None,
        }
    }

    /// What went wrong, for a warn, fail or error: its one-line summary, the full details
    /// and the requirement IDs it broke; `None` for a pass or a skip.
    pub fn problem(&self) -> Option<(&str, &str, &[String])> {
        match self {
            Outcome::Warn {
                summary,
                details,
                requirements,
                ..
            }
            | Outcome::Fail {
                summary,
                details,
                requirements,
                ..
            }
            | Outcome::Error {
                summary,
                details,
                requirements,
                ..
            } => Some((summary, details, requirements)),
            Outcome::Pass | Outcome::Skip { .. } => None,
        }
    }

    /// The cause, for rewriting it in place.
    pub fn cause_mut(&mut self) -> Option<&mut String> {
        match self {
            Outcome::Warn { cause, .. } | Outcome::Fail { cause, .. } => Some(cause),
            Outcome::Error { cause, .. } => cause.as_mut(),
            Outcome::Pass | Outcome::Skip { .. } => None,
        }
    }

    /// Whether the run's exit code must be non-zero for this outcome.
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Fail { .. } | Outcome::Error { .. })
    }
}

/// The result of one trial.
#[derive(Debug, Clone)]
pub struct ScenarioReport {
    /// Test name (`<area>::<id>` or `<area>::<id>@<profile>`).
    pub name: String,
    /// Area.
    pub area: String,
    /// Scenario id (`<id>@<profile>` for per-profile variants).
    pub case: String,
    /// Title.
    pub title: String,
    /// The profile it ran under.
    pub profile: Option<Profile>,
    /// Every requirement the scenario cites.
    pub requirements: Vec<String>,
    /// The file.
    pub file: PathBuf,
    /// Outcome.
    pub outcome: Outcome,
    /// Wall time.
    pub duration: Duration,
}

/// What happens during a run.
#[derive(Debug, Clone)]
pub enum Event {
    /// A trial began.
    Started {
        /// Test name.
        name: String,
    },
    /// A trial ended.
    Finished(Box<ScenarioReport>),
}

/// Where trials send their events (a channel: trials run on libtest's threads).
pub type EventSender = std::sync::mpsc::Sender<Event>;

/// Drains a closed event channel into the finished reports, sorted by name (completion
/// order varies between runs; reports must not).
pub fn collect(rx: std::sync::mpsc::Receiver<Event>) -> Vec<ScenarioReport> {
    let mut out: Vec<ScenarioReport> = rx
        .into_iter()
        .filter_map(|e| match e {
            Event::Finished(r) => Some(*r),
            Event::Started { .. } => None,
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// A report for the sinks' unit tests: area `a`, no profile, no time.
#[cfg(test)]
pub(crate) fn sample_report(name: &str, reqs: &[&str], outcome: Outcome) -> ScenarioReport {
    ScenarioReport {
        name: name.into(),
        area: "a".into(),
        case: name.into(),
        title: String::new(),
        profile: None,
        requirements: reqs.iter().map(|s| s.to_string()).collect(),
        file: Default::default(),
        outcome,
        duration: Duration::ZERO,
    }
}

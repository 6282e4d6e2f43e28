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
    /// A step did not hold: the registry's fault.
    Fail {
        /// One line: the requirement IDs and the first problem.
        summary: String,
        /// The full message: request, diff, exchange.
        details: String,
        /// The IDs the failing step breaks.
        requirements: Vec<String>,
    },
    /// Not applicable: a capability is off, or the registry said "unsupported" as allowed.
    Skip {
        /// Why.
        reason: String,
    },
    /// The harness could not run the scenario (bad fixture, registry unreachable at start).
    Error {
        /// One line.
        summary: String,
        /// Details.
        details: String,
    },
}

impl Outcome {
    /// `pass`, `fail`, `skip`, `error`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail { .. } => "fail",
            Outcome::Skip { .. } => "skip",
            Outcome::Error { .. } => "error",
        }
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

//! How a step ends when it does not succeed: a skip, or a failure naming the requirements
//! it breaks, the request, what differed and the exchange.

use std::fmt::Write as _;

use crate::expect::{Problem, one_line};
use crate::model::{LevelSpec, Step};
use crate::vars::Missing;

/// Why a scenario stops at a step.
#[derive(Debug)]
pub enum StepEnd {
    /// The registry answered an optional feature with an allowed "unsupported".
    Skip(String),
    /// The registry did not do what the step states.
    Fail(Box<Failure>),
}

/// A failed step, with everything the message needs.
#[derive(Debug, Clone)]
pub struct Failure {
    /// `step 2 "send the whole blob"`.
    pub step: String,
    /// The IDs the step breaks.
    pub requirements: Vec<String>,
    /// `PUT http://...` of the request that failed.
    pub request: Option<String>,
    /// What differed.
    pub problems: Vec<Problem>,
    /// The exchange transcript.
    pub exchange: String,
    /// The level stated on the step or `also` entry (else the requirements' level).
    pub level: Option<LevelSpec>,
    /// Whether the step was a preparation (see [`Step::setup`]).
    pub setup: bool,
}

/// Longest transcript kept in a failure message.
const MAX_EXCHANGE: usize = 8 * 1024;

impl Failure {
    /// A failure of `step` that breaks `requirements`, at the step's level.
    pub(crate) fn of(
        step: &Step,
        requirements: &[String],
        request: Option<String>,
        problems: Vec<Problem>,
        exchange: String,
    ) -> Failure {
        Failure {
            step: step.label.clone(),
            requirements: requirements.to_vec(),
            request,
            problems,
            exchange,
            level: step.level.clone(),
            setup: step.setup,
        }
    }

    /// One line for summaries and JUnit `message`.
    pub fn summary(&self) -> String {
        let first = self
            .problems
            .first()
            .map(Problem::summary)
            .unwrap_or_default();
        format!("[{}] {}: {first}", self.requirements.join(", "), self.step)
    }

    /// The root cause: the broken requirement and what it asks, without the parts that
    /// differ between scenarios (step labels, URLs, digests, the actual answer).
    pub fn cause(&self) -> String {
        let what = self
            .problems
            .first()
            .map(|p| format!("{}: expected {}", p.what, one_line(&p.expected)))
            .unwrap_or_default();
        format!("[{}] {what}", self.requirements.join(", "))
    }

    /// The full message: requirement, request, diffs, exchange.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{} failed", self.step);
        let _ = writeln!(s, "requirements: {}", self.requirements.join(", "));
        if let Some(r) = &self.request {
            let _ = writeln!(s, "request: {r}");
        }
        for p in &self.problems {
            let _ = writeln!(s, "{}", p.render());
        }
        if !self.exchange.is_empty() {
            let _ = writeln!(s, "exchange:");
            let ex = if self.exchange.len() > MAX_EXCHANGE {
                let cut = (0..=MAX_EXCHANGE)
                    .rev()
                    .find(|i| self.exchange.is_char_boundary(*i))
                    .unwrap_or(0);
                format!("{}\n... (transcript truncated)", &self.exchange[..cut])
            } else {
                self.exchange.clone()
            };
            s.push_str(&ex);
        }
        s
    }
}

/// A failure of `step` with problems and the exchange.
pub(crate) fn fail(
    step: &Step,
    request: Option<String>,
    problems: Vec<Problem>,
    exchange: String,
) -> StepEnd {
    fail_as(step, &step.requirements, request, problems, exchange)
}

/// A failure of `step` that breaks `requirements` rather than the step's own: the
/// built-in flows name the requirement of the operation that went wrong (a blob PUT
/// without `Location` breaks PUSH-08, whatever the scenario is about).
pub(crate) fn fail_as(
    step: &Step,
    requirements: &[String],
    request: Option<String>,
    problems: Vec<Problem>,
    exchange: String,
) -> StepEnd {
    StepEnd::Fail(Box::new(Failure::of(
        step,
        requirements,
        request,
        problems,
        exchange,
    )))
}

/// A variable without value at run time: an earlier step that should have captured it
/// did not get it from the registry (the loader checked all names exist).
pub(crate) fn missing(step: &Step, m: Missing) -> StepEnd {
    fail(
        step,
        None,
        vec![Problem::new(
            format!("variable ${{{}}}", m.0),
            "a value captured by an earlier step",
            "no value (the registry did not send what an earlier step captures)",
        )],
        String::new(),
    )
}

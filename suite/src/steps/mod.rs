//! The step kinds. Each returns `Ok(())` when the registry did what the step states, or
//! a [`StepEnd`] saying why the scenario stops here.

pub(crate) mod alter_token;
pub(crate) mod paginate;
mod push;
mod request;
mod wait;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Mutex;

use futures_util::future::LocalBoxFuture;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode, Url};

use crate::client::{Body, BodyCheck, HttpClient, OutBody, OutRequest};
use crate::expect::{Items, Problem, one_line};
use crate::levels::Levels;
use crate::model::{LevelSpec, Profile, Step, StepKind};
use crate::vars::{Missing, Vars};

/// What one scenario run shares between its steps.
pub struct ScenarioState<'a> {
    /// The client.
    pub client: &'a HttpClient,
    /// The profile whose expectations apply.
    pub profile: Profile,
    /// Named blobs and manifests.
    pub items: Items,
    /// `(repo, digest)` of everything the scenario may have created, for clean-up: what
    /// `push_blob` / `push_manifest` put, and the items a write `request` named (a repo of
    /// `""`: every repository the scenario used).
    pub pushed: Mutex<BTreeSet<(String, String)>>,
    /// The label of the step running now (for timeout messages).
    pub current: Mutex<String>,
    /// How binding each requirement is (judges `also` expectations as they run).
    pub levels: &'a Levels,
    /// Mixed into the seeds of anonymous generated bodies (unique per trial).
    pub seed_mix: u64,
    /// Violated expectations below MUST so far: the scenario goes on, and ends `warn`.
    pub warnings: Mutex<Vec<Failure>>,
}

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

/// A response read in full.
pub(crate) struct Exchange {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub url: Url,
    pub body: Body,
    pub transcript: String,
    /// A registry fault the token flow ran into ([`crate::client::Response::auth_note`]).
    pub auth_note: Option<crate::client::AuthNote>,
}

impl Exchange {
    /// A failure of `step` on this exchange. When the registry answered 401 because of
    /// an authentication fault the token flow ran into (a challenge without scope, a 401
    /// without a challenge), the failure cites that fault's requirement instead: one
    /// broken challenge must read as one root cause, not as every push it blocked.
    pub fn fail(
        self,
        step: &Step,
        requirements: &[String],
        request: Option<String>,
        mut problems: Vec<Problem>,
    ) -> StepEnd {
        match self.auth_note {
            Some(note) if self.status == StatusCode::UNAUTHORIZED => {
                problems.insert(
                    0,
                    Problem::new(
                        "authentication",
                        "a challenge the client can answer",
                        note.message,
                    ),
                );
                fail_as(step, &note.requirements, request, problems, self.transcript)
            }
            _ => fail_as(step, requirements, request, problems, self.transcript),
        }
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }
}

pub(crate) fn request_line(r: &OutRequest) -> String {
    format!("{} {}", r.method, r.url)
}

/// Sends and reads a whole exchange; a transport error becomes a failure of `step`.
pub(crate) async fn exchange(
    st: &ScenarioState<'_>,
    step: &Step,
    req: &OutRequest,
    check: BodyCheck,
) -> Result<Exchange, StepEnd> {
    match st.client.send(req).await {
        Ok(resp) => {
            let status = resp.status;
            let headers = resp.headers.clone();
            let url = resp.url.clone();
            let auth_note = resp.auth_note.clone();
            let (body, transcript) = resp.read(check).await;
            // The built-in flows judge status and headers; an answer whose body broke off
            // did not come whole, and that is the fault to report.
            if let Some(e) = &body.error {
                return Err(fail(
                    step,
                    Some(request_line(req)),
                    vec![Problem::new(
                        "response body",
                        "a complete body",
                        format!("broken off: {e}"),
                    )],
                    transcript,
                ));
            }
            Ok(Exchange {
                status,
                headers,
                url,
                body,
                transcript,
                auth_note,
            })
        }
        Err(e) => Err(fail(
            step,
            Some(request_line(req)),
            vec![Problem::new("response", "an HTTP response", e.to_string())],
            e.transcript,
        )),
    }
}

/// The client identity of a step's `as`, its templates rendered.
pub(crate) fn identity(
    step: &Step,
    a: &crate::model::AsSpec,
    vars: &Vars,
) -> Result<crate::client::Identity, StepEnd> {
    use crate::client::Identity;
    use crate::model::AsSpec;
    let r = |t: &str| vars.render(t).map_err(|m| missing(step, m));
    Ok(match a {
        AsSpec::Writer => Identity::Writer,
        AsSpec::Reader => Identity::Reader,
        AsSpec::Anonymous => Identity::Anonymous,
        AsSpec::Bearer(t) => Identity::Bearer(r(t)?),
        AsSpec::Basic { username, password } => Identity::Basic {
            username: r(username)?,
            password: r(password)?,
        },
    })
}

/// A simple request for the built-in flows.
pub(crate) fn simple(
    method: Method,
    url: Url,
    headers: Vec<(String, String)>,
    body: OutBody,
) -> OutRequest {
    let follow_redirects = method == Method::GET || method == Method::HEAD;
    OutRequest {
        method,
        url,
        headers,
        body,
        follow_redirects,
        identity: crate::client::Identity::Writer,
        own_url: false,
    }
}

/// Runs one step (boxed: `parallel` recurses).
pub fn run_step<'a>(
    st: &'a ScenarioState<'a>,
    step: &'a Step,
    vars: &'a mut Vars,
) -> LocalBoxFuture<'a, Result<(), StepEnd>> {
    Box::pin(async move {
        if let Ok(mut c) = st.current.lock() {
            c.clone_from(&step.label);
        }
        match &step.kind {
            StepKind::Request(r) => request::run(st, step, r, vars).await,
            StepKind::PushBlob(b) => push::blob(st, step, b, vars).await,
            StepKind::PushManifest(m) => push::manifest(st, step, m, vars).await,
            StepKind::Paginate(p) => paginate::run(st, step, p, vars).await,
            StepKind::AlterToken(a) => alter_token::run(step, a, vars),
            StepKind::Wait(w) => wait::run(step, w, vars).await,
            StepKind::Parallel(branches) => {
                let mut branch_vars: Vec<Vars> = branches.iter().map(|_| vars.clone()).collect();
                let futs = branches
                    .iter()
                    .zip(branch_vars.iter_mut())
                    .map(|(b, v)| run_step(st, b, v));
                let results = futures_util::future::join_all(futs).await;
                let mut skip = None;
                for r in results {
                    match r {
                        Ok(()) => {}
                        Err(StepEnd::Fail(f)) => return Err(StepEnd::Fail(f)),
                        Err(StepEnd::Skip(s)) => skip = Some(s),
                    }
                }
                skip.map_or(Ok(()), |s| Err(StepEnd::Skip(s)))
            }
        }
    })
}

//! The step kinds. Each kind has one file owning its fields as written (`Raw`), their
//! check into the model's step (`Raw::check`, called by the loader, which picks the kind
//! by its key) and its run (`run`, called by [`run_step`]). A run returns `Ok(())` when
//! the registry did what the step states, or a [`StepEnd`] saying why the scenario stops
//! here.
//!
//! The kinds: [`request`], [`push_blob`], [`push_manifest`], [`paginate`], [`parallel`],
//! [`alter_token`], [`wait`]. What several share: [`common`] (fields no single kind owns),
//! [`send`] (the request a step describes), [`capture`], [`expect_rules`], [`push_flow`],
//! [`jwt`]; and for running, [`state`], [`exchange`], [`outcome`].

pub(crate) mod alter_token;
pub(crate) mod capture;
pub(crate) mod common;
pub(crate) mod exchange;
pub(crate) mod expect_rules;
pub(crate) mod jwt;
pub(crate) mod outcome;
pub(crate) mod paginate;
pub(crate) mod parallel;
pub(crate) mod push_blob;
pub(crate) mod push_flow;
pub(crate) mod push_manifest;
pub(crate) mod request;
pub(crate) mod send;
pub(crate) mod state;
pub(crate) mod wait;

use futures_util::future::LocalBoxFuture;

use crate::model::{Step, StepKind};
use crate::vars::Vars;

pub(crate) use exchange::simple;
pub use outcome::{Failure, StepEnd};
pub use state::ScenarioState;

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
            StepKind::PushBlob(b) => push_blob::run(st, step, b, vars).await,
            StepKind::PushManifest(m) => push_manifest::run(st, step, m, vars).await,
            StepKind::Paginate(p) => paginate::run(st, step, p, vars).await,
            StepKind::AlterToken(a) => alter_token::run(step, a, vars),
            StepKind::Wait(w) => wait::run(step, w, vars).await,
            StepKind::Parallel(branches) => parallel::run(st, branches, vars, run_step).await,
        }
    })
}

//! `parallel`: run several steps at once; every branch must succeed.
//!
//! A branch is any step, so checking and running one is the loader's and the step
//! dispatcher's business: both are handed in, which keeps this module free of the modules
//! that use it.

use futures_util::future::LocalBoxFuture;
use serde::Deserialize;

use super::common::Common;
use super::outcome::StepEnd;
use super::state::ScenarioState;
use crate::error::LoadError;
use crate::fields::Source;
use crate::model::{Step, StepKind};
use crate::validate::{Scope, StepContext};
use crate::vars::Vars;

/// The key that makes a step a `parallel` step.
pub const KEY: &str = "parallel";

/// The fields besides its own key that a `parallel` step takes: none (`setup` goes on the
/// branches).
pub const ACCEPTS: &[&str] = &[];

/// A `parallel` step's own field: the branches as written (`S`, the loader's raw step).
#[derive(Debug)]
pub struct Raw<S> {
    /// The branches.
    pub parallel: Option<Vec<S>>,
}

impl<S> Default for Raw<S> {
    fn default() -> Self {
        Raw { parallel: None }
    }
}

impl<S> Raw<S> {
    /// The keys this part owns (as [`crate::fields::raw_fields!`] parts say theirs).
    #[allow(dead_code)]
    pub const FIELDS: &'static [&'static str] = &[KEY];

    /// Reads the value of `key` when it is `parallel`; `false` otherwise.
    pub fn read<'de, Src: Source<'de>>(
        &mut self,
        key: &str,
        src: &mut Src,
    ) -> Result<bool, Src::Error>
    where
        S: Deserialize<'de>,
    {
        if key != KEY {
            return Ok(false);
        }
        self.parallel = src.required::<Option<Vec<S>>>()?;
        Ok(true)
    }

    /// The keys of this part that have a value.
    pub fn given(&self) -> Vec<&'static str> {
        if self.parallel.is_some() {
            vec![KEY]
        } else {
            vec![]
        }
    }

    /// At least one branch; each is checked by `branch` (its index, the branch, a copy of
    /// the scope: what a branch captures stays inside it).
    pub fn check(
        &self,
        _common: &Common,
        cx: &StepContext<'_>,
        scope: &mut Scope,
        mut branch: impl FnMut(usize, &S, &mut Scope) -> Result<Step, LoadError>,
    ) -> Result<StepKind, LoadError> {
        let branches = self.parallel.as_deref().unwrap_or_default();
        if branches.is_empty() {
            return Err(cx.err("parallel: give at least one branch"));
        }
        let mut out = Vec::new();
        for (i, b) in branches.iter().enumerate() {
            let mut branch_scope = scope.clone();
            out.push(branch(i, b, &mut branch_scope)?);
        }
        Ok(StepKind::Parallel(out))
    }
}

/// Runs one step: the step dispatcher, handed in because a branch is any step.
pub type RunStep = for<'a> fn(
    &'a ScenarioState<'a>,
    &'a Step,
    &'a mut Vars,
) -> LocalBoxFuture<'a, Result<(), StepEnd>>;

/// Runs every branch at once, each with its own copy of the variables. The first failure
/// (in branch order) is the step's; otherwise a skipped branch skips the scenario.
pub(super) async fn run(
    st: &ScenarioState<'_>,
    branches: &[Step],
    vars: &Vars,
    run_step: RunStep,
) -> Result<(), StepEnd> {
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

//! `wait`: let time pass, e.g. until a token's `exp`, so a scenario can check that the
//! registry refuses the token afterwards (AUTH-22). Waiting is slow by nature, so such
//! scenarios declare the opt-in capability `slow` and run only with `--with slow`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::common::Common;
use super::jwt::{NOT_JWT, jwt_claims};
use super::outcome::{StepEnd, fail, missing};
use crate::error::LoadError;
use crate::expect::Problem;
use crate::fields::raw_fields;
use crate::model::{Step, StepKind, WaitSpec};
use crate::validate::{Scope, StepContext};
use crate::vars::Vars;

/// The key that makes a step a `wait` step.
pub const KEY: &str = "wait";

/// The fields besides its own that a `wait` step takes: none.
pub const ACCEPTS: &[&str] = &[];

/// The longest `at_most` a scenario may state.
const LONGEST_WAIT: u64 = 3600;

raw_fields! {
    /// A `wait` step's own field.
    pub struct Raw {
        /// How long, or until which token expires.
        "wait" => wait: Option<WaitSpec>,
    }
}

impl Raw {
    /// Exactly one of `seconds` and `jwt_exp`, defined where the step is; the scenario is
    /// opt-in (`slow`); the wait is bounded.
    pub fn check(
        &self,
        _common: &Common,
        cx: &StepContext<'_>,
        scope: &mut Scope,
    ) -> Result<StepKind, LoadError> {
        let Some(w) = self.wait.clone() else {
            return Err(cx.err("wait: missing"));
        };
        match (&w.seconds, &w.jwt_exp) {
            (Some(t), None) => cx.template("wait.seconds", t, scope)?,
            (None, Some(t)) => cx.template("wait.jwt_exp", t, scope)?,
            _ => return Err(cx.err("wait: give exactly one of seconds, jwt_exp")),
        }
        if !cx.cx.has_capability("slow") {
            return Err(
                cx.err("wait: a scenario that waits declares the capability \"slow\" (opt-in)")
            );
        }
        if w.at_most > LONGEST_WAIT {
            return Err(cx.err("wait.at_most: at most 3600 seconds"));
        }
        Ok(StepKind::Wait(w))
    }
}

/// Sleeps for `seconds`, or until the token's `exp`, plus `plus`; skips the scenario when
/// that is longer than `at_most`.
pub(super) async fn run(step: &Step, spec: &WaitSpec, vars: &Vars) -> Result<(), StepEnd> {
    let (secs, what) = match (&spec.seconds, &spec.jwt_exp) {
        (Some(t), _) => {
            let text = vars.render(t).map_err(|m| missing(step, m))?;
            let Ok(secs) = text.trim().parse::<f64>() else {
                return Err(fail(
                    step,
                    None,
                    vec![Problem::new("wait.seconds", "a number of seconds", text)],
                    String::new(),
                ));
            };
            (secs, format!("{text} s"))
        }
        (None, Some(t)) => {
            let token = vars.render(t).map_err(|m| missing(step, m))?;
            let claims = jwt_claims(&token).ok_or_else(|| StepEnd::Skip(NOT_JWT.to_owned()))?;
            let Some(exp) = claims.get("exp").and_then(serde_json::Value::as_f64) else {
                return Err(StepEnd::Skip(
                    "the token states no exp: nothing says when it expires".to_owned(),
                ));
            };
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            (exp - now, "the token's exp".to_owned())
        }
        (None, None) => (0.0, "nothing".to_owned()),
    };
    let total = secs.max(0.0).ceil() as u64 + spec.plus;
    if total > spec.at_most {
        return Err(StepEnd::Skip(format!(
            "the wait would be {total} s ({what} + {} s), longer than this check waits ({} s)",
            spec.plus, spec.at_most
        )));
    }
    tokio::time::sleep(Duration::from_secs(total)).await;
    Ok(())
}

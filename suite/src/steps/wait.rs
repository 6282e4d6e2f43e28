//! `wait`: let time pass, e.g. until a token's `exp`, so a scenario can check that the
//! registry refuses the token afterwards (AUTH-22). Waiting is slow by nature, so such
//! scenarios declare the opt-in capability `slow` and run only with `--with slow`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::alter_token::{NOT_JWT, jwt_claims};
use super::{StepEnd, fail, missing};
use crate::expect::Problem;
use crate::model::{Step, WaitSpec};
use crate::vars::Vars;

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

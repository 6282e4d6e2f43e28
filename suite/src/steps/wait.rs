//! `wait`: let time pass, e.g. a token's `expires_in`, so a scenario can check that the
//! registry refuses the token afterwards (AUTH-22). Waiting is slow by nature, so such
//! scenarios declare the opt-in capability `slow` and run only with `--with slow`.

use std::time::Duration;

use super::{StepEnd, fail, missing};
use crate::expect::Problem;
use crate::model::{Step, WaitSpec};
use crate::vars::Vars;

pub(super) async fn run(step: &Step, spec: &WaitSpec, vars: &Vars) -> Result<(), StepEnd> {
    let text = vars.render(&spec.seconds).map_err(|m| missing(step, m))?;
    let Ok(secs) = text.trim().parse::<f64>() else {
        return Err(fail(
            step,
            None,
            vec![Problem::new("wait.seconds", "a number of seconds", text)],
            String::new(),
        ));
    };
    let total = secs.max(0.0).ceil() as u64 + spec.plus;
    if total > spec.at_most {
        return Err(StepEnd::Skip(format!(
            "the wait would be {total} s ({text} + {}), longer than this check waits ({} s)",
            spec.plus, spec.at_most
        )));
    }
    tokio::time::sleep(Duration::from_secs(total)).await;
    Ok(())
}

//! Mutation test: is the suite able to notice a broken registry?
//!
//! For every deliberate defect of the reference registry (`reference_server::Defect::ALL`,
//! see reference-server/src/defects.rs) the real binary runs the whole suite against the
//! embedded registry with that one defect switched on (`--reference-defect`), and at least
//! one scenario must fail, be blocked in setup, or (for a defect that breaks a SHOULD) warn,
//! with a root cause citing a requirement the defect breaks (the `[IDs]` prefix of each
//! JUnit testcase's `cause` property). The few variants the spec allows
//! (`Defect::allowed_by_spec`) are negative controls: they must make no scenario fail.
//! That the clean registry passes everything is `e2e_reference.rs`.
//!
//! Auth defects (`Defect::auth_mode`) run with `--reference-auth` in the mode they need, and
//! `expired-token-accepted` with `--with slow` (waiting out a token takes two minutes).
//!
//! `cargo test -p suite --test mutation -- --nocapture` prints the kill-rate table.
//! `MUTATION_JOBS` sets how many suite runs go at once (default 3).

mod outcomes;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use reference_server::Defect;

/// One testcase of a run that did not pass: failed, could not be set up, or warned.
#[derive(Debug)]
struct Failure {
    case: String,
    /// `fail`, `error` or `warn`.
    outcome: String,
    /// The requirement IDs of its root cause (`[A, B] what: expected ...`): the step that
    /// failed, the setup step that broke, or the SHOULD that was missed.
    requirements: BTreeSet<String>,
    message: String,
}

/// What one defect's run produced.
struct Verdict {
    defect: Defect,
    failures: Vec<Failure>,
    /// Failures citing one of the defect's requirements.
    caught_by: Vec<String>,
    exit: Option<i32>,
    stderr: String,
}

/// The testcases of a JUnit file whose `outcome` is fail, error or warn, with the IDs of
/// their `cause`. A defect that breaks a SHOULD is noticed as a warning (the suite never
/// fails a registry for a SHOULD), which counts as caught.
fn failures(junit: &Path) -> Vec<Failure> {
    outcomes::cases(junit)
        .into_iter()
        .filter(|(_, c)| matches!(c.outcome.as_str(), "fail" | "error" | "warn"))
        .map(|(case, c)| Failure {
            case,
            requirements: c
                .cause
                .strip_prefix('[')
                .and_then(|m| m.split_once(']'))
                .map(|(ids, _)| ids.split(',').map(|s| s.trim().to_string()).collect())
                .unwrap_or_default(),
            outcome: c.outcome,
            message: c.cause,
        })
        .collect()
}

fn run_one(defect: Defect, dir: &Path) -> Verdict {
    let out = dir.join(defect.name());
    let junit = out.join("junit.xml");
    let run = Command::new(env!("CARGO_BIN_EXE_registry-conformance"))
        .arg("--reference-defect")
        .arg(defect.name())
        // Auth defects live in the authenticating registry: run them in the mode they need.
        .args(
            defect
                .auth_mode()
                .map(|mode| ["--reference-auth", mode])
                .into_iter()
                .flatten(),
        )
        // An expired token can only be had by waiting one out: the opt-in slow scenario
        // (auth.token-expiry, about two minutes) is the one that catches this defect.
        .args(
            (defect == Defect::ExpiredTokenAccepted)
                .then_some(["--with", "slow"])
                .into_iter()
                .flatten(),
        )
        .arg("--junit")
        .arg(&junit)
        .args(["--test-threads", "2", "--color", "never", "--quiet"])
        .env_remove("REGISTRY_URL")
        .env_remove("REGISTRY_WITHOUT")
        .env_remove("REGISTRY_PROFILE")
        .env_remove("REGISTRY_BASELINE")
        .env_remove("REGISTRY_FIXTURES")
        .current_dir(dir)
        .output()
        .expect("run registry-conformance");
    let failures = failures(&junit);
    let wanted = defect.requirements();
    let caught_by: Vec<String> = failures
        .iter()
        .filter(|f| wanted.iter().any(|id| f.requirements.contains(*id)))
        .map(|f| format!("{} ({})", f.case, f.outcome))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    Verdict {
        defect,
        failures,
        caught_by,
        exit: run.status.code(),
        stderr: String::from_utf8_lossy(&run.stderr).into_owned(),
    }
}

#[test]
fn every_defect_is_caught_by_a_scenario_citing_its_requirement() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let jobs = std::env::var("MUTATION_JOBS")
        .ok()
        .and_then(|j| j.parse::<usize>().ok())
        .filter(|j| *j > 0)
        .unwrap_or(3);
    let next = AtomicUsize::new(0);
    let verdicts = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                while let Some(d) = Defect::ALL.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let v = run_one(*d, dir.path());
                    verdicts.lock().unwrap().push(v);
                }
            });
        }
    });
    let mut verdicts = verdicts.into_inner().unwrap();
    verdicts.sort_by_key(|v| v.defect);

    let (allowed, defects): (Vec<&Verdict>, Vec<&Verdict>) = verdicts
        .iter()
        .partition(|v| v.defect.allowed_by_spec().is_some());
    let caught = defects.iter().filter(|v| !v.caught_by.is_empty()).count();
    println!(
        "\nmutation kill rate: {caught}/{} defects caught; {} variants the spec allows, \
         never failed ({:.1} s, {jobs} at a time)\n",
        defects.len(),
        allowed.len(),
        started.elapsed().as_secs_f64()
    );
    let width = Defect::ALL
        .iter()
        .map(|d| d.name().len())
        .max()
        .unwrap_or(0);
    for v in &verdicts {
        let by = if v.defect.allowed_by_spec().is_some() {
            "allowed by the spec: must not fail".to_string()
        } else if v.caught_by.is_empty() {
            "NOT CAUGHT".to_string()
        } else {
            v.caught_by.join(", ")
        };
        println!(
            "{:width$}  {:18}  {:3} failing  {by}",
            v.defect.name(),
            v.defect.requirements().join(","),
            v.failures.len()
        );
    }

    // Principle 6: a variant the spec allows must not fail (or block) any scenario.
    let wrongly_failed: Vec<String> = allowed
        .iter()
        .flat_map(|v| {
            v.failures
                .iter()
                .filter(|f| f.outcome != "warn")
                .map(move |f| {
                    format!(
                        "{}: {} {}: {}",
                        v.defect.name(),
                        f.case,
                        f.outcome,
                        f.message
                    )
                })
        })
        .collect();
    assert!(
        wrongly_failed.is_empty(),
        "variants the spec allows made scenarios fail:\n{}",
        wrongly_failed.join("\n")
    );
    let missed: Vec<String> = defects
        .iter()
        .filter(|v| v.caught_by.is_empty())
        .map(|v| {
            let seen: Vec<String> = v
                .failures
                .iter()
                .map(|f| format!("    {}: {}", f.case, f.message))
                .collect();
            format!(
                "{} (breaks {}; exit {:?}): {}\n  failing scenarios:\n{}\n  stderr tail: {}",
                v.defect.name(),
                v.defect.requirements().join(", "),
                v.exit,
                v.defect.describe(),
                if seen.is_empty() {
                    "    (none)".to_string()
                } else {
                    seen.join("\n")
                },
                v.stderr
                    .lines()
                    .rev()
                    .take(5)
                    .collect::<Vec<_>>()
                    .join(" | ")
            )
        })
        .collect();
    assert!(
        missed.is_empty(),
        "{} of {} defects were not caught by a failing scenario citing the broken requirement:\n{}",
        missed.len(),
        defects.len(),
        missed.join("\n")
    );
}

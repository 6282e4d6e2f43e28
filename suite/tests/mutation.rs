//! Mutation test: is the suite able to notice a broken registry?
//!
//! For every deliberate defect of the reference registry (`reference_server::Defect::ALL`,
//! see reference-server/src/defects.rs) the real binary runs the whole suite against the
//! embedded registry with that one defect switched on (`--reference-defect`), and at least
//! one scenario must fail in a step that cites a requirement the defect breaks (the
//! `[IDs]` prefix of the JUnit failure message is the failing step's requirement list).
//! That the clean registry passes everything is `e2e_reference.rs`.
//!
//! `cargo test -p suite --test mutation -- --nocapture` prints the kill-rate table.
//! `MUTATION_JOBS` sets how many suite runs go at once (default 3).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use reference_server::Defect;

/// One failed or errored testcase of a run.
#[derive(Debug)]
struct Failure {
    case: String,
    /// The failing step's requirement IDs (`[A, B] step 3: ...`).
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

fn attr(e: &BytesStart, key: &str) -> String {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == key.as_bytes())
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Explicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
        .unwrap_or_default()
}

/// The `<failure>`s of a JUnit file, with the IDs from their message prefix.
fn failures(junit: &Path) -> Vec<Failure> {
    let xml = std::fs::read_to_string(junit).unwrap_or_default();
    let mut reader = Reader::from_str(&xml);
    let mut case = String::new();
    let mut out = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => match e.name().as_ref() {
                b"testcase" => case = attr(&e, "name"),
                b"failure" => {
                    let message = attr(&e, "message");
                    let requirements = message
                        .strip_prefix('[')
                        .and_then(|m| m.split_once(']'))
                        .map(|(ids, _)| ids.split(',').map(|s| s.trim().to_string()).collect())
                        .unwrap_or_default();
                    out.push(Failure {
                        case: case.clone(),
                        requirements,
                        message,
                    });
                }
                _ => {}
            },
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    out
}

fn run_one(defect: Defect, dir: &Path) -> Verdict {
    let out = dir.join(defect.name());
    let junit = out.join("junit.xml");
    let run = Command::new(env!("CARGO_BIN_EXE_registry-conformance"))
        .arg("--reference-defect")
        .arg(defect.name())
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
        .map(|f| f.case.clone())
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

    let caught = verdicts.iter().filter(|v| !v.caught_by.is_empty()).count();
    println!(
        "\nmutation kill rate: {caught}/{} defects caught ({:.1} s, {jobs} at a time)\n",
        verdicts.len(),
        started.elapsed().as_secs_f64()
    );
    let width = Defect::ALL
        .iter()
        .map(|d| d.name().len())
        .max()
        .unwrap_or(0);
    for v in &verdicts {
        let by = if v.caught_by.is_empty() {
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

    let missed: Vec<String> = verdicts
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
        verdicts.len(),
        missed.join("\n")
    );
}

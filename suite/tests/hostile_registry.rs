//! The real binary against a hostile registry (`hostile/`: hangs, resets, garbage, short
//! bodies, redirect loops, slow and endless answers). Whatever the registry does, the run
//! ends within a generous wall-clock bound, writes JUnit with one testcase per planned
//! scenario, each with an outcome, and the failures name the fault.
//!
//! The wall-clock bound is the property under test ("the suite never hangs on a broken
//! registry"); it is generous (minutes, debug build) and says nothing about speed.

mod hostile;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hostile::{Faults, Mode};
use quick_xml::Reader;
use quick_xml::events::Event;

/// Past this a run counts as hung: the process is killed and the test fails.
const HUNG: Duration = Duration::from_secs(180);

/// One `<testcase>` of the JUnit file.
#[derive(Debug, Default, Clone)]
struct Case {
    name: String,
    outcome: String,
    /// The `message` of `<failure>`, `<error>` or `<skipped>`.
    message: String,
    /// The text of `<failure>` or `<error>`.
    details: String,
}

struct Run {
    code: Option<i32>,
    wall: Duration,
    stdout: String,
    stderr: String,
    cases: Vec<Case>,
}

impl Run {
    fn context(&self) -> String {
        format!(
            "exit {:?} after {:?}\n--- stderr\n{}\n--- stdout (tail)\n{}",
            self.code,
            self.wall,
            self.stderr,
            tail(&self.stdout, 6000)
        )
    }
}

fn tail(s: &str, n: usize) -> &str {
    let mut cut = s.len().saturating_sub(n);
    while !s.is_char_boundary(cut) {
        cut += 1;
    }
    &s[cut..]
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_registry-conformance"));
    // Nothing from the environment of the test (credentials, settings) leaks in.
    for (k, _) in std::env::vars() {
        if k.starts_with("REGISTRY_") {
            c.env_remove(k);
        }
    }
    let empty = std::env::temp_dir().join("hostile-registry-no-docker-config");
    let _ = std::fs::create_dir_all(&empty);
    c.env("DOCKER_CONFIG", empty).env_remove("XDG_RUNTIME_DIR");
    c
}

/// How many trials the plan holds for these arguments (`--list`).
fn planned(url: &str, args: &[&str]) -> usize {
    let out = bin()
        .args(["--url", url, "--list"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.ends_with(": test"))
        .count()
}

/// Runs the suite against `url`; kills it and fails past [`HUNG`].
fn run(url: &str, dir: &Path, args: &[&str]) -> Run {
    let junit = dir.join("junit.xml");
    let stdout = dir.join("stdout.txt");
    let stderr = dir.join("stderr.txt");
    let start = Instant::now();
    let mut child = bin();
    child.args(["--url", url, "--scenario-timeout", "10"]);
    if !args.contains(&"--request-timeout") {
        child.args(["--request-timeout", "2"]);
    }
    let mut child = child
        .arg("--junit")
        .arg(&junit)
        .args(args)
        .stdout(Stdio::from(std::fs::File::create(&stdout).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&stderr).unwrap()))
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > HUNG {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the run did not end within {HUNG:?} (args {args:?}); stdout so far:\n{}",
                tail(&std::fs::read_to_string(&stdout).unwrap_or_default(), 4000)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let wall = start.elapsed();
    let stdout = std::fs::read_to_string(&stdout).unwrap_or_default();
    let stderr = std::fs::read_to_string(&stderr).unwrap_or_default();
    let xml = std::fs::read_to_string(&junit).unwrap_or_else(|e| {
        panic!(
            "no JUnit file {} ({e})\n{stderr}\n{}",
            junit.display(),
            tail(&stdout, 4000)
        )
    });
    Run {
        code: status.code(),
        wall,
        cases: parse_cases(&xml),
        stdout,
        stderr,
    }
}

fn attr(e: &quick_xml::events::BytesStart, key: &str) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        (a.key.as_ref() == key.as_bytes()).then(|| {
            a.normalized_value(quick_xml::XmlVersion::Explicit1_0)
                .expect("valid attribute escaping")
                .into_owned()
        })
    })
}

/// The testcases of a JUnit file (which must be well-formed XML).
fn parse_cases(xml: &str) -> Vec<Case> {
    let mut reader = Reader::from_str(xml);
    let mut cases = Vec::new();
    let mut current: Option<Case> = None;
    let mut in_detail = false;
    loop {
        let ev = reader.read_event().expect("well-formed JUnit XML");
        match &ev {
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                b"testcase" => {
                    let c = Case {
                        name: format!(
                            "{}::{}",
                            attr(e, "classname").unwrap_or_default(),
                            attr(e, "name").unwrap_or_default()
                        ),
                        ..Case::default()
                    };
                    if matches!(ev, Event::Empty(_)) {
                        cases.push(c);
                    } else {
                        current = Some(c);
                    }
                }
                b"property" if attr(e, "name").as_deref() == Some("outcome") => {
                    if let Some(c) = current.as_mut() {
                        c.outcome = attr(e, "value").unwrap_or_default();
                    }
                }
                b"failure" | b"error" | b"skipped" => {
                    if let Some(c) = current.as_mut() {
                        c.message = attr(e, "message").unwrap_or_default();
                    }
                    in_detail = matches!(ev, Event::Start(_));
                }
                _ => {}
            },
            Event::CData(t) if in_detail => {
                if let Some(c) = current.as_mut() {
                    c.details.push_str(std::str::from_utf8(t).unwrap());
                }
            }
            Event::End(e) => match e.name().as_ref() {
                b"testcase" => cases.extend(current.take()),
                b"failure" | b"error" | b"skipped" => in_detail = false,
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    cases
}

/// Every planned trial is in the JUnit file once, with an outcome; none passed (nothing
/// can pass against this registry but the `/v2/` checks).
fn assert_complete(r: &Run, planned: usize) {
    let mut counts = std::collections::BTreeMap::new();
    for c in &r.cases {
        *counts.entry(c.outcome.as_str()).or_insert(0) += 1;
    }
    eprintln!("{planned} planned, {counts:?}, {:?}", r.wall);
    assert_eq!(
        r.cases.len(),
        planned,
        "one testcase per trial\n{}",
        r.context()
    );
    let mut names: Vec<&str> = r.cases.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), planned, "testcase names are unique");
    for c in &r.cases {
        assert!(
            ["pass", "warn", "fail", "skip", "error"].contains(&c.outcome.as_str()),
            "{} has no outcome: {c:?}",
            c.name
        );
        if matches!(c.outcome.as_str(), "fail" | "error") {
            assert!(!c.message.trim().is_empty(), "{c:?}");
        }
    }
    assert_eq!(r.code, Some(101), "a failed run exits 101\n{}", r.context());
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// A registry whose every path but `/v2/` hangs: the whole plan ends quickly (the circuit
/// breaker gives up after a few requests without an answer, instead of 290 × timeouts),
/// and every scenario says why.
#[test]
fn every_path_hanging_whole_plan_ends_with_every_outcome() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(hostile::start(Faults::Always(Mode::Hang), false));
    let dir = tempdir();
    let planned = planned(&server.url(), &[]);
    assert!(planned > 100, "the whole plan: {planned}");
    let r = run(&server.url(), dir.path(), &[]);
    assert_complete(&r, planned);
    let gave_up = r
        .cases
        .iter()
        .filter(|c| c.message.contains("registry stopped answering"))
        .count();
    assert!(
        gave_up > planned / 2,
        "most scenarios are marked without requests: {gave_up} of {planned}\n{}",
        r.context()
    );
    for c in r
        .cases
        .iter()
        .filter(|c| c.outcome != "pass" && c.outcome != "skip")
    {
        let text = format!("{} {}", c.message, c.details);
        assert!(
            text.contains("registry stopped answering")
                || text.contains("no complete answer within"),
            "the fault is named: {c:?}"
        );
    }
    assert!(
        r.stderr.contains("registry stopped answering"),
        "the run says once why it gave up\n{}",
        r.context()
    );
    // Generous: the breaker trips after a handful of 2 s timeouts.
    assert!(r.wall < Duration::from_secs(120), "{}", r.context());
}

/// `GET /v2/` itself hangs: the preflight says so, every scenario is an error naming it,
/// no scenario sends a request, JUnit is written.
#[test]
fn a_hanging_v2_is_caught_by_the_preflight() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(hostile::start(Faults::Always(Mode::Hang), true));
    let dir = tempdir();
    let planned = planned(&server.url(), &[]);
    let r = run(&server.url(), dir.path(), &[]);
    assert_complete(&r, planned);
    for c in &r.cases {
        assert_eq!(c.outcome, "error", "{c:?}");
        assert!(c.message.contains("registry unreachable"), "{c:?}");
        assert!(
            c.details.contains("does not answer GET /v2/")
                && c.details.contains("no complete answer within"),
            "{c:?}"
        );
    }
    assert!(
        server.met.lock().unwrap().is_empty(),
        "no scenario request was sent"
    );
    assert!(
        r.stderr.contains("does not answer GET /v2/"),
        "{}",
        r.context()
    );
}

/// Every fault in turn, request by request, over one area (a registry that answers now
/// and then never trips the breaker, so each scenario meets its fault and its timeouts):
/// the run ends, every scenario has an outcome naming a fault, the JUnit file parses.
#[test]
fn every_fault_in_turn() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(hostile::start(Faults::Rotate(Mode::ALL.to_vec()), false));
    let dir = tempdir();
    let filter = ["pull::"];
    let planned = planned(&server.url(), &filter);
    let r = run(&server.url(), dir.path(), &filter);
    assert_complete(&r, planned);
    let met = server.met.lock().unwrap().clone();
    assert_eq!(met.len(), Mode::ALL.len(), "every fault was met: {met:?}");
    const NAMED: [&str; 9] = [
        "timeout: no complete answer within 2 s",
        "connection reset by the registry",
        "connection closed by the registry",
        "malformed response: not an HTTP response",
        "body shorter than its Content-Length",
        "too many redirects",
        "body longer than 64 MiB",
        "registry stopped answering",
        // A redirect not followed (a POST's 307) is an answer, judged as one.
        "status: expected",
    ];
    for c in r
        .cases
        .iter()
        .filter(|c| c.outcome != "pass" && c.outcome != "skip")
    {
        let text = format!("{}\n{}", c.message, c.details);
        assert!(
            NAMED.iter().any(|n| text.contains(n)),
            "the fault is named: {c:?}"
        );
    }
}

/// Each fault alone on one scenario (breaker off): the failure names the fault.
#[test]
fn each_fault_is_named() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cases: Vec<(Mode, &[&str], &[&str])> = vec![
        (Mode::Hang, &["no complete answer within 2 s"], &[]),
        (
            Mode::HangAfterHead,
            &["no complete answer within 2 s", "0 of the 100 bytes"],
            &[],
        ),
        (Mode::Close, &["connection closed by the registry"], &[]),
        (Mode::Reset, &["connection reset by the registry"], &[]),
        (
            Mode::Garbage,
            &["malformed response: not an HTTP response"],
            &[],
        ),
        (
            Mode::ShortBody,
            &[
                "body shorter than its Content-Length",
                "10 of the 1000 bytes",
            ],
            &[],
        ),
        (
            Mode::ShortBodyThenHang,
            &["no complete answer within 2 s", "10 of the 1000 bytes"],
            &[],
        ),
        (Mode::RedirectSelf, &["too many redirects"], &[]),
        (Mode::RedirectPingPong, &["too many redirects"], &[]),
        (
            Mode::RedirectToHangingPort,
            &["no complete answer within 2 s"],
            &[],
        ),
        (Mode::Slow, &["no complete answer within 2 s"], &[]),
        // A longer request timeout, so the body cap is what stops the read.
        (
            Mode::Endless,
            &["body longer than 64 MiB"],
            &["--request-timeout", "60"],
        ),
    ];
    let servers: Vec<_> = cases
        .iter()
        .map(|(m, _, _)| rt.block_on(hostile::start(Faults::Always(*m), false)))
        .collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .iter()
            .zip(&servers)
            .map(|((mode, words, extra), server)| {
                s.spawn(move || {
                    let dir = tempdir();
                    let mut args = vec![
                        "--exact",
                        "pull::pull.unknown-repository@oci-1.1",
                        "--max-transport-failures",
                        "0",
                    ];
                    args.extend_from_slice(extra);
                    let r = run(&server.url(), dir.path(), &args);
                    assert_complete(&r, 1);
                    let c = &r.cases[0];
                    assert_eq!(c.outcome, "fail", "{mode:?}: {c:?}");
                    let text = format!("{}\n{}", c.message, c.details);
                    for w in *words {
                        assert!(
                            text.contains(w),
                            "{mode:?}: the failure names the fault ({w:?}):\n{text}"
                        );
                    }
                    assert!(
                        r.wall < Duration::from_secs(60),
                        "{mode:?}: {}",
                        r.context()
                    );
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
}

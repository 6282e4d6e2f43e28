//! Runs the real binary against a scripted registry and parses the JUnit file back: one
//! testsuite per area, outcomes, requirement IDs, reasons, and hostile failure text
//! (`]]>`, markup) that must survive the round trip exactly.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use common::{Reply, Request, serve};
use quick_xml::Reader;
use quick_xml::events::Event;

/// A parsed XML element.
#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: HashMap<String, String>,
    children: Vec<Node>,
    text: String,
}

impl Node {
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
    fn one(&self, name: &str) -> &Node {
        match self.children.iter().find(|c| c.name == name) {
            Some(n) => n,
            None => panic!("no <{name}> in <{}>", self.name),
        }
    }
    fn attr(&self, k: &str) -> &str {
        self.attrs.get(k).map(String::as_str).unwrap_or("")
    }
}

fn parse(xml: &str) -> Node {
    let mut reader = Reader::from_str(xml);
    let mut stack = vec![Node::default()];
    let start = |e: &quick_xml::events::BytesStart| Node {
        name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
        attrs: e
            .attributes()
            .map(|a| {
                let a = a.expect("well-formed attribute");
                (
                    String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                    a.normalized_value(quick_xml::XmlVersion::Explicit1_0)
                        .expect("valid attribute escaping")
                        .into_owned(),
                )
            })
            .collect(),
        ..Node::default()
    };
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => stack.push(start(&e)),
            Event::Empty(e) => {
                let n = start(&e);
                stack.last_mut().unwrap().children.push(n);
            }
            Event::End(_) => {
                let n = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(n);
            }
            Event::Text(t) => stack
                .last_mut()
                .unwrap()
                .text
                .push_str(&t.decode().unwrap()),
            Event::CData(c) => stack
                .last_mut()
                .unwrap()
                .text
                .push_str(std::str::from_utf8(&c).unwrap()),
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "unbalanced XML");
    stack.pop().unwrap()
}

fn handler(r: &Request) -> Reply {
    let p = r.path();
    if p == "/v2/" {
        Reply::json(200, "{}")
    } else if p.ends_with("/ok") {
        Reply::status(200)
    } else if p.ends_with("/tags/list") {
        Reply::json(200, r#"{"name":"x","tags":["b]]>c","<d>&"]}"#)
    } else if r.method == "DELETE" && p.contains("/uploads/") {
        Reply::json(405, r#"{"errors":[{"code":"UNSUPPORTED"}]}"#)
    } else {
        Reply::status(404)
    }
}

#[test]
fn junit_file_parses_back_with_every_outcome() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(serve(Arc::new(handler)));
    let out = tempfile::tempdir().unwrap();
    let junit = out.path().join("nested/dir/junit.xml");
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/junit");
    let run = Command::new(env!("CARGO_BIN_EXE_registry-conformance"))
        .args([
            "--url",
            &server.url(),
            "--namespace",
            "junit-test",
            "--without",
            "catalog",
        ])
        .arg("--fixtures")
        .arg(&fixtures)
        .arg("--junit")
        .arg(&junit)
        .args(["--test-threads", "2", "--color", "never"])
        .env_remove("REGISTRY_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(
        run.status.code(),
        Some(101),
        "a failure and an error make the run fail\n{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("fixture error") && stderr.contains("unknown field `expectt`"),
        "{stderr}"
    );
    assert!(
        stdout.contains("ignored (no upload cancel (registry answered 405"),
        "{stdout}"
    );
    assert!(
        stdout.contains("6 scenarios: 1 pass, 1 warn, 1 fail, 2 skip, 1 error"),
        "{stdout}"
    );

    let xml = std::fs::read_to_string(&junit).unwrap();
    let root = parse(&xml);
    let suites = root.one("testsuites");
    let names: Vec<&str> = suites.all("testsuite").map(|s| s.attr("name")).collect();
    assert_eq!(names, ["mixed", "other"]);
    let mixed = suites.all("testsuite").next().unwrap();
    assert_eq!(
        (
            mixed.attr("tests"),
            mixed.attr("failures"),
            mixed.attr("errors")
        ),
        ("5", "1", "1")
    );
    let cases: HashMap<&str, &Node> = mixed.all("testcase").map(|c| (c.attr("name"), c)).collect();
    for c in cases.values() {
        assert_eq!(c.attr("classname"), "mixed");
    }

    let outcome = |c: &Node| -> String {
        c.one("properties")
            .all("property")
            .find(|p| p.attr("name") == "outcome")
            .map(|p| p.attr("value").to_owned())
            .unwrap_or_default()
    };
    let pass = cases["mixed.pass"];
    assert!(
        pass.children
            .iter()
            .all(|c| c.name == "system-out" || c.name == "properties")
    );
    assert_eq!(outcome(pass), "pass");
    // A warning is a passing testcase whose outcome property says warn.
    let warn = cases["mixed.warn"];
    assert!(
        warn.children
            .iter()
            .all(|c| c.name == "system-out" || c.name == "properties")
    );
    assert_eq!(outcome(warn), "warn");
    assert!(
        warn.one("system-out").text.contains("outcome: warn")
            && warn
                .one("system-out")
                .text
                .contains("header X-Should-Be-Here"),
        "{}",
        warn.one("system-out").text
    );
    assert_eq!(outcome(cases["mixed.fail"]), "fail");
    assert!(
        pass.one("system-out")
            .text
            .contains("requirements: BASE-01")
    );

    let fail = cases["mixed.fail"].one("failure");
    assert!(
        fail.attr("message")
            .starts_with("[DISC-01, DISC-02] step 1 \"list <tags> & compare\": json (subset)"),
        "{}",
        fail.attr("message")
    );
    assert!(!fail.attr("message").contains('\n'));
    assert!(
        fail.text.contains("\"b]]>c\"") && fail.text.contains("\"<d>&\""),
        "CDATA round trip: {}",
        fail.text
    );
    assert!(
        fail.text.contains("--- expected\n+++ actual"),
        "{}",
        fail.text
    );
    assert!(
        cases["mixed.fail"]
            .one("system-out")
            .text
            .contains("requirements: DISC-01, DISC-02")
    );

    let skip = cases["mixed.skip"].one("skipped");
    assert!(
        skip.attr("message").starts_with("no upload cancel"),
        "{}",
        skip.attr("message")
    );

    let err = cases["broken"].one("error");
    assert_eq!(err.attr("type"), "harness");
    assert!(
        err.text
            .contains("scenario mixed.broken: step 1: unknown field `expectt`"),
        "{}",
        err.text
    );

    let other = suites.all("testsuite").nth(1).unwrap();
    let cap = other.one("testcase");
    assert_eq!(cap.attr("name"), "other.needs-catalog");
    assert!(
        cap.one("skipped")
            .attr("message")
            .contains("--without catalog")
    );
    assert!(
        other
            .one("system-out")
            .text
            .contains("other.needs-catalog: DISC-16")
    );

    let summary = std::fs::read_to_string(junit.with_file_name("summary.txt")).unwrap();
    assert!(
        summary.contains("mixed::mixed.fail  [DISC-01, DISC-02]"),
        "{summary}"
    );

    // --baseline: exit 0 exactly when the outcomes match it, in both directions.
    let baseline = out.path().join("baseline.json");
    let with_baseline = |entries: &str| {
        std::fs::write(&baseline, format!(r#"{{"expected": [{entries}]}}"#)).unwrap();
        let run = Command::new(env!("CARGO_BIN_EXE_registry-conformance"))
            .args(["--url", &server.url(), "--without", "catalog"])
            .arg("--fixtures")
            .arg(&fixtures)
            .arg("--junit")
            .arg(&junit)
            .arg("--baseline")
            .arg(&baseline)
            .output()
            .unwrap();
        (
            run.status.code(),
            String::from_utf8_lossy(&run.stdout).into_owned(),
        )
    };
    let known = r#"{"test": "mixed::mixed.fail", "outcome": "fail", "reason": "server sends wrong tags"},
        {"test": "mixed::mixed.warn", "outcome": "warn", "reason": "no X-Should-Be-Here"},
        {"test": "mixed::mixed.skip", "outcome": "skip"},
        {"test": "mixed::broken", "outcome": "error"},
        {"test": "other::other.needs-catalog", "outcome": "skip"}"#;
    let (code, text) = with_baseline(known);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("outcomes match"), "{text}");
    let (code, text) = with_baseline(&known.replace("mixed::mixed.fail", "mixed::mixed.pass"));
    assert_eq!(code, Some(101), "{text}");
    assert!(
        text.contains("mixed::mixed.fail: baseline says pass, got fail"),
        "{text}"
    );
    assert!(
        text.contains("mixed::mixed.pass: baseline says fail, got pass (fixed"),
        "{text}"
    );

    // Warnings alone never fail a run; --strict makes them failures.
    let only_warn = |strict: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_registry-conformance"));
        cmd.args(["--url", &server.url(), "--exact", "mixed::mixed.warn"])
            .arg("--fixtures")
            .arg(&fixtures)
            .arg("--junit")
            .arg(&junit)
            .env_remove("REGISTRY_STRICT");
        if strict {
            cmd.arg("--strict");
        }
        let run = cmd.output().unwrap();
        (
            run.status.code(),
            String::from_utf8_lossy(&run.stdout).into_owned(),
        )
    };
    let (code, text) = only_warn(false);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("0 pass, 1 warn, 0 fail"), "{text}");
    let (code, text) = only_warn(true);
    assert_eq!(code, Some(101), "{text}");
    assert!(
        text.contains("0 pass, 0 warn, 1 fail") && text.contains("failed by --strict"),
        "{text}"
    );
}

#[test]
fn list_and_exact_filters_behave_like_cargo_test() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scripted");
    let list = Command::new(env!("CARGO_BIN_EXE_registry-conformance"))
        .arg("--fixtures")
        .arg(&fixtures)
        .args([
            "--url",
            "http://127.0.0.1:9",
            "--list",
            "--profile",
            "docker-v2",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success());
    assert!(
        text.contains("good::good.profiles@docker-v2: test"),
        "{text}"
    );
    assert!(
        !text.contains("oci-1.1"),
        "only the selected profile: {text}"
    );
    assert!(text.contains("wrong::wrong.status: test"));

    // Port 9 (discard) has no listener: every selected trial is a harness error.
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_registry-conformance"))
        .arg("--fixtures")
        .arg(&fixtures)
        .arg("--junit")
        .arg(out.path().join("j.xml"))
        .args([
            "--url",
            "http://127.0.0.1:9",
            "--exact",
            "wrong::wrong.status",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(101));
    assert!(text.contains("running 1 test"), "{text}");
    assert!(
        text.contains("1 scenarios: 0 pass, 0 warn, 0 fail, 0 skip, 1 error"),
        "{text}"
    );
    assert!(text.contains("registry unreachable"), "{text}");
}

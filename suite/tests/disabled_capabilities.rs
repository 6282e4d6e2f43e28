//! Registries with an operation switched off: the real binary against the embedded
//! reference registry with deletes disabled and read-only, so the `when_without` scenarios
//! run (and pass) there; and the header-based `skip_if` of the tag-on-push scenario
//! against a scripted registry that does, half does, or does not support it.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Reply, Request, serve};
use suite::auth::Auth;
use suite::client::{ClientConfig, HttpClient, RetryPolicy};
use suite::events::Outcome;
use suite::model::Profile;
use suite::runner::{RunContext, run_trial};

const DELETE_DISABLED: [&str; 6] = [
    "delete::delete.disabled-blob@docker-v2",
    "delete::delete.disabled-blob@oci-1.1",
    "delete::delete.disabled-manifest-by-digest@docker-v2",
    "delete::delete.disabled-manifest-by-digest@oci-1.1",
    "delete::delete.disabled-tag@docker-v2",
    "delete::delete.disabled-tag@oci-1.1",
];

const READ_ONLY: [&str; 8] = [
    "push::push.read-only-manifest-put@docker-v2",
    "push::push.read-only-manifest-put@oci-1.1",
    "push::push.read-only-mount@docker-v2",
    "push::push.read-only-mount@oci-1.1",
    "push::push.read-only-single-post@docker-v2",
    "push::push.read-only-single-post@oci-1.1",
    "push::push.read-only-upload@docker-v2",
    "push::push.read-only-upload@oci-1.1",
];

/// The binary with the user's environment cleared of everything that would change the run.
fn suite_cmd(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_registry-conformance"));
    c.args(["--color", "never"]).current_dir(dir);
    for var in [
        "REGISTRY_URL",
        "REGISTRY_WITHOUT",
        "REGISTRY_PROFILE",
        "REGISTRY_FIXTURES",
        "REGISTRY_BASELINE",
        "REGISTRY_NAMESPACE",
    ] {
        c.env_remove(var);
    }
    c
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// libtest prints `test <name> <padding>... ok` for a trial that ran and passed
/// (`ignored` for a skip, `FAILED` for a failure).
fn passed(stdout: &str, name: &str) -> bool {
    stdout.lines().any(|l| {
        l.strip_prefix("test ")
            .and_then(|rest| rest.strip_prefix(name))
            .is_some_and(|rest| rest.starts_with(' ') && rest.trim_end().ends_with("... ok"))
    })
}

/// Runs the binary with `args` (plus a JUnit path in a temp dir) and checks that it
/// succeeded and that every trial in `expected` ran and passed, in the console output and
/// in the JUnit file. Returns stdout and the summary.
fn run_and_check(args: &[&str], expected: &[&str]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let out = suite_cmd(dir.path())
        .arg("--junit")
        .arg(&junit)
        .args(args)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    let summary = std::fs::read_to_string(junit.with_file_name("summary.txt")).unwrap_or_default();
    assert!(
        out.status.success(),
        "{args:?} failed:\n{summary}\n--- stderr\n{stderr}\n--- stdout\n{stdout}"
    );
    for name in expected {
        assert!(
            passed(&stdout, name),
            "{name} did not run and pass:\n{stdout}"
        );
    }
    let xml = std::fs::read_to_string(&junit).unwrap();
    for name in expected {
        let case = name.split_once("::").map_or(*name, |(_, c)| c);
        let at = xml
            .find(&format!("name=\"{case}\""))
            .unwrap_or_else(|| panic!("{case} missing from the JUnit file:\n{xml}"));
        // The testcase element ends before the next one starts; a pass has no
        // <skipped>, <failure> or <error> child.
        let rest = &xml[at..];
        let element = &rest[..rest[1..].find("<testcase").map_or(rest.len(), |i| i + 1)];
        assert!(
            !element.contains("<skipped") && !element.contains("<failure"),
            "{case} did not pass in the JUnit file:\n{element}"
        );
    }
    (stdout, summary)
}

#[test]
fn delete_disabled_registry_refuses_deletes_and_keeps_content() {
    let (stdout, summary) = run_and_check(
        &["--reference-no-delete", "--without", "delete"],
        &DELETE_DISABLED,
    );
    assert!(
        summary.contains("(embedded reference registry, deletes disabled)"),
        "{summary}"
    );
    // The success-path delete scenarios become skips, not failures.
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("test delete::delete.manifest-by-digest ")
                && l.contains("ignored")),
        "{stdout}"
    );
}

#[test]
fn read_only_registry_refuses_writes_and_still_serves_reads() {
    let (stdout, summary) = run_and_check(
        &["--reference-read-only", "--without", "push", "read-only"],
        &READ_ONLY,
    );
    assert!(
        summary.contains("(embedded reference registry, read-only)"),
        "{summary}"
    );
    assert!(stdout.contains("8 passed; 0 failed; 0 ignored"), "{stdout}");
}

#[test]
fn refusal_scenarios_are_listed_only_for_switched_off_capabilities() {
    let dir = tempfile::tempdir().unwrap();
    let list = |args: &[&str]| {
        let out = suite_cmd(dir.path())
            .arg("--list")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{:?}", text(&out));
        text(&out).0
    };
    let all = list(&[]);
    assert!(
        all.contains("delete::delete.manifest-by-digest: test"),
        "{all}"
    );
    assert!(
        !all.contains("disabled-") && !all.contains("read-only-"),
        "{all}"
    );
    let no_delete = list(&["--without", "delete"]);
    for name in DELETE_DISABLED {
        assert!(no_delete.contains(&format!("{name}: test")), "{no_delete}");
    }
    assert!(!no_delete.contains("read-only-"), "{no_delete}");
    // The embedded registry's switch implies the capability.
    let read_only = list(&["--reference-read-only"]);
    for name in READ_ONLY {
        assert!(read_only.contains(&format!("{name}: test")), "{read_only}");
    }
}

#[test]
fn reference_switches_need_the_embedded_registry() {
    let dir = tempfile::tempdir().unwrap();
    for flag in ["--reference-no-delete", "--reference-read-only"] {
        let out = suite_cmd(dir.path())
            .args(["--url", "http://127.0.0.1:9", flag])
            .output()
            .unwrap();
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{flag}: {stderr}");
        assert!(stderr.contains("cannot be combined with --url"), "{stderr}");
    }
}

/// Capabilities are a closed set on the command line too: a misspelt `--without` would
/// otherwise run the very scenarios the user meant to skip, so it stops the run (exit 2)
/// before anything is sent, naming the closest capability; the environment variable and
/// `--with` are checked the same way.
#[test]
fn unknown_capabilities_stop_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], Option<&str>, &str); 4] = [
        (
            &["--without", "delete,delte"],
            None,
            "--without: \"delte\" is not a capability; did you mean \"delete\"?",
        ),
        (
            &[],
            Some("catalog,referers"),
            "--without: \"referers\" is not a capability; did you mean \"referrers\"?",
        ),
        (
            &["--with", "slwo"],
            None,
            "--with: \"slwo\" is not a capability; did you mean \"slow\"?",
        ),
        (
            &["--with", "delete"],
            None,
            "--with: \"delete\" is assumed present",
        ),
    ];
    for (args, env, want) in cases {
        let mut c = suite_cmd(dir.path());
        c.args(["--url", "http://127.0.0.1:9"]).args(args);
        if let Some(v) = env {
            c.env("REGISTRY_WITHOUT", v);
        }
        let out = c.output().unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stdout}\n{stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(!dir.path().join("reports").exists(), "nothing ran");
    }
}

/// How the scripted registry answers a manifest PUT carrying `?tag=` parameters.
#[derive(Clone, Copy)]
enum TagSupport {
    /// Ignores them: 201 without `OCI-Tag`.
    None,
    /// Tags only the first and says so.
    FirstOnly,
    /// Tags both, one `OCI-Tag` line each.
    Both,
}

/// A registry just good enough for `manifest.put-tag-params`: uploads, blob HEAD, manifest
/// PUT (remembering the bytes), GET by tag and the tag list.
fn tag_registry(support: TagSupport) -> common::Handler {
    let stored: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
    Arc::new(move |r: &Request| {
        let p = r.path().to_owned();
        match r.method.as_str() {
            "GET" if p == "/v2/" => Reply::json(200, "{}"),
            "POST" if p.ends_with("/blobs/uploads/") => {
                Reply::status(202).with_header("Location", "/upload/1")
            }
            "PUT" if p.starts_with("/upload/") => {
                Reply::status(201).with_header("Location", "/v2/x/blobs/y")
            }
            "HEAD" if p.contains("/blobs/") => Reply::status(200),
            "PUT" if p.contains("/manifests/") => {
                *stored.lock().unwrap() = Some(r.body.clone());
                let reply = Reply::status(201).with_header("Location", &p);
                match support {
                    TagSupport::None => reply,
                    TagSupport::FirstOnly => reply.with_header("OCI-Tag", "tag-a"),
                    TagSupport::Both => reply
                        .with_header("OCI-Tag", "tag-a")
                        .with_header("OCI-Tag", "tag-b"),
                }
            }
            "GET" if p.ends_with("/manifests/tag-a") || p.ends_with("/manifests/tag-b") => {
                match (support, stored.lock().unwrap().clone()) {
                    (TagSupport::Both, Some(body)) => Reply::status(200)
                        .with_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                        .with_body(body),
                    _ => Reply::json(404, r#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#),
                }
            }
            "GET" if p.ends_with("/tags/list") => {
                let repo = p.trim_start_matches("/v2/").trim_end_matches("/tags/list");
                Reply::json(
                    200,
                    &format!(r#"{{"name":"{repo}","tags":["tag-a","tag-b"]}}"#),
                )
            }
            "DELETE" => Reply::status(202),
            _ => Reply::status(404),
        }
    })
}

fn workspace_fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_on_push_skips_without_oci_tag_and_checks_it_otherwise() {
    let fx = suite::loader::load_dir(&workspace_fixtures()).unwrap();
    let plans = suite::plan::plan(&fx, &[Profile::Oci11], "t-ns");
    let plan = plans
        .iter()
        .find(|p| p.name == "manifest::manifest.put-tag-params")
        .expect("the FUT-06 scenario is listed for oci-1.1");
    for (support, want) in [
        (TagSupport::None, "skip"),
        (TagSupport::FirstOnly, "fail"),
        (TagSupport::Both, "pass"),
    ] {
        let server = serve(tag_registry(support)).await;
        let ctx = RunContext {
            client: HttpClient::new(ClientConfig {
                base: server.url().parse().unwrap(),
                auth: Auth::None,
                reader: None,
                ca_cert: None,
                request_timeout: Duration::from_secs(5),
                insecure: false,
                retry: RetryPolicy::default(),
            })
            .unwrap(),
            namespace: "t-ns".into(),
            without: BTreeSet::new(),
            without_reasons: Default::default(),
            scenario_timeout: Duration::from_secs(20),
            unreachable: None,
            levels: suite::levels::Levels::from_catalog(fx.catalog.as_ref().unwrap()),
            strict: false,
        };
        let report = run_trial(&ctx, plan, None).await;
        match (&report.outcome, want) {
            (Outcome::Skip { reason }, "skip") => {
                assert!(reason.contains("sent no OCI-Tag header"), "{reason}")
            }
            (Outcome::Fail { summary, .. }, "fail") => assert!(
                summary.contains("[FUT-06]")
                    && summary.contains("header OCI-Tag")
                    && summary.contains("tag-b"),
                "{summary}"
            ),
            (Outcome::Pass, "pass") => {}
            (other, _) => panic!("{want} expected, got {other:?}"),
        }
    }
}

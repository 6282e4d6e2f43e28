//! A registry that answers 401 to an anonymous `GET /v2/` stops the run at once with one
//! message naming its challenge and the flags to pass, instead of every scenario failing
//! with the same 401.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use common::{Reply, Request, serve};

fn handler(_: &Request) -> Reply {
    Reply::json(401, r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#).with_header(
        "WWW-Authenticate",
        r#"Bearer realm="http://127.0.0.1:1/token",service="test-registry",scope="registry:catalog:*""#,
    )
}

#[test]
fn a_registry_that_wants_credentials_stops_the_run_naming_the_challenge() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(serve(Arc::new(handler)));
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scripted");
    let out = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_registry-conformance"))
            .args(["--url", &server.url()])
            .arg("--fixtures")
            .arg(&fixtures)
            .arg("--junit")
            .arg(out.path().join("j.xml"))
            .args(extra)
            .env_remove("REGISTRY_USERNAME")
            .env_remove("REGISTRY_PASSWORD")
            .output()
            .unwrap()
    };
    let anonymous = run(&[]);
    let stderr = String::from_utf8_lossy(&anonymous.stderr);
    let stdout = String::from_utf8_lossy(&anonymous.stdout);
    assert_eq!(anonymous.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("requires authentication: GET /v2/ answered 401 with WWW-Authenticate: Bearer realm=\"http://127.0.0.1:1/token\", service=\"test-registry\"")
            && stderr.contains("--username and --password"),
        "{stderr}"
    );
    assert!(!stdout.contains("running "), "no trial ran: {stdout}");

    // With credentials the run goes on (and here fails, since the server refuses them all).
    let with_credentials = run(&[
        "--username",
        "u",
        "--password",
        "p",
        "--exact",
        "wrong::wrong.status",
    ]);
    let stdout = String::from_utf8_lossy(&with_credentials.stdout);
    assert_eq!(with_credentials.status.code(), Some(101), "{stdout}");
    assert!(stdout.contains("running 1 test"), "{stdout}");
    assert!(!String::from_utf8_lossy(&with_credentials.stderr).contains("requires authentication"));
}

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
    // The docker config of this test only (empty at first), never the user's.
    let docker_config = out.path().join("docker");
    std::fs::create_dir_all(&docker_config).unwrap();
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
            .env_remove("REGISTRY_TOKEN")
            .env_remove("REGISTRY_AUTH_FILE")
            .env_remove("REGISTRY_CA_CERT")
            .env_remove("XDG_RUNTIME_DIR")
            .env("DOCKER_CONFIG", &docker_config)
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
    assert!(
        stdout.contains("credentials: --username (u), reader: none"),
        "the header names the source: {stdout}"
    );
    assert!(!stdout.contains("\"p\"") && !stdout.contains("password p"));

    // A docker config login counts as credentials, and the header says where they came from.
    let host = server.url().trim_start_matches("http://").to_owned();
    std::fs::write(
        docker_config.join("config.json"),
        format!(r#"{{"auths":{{"http://{host}/v2/":{{"auth":"dTpzM2NyZXQ="}}}}}}"#),
    )
    .unwrap();
    let from_config = run(&["--exact", "wrong::wrong.status"]);
    let stdout = String::from_utf8_lossy(&from_config.stdout);
    assert_eq!(from_config.status.code(), Some(101), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "credentials: docker config {}",
            docker_config.join("config.json").display()
        )) && stdout.contains(&format!("auths[http://{host}/v2/] (u)")),
        "{stdout}"
    );
    assert!(!stdout.contains("s3cret"));

    // A --ca-cert that holds no certificate is a setup error naming the file.
    let bad = out.path().join("ca.pem");
    std::fs::write(&bad, "not a certificate").unwrap();
    let bad_ca = run(&["--ca-cert", bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&bad_ca.stderr);
    assert_eq!(bad_ca.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("--ca-cert {}", bad.display())),
        "{stderr}"
    );
}

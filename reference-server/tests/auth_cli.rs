//! The binary's auth flags: `keygen`, start-up errors naming the place, the auth defects
//! listed, and no secret in the logs even at debug level.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use reqwest::StatusCode;

const BIN: &str = env!("CARGO_BIN_EXE_reference-registry");

#[test]
fn keygen_writes_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = (dir.path().join("k.pem"), dir.path().join("c.pem"));
    let run = |extra: &[&str]| {
        Command::new(BIN)
            .arg("keygen")
            .arg("--key")
            .arg(&key)
            .arg("--cert")
            .arg(&cert)
            .args(extra)
            .output()
            .unwrap()
    };
    assert!(run(&["--name", "127.0.0.1"]).status.success());
    let k = std::fs::read_to_string(&key).unwrap();
    let c = std::fs::read_to_string(&cert).unwrap();
    assert!(reference_server::TokenConfig::from_pem(&k, &c).is_ok());
    let again = run(&[]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(&key).unwrap(), k, "untouched");
    assert!(run(&["--force"]).status.success());
    assert_ne!(std::fs::read_to_string(&key).unwrap(), k);
}

#[test]
fn bad_users_or_access_files_stop_start_up_naming_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("htpasswd");
    let access = dir.path().join("access.json");
    std::fs::write(&users, "alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n").unwrap();
    std::fs::write(
        &access,
        r#"{"rules": [{"repositories": ["a"], "users": ["u"], "actions": ["fly"]}]}"#,
    )
    .unwrap();
    let serve = |flags: &[&std::ffi::OsStr]| {
        Command::new(BIN)
            .args(["serve", "--addr", "127.0.0.1:0", "--root"])
            .arg(dir.path().join("root"))
            .args(flags)
            .output()
            .unwrap()
    };
    let out = serve(&[
        "--auth".as_ref(),
        "basic".as_ref(),
        "--users".as_ref(),
        users.as_os_str(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 1") && !err.contains("W6ph5"), "{err}");
    let good = bcrypt::hash("pw", 4).unwrap();
    std::fs::write(&users, format!("alice:{good}\n")).unwrap();
    let out = serve(&[
        "--auth".as_ref(),
        "basic".as_ref(),
        "--users".as_ref(),
        users.as_os_str(),
        "--access".as_ref(),
        access.as_os_str(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rules[0].actions[0]"), "{err}");
}

#[test]
fn defects_lists_the_auth_defects() {
    let out = Command::new(BIN).arg("defects").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for (name, req) in [
        ("push-with-pull-token", "AUTH-19"),
        ("reader-can-delete", "AUTH-24"),
        ("mount-leaks", "AUTH-19"),
        ("challenge-without-scope", "AUTH-03"),
        ("expired-token-accepted", "AUTH-22"),
        ("alg-none-accepted", "AUTH-22"),
        ("catalog-unfiltered", "AUTH-19"),
        ("token-repo-unchecked", "AUTH-19"),
        ("no-www-authenticate", "AUTH-01"),
        ("wrong-password-token", "AUTH-07"),
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} not listed"));
        assert!(line.contains(req), "{line}");
    }
}

#[tokio::test]
async fn secrets_never_reach_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = reference_server::auth::keygen(&[]).unwrap();
    std::fs::write(dir.path().join("k.pem"), key).unwrap();
    std::fs::write(dir.path().join("c.pem"), cert).unwrap();
    let password = "Sup3r-secret-pw";
    std::fs::write(
        dir.path().join("htpasswd"),
        format!("writer:{}\n", bcrypt::hash(password, 4).unwrap()),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--addr", "127.0.0.1:0", "--auth", "token"])
        .arg("--root")
        .arg(dir.path().join("root"))
        .arg("--users")
        .arg(dir.path().join("htpasswd"))
        .arg("--token-key")
        .arg(dir.path().join("k.pem"))
        .arg("--token-cert")
        .arg(dir.path().join("c.pem"))
        .env("RUST_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    let base = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "exited early:\n{log}"
        );
        log.push_str(&line);
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let reader = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
        rest
    });
    let c = reqwest::Client::new();
    let r = c
        .get(format!("{base}/token?service=reference-registry&scope=repository:a:pull,push&offline_token=true"))
        .basic_auth("writer", Some(password))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_string();
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    let r = c
        .get(format!("{base}/v2/a/tags/list"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let bad = c
        .get(format!("{base}/token?service=reference-registry"))
        .basic_auth("writer", Some("Wrong-pw-123"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let _ = c
        .get(format!("{base}/v2/"))
        .bearer_auth(format!("{token}x"))
        .send()
        .await;
    let _ = child.kill();
    let _ = child.wait();
    log.push_str(&reader.join().unwrap());
    assert!(log.contains("/token"), "requests are logged:\n{log}");
    let token_sig = token.rsplit('.').next().unwrap();
    for secret in [
        password,
        "Wrong-pw-123",
        token_sig,
        &refresh,
        "offline_token",
    ] {
        assert!(!log.contains(secret), "{secret:?} leaked into the log");
    }
}

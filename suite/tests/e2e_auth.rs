//! End to end with authentication and TLS: the real binary against the reference registry
//! in token mode, in Basic mode and over HTTPS, with the writer and reader identities the
//! run makes (`--reference-auth`, `--reference-tls`), and against a standalone HTTPS
//! registry whose certificate only `--ca-cert` makes trusted.
//!
//! Every scenario must pass under authentication exactly as without it (the token flow is
//! invisible to the scenarios), and the auth scenarios must run, not skip, where the mode
//! offers what they check.

mod outcomes;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use outcomes::{outcomes, run_embedded};

/// Runs the embedded registry with `args`; asserts no fail, warn or error; returns the
/// auth scenarios that passed and those that skipped.
fn clean_run(args: &[&str], dir: &Path) -> (BTreeSet<String>, BTreeSet<String>, String) {
    let junit = dir.join("junit.xml");
    let run = run_embedded(args, &junit);
    let summary = std::fs::read_to_string(dir.join("summary.txt")).unwrap_or_default();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "{args:?}: the reference registry does not pass every scenario:\n{summary}\n--- stderr\n{stderr}"
    );
    assert!(
        summary.contains(" 0 warn, 0 fail, ") && summary.contains(" 0 error"),
        "{args:?}:\n{summary}"
    );
    let all = outcomes(&junit);
    let of = |want: &str| -> BTreeSet<String> {
        all.iter()
            .filter(|(n, o)| n.starts_with("auth::") && o.as_str() == want)
            .map(|(n, _)| n.trim_start_matches("auth::auth.").to_owned())
            .collect()
    };
    (of("pass"), of("skip"), summary)
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn token_mode_passes_everything_and_runs_the_token_checks() {
    let dir = tempfile::tempdir().unwrap();
    let (passed, skipped, summary) = clean_run(&["--reference-auth", "token"], dir.path());
    assert!(summary.contains("auth token"), "{summary}");
    assert!(
        summary.contains(
            "credentials: the embedded registry's writer, reader: the embedded registry's reader"
        ),
        "{summary}"
    );
    // Basic-only, and a token for another service (the reference token server serves one).
    assert_eq!(
        skipped,
        set(&["basic-wrong-password", "token-other-audience"]),
        "{summary}"
    );
    for must in [
        "token-response",
        "token-tampered",
        "token-alg-none",
        "token-claims-altered",
        "token-other-repository",
        "mount-unreadable-source",
        "reader-cannot-delete",
        "reader-cannot-finish-upload",
        "anonymous-pull",
        "insufficient-scope",
        "push-challenge",
        "oauth-refresh",
    ] {
        assert!(passed.contains(must), "{must} did not pass:\n{summary}");
    }
    assert!(passed.len() >= 22, "{passed:?}");
    // The opt-in slow check is not even listed without --with slow.
    assert!(!summary.contains("token-expiry"), "{summary}");
}

#[test]
fn basic_mode_passes_everything_and_runs_the_basic_checks() {
    let dir = tempfile::tempdir().unwrap();
    let (passed, skipped, summary) = clean_run(&["--reference-auth", "basic"], dir.path());
    assert!(summary.contains("auth basic"), "{summary}");
    for must in [
        "base-challenge",
        "basic-wrong-password",
        "catalog-challenge",
        "reader-can-pull",
        "reader-cannot-push",
        "reader-cannot-tag",
        "reader-cannot-delete",
        "reader-cannot-finish-upload",
    ] {
        assert!(passed.contains(must), "{must} did not pass:\n{summary}");
    }
    // Every token-flow scenario skips on a Basic registry, saying so.
    assert!(skipped.contains("token-tampered"), "{summary}");
    assert!(skipped.contains("mount-unreadable-source"), "{summary}");
}

#[test]
fn https_with_the_token_flow_passes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let (passed, _, summary) = clean_run(
        &["--reference-auth", "token", "--reference-tls"],
        dir.path(),
    );
    assert!(summary.contains("https://127.0.0.1:"), "{summary}");
    assert!(passed.contains("token-response"), "{summary}");
}

#[test]
fn without_auth_every_auth_scenario_skips_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (passed, skipped, summary) = clean_run(&["auth::"], dir.path());
    // Listing the catalog as the run's identity works with or without authentication.
    assert_eq!(passed, set(&["catalog-as-writer"]), "{summary}");
    assert!(skipped.len() >= 20, "{summary}");
    assert!(
        summary.contains("does not require authentication"),
        "{summary}"
    );
}

/// A standalone HTTPS registry with a certificate of its own: without `--ca-cert` the run
/// cannot reach it (the certificate is untrusted, and the message says so); with it, it runs.
#[test]
fn ca_cert_makes_a_private_certificate_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = reference_server::auth::keygen(&["127.0.0.1"]).unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &cert).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut config = reference_server::Config::new(dir.path().join("root"));
    config.tls = Some(reference_server::TlsConfig::from_pem(&cert, &key).unwrap());
    let registry = rt
        .block_on(reference_server::start(
            config,
            "127.0.0.1:0".parse().unwrap(),
        ))
        .unwrap();
    let url = registry.url();
    assert!(url.starts_with("https://"), "{url}");
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_registry-conformance"))
            .args(["--url", &url, "--color", "never", "--junit"])
            .arg(dir.path().join("junit.xml"))
            .args(extra)
            .arg("base::")
            .env_remove("REGISTRY_CA_CERT")
            .env_remove("REGISTRY_INSECURE")
            .output()
            .unwrap()
    };
    let untrusted = run(&[]);
    let stderr = String::from_utf8_lossy(&untrusted.stderr);
    assert!(!untrusted.status.success(), "{stderr}");
    assert!(stderr.contains("invalid peer certificate"), "{stderr}");
    let trusted = run(&["--ca-cert", ca.to_str().unwrap()]);
    assert!(
        trusted.status.success(),
        "{}",
        String::from_utf8_lossy(&trusted.stderr)
    );
    rt.block_on(registry.shutdown());
}

/// The opt-in slow check: a token waited out (60 s from the embedded token server, plus
/// the clock-skew margin) is refused. About two minutes.
#[test]
fn an_expired_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (passed, _, summary) = clean_run(
        &[
            "--reference-auth",
            "token",
            "--with",
            "slow",
            "auth.token-expiry",
        ],
        dir.path(),
    );
    assert_eq!(passed, set(&["token-expiry"]), "{summary}");
}

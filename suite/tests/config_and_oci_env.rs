//! `registry-conformance.toml` / `--config` and the official suite's `OCI_*` variables:
//! which value wins, what is refused. Runs use an unreachable URL and a filter matching
//! nothing, so nothing is sent and the summary header shows the settings in effect.

use std::path::Path;
use std::process::{Command, Output};

const NOTHING: &str = "zzz-matches-no-scenario";

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_registry-conformance"));
    cmd.current_dir(dir).args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("REGISTRY_") || k.starts_with("OCI_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied())
        .output()
        .expect("run the binary")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn header(o: &Output) -> String {
    let (out, err) = text(o);
    out.lines()
        .find(|l| l.starts_with("registry-conformance summary: "))
        .unwrap_or_else(|| panic!("no summary header:\n{out}\n{err}"))
        .to_owned()
}

const CONFIG: &str =
    "url = \"http://127.0.0.1:9\"\nnamespace = \"from-file\"\nprofile = \"oci-1.1\"\n";

#[test]
fn the_working_folders_file_sets_url_namespace_and_profile() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("registry-conformance.toml"), CONFIG).unwrap();
    let o = run(dir.path(), &[NOTHING], &[]);
    assert_eq!(
        header(&o),
        "registry-conformance summary: http://127.0.0.1:9, profile oci-1.1, namespace from-file"
    );
    assert!(o.status.success(), "{:?}", text(&o));
}

#[test]
fn flags_and_env_override_the_file_and_oci_variables_sit_between() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("other.toml"), CONFIG).unwrap();
    let o = run(
        dir.path(),
        &[
            "--config",
            "other.toml",
            "--namespace",
            "from-flag",
            NOTHING,
        ],
        &[("REGISTRY_PROFILE", "docker-v2")],
    );
    assert_eq!(
        header(&o),
        "registry-conformance summary: http://127.0.0.1:9, profile docker-v2, namespace from-flag"
    );
    // OCI_* over the file, REGISTRY_* over OCI_*.
    let o = run(
        dir.path(),
        &["--config=other.toml", NOTHING],
        &[
            ("OCI_ROOT_URL", "http://127.0.0.1:7"),
            ("OCI_NAMESPACE", "from-oci"),
            ("REGISTRY_NAMESPACE", "from-env"),
        ],
    );
    assert_eq!(
        header(&o),
        "registry-conformance summary: http://127.0.0.1:7, profile oci-1.1, namespace from-env"
    );
}

#[test]
fn an_inline_password_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("registry-conformance.toml"),
        "url = \"http://127.0.0.1:9\"\nusername = \"me\"\npassword = \"hunter2\"\n",
    )
    .unwrap();
    let o = run(dir.path(), &[NOTHING], &[]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    assert!(err.contains("line 3: `password`"), "{err}");
    assert!(err.contains("password_env"), "{err}");
    assert!(!err.contains("hunter2") && !out.contains("hunter2"));
}

#[test]
fn a_password_by_variable_name_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("registry-conformance.toml"),
        "url = \"http://127.0.0.1:9\"\nusername = \"me\"\npassword_env = \"MY_PW\"\n",
    )
    .unwrap();
    let o = run(dir.path(), &[NOTHING], &[("MY_PW", "hunter2")]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("credentials: --username"), "{out}");
    assert!(!out.contains("hunter2") && !err.contains("hunter2"));
    // The user name on the command line, the password from the file.
    let o = run(
        dir.path(),
        &["--username", "other", NOTHING],
        &[("MY_PW", "hunter2")],
    );
    assert!(o.status.success(), "{:?}", text(&o));
    let help = run(dir.path(), &["--help"], &[("MY_PW", "hunter2")]);
    assert!(!text(&help).0.contains("hunter2"));
}

#[test]
fn an_unknown_key_is_refused_with_its_name_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.toml"),
        "url = \"http://127.0.0.1:9\"\nnamspace = \"typo\"\n",
    )
    .unwrap();
    let o = run(dir.path(), &["--config", "c.toml", NOTHING], &[]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("c.toml"), "{err}");
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("unknown field `namspace`"), "{err}");
}

#[test]
fn oci_test_variables_select_areas() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), &["--list"], &[("OCI_TEST_PULL", "1")]);
    let (out, _) = text(&o);
    let areas: std::collections::BTreeSet<&str> = out
        .lines()
        .filter_map(|l| l.split_once("::").map(|(a, _)| a))
        .collect();
    assert_eq!(areas.into_iter().collect::<Vec<_>>(), ["base", "pull"]);
    let o = run(dir.path(), &["--list"], &[("OCI_TEST_PULL", "0")]);
    assert!(text(&o).0.contains("push::"));
}

#[test]
fn oci_root_url_and_registry_set_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(
        dir.path(),
        &[NOTHING],
        &[("OCI_ROOT_URL", "http://127.0.0.1:9")],
    );
    assert!(header(&o).contains("summary: http://127.0.0.1:9, "));
    let o = run(
        dir.path(),
        &[NOTHING],
        &[("OCI_REGISTRY", "127.0.0.1:8"), ("OCI_TLS", "false")],
    );
    assert!(header(&o).contains("summary: http://127.0.0.1:8, "));
    // Our own flag wins.
    let o = run(
        dir.path(),
        &["--url", "http://127.0.0.1:6", NOTHING],
        &[("OCI_ROOT_URL", "http://127.0.0.1:9")],
    );
    assert!(header(&o).contains("summary: http://127.0.0.1:6, "));
}

#[test]
fn oci_report_dir_moves_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(
        dir.path(),
        &[NOTHING],
        &[
            ("OCI_ROOT_URL", "http://127.0.0.1:9"),
            ("OCI_REPORT_DIR", "oci-out"),
        ],
    );
    assert!(o.status.success(), "{:?}", text(&o));
    for f in ["junit.xml", "results.json", "summary.md", "report.html"] {
        assert!(dir.path().join("oci-out").join(f).is_file(), "{f}");
    }
}

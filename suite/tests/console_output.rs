//! Console output modes against the embedded registry (a three-trial filter): piped
//! stdout keeps libtest's lines; `--quiet` prints only the summary; `--format progress`
//! draws the progress line on stderr.

use std::process::{Command, Output};

fn run(args: &[&str]) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_registry-conformance"));
    for (k, _) in std::env::vars() {
        if k.starts_with("REGISTRY_") || k.starts_with("OCI_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .current_dir(dir.path())
        .args(args)
        .arg("base::")
        .output()
        .expect("run the binary");
    (out, dir)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn piped_output_keeps_the_libtest_lines() {
    let (o, _dir) = run(&[]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("test base::"), "{out}");
    assert!(out.contains("test result: ok."), "{out}");
    assert!(out.contains("registry-conformance summary: "), "{out}");
    let (o, _dir) = run(&["--format", "libtest"]);
    assert!(stdout(&o).contains("test base::"), "{}", stdout(&o));
}

#[test]
fn quiet_prints_only_the_summary() {
    let (o, dir) = run(&["--quiet"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    assert!(!out.contains("test base::"), "{out}");
    assert!(!out.contains("test result"), "{out}");
    assert!(out.contains("registry-conformance summary: "), "{out}");
    assert!(String::from_utf8_lossy(&o.stderr).trim().is_empty());
    // libtest's lines are kept beside the JUnit file.
    let log = std::fs::read_to_string(dir.path().join("reports/libtest.txt")).unwrap();
    assert!(log.contains("test base::"), "{log}");
}

#[test]
fn progress_line_on_stderr() {
    let (o, _dir) = run(&["--format=progress"]);
    let out = stdout(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{out}{err}");
    assert!(!out.contains("test base::"), "{out}");
    assert!(
        err.contains("\r\x1b[K3/3 done, 0 failed, area base"),
        "{err:?}"
    );
}

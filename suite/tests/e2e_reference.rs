//! End to end: the real binary, no `--url` (so it starts the reference registry
//! in-process), over every scenario in the workspace's fixtures/. The reference registry
//! must pass them all, without a single warning; a failure here is either a registry bug or a scenario bug, and the
//! message lists which scenarios to look at.

use std::process::Command;

#[test]
fn reference_registry_passes_every_scenario() {
    let out = tempfile::tempdir().unwrap();
    let junit = out.path().join("junit.xml");
    let run = Command::new(env!("CARGO_BIN_EXE_registry-conformance"))
        .arg("--junit")
        .arg(&junit)
        .args(["--color", "never"])
        .env_remove("REGISTRY_URL")
        .env_remove("REGISTRY_WITHOUT")
        .env_remove("REGISTRY_PROFILE")
        .current_dir(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    let summary = std::fs::read_to_string(junit.with_file_name("summary.txt")).unwrap_or_default();
    assert!(
        run.status.success(),
        "the reference registry does not pass every scenario:\n{summary}\n--- stderr\n{stderr}\n--- stdout (tail)\n{}",
        stdout
            .lines()
            .rev()
            .take(200)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        summary.contains("(embedded reference registry)"),
        "{summary}"
    );
    assert!(
        summary.contains(" 0 warn, 0 fail, ") && summary.contains(" 0 error"),
        "{summary}"
    );
    assert!(std::fs::metadata(&junit).is_ok_and(|m| m.len() > 0));
}

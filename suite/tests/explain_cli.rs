//! `registry-conformance explain`: a requirement ID, a scenario, an unknown name.

use std::process::Command;

fn explain(arg: &str) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_registry-conformance"))
        .args(["explain", arg])
        .env_remove("REGISTRY_FIXTURES")
        .output()
        .expect("run the binary");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn explains_a_requirement_with_the_scenarios_citing_it() {
    let (code, out, err) = explain("pull-01");
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("PULL-01 ("), "{out}");
    assert!(out.contains("source: "), "{out}");
    assert!(out.contains("https://"), "{out}");
    assert!(out.contains("excused"), "{out}");
    assert!(
        out.contains("pull::pull.manifest-by-tag: GET a manifest by tag"),
        "{out}"
    );
}

#[test]
fn explains_a_scenario_with_its_requirements_and_steps() {
    for name in [
        "pull::pull.manifest-by-tag",
        "pull.manifest-by-tag",
        "pull::pull.manifest-by-tag@oci-1.1",
    ] {
        let (code, out, err) = explain(name);
        assert_eq!(code, 0, "{name}: {err}");
        assert!(out.starts_with("pull::pull.manifest-by-tag: "), "{out}");
        assert!(out.contains("profiles: oci-1.1, docker-v2"), "{out}");
        assert!(out.contains("  PULL-01 ("), "{out}");
        assert!(
            out.contains("1. (setup) push blob config (monolithic)"),
            "{out}"
        );
        assert!(out.contains("push manifest image as v1"), "{out}");
        assert!(out.contains("GET /v2/"), "{out}");
        assert!(out.contains("→ 200"), "{out}");
    }
}

#[test]
fn unknown_name_exits_2_with_suggestions() {
    let (code, out, err) = explain("PUSH-8");
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("did you mean"), "{err}");
    assert!(err.contains("PUSH-08"), "{err}");
    let (code, _, err) = explain("pull.manifest-by-tagg");
    assert_eq!(code, 2);
    assert!(err.contains("pull::pull.manifest-by-tag"), "{err}");
}

//! Sparse manifests are a policy (OCI: a registry MAY reject manifests whose references are
//! absent): the `sparse-manifests` scenarios skip, naming the refusal, against the strict
//! embedded registry, and pass against it with `--reference-allow-sparse-manifests`.

mod outcomes;

use outcomes::{outcomes, run_embedded};

#[test]
fn sparse_scenarios_follow_the_registry_policy() {
    let dir = tempfile::tempdir().unwrap();
    let filter = "manifest::manifest.sparse";
    let strict = dir.path().join("strict/junit.xml");
    let run = run_embedded(&[filter], &strict);
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{text}");
    let strict = outcomes(&strict);
    assert!(strict.len() >= 2, "{strict:?}");
    assert!(strict.values().all(|o| o == "skip"), "{strict:?}");
    assert!(
        text.contains("refuses manifests whose references are absent"),
        "{text}"
    );

    let sparse = dir.path().join("sparse/junit.xml");
    let run = run_embedded(&["--reference-allow-sparse-manifests", filter], &sparse);
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{text}");
    assert!(text.contains("sparse manifests allowed"), "{text}");
    let sparse = outcomes(&sparse);
    assert_eq!(
        strict.keys().collect::<Vec<_>>(),
        sparse.keys().collect::<Vec<_>>()
    );
    assert!(sparse.values().all(|o| o == "pass"), "{sparse:?}");
}

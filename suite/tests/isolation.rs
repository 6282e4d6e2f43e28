//! Scenarios are isolated: no two trials of a run push the same blob or manifest unless a
//! scenario marks it `shared`, and so the outcomes cannot depend on which trials run at
//! the same time. Checked twice: statically over every trial's prepared content, and
//! dynamically against a registry whose blob DELETE removes the blob everywhere (a
//! switchboard defect), run with one thread and with many.

mod outcomes;

use std::collections::HashMap;
use std::path::PathBuf;

use outcomes::{outcomes, run_embedded};
use suite::model::Profile;
use suite::plan::Planned;
use suite::runner::prepare;
use suite::vars::{Vars, trial_seed};

fn workspace_fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

#[test]
fn no_two_trials_share_a_digest_unless_marked_shared() {
    let fx = suite::loader::load_dir(&workspace_fixtures()).unwrap();
    assert!(fx.errors.is_empty(), "{:?}", fx.errors);
    let plans = suite::plan::plan(&fx, &Profile::ALL, "iso-ns");
    // digest -> (trial, item, shared)
    let mut seen: HashMap<String, Vec<(String, String, bool)>> = HashMap::new();
    for plan in &plans {
        let Planned::Scenario(s) = &plan.what else {
            continue;
        };
        let mut vars = Vars::new("iso-ns", &plan.repo);
        let items = prepare(s, &mut vars, trial_seed(&plan.repo))
            .unwrap_or_else(|e| panic!("{}: {e}", plan.name));
        for (name, def) in &s.blobs {
            let (item, _) = &items.blobs[name];
            seen.entry(item.digest.clone()).or_default().push((
                plan.name.clone(),
                format!("blob {name}"),
                def.shared,
            ));
        }
        for (name, def) in &s.manifests {
            let item = &items.manifests[name];
            seen.entry(item.digest.clone()).or_default().push((
                plan.name.clone(),
                format!("manifest {name}"),
                def.shared,
            ));
        }
    }
    let mut clashes: Vec<String> = seen
        .into_iter()
        .filter(|(_, users)| {
            let trials: std::collections::BTreeSet<&String> = users.iter().map(|u| &u.0).collect();
            trials.len() > 1 && users.iter().any(|u| !u.2)
        })
        .map(|(d, users)| format!("{d}: {users:?}"))
        .collect();
    clashes.sort();
    assert!(
        clashes.is_empty(),
        "content shared between trials without \"shared\": true:\n{}",
        clashes.join("\n")
    );
}

#[test]
fn outcomes_do_not_depend_on_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let run = |threads: &str| {
        let junit = dir.path().join(format!("threads-{threads}/junit.xml"));
        let out = run_embedded(
            &[
                "--reference-defect",
                "blob-delete-global",
                "--test-threads",
                threads,
            ],
            &junit,
        );
        assert!(
            matches!(out.status.code(), Some(0) | Some(101)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        outcomes(&junit)
    };
    let serial = run("1");
    let parallel = run("16");
    assert!(serial.len() > 150, "{} trials", serial.len());
    let differ: Vec<String> = serial
        .iter()
        .filter(|(name, o)| parallel.get(*name) != Some(o))
        .map(|(name, o)| format!("{name}: 1 thread {o}, 16 threads {:?}", parallel.get(name)))
        .collect();
    assert!(
        differ.is_empty(),
        "outcomes depend on the thread count:\n{}",
        differ.join("\n")
    );
    // The defect itself is caught, by the scenarios about per-repository deletes.
    assert!(
        serial.values().any(|o| o == "fail"),
        "blob-delete-global went unnoticed: {serial:?}"
    );
}

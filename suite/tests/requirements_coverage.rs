//! The requirement catalog and the scenarios agree: every requirement in
//! fixtures/requirements.json is cited by a scenario or excused with a reason, and every ID
//! a scenario cites exists (the loader rejects unknown IDs once the catalog exists).

use std::collections::BTreeSet;
use std::path::PathBuf;

#[test]
fn every_requirement_is_cited_or_excused_and_every_citation_exists() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let fx = suite::loader::load_dir(&dir).expect("fixtures/ loads");
    let catalog = fx
        .catalog
        .as_ref()
        .expect("fixtures/requirements.json exists");
    let problems: Vec<String> = fx.errors.iter().map(|(_, e)| e.to_string()).collect();
    assert!(
        problems.is_empty(),
        "scenario files that do not load (unknown IDs among them):\n{}",
        problems.join("\n")
    );

    let known = catalog.ids();
    let cited: BTreeSet<String> = fx
        .scenarios
        .iter()
        .flat_map(|s| s.cited_requirements())
        .collect();
    let unknown: Vec<&String> = cited.iter().filter(|id| !known.contains(*id)).collect();
    assert!(
        unknown.is_empty(),
        "cited but not in requirements.json: {unknown:?}"
    );

    let uncovered: Vec<&str> = catalog
        .requirements
        .iter()
        .filter(|r| {
            r.excused.as_deref().is_none_or(|e| e.trim().is_empty()) && !cited.contains(&r.id)
        })
        .map(|r| r.id.as_str())
        .collect();
    assert!(
        uncovered.is_empty(),
        "neither cited by a scenario nor excused: {uncovered:?}"
    );

    let dupes: Vec<&str> = {
        let mut seen = BTreeSet::new();
        catalog
            .requirements
            .iter()
            .map(|r| r.id.as_str())
            .filter(|id| !seen.insert(*id))
            .collect()
    };
    assert!(
        dupes.is_empty(),
        "duplicate IDs in requirements.json: {dupes:?}"
    );
}

/// fixtures/AUDIT.md records, per scenario, the sentence each expectation rests on; a new
/// scenario without rows there has not been audited.
#[test]
fn every_scenario_has_rows_in_the_audit() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let fx = suite::loader::load_dir(&dir).expect("fixtures/ loads");
    let audit = std::fs::read_to_string(dir.join("AUDIT.md")).expect("fixtures/AUDIT.md");
    // The first cell of every table row: `push.cancel`, or `cancel` within the push table.
    let rows: BTreeSet<String> = audit
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| scenario") && !l.starts_with("|--"))
        .filter_map(|l| l.split('|').nth(1))
        .map(|c| c.trim().to_owned())
        .collect();
    let missing: Vec<&str> = fx
        .scenarios
        .iter()
        .map(|s| s.id.as_str())
        .filter(|id| {
            let short = id.split_once('.').map_or(*id, |(_, rest)| rest);
            !rows.iter().any(|r| {
                r == id || r == short || r.starts_with(&format!("{id} ")) || r.contains(id)
            })
        })
        .collect();
    assert!(
        missing.is_empty(),
        "scenarios with no row in fixtures/AUDIT.md: {missing:?}"
    );
}

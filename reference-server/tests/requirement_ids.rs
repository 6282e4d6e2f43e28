//! Every requirement the registry can be checked against over HTTP is named in the code
//! that implements it, so `grep -rn PUSH-08 reference-server/src` leads from the catalog
//! (`fixtures/requirements.json`) to the function, including deliberate non-actions (e.g.
//! FUT-10: the `ns=` parameter is ignored).
//!
//! Checked: every non-excused requirement of the HTTP families below, whatever spec it comes
//! from (OCI, Docker, OCI main, and the image-spec rules manifest validation enforces).
//! AUTH waits for its own issue and CLI holds client obligations, so neither is checked.
//! `src/defects.rs` doesn't count: it names the requirements each defect *breaks*.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use regex::Regex;
use serde_json::Value;

const FAMILIES: &[&str] = &[
    "BASE", "HDR", "NAME", "DIG", "PULL", "PUSH", "MPUT", "MFMT", "DISC", "MGMT", "ERR", "FUT",
];

/// Non-excused requirements with no server code at all (pure client obligations the
/// catalog doesn't excuse), each with the reason. Empty today: every requirement of the
/// families is named where the registry implements it or deliberately doesn't act on it.
const NO_SERVER_CODE: &[(&str, &str)] = &[];

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `(id, excused)` of every requirement of [`FAMILIES`], in catalog order.
fn catalog() -> Vec<(String, bool)> {
    let path = manifest_dir().join("../fixtures/requirements.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text).expect("requirements.json is JSON");
    v["requirements"]
        .as_array()
        .expect("a requirements array")
        .iter()
        .map(|r| {
            let id = r["id"].as_str().expect("every requirement has an id");
            let excused = !r["excused"].is_null();
            (id.to_string(), excused)
        })
        .filter(|(id, _)| FAMILIES.contains(&id.split('-').next().unwrap_or("")))
        .collect()
}

/// The text of every `.rs` file under `dir` except `defects.rs`.
fn sources(dir: &Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "defects.rs")
        {
            out.push_str(&std::fs::read_to_string(&path).unwrap());
            out.push('\n');
        }
    }
}

/// Every requirement ID the source names (`PUSH-08`, not `PUSH-0` inside `PUSH-08`).
fn cited() -> BTreeSet<String> {
    let mut src = String::new();
    sources(&manifest_dir().join("src"), &mut src);
    let id = Regex::new(r"\b([A-Z]+-[0-9]{2,})\b").unwrap();
    id.captures_iter(&src).map(|c| c[1].to_string()).collect()
}

#[test]
fn every_checkable_requirement_is_named_where_it_is_implemented() {
    let catalog = catalog();
    let cited = cited();
    let exempt: BTreeSet<&str> = NO_SERVER_CODE.iter().map(|(id, _)| *id).collect();
    let required: Vec<&str> = catalog
        .iter()
        .filter(|(_, excused)| !excused)
        .map(|(id, _)| id.as_str())
        .collect();
    // Guards against a catalog that silently stopped matching the families.
    assert!(
        required.len() >= 150,
        "only {} requirements found",
        required.len()
    );
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|id| !cited.contains(*id) && !exempt.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "requirements not named anywhere in reference-server/src (add the ID to the doc \
         comment of the function that implements it, or that deliberately doesn't, or list it \
         in NO_SERVER_CODE with the reason): {missing:?}"
    );
}

#[test]
fn the_source_cites_only_real_requirements() {
    let catalog: BTreeSet<String> = catalog().into_iter().map(|(id, _)| id).collect();
    let unknown: Vec<String> = cited()
        .into_iter()
        .filter(|id| FAMILIES.contains(&id.split('-').next().unwrap_or("")))
        .filter(|id| !catalog.contains(id))
        .collect();
    assert!(
        unknown.is_empty(),
        "reference-server/src names requirement IDs that fixtures/requirements.json lacks: {unknown:?}"
    );
}

#[test]
fn exemptions_are_current() {
    let catalog = catalog();
    let cited = cited();
    for (id, reason) in NO_SERVER_CODE {
        assert!(!reason.trim().is_empty(), "{id}: give the reason");
        let entry = catalog.iter().find(|(c, _)| c == id);
        assert!(entry.is_some(), "{id} is not in the catalog");
        assert!(
            !entry.is_some_and(|(_, excused)| *excused),
            "{id} is excused in the catalog; drop it from NO_SERVER_CODE"
        );
        assert!(
            !cited.contains(*id),
            "{id} is named in the source now; drop it from NO_SERVER_CODE"
        );
    }
}

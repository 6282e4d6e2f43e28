//! The named templates of `fixtures/templates/`: every one is described and used, and every
//! scenario that uses one loads exactly as it does with the template written out in its
//! place (written out here independently, by plain JSON edits).

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use suite::loader::{Scenario, load_dir};

/// JSON that keeps the order of object keys (serde_json's `Value` sorts them, and the order
/// of a scenario's manifests, query parameters and headers matters).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(IndexMap<String, Json>),
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(m) => m.get(key),
            _ => None,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// Every string (keys too) with `f` applied.
    fn map_strings(&self, f: &impl Fn(&str) -> String) -> Json {
        match self {
            Json::String(s) => Json::String(f(s)),
            Json::Array(a) => Json::Array(a.iter().map(|x| x.map_strings(f)).collect()),
            Json::Object(m) => {
                Json::Object(m.iter().map(|(k, x)| (f(k), x.map_strings(f))).collect())
            }
            other => other.clone(),
        }
    }
}

fn workspace_fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn read(p: &Path) -> Json {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// `entry` (a template use) replaced by the template written out: its renames applied as
/// plain text replacements of `${blob.<from>.` by `${blob.<to>.` (and likewise for
/// manifests), its `pad_to` and `shared` added.
fn write_out(entry: &Json, kind: &str, templates: &Path) -> Json {
    let name = entry.get("template").and_then(Json::as_str).unwrap();
    let t = read(&templates.join(format!("{name}.json")));
    let mut renames = Vec::new();
    for (field, prefix) in [("blobs", "blob"), ("manifests", "manifest")] {
        if let Some(Json::Object(m)) = entry.get(field) {
            for (from, to) in m {
                let to = to.as_str().unwrap();
                renames.push((format!("${{{prefix}.{from}."), format!("${{{prefix}.{to}.")));
            }
        }
    }
    let body = t.get(kind).unwrap().map_strings(&|s: &str| {
        renames
            .iter()
            .fold(s.to_owned(), |acc, (from, to)| acc.replace(from, to))
    });
    let Json::Object(mut body) = body else {
        panic!("template {name}: not an object");
    };
    for k in ["pad_to", "shared"] {
        if let Some(x) = entry.get(k) {
            body.insert(k.to_owned(), x.clone());
        }
    }
    Json::Object(body)
}

/// A scenario file with every template use written out, and how many there were.
fn written_out(file: &Json, templates: &Path) -> (Json, usize) {
    let mut file = file.clone();
    let mut uses = 0;
    let Json::Object(top) = &mut file else {
        panic!("a scenario file is an object");
    };
    for (section, kind) in [("blobs", "blob"), ("manifests", "manifest")] {
        if let Some(Json::Object(entries)) = top.get_mut(section) {
            for entry in entries.values_mut() {
                if entry.get("template").is_some() {
                    *entry = write_out(entry, kind, templates);
                    uses += 1;
                }
            }
        }
    }
    (file, uses)
}

/// What a scenario is, without where its file is.
fn loaded(s: &Scenario) -> String {
    let mut s = s.clone();
    s.file = PathBuf::new();
    format!("{s:?}")
}

#[test]
fn templated_scenarios_load_as_their_written_out_form() {
    let fixtures = workspace_fixtures();
    let templates = fixtures.join("templates");
    let fx = load_dir(&fixtures).unwrap();
    assert!(fx.errors.is_empty(), "{:?}", fx.errors);

    let out = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixtures.join("requirements.json"),
        out.path().join("requirements.json"),
    )
    .unwrap();
    let mut uses = 0;
    for s in &fx.scenarios {
        let (v, n) = written_out(&read(&s.file), &templates);
        uses += n;
        let dir = out.path().join("scenarios").join(&s.area);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(s.file.file_name().unwrap());
        std::fs::write(file, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    }
    assert!(uses > 100, "the fixtures use templates ({uses} uses)");
    let inline = load_dir(out.path()).unwrap();
    assert!(inline.errors.is_empty(), "{:?}", inline.errors);
    assert_eq!(inline.scenarios.len(), fx.scenarios.len());
    for (a, b) in fx.scenarios.iter().zip(&inline.scenarios) {
        assert_eq!(loaded(a), loaded(b), "{}", a.file.display());
    }
}

#[test]
fn every_template_is_described_and_used() {
    let fixtures = workspace_fixtures();
    let fx = load_dir(&fixtures).unwrap();
    let texts: Vec<String> = fx
        .scenarios
        .iter()
        .map(|s| std::fs::read_to_string(&s.file).unwrap())
        .collect();
    assert!(fx.templates.all().count() > 0);
    for (name, t) in fx.templates.all() {
        assert!(!t.description.trim().is_empty(), "{name}: say what it is");
        let used = format!("\"template\": \"{name}\"");
        assert!(
            texts.iter().any(|x| x.contains(&used)),
            "template {name} ({}) is used by no scenario",
            t.file.display()
        );
    }
}

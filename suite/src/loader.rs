//! Loading and validating `fixtures/`: every problem names the file, the scenario, the
//! step and what is wrong, before anything is sent to a registry.
//!
//! Here: the files, a scenario's own fields, and its blobs and manifests ([`items`],
//! templates expanded). A step goes to the kind its key names ([`step`]); each kind checks
//! its own fields (`steps/<kind>.rs`).

mod items;
mod step;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

pub use crate::catalog::{Catalog, Requirement};
use crate::error::{LoadError, Location};
use crate::model::*;
use crate::templates::Templates;
use crate::templates::entry::{BlobEntry, ManifestEntry};
use crate::validate::{Context, Scope};
use step::RawStep;

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file it came from.
    pub file: PathBuf,
    /// Its area (directory under `scenarios/`).
    pub area: String,
    /// Its id.
    pub id: String,
    /// One line.
    pub title: String,
    /// Longer text.
    pub description: Option<String>,
    /// Requirement IDs.
    pub requirements: Vec<String>,
    /// Profiles it applies to.
    pub profiles: Vec<Profile>,
    /// Capabilities it needs.
    pub capabilities: Vec<String>,
    /// Capabilities that must be switched off (`--without`) for it to be listed.
    pub when_without: Vec<String>,
    /// Named blobs.
    pub blobs: IndexMap<String, BlobDef>,
    /// Named manifests, in order.
    pub manifests: IndexMap<String, ManifestDef>,
    /// Checked steps.
    pub steps: Vec<Step>,
}

impl Scenario {
    /// Whether any step has per-profile expectations (then it runs once per profile).
    pub fn has_profile_expect(&self) -> bool {
        self.steps.iter().any(Step::has_profile_expect)
    }

    /// Every requirement ID the scenario or one of its steps cites.
    pub fn cited_requirements(&self) -> BTreeSet<String> {
        fn walk(steps: &[Step], out: &mut BTreeSet<String>) {
            for s in steps {
                out.extend(s.requirements.iter().cloned());
                if let StepKind::Parallel(b) = &s.kind {
                    walk(b, out);
                }
            }
        }
        let mut out: BTreeSet<String> = self.requirements.iter().cloned().collect();
        walk(&self.steps, &mut out);
        out
    }
}

/// Everything found under a fixtures directory.
#[derive(Debug, Default)]
pub struct Fixtures {
    /// Valid scenarios, sorted by area and id.
    pub scenarios: Vec<Arc<Scenario>>,
    /// Files that could not be loaded (each still becomes an `error` outcome).
    pub errors: Vec<(String, LoadError)>,
    /// The requirement catalog, when `requirements.json` exists.
    pub catalog: Option<Catalog>,
    /// The named templates of `templates/`.
    pub templates: Templates,
}

/// Loads `dir/scenarios/<area>/*.json`, `dir/requirements.json` and `dir/templates/*.json`.
pub fn load_dir(dir: &Path) -> Result<Fixtures, LoadError> {
    let mut fx = Fixtures::default();
    let cat_path = dir.join("requirements.json");
    if cat_path.exists() {
        fx.catalog = Some(Catalog::load(&cat_path)?);
    }
    let known = fx.catalog.as_ref().map(Catalog::ids);
    fx.templates = Templates::load(&dir.join("templates"))?;
    let root = dir.join("scenarios");
    let mut files = Vec::new();
    if root.exists() {
        collect_json(&root, &mut files)?;
    } else if !dir.exists() {
        return Err(LoadError::Io {
            path: dir.to_owned(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "fixtures directory not found",
            ),
        });
    }
    files.sort();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for file in files {
        let rel = file.strip_prefix(&root).unwrap_or(&file);
        let mut comps = rel.components();
        let area = comps
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned());
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (area, nested) = match (area, comps.next()) {
            (Some(a), Some(_)) => (a, true),
            _ => ("scenarios".to_owned(), false),
        };
        let at = Location {
            file: file.clone(),
            ..Location::default()
        };
        if !nested {
            fx.errors.push((
                format!("{area}::{stem}"),
                LoadError::Invalid {
                    at,
                    problem: "scenario files belong in scenarios/<area>/".into(),
                },
            ));
            continue;
        }
        match load_file(&file, &area, known.as_ref(), &fx.templates) {
            Ok(s) => {
                if let Some(other) = seen.get(&s.id) {
                    fx.errors.push((
                        format!("{area}::{stem}"),
                        LoadError::Invalid {
                            at: Location {
                                file: file.clone(),
                                scenario: Some(s.id.clone()),
                                step: None,
                            },
                            problem: format!("duplicate scenario id (also in {})", other.display()),
                        },
                    ));
                } else {
                    seen.insert(s.id.clone(), file.clone());
                    fx.scenarios.push(Arc::new(s));
                }
            }
            Err(e) => fx.errors.push((format!("{area}::{stem}"), e)),
        }
    }
    fx.scenarios
        .sort_by(|a, b| (&a.area, &a.id).cmp(&(&b.area, &b.id)));
    Ok(fx)
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            collect_json(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

/// Loads and validates one scenario file. `known` is the catalog's IDs, if any.
pub fn load_file(
    path: &Path,
    area: &str,
    known: Option<&HashSet<String>>,
    templates: &Templates,
) -> Result<Scenario, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut at = Location {
        file: path.to_owned(),
        ..Location::default()
    };
    // Read the id first so even a parse error can name the scenario.
    if let Ok(v) = serde_json::from_str::<Value>(&text) {
        at.scenario = v.get("id").and_then(Value::as_str).map(str::to_owned);
    }
    let raw: ScenarioFile = serde_json::from_str(&text).map_err(|e| LoadError::Parse {
        at: locate_step(&text, &at),
        message: e.to_string(),
    })?;
    at.scenario = Some(raw.id.clone());
    check_scenario(at, known, templates, &raw, path, area)
}

/// For a file that does not parse: the first step that does not parse on its own, so the
/// error names the step (serde's message only has line and column).
fn locate_step(text: &str, at: &Location) -> Location {
    let mut at = at.clone();
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return at;
    };
    fn find(steps: &[Value], parent: Option<&str>) -> Option<String> {
        for (i, s) in steps.iter().enumerate() {
            let name = s.get("name").and_then(Value::as_str);
            let label = match parent {
                None => step::label(&format!("step {}", i + 1), name),
                Some(p) => step::branch_label(p, i, name),
            };
            if let Some(branches) = s.get("parallel").and_then(Value::as_array)
                && let Some(l) = find(branches, Some(&label))
            {
                return Some(l);
            }
            if serde_json::from_value::<RawStep>(s.clone()).is_err() {
                return Some(label);
            }
        }
        None
    }
    if let Some(steps) = v.get("steps").and_then(Value::as_array) {
        at.step = find(steps, None);
    }
    at
}

/// One scenario file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    /// `[a-z0-9][a-z0-9._-]*`.
    id: String,
    /// One line for humans.
    title: String,
    /// Requirement IDs this scenario checks.
    requirements: Vec<String>,
    /// Default: both.
    #[serde(default)]
    profiles: Option<Vec<Profile>>,
    /// What the registry must offer.
    #[serde(default)]
    capabilities: Vec<String>,
    /// Capabilities the user must have declared absent (`--without`) for the scenario to
    /// be listed: checks of how a registry refuses a switched-off operation.
    #[serde(default)]
    when_without: Vec<String>,
    /// Longer text for the report.
    #[serde(default)]
    description: Option<String>,
    /// Named blob contents, written out or a template's.
    #[serde(default)]
    blobs: IndexMap<String, BlobEntry>,
    /// Named manifests, in order, written out or a template's.
    #[serde(default)]
    manifests: IndexMap<String, ManifestEntry>,
    /// The steps.
    steps: Vec<RawStep>,
}

fn id_ok(id: &str) -> bool {
    Regex::new(r"^[a-z0-9][a-z0-9._-]*$").is_ok_and(|r| r.is_match(id))
}

/// The context of `raw`'s checks with the blobs and manifests checked so far.
fn context<'a>(
    at: &Location,
    known: Option<&'a HashSet<String>>,
    raw: &'a ScenarioFile,
    blobs: &'a IndexMap<String, BlobDef>,
    manifests: &'a IndexMap<String, ManifestDef>,
) -> Context<'a> {
    Context {
        at: at.clone(),
        known,
        requirements: &raw.requirements,
        capabilities: &raw.capabilities,
        blobs,
        manifests,
    }
}

/// Checks a parsed file: its own fields, its blobs and manifests (templates expanded), then
/// each step in order, each seeing what the steps before it defined.
fn check_scenario(
    at: Location,
    known: Option<&HashSet<String>>,
    templates: &Templates,
    raw: &ScenarioFile,
    path: &Path,
    area: &str,
) -> Result<Scenario, LoadError> {
    let mut blobs = IndexMap::new();
    let mut manifests = IndexMap::new();
    let cx = context(&at, known, raw, &blobs, &manifests);
    if !id_ok(&raw.id) {
        return Err(cx.err(
            None,
            format!("id {:?} must match [a-z0-9][a-z0-9._-]*", raw.id),
        ));
    }
    if raw.requirements.is_empty() {
        return Err(cx.err(None, "requirements: cite at least one requirement ID"));
    }
    cx.check_ids(None, &raw.requirements)?;
    let profiles = match &raw.profiles {
        Some(p) if p.is_empty() => {
            return Err(cx.err(None, "profiles: empty list (omit it for both)"));
        }
        Some(p) => Profile::ALL.into_iter().filter(|x| p.contains(x)).collect(),
        None => Profile::ALL.to_vec(),
    };
    // A closed set: a misspelt capability would make a scenario run everywhere.
    crate::capabilities::check("capabilities", &raw.capabilities)
        .and_then(|()| crate::capabilities::check("when_without", &raw.when_without))
        .map_err(|e| cx.err(None, e.to_string()))?;
    if let Some(c) = raw
        .when_without
        .iter()
        .find(|c| raw.capabilities.contains(c))
    {
        return Err(cx.err(
            None,
            format!("capability {c:?} is both needed (capabilities) and absent (when_without)"),
        ));
    }
    for (name, e) in &raw.blobs {
        let b = items::blob(
            &context(&at, known, raw, &blobs, &manifests),
            templates,
            name,
            e,
        )?;
        blobs.insert(name.clone(), b);
    }
    for (name, e) in &raw.manifests {
        let m = items::manifest(
            &context(&at, known, raw, &blobs, &manifests),
            templates,
            name,
            e,
        )?;
        manifests.insert(name.clone(), m);
    }
    let cx = context(&at, known, raw, &blobs, &manifests);
    let mut scope = Scope::default();
    let mut steps = Vec::new();
    for (i, s) in raw.steps.iter().enumerate() {
        let label = step::label(&format!("step {}", i + 1), s.name());
        steps.push(step::check(&cx, label, s, &mut scope, false)?);
    }
    if steps.is_empty() {
        return Err(cx.err(None, "steps: a scenario needs at least one step"));
    }
    Ok(Scenario {
        file: path.to_owned(),
        area: area.to_owned(),
        id: raw.id.clone(),
        title: raw.title.clone(),
        description: raw.description.clone(),
        requirements: raw.requirements.clone(),
        profiles,
        capabilities: raw.capabilities.clone(),
        when_without: raw.when_without.clone(),
        blobs,
        manifests,
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(v: Value) -> Result<Scenario, String> {
        load_with(v, None)
    }

    fn load_with(v: Value, known: Option<&HashSet<String>>) -> Result<Scenario, String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.json");
        std::fs::write(&p, v.to_string()).unwrap();
        load_file(&p, "push", known, &Templates::default()).map_err(|e| e.to_string())
    }

    fn base() -> Value {
        json!({
            "id": "push.t",
            "title": "t",
            "requirements": ["PUSH-01"],
            "blobs": {"layer": {"size": 10, "seed": 1}},
            "manifests": {
                "img": {"media_type": "application/vnd.oci.image.manifest.v1+json",
                        "json": {"layers": [{"digest": "${blob.layer.digest}", "size": "${blob.layer.size}"}]}}
            },
            "steps": [
                {"name": "open", "request": {"method": "POST", "path": "/v2/${repo}/blobs/uploads/"},
                 "expect": {"status": 202}, "capture": {"upload": {"header": "Location"}}},
                {"request": {"method": "PUT", "url": "${upload}", "query": {"digest": "${blob.layer.digest}"},
                             "body": {"blob": "layer"}}, "expect": {"status": 201}}
            ]
        })
    }

    #[test]
    fn a_good_scenario_loads() {
        let s = load(base()).unwrap();
        assert_eq!(s.steps.len(), 2);
        assert_eq!(s.steps[0].label, "step 1 \"open\"");
        assert_eq!(s.profiles, Profile::ALL.to_vec());
        assert!(!s.has_profile_expect());
    }

    fn broken(f: impl FnOnce(&mut Value)) -> String {
        let mut v = base();
        f(&mut v);
        load(v).unwrap_err()
    }

    #[test]
    fn levels_setup_and_also_load_and_are_checked() {
        let mut v = base();
        v["steps"][0]["level"] = json!({"oci-1.1": "SHOULD"});
        v["steps"][1]["setup"] = json!(true);
        v["steps"][1]["also"] = json!([{"requirements": ["PUSH-01"], "level": "SHOULD",
            "profiles": ["docker-v2"], "expect": {"headers": {"Location": {"present": true}}}}]);
        v["steps"]
            .as_array_mut()
            .unwrap()
            .push(json!({"push_blob": "layer"}));
        let s = load(v).unwrap();
        assert_eq!(
            s.steps[0]
                .level
                .as_ref()
                .and_then(|l| l.for_profile(Profile::Oci11)),
            Some(Level::Should)
        );
        assert!(
            !s.steps[0].setup && s.steps[1].setup,
            "request steps are checks unless marked"
        );
        assert!(s.steps[2].setup, "push steps are setup by default");
        assert!(
            s.has_profile_expect(),
            "an also-entry for one profile splits the scenario"
        );
        match &s.steps[1].kind {
            StepKind::Request(r) => assert_eq!(r.also[0].profiles, vec![Profile::DockerV2]),
            other => panic!("{other:?}"),
        }

        let e = broken(|v| v["steps"][1]["also"] = json!([{"requirements": [], "expect": {}}]));
        assert!(e.contains("also[0].requirements"), "{e}");
        let e = broken(|v| {
            v["steps"][1]["also"] =
                json!([{"requirements": ["PUSH-01"], "expect": {"body": {"empty": true}}}])
        });
        assert!(e.contains("body checks go in expect"), "{e}");
        let e = broken(|v| v["steps"][0]["level"] = json!("OPTIONAL"));
        assert!(e.contains("level"), "{e}");
        let e = broken(|v| {
            v["steps"][0]["also"] = json!([{"requirements": ["PUSH-01"], "expect": {}}]);
            v["steps"][0].as_object_mut().unwrap().remove("request");
            v["steps"][0]["push_blob"] = json!("layer");
            v["steps"][0].as_object_mut().unwrap().remove("expect");
            v["steps"][0].as_object_mut().unwrap().remove("capture");
        });
        assert!(
            e.contains("field also does not belong to a push_blob step"),
            "{e}"
        );
        let e = broken(|v| v["blobs"]["cfg"] = json!({"text": "{\"x\":\"${upload}\"}"}));
        assert!(
            e.contains("text blobs may use repo, namespace and unique"),
            "{e}"
        );
    }

    #[test]
    fn unknown_fields_are_errors_naming_the_place() {
        let e = broken(|v| v["steps"][0]["expect"]["stauts"] = json!(202));
        assert!(
            e.contains("x.json: scenario push.t: step 1 \"open\": expect: unknown field `stauts`"),
            "{e}"
        );
        let e = broken(|v| v["titel"] = json!("x"));
        assert!(e.contains("unknown field `titel`"), "{e}");
        let e = broken(|v| v["steps"][1]["request"]["body"]["blobb"] = json!("x"));
        assert!(
            e.contains("scenario push.t: step 2: unknown field `blobb`"),
            "{e}"
        );
        let e = broken(|v| v["steps"][0]["captur"] = json!({}));
        assert!(e.contains("step 1 \"open\": unknown field `captur`"), "{e}");
    }

    #[test]
    fn unknown_variables_and_items_are_errors() {
        let e = broken(|v| v["steps"][1]["request"]["url"] = json!("${uplaod}"));
        assert!(e.contains("step 2: url: unknown variable ${uplaod}"), "{e}");
        let e = broken(|v| v["steps"][0]["request"]["path"] = json!("/v2/${upload}/x"));
        assert!(
            e.contains("unknown variable ${upload}"),
            "captures are only visible after their step: {e}"
        );
        let e = broken(|v| v["steps"][1]["request"]["body"]["blob"] = json!("nope"));
        assert!(e.contains("unknown blob \"nope\""), "{e}");
        let e = broken(|v| v["manifests"]["img"]["json"]["x"] = json!("${manifest.img.digest}"));
        assert!(
            e.contains("manifest img: unknown variable"),
            "a manifest cannot refer to itself: {e}"
        );
        let e = broken(|v| v["steps"][0]["request"]["path"] = json!("/v2/${repo"));
        assert!(e.contains("unterminated"), "{e}");
    }

    #[test]
    fn bad_regexes_kinds_and_ids_are_errors() {
        let e =
            broken(|v| v["steps"][0]["expect"]["headers"] = json!({"Location": {"matches": "(["}}));
        assert!(e.contains("bad regex"), "{e}");
        let e = broken(|v| v["steps"][0]["push_blob"] = json!("layer"));
        assert!(e.contains("more than one step kind"), "{e}");
        let e = broken(|v| v["steps"][0]["method"] = json!("chunked"));
        assert!(
            e.contains("field method does not belong to a request step"),
            "{e}"
        );
        let e = broken(|v| v["id"] = json!("Push.T"));
        assert!(e.contains("id \"Push.T\""), "{e}");
        let e = broken(|v| v["steps"][1]["request"]["body"]["abort_after"] = json!(3));
        assert!(e.contains("abort_after"), "{e}");
    }

    #[test]
    fn when_without_and_header_conditions_are_checked() {
        let mut v = base();
        v["when_without"] = json!(["delete"]);
        v["steps"][0]["skip_if"] =
            json!({"headers": {"OCI-Tag": {"absent": true}}, "reason": "no tags"});
        v["steps"][0]["expect"]["headers"] =
            json!({"Location": {"optional": true, "matches": "^/v2/${repo}/"}});
        let s = load(v).unwrap();
        assert_eq!(s.when_without, ["delete"]);
        // Capabilities are a closed set: a typo is an error naming the field, with the
        // closest name; an opt-in capability cannot be declared absent.
        let e = broken(|v| v["when_without"] = json!(["Delete"]));
        assert!(
            e.contains("when_without: \"Delete\" is not a capability; did you mean \"delete\"?"),
            "{e}"
        );
        let e = broken(|v| v["capabilities"] = json!(["referers"]));
        assert!(
            e.contains(
                "capabilities: \"referers\" is not a capability; did you mean \"referrers\"?"
            ),
            "{e}"
        );
        let e = broken(|v| v["when_without"] = json!(["slow"]));
        assert!(
            e.contains("when_without: \"slow\" is an opt-in capability"),
            "{e}"
        );
        let e = broken(|v| {
            v["capabilities"] = json!(["delete"]);
            v["when_without"] = json!(["delete"]);
        });
        assert!(e.contains("both needed"), "{e}");
        let e = broken(|v| v["steps"][0]["skip_if"] = json!({"reason": "x"}));
        assert!(
            e.contains("skip_if: give status, headers, json_pointer or several"),
            "{e}"
        );
        let e = broken(|v| {
            v["steps"][0]["skip_if"] =
                json!({"headers": {"X": {"equals": "${nope}"}}, "reason": "x"})
        });
        assert!(
            e.contains("skip_if.headers.X: unknown variable ${nope}"),
            "{e}"
        );
        let e = broken(|v| {
            v["steps"][0]["expect"]["headers"] = json!({"X": {"optional": true, "present": true}})
        });
        assert!(e.contains("optional contradicts"), "{e}");
        let e = broken(|v| v["steps"][0]["expect"]["headers"] = json!({"X": {"optional": true}}));
        assert!(e.contains("checks nothing"), "{e}");
        let e = broken(|v| {
            v["steps"][0]["expect"]["headers"] = json!({"X": {"list_contains": ["a,b"]}})
        });
        assert!(e.contains("cannot contain a comma"), "{e}");
    }

    #[test]
    fn requirement_ids_are_checked_against_the_catalog() {
        let known: HashSet<String> = ["PUSH-01".to_owned()].into();
        assert!(load_with(base(), Some(&known)).is_ok());
        let mut v = base();
        v["steps"][0]["requirements"] = json!(["PUSH-99"]);
        let e = load_with(v, Some(&known)).unwrap_err();
        assert!(
            e.contains("step 1 \"open\": unknown requirement ID PUSH-99"),
            "{e}"
        );
    }

    #[test]
    fn parallel_branch_captures_stay_inside() {
        let mut v = base();
        v["steps"] = json!([
            {"parallel": [
                {"request": {"method": "GET", "path": "/v2/"}, "capture": {"x": {"header": "A"}}},
                {"push_blob": "layer", "method": "chunked"}
            ]},
            {"request": {"method": "GET", "path": "/v2/${x}"}}
        ]);
        let e = load(v).unwrap_err();
        assert!(e.contains("step 2: path: unknown variable ${x}"), "{e}");
    }

    #[test]
    fn profile_expect_marks_the_scenario() {
        let mut v = base();
        v["steps"][0]["profile_expect"] = json!({"docker-v2": {"status": [202, 201]}});
        assert!(load(v).unwrap().has_profile_expect());
        let mut v = base();
        v["steps"][0]["profile_expect"] = json!({"docker-v3": {}});
        assert!(load(v).is_err());
    }

    #[test]
    fn as_identities_load_and_reader_needs_the_capability() {
        let mut v = base();
        v["capabilities"] = json!(["reader"]);
        v["steps"][0]["as"] = json!("reader");
        v["steps"][0]["capture"]["tok"] = json!({"json": ["/token", "/access_token"]});
        v["steps"][1]["as"] = json!({"bearer": "${tok}"});
        v["steps"].as_array_mut().unwrap().push(json!(
            {"request": {"method": "GET", "path": "/v2/"}, "as": "anonymous"}));
        v["steps"].as_array_mut().unwrap().push(json!(
            {"request": {"method": "GET", "url": "${upload}"},
             "as": {"basic": {"username": "${reader_username}", "password": "wrong"}}}));
        v["steps"].as_array_mut().unwrap().push(json!(
            {"alter_token": {"from": "tok", "into": "forged", "how": "alg-none"}}));
        v["steps"].as_array_mut().unwrap().push(json!(
            {"request": {"method": "GET", "path": "/v2/"}, "as": {"bearer": "${forged}"}}));
        let s = load(v).unwrap();
        match (&s.steps[0].kind, &s.steps[1].kind, &s.steps[3].kind) {
            (StepKind::Request(a), StepKind::Request(b), StepKind::Request(d)) => {
                assert_eq!(a.identity, AsSpec::Reader);
                assert_eq!(b.identity, AsSpec::Bearer("${tok}".into()));
                assert!(matches!(d.identity, AsSpec::Basic { .. }));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(s.steps[4].kind, StepKind::AlterToken(_)));

        let e = broken(|v| v["steps"][0]["as"] = json!("reader"));
        assert!(
            e.contains("needs \"reader\" in the scenario's capabilities"),
            "{e}"
        );
        let e = broken(|v| v["steps"][0]["as"] = json!("admin"));
        assert!(e.contains("as \"admin\": give"), "{e}");
        let e = broken(|v| v["steps"][0]["as"] = json!({"bearer": "${nope}"}));
        assert!(e.contains("unknown variable ${nope}"), "{e}");
        let e = broken(|v| v["steps"][0]["as"] = json!({"basic": {"username": "u"}}));
        assert!(e.contains("give"), "{e}");
        let e = broken(|v| {
            v["steps"][0]["push_blob"] = json!("layer");
            v["steps"][0].as_object_mut().unwrap().remove("request");
            v["steps"][0].as_object_mut().unwrap().remove("expect");
            v["steps"][0].as_object_mut().unwrap().remove("capture");
            v["steps"][0]["as"] = json!("anonymous");
        });
        assert!(
            e.contains("field as does not belong to a push_blob step"),
            "{e}"
        );
    }

    #[test]
    fn alter_token_and_capture_lists_are_checked() {
        let e = broken(|v| {
            v["steps"].as_array_mut().unwrap().push(json!(
                {"alter_token": {"from": "nothing", "into": "x", "how": "claims"}}));
        });
        assert!(e.contains("alter_token.from"), "{e}");
        let e = broken(|v| {
            v["steps"].as_array_mut().unwrap().push(json!(
                {"alter_token": {"from": "upload", "into": "repo", "how": "claims"}}));
        });
        assert!(e.contains("alter_token.into"), "{e}");
        let e = broken(|v| {
            v["steps"].as_array_mut().unwrap().push(json!(
                {"alter_token": {"from": "upload", "into": "x", "how": "rot13"}}));
        });
        assert!(e.contains("rot13"), "{e}");
        let e = broken(|v| v["steps"][0]["capture"] = json!({"t": {"json": []}}));
        assert!(e.contains("at least one pointer"), "{e}");
        let e = broken(|v| v["steps"][0]["capture"] = json!({"t": {"json": ["/a", "b"]}}));
        assert!(e.contains("\"b\" is not a JSON pointer"), "{e}");
        // ${username} and ${reader_username} are built in.
        let mut v = base();
        v["steps"][0]["request"]["headers"] = json!({"X-Who": "${username}/${reader_username}"});
        load(v).unwrap();
    }

    /// The templates in a fresh `templates/` directory, loaded.
    fn templates(files: &[(&str, Value)]) -> Templates {
        let dir = tempfile::tempdir().unwrap();
        for (name, v) in files {
            std::fs::write(dir.path().join(format!("{name}.json")), v.to_string()).unwrap();
        }
        Templates::load(dir.path()).unwrap()
    }

    fn image_json() -> Value {
        json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": "${blob.config.digest}", "size": "${blob.config.size}"},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": "${blob.layer.digest}", "size": "${blob.layer.size}"}]
        })
    }

    fn oci_templates() -> Templates {
        let config = "{\"architecture\":\"amd64\",\"config\":{\"Labels\":{\"t\":\"${unique}\"}}}";
        templates(&[
            (
                "oci-image",
                json!({"description": "an image",
                "manifest": {"media_type": "application/vnd.oci.image.manifest.v1+json",
                             "json": image_json()}}),
            ),
            (
                "image-config",
                json!({"description": "a config", "blob": {"text": config}}),
            ),
        ])
    }

    /// A scenario with blobs `config` and `layer` and manifest `image` written out.
    fn inline_image() -> Value {
        let config = "{\"architecture\":\"amd64\",\"config\":{\"Labels\":{\"t\":\"${unique}\"}}}";
        let mut v = base();
        v["blobs"] = json!({"config": {"text": config}, "layer": {"size": 10, "seed": 1}});
        v["manifests"] = json!({"image": {"media_type": "application/vnd.oci.image.manifest.v1+json",
                                          "json": image_json()}});
        v["steps"]
            .as_array_mut()
            .unwrap()
            .push(json!({"push_manifest": "image"}));
        v
    }

    fn load_templated(v: Value, t: &Templates) -> Result<Scenario, String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.json");
        std::fs::write(&p, v.to_string()).unwrap();
        load_file(&p, "push", None, t).map_err(|e| e.to_string())
    }

    /// What a scenario is, without where its file is.
    fn without_file(s: Scenario) -> String {
        let mut s = s;
        s.file = PathBuf::new();
        format!("{s:?}")
    }

    #[test]
    fn a_templated_scenario_expands_to_its_inline_form() {
        let t = oci_templates();
        let inline = load_templated(inline_image(), &t).unwrap();
        let mut v = inline_image();
        v["blobs"]["config"] = json!({"template": "image-config"});
        v["manifests"]["image"] = json!({"template": "oci-image"});
        let templated = load_templated(v, &t).unwrap();
        assert_eq!(without_file(templated), without_file(inline));

        // Renamed blobs, and pad_to / shared stated on the use.
        let mut v = inline_image();
        v["blobs"]["cfg2"] = v["blobs"]["config"].clone();
        v["manifests"]["image"]["json"]["config"]["digest"] = json!("${blob.cfg2.digest}");
        v["manifests"]["image"]["json"]["config"]["size"] = json!("${blob.cfg2.size}");
        v["manifests"]["image"]["pad_to"] = json!(4096);
        v["manifests"]["image"]["shared"] = json!(true);
        let inline = load_templated(v.clone(), &t).unwrap();
        v["manifests"]["image"] = json!({"template": "oci-image", "blobs": {"config": "cfg2"},
                                         "pad_to": 4096, "shared": true});
        let templated = load_templated(v, &t).unwrap();
        assert_eq!(without_file(templated), without_file(inline));
    }

    #[test]
    fn template_uses_are_checked_naming_the_place() {
        let t = oci_templates();
        let broken = |f: &dyn Fn(&mut Value)| {
            let mut v = inline_image();
            v["manifests"]["image"] = json!({"template": "oci-image"});
            f(&mut v);
            load_templated(v, &t).unwrap_err()
        };
        let e = broken(&|v| v["manifests"]["image"]["template"] = json!("oci-imag"));
        assert!(
            e.contains("x.json: scenario push.t: manifest image: unknown template \"oci-imag\"; did you mean \"oci-image\"?"),
            "{e}"
        );
        let e = broken(&|v| v["manifests"]["image"]["template"] = json!("zzz"));
        assert!(
            e.contains("unknown template \"zzz\" (manifest templates: oci-image)"),
            "{e}"
        );
        let e = broken(&|v| v["manifests"]["image"]["template"] = json!("image-config"));
        assert!(
            e.contains(
                "manifest image: template \"image-config\" is a blob template, not a manifest one"
            ),
            "{e}"
        );
        let e = broken(&|v| v["blobs"]["config"] = json!({"template": "oci-image"}));
        assert!(
            e.contains("blob config: template \"oci-image\" is a manifest template"),
            "{e}"
        );
        let e = broken(&|v| v["blobs"]["config"] = json!({"template": "image-confg"}));
        assert!(
            e.contains(
                "blob config: unknown template \"image-confg\"; did you mean \"image-config\"?"
            ),
            "{e}"
        );
        let e = broken(&|v| v["manifests"]["image"]["json"] = json!({}));
        assert!(
            e.contains("manifest image: json does not go with template (template oci-image gives media_type and json or text)"),
            "{e}"
        );
        let e = broken(&|v| v["manifests"]["image"]["blobs"] = json!({"confg": "layer"}));
        assert!(
            e.contains("manifest image: blobs: template oci-image uses no blob \"confg\" (it uses config, layer)"),
            "{e}"
        );
        let e = broken(&|v| v["manifests"]["image"]["blobs"] = json!({"config": "nope"}));
        assert!(
            e.contains("manifest image (template oci-image): unknown variable ${blob.nope.digest}"),
            "a renamed blob must exist: {e}"
        );
        let e = broken(&|v| {
            v["blobs"].as_object_mut().unwrap().remove("layer");
        });
        assert!(
            e.contains(
                "manifest image (template oci-image): unknown variable ${blob.layer.digest}"
            ),
            "{e}"
        );
        let e = broken(&|v| v["manifests"]["image"]["tmplate"] = json!("x"));
        assert!(
            e.contains("unknown field `tmplate`, expected one of `template`, `blobs`, `manifests`, `pad_to`, `shared`"),
            "{e}"
        );
        // Written out, a manifest takes no renames.
        let mut v = inline_image();
        v["manifests"]["image"]["blobs"] = json!({"config": "x"});
        let e = load_templated(v, &t).unwrap_err();
        assert!(
            e.contains("manifest image: blobs goes with template"),
            "{e}"
        );
    }

    #[test]
    fn template_files_are_checked() {
        let load = |v: Value| {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("t.json"), v.to_string()).unwrap();
            Templates::load(dir.path())
                .map(|_| ())
                .unwrap_err()
                .to_string()
        };
        let e = load(json!({"description": "d"}));
        assert!(
            e.contains("t.json: template t: give exactly one of manifest, blob"),
            "{e}"
        );
        let e = load(
            json!({"description": "d", "blob": {"text": "x"}, "manifest": {"media_type": "m", "json": {}}}),
        );
        assert!(e.contains("give exactly one of manifest, blob"), "{e}");
        let e = load(json!({"description": "d", "blob": {"txt": "x"}}));
        assert!(e.contains("t.json: unknown field `txt`"), "{e}");
        let e = load(json!({"blob": {"text": "x"}}));
        assert!(e.contains("missing field `description`"), "{e}");
        // No directory: no templates.
        assert_eq!(
            Templates::load(Path::new("/nonexistent/templates"))
                .unwrap()
                .all()
                .count(),
            0
        );
    }
}

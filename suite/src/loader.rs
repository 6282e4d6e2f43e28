//! Loading and validating `fixtures/`: every problem names the file, the scenario, the
//! step and what is wrong, before anything is sent to a registry.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use indexmap::IndexMap;
use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{LoadError, Location};
use crate::model::*;
use crate::vars;

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

/// One entry of `requirements.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Requirement {
    /// `PUSH-01`.
    pub id: String,
    /// `MUST`, `SHOULD`, ...
    #[serde(default)]
    pub level: String,
    /// `OCI`, `Docker`, `Both`.
    #[serde(default)]
    pub spec: String,
    /// Where in the specs.
    #[serde(default)]
    pub source: String,
    /// One line.
    #[serde(default)]
    pub summary: String,
    /// Why no scenario checks it, if none does on purpose.
    #[serde(default)]
    pub excused: Option<String>,
    /// What the registry is obliged to under each profile's text (MUST, SHOULD, MAY,
    /// none): the level a violation is judged at. Absent: the first word of `level`.
    #[serde(default)]
    pub check: Option<IndexMap<Profile, Level>>,
    /// The upstream section, at a pinned tag or commit.
    #[serde(default)]
    pub url: Option<String>,
    /// The Docker API section, for requirements both texts state.
    #[serde(default)]
    pub docker_url: Option<String>,
}

/// `requirements.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Catalog {
    /// The requirements, in file order.
    pub requirements: Vec<Requirement>,
}

impl Catalog {
    /// Reads a catalog file.
    pub fn load(path: &Path) -> Result<Catalog, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| LoadError::Parse {
            at: Location {
                file: path.to_owned(),
                ..Location::default()
            },
            message: e.to_string(),
        })
    }

    /// The set of IDs.
    pub fn ids(&self) -> HashSet<String> {
        self.requirements.iter().map(|r| r.id.clone()).collect()
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
}

/// Loads `dir/scenarios/<area>/*.json` and `dir/requirements.json`.
pub fn load_dir(dir: &Path) -> Result<Fixtures, LoadError> {
    let mut fx = Fixtures::default();
    let cat_path = dir.join("requirements.json");
    if cat_path.exists() {
        fx.catalog = Some(Catalog::load(&cat_path)?);
    }
    let known = fx.catalog.as_ref().map(Catalog::ids);
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
        match load_file(&file, &area, known.as_ref()) {
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
    Validator {
        at,
        known,
        raw: &raw,
    }
    .scenario(path, area)
}

/// For a file that does not parse: the first step that does not parse on its own, so the
/// error names the step (serde's message only has line and column).
fn locate_step(text: &str, at: &Location) -> Location {
    let mut at = at.clone();
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return at;
    };
    fn find(steps: &[Value], prefix: &str) -> Option<String> {
        for (i, s) in steps.iter().enumerate() {
            let name = s.get("name").and_then(Value::as_str);
            let label = step_label(&format!("{prefix}{}", i + 1), name);
            if let Some(branches) = s.get("parallel").and_then(Value::as_array) {
                let inner = format!("{} > branch ", label.split(" \"").next().unwrap_or(&label));
                if let Some(l) = find(branches, &inner) {
                    return Some(l);
                }
            }
            if serde_json::from_value::<RawStep>(s.clone()).is_err() {
                return Some(label);
            }
        }
        None
    }
    if let Some(steps) = v.get("steps").and_then(Value::as_array) {
        at.step = find(steps, "step ");
    }
    at
}

struct Validator<'a> {
    at: Location,
    known: Option<&'a HashSet<String>>,
    raw: &'a ScenarioFile,
}

/// The names defined at a point of the step list.
#[derive(Clone, Default)]
struct Scope {
    defined: HashSet<String>,
}

fn id_ok(id: &str) -> bool {
    Regex::new(r"^[a-z0-9][a-z0-9._-]*$").is_ok_and(|r| r.is_match(id))
}

fn item_name_ok(n: &str) -> bool {
    !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
}

const BUILTIN_PREFIXES: [&str; 3] = ["repo.", "blob.", "manifest."];

impl Validator<'_> {
    fn err(&self, step: Option<&str>, problem: impl Into<String>) -> LoadError {
        let mut at = self.at.clone();
        at.step = step.map(str::to_owned);
        LoadError::Invalid {
            at,
            problem: problem.into(),
        }
    }

    fn scenario(&self, path: &Path, area: &str) -> Result<Scenario, LoadError> {
        let raw = self.raw;
        if !id_ok(&raw.id) {
            return Err(self.err(
                None,
                format!("id {:?} must match [a-z0-9][a-z0-9._-]*", raw.id),
            ));
        }
        if raw.requirements.is_empty() {
            return Err(self.err(None, "requirements: cite at least one requirement ID"));
        }
        self.check_ids(None, &raw.requirements)?;
        let profiles = match &raw.profiles {
            Some(p) if p.is_empty() => {
                return Err(self.err(None, "profiles: empty list (omit it for both)"));
            }
            Some(p) => Profile::ALL.into_iter().filter(|x| p.contains(x)).collect(),
            None => Profile::ALL.to_vec(),
        };
        // A closed set: a misspelt capability would make a scenario run everywhere.
        crate::capabilities::check("capabilities", &raw.capabilities)
            .and_then(|()| crate::capabilities::check("when_without", &raw.when_without))
            .map_err(|e| self.err(None, e.to_string()))?;
        if let Some(c) = raw
            .when_without
            .iter()
            .find(|c| raw.capabilities.contains(c))
        {
            return Err(self.err(
                None,
                format!("capability {c:?} is both needed (capabilities) and absent (when_without)"),
            ));
        }
        for (name, b) in &raw.blobs {
            self.blob(name, b)?;
        }
        for (i, (name, m)) in raw.manifests.iter().enumerate() {
            self.manifest(i, name, m)?;
        }
        let mut scope = Scope::default();
        let mut steps = Vec::new();
        for (i, s) in raw.steps.iter().enumerate() {
            let label = step_label(&format!("step {}", i + 1), s.name.as_deref());
            steps.push(self.step(label, s, &mut scope, false)?);
        }
        if steps.is_empty() {
            return Err(self.err(None, "steps: a scenario needs at least one step"));
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
            blobs: raw.blobs.clone(),
            manifests: raw.manifests.clone(),
            steps,
        })
    }

    fn check_ids(&self, step: Option<&str>, ids: &[String]) -> Result<(), LoadError> {
        if let Some(known) = self.known {
            for id in ids {
                if !known.contains(id) {
                    return Err(self.err(
                        step,
                        format!("unknown requirement ID {id} (not in requirements.json)"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn blob(&self, name: &str, b: &BlobDef) -> Result<(), LoadError> {
        let what = format!("blob {name}");
        if !item_name_ok(name) {
            return Err(self.err(None, format!("{what}: names are letters, digits, _ and -")));
        }
        let forms = [b.size.is_some(), b.text.is_some(), b.base64.is_some()];
        if forms.iter().filter(|x| **x).count() != 1 {
            return Err(self.err(
                None,
                format!("{what}: give exactly one of size (+seed), text, base64"),
            ));
        }
        if b.seed.is_some() && b.size.is_none() {
            return Err(self.err(None, format!("{what}: seed goes with size")));
        }
        if let Some(s) = &b.base64
            && base64::engine::general_purpose::STANDARD.decode(s).is_err()
        {
            return Err(self.err(None, format!("{what}: base64 does not decode")));
        }
        if let Some(t) = &b.text {
            // Text blobs are rendered before anything else is defined: only the run's and
            // the trial's own names (`${unique}` makes the bytes unique to the trial).
            let refs = vars::references(t).map_err(|e| self.err(None, format!("{what}: {e}")))?;
            if let Some(r) = refs.iter().find(|r| {
                !(matches!(**r, "repo" | "namespace" | "unique")
                    || r.strip_prefix("repo.").is_some_and(vars::is_repo_suffix))
            }) {
                return Err(self.err(
                    None,
                    format!("{what}: unknown variable ${{{r}}} (text blobs may use repo, namespace and unique)"),
                ));
            }
        }
        Ok(())
    }

    fn manifest(&self, index: usize, name: &str, m: &ManifestDef) -> Result<(), LoadError> {
        let what = format!("manifest {name}");
        if !item_name_ok(name) {
            return Err(self.err(None, format!("{what}: names are letters, digits, _ and -")));
        }
        if m.json.is_some() == m.text.is_some() {
            return Err(self.err(None, format!("{what}: give exactly one of json, text")));
        }
        if m.pad_to.is_some() && !m.json.as_ref().is_some_and(Value::is_object) {
            return Err(self.err(
                None,
                format!("{what}: pad_to needs json with an object root"),
            ));
        }
        let earlier: HashSet<&str> = self
            .raw
            .manifests
            .keys()
            .take(index)
            .map(String::as_str)
            .collect();
        let mut refs = Vec::new();
        let parsed = match (&m.json, &m.text) {
            (Some(j), _) => vars::json_references(j, &mut refs),
            (_, Some(t)) => {
                vars::references(t).map(|r| refs.extend(r.into_iter().map(str::to_owned)))
            }
            _ => Ok(()),
        };
        parsed.map_err(|e| self.err(None, format!("{what}: {e}")))?;
        refs.extend(
            vars::references(&m.media_type)
                .map_err(|e| self.err(None, format!("{what}: {e}")))?
                .into_iter()
                .map(str::to_owned),
        );
        for r in refs {
            let ok = match r.strip_prefix("manifest.") {
                Some(rest) => rest.rsplit_once('.').is_some_and(|(n, f)| {
                    earlier.contains(n) && matches!(f, "digest" | "size" | "media_type")
                }),
                None => self.builtin(&r, &Scope::default()),
            };
            if !ok {
                return Err(self.err(
                    None,
                    format!("{what}: unknown variable ${{{r}}} (manifests may use repo, namespace, blobs and manifests defined before them)"),
                ));
            }
        }
        Ok(())
    }

    /// Whether `name` is defined at this point.
    fn builtin(&self, name: &str, scope: &Scope) -> bool {
        if matches!(
            name,
            "repo" | "namespace" | "unique" | "username" | "reader_username"
        ) || scope.defined.contains(name)
        {
            return true;
        }
        if let Some(x) = name.strip_prefix("repo.") {
            return vars::is_repo_suffix(x);
        }
        if let Some(rest) = name.strip_prefix("blob.") {
            return rest.rsplit_once('.').is_some_and(|(n, f)| {
                self.raw.blobs.contains_key(n) && matches!(f, "digest" | "size" | "hex")
            });
        }
        if let Some(rest) = name.strip_prefix("manifest.") {
            return rest.rsplit_once('.').is_some_and(|(n, f)| {
                self.raw.manifests.contains_key(n) && matches!(f, "digest" | "size" | "media_type")
            });
        }
        false
    }

    fn template(&self, label: &str, what: &str, t: &str, scope: &Scope) -> Result<(), LoadError> {
        let refs =
            vars::references(t).map_err(|e| self.err(Some(label), format!("{what}: {e}")))?;
        for r in refs {
            if !self.builtin(r, scope) {
                return Err(self.err(Some(label), format!("{what}: unknown variable ${{{r}}}")));
            }
        }
        Ok(())
    }

    fn json_template(
        &self,
        label: &str,
        what: &str,
        v: &Value,
        scope: &Scope,
    ) -> Result<(), LoadError> {
        let mut refs = Vec::new();
        vars::json_references(v, &mut refs)
            .map_err(|e| self.err(Some(label), format!("{what}: {e}")))?;
        for r in refs {
            if !self.builtin(&r, scope) {
                return Err(self.err(Some(label), format!("{what}: unknown variable ${{{r}}}")));
            }
        }
        Ok(())
    }

    fn regex(&self, label: &str, what: &str, re: &str, scope: &Scope) -> Result<Regex, LoadError> {
        self.template(label, what, re, scope)?;
        // Variables are substituted regex-escaped at run time; any literal stands in here.
        let probe = vars::parse(re)
            .map(|ps| {
                ps.into_iter()
                    .map(|p| match p {
                        vars::Piece::Text(t) => t.to_owned(),
                        vars::Piece::Var(_) => "x".to_owned(),
                    })
                    .collect::<String>()
            })
            .unwrap_or_default();
        Regex::new(&probe).map_err(|e| self.err(Some(label), format!("{what}: bad regex: {e}")))
    }

    fn step(
        &self,
        label: String,
        s: &RawStep,
        scope: &mut Scope,
        in_parallel: bool,
    ) -> Result<Step, LoadError> {
        let l = label.as_str();
        let kinds: Vec<&str> = [
            ("request", s.request.is_some()),
            ("push_blob", s.push_blob.is_some()),
            ("push_manifest", s.push_manifest.is_some()),
            ("paginate", s.paginate.is_some()),
            ("parallel", s.parallel.is_some()),
            ("alter_token", s.alter_token.is_some()),
            ("wait", s.wait.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect();
        let kind = match kinds.as_slice() {
            [k] => *k,
            [] => return Err(self.err(
                Some(l),
                "no step kind: give one of request, push_blob, push_manifest, paginate, parallel, \
                 alter_token, wait",
            )),
            more => {
                return Err(self.err(
                    Some(l),
                    format!("more than one step kind: {}", more.join(", ")),
                ));
            }
        };
        let allowed: &[&str] = match kind {
            "request" => &[
                "expect",
                "profile_expect",
                "skip_if",
                "capture",
                "also",
                "as",
            ],
            "push_blob" => &["method", "chunk_size", "repo"],
            "push_manifest" => &["reference", "repo"],
            "paginate" => &["expect", "profile_expect", "as"],
            _ => &[],
        };
        let present = [
            ("expect", s.expect.is_some()),
            ("profile_expect", s.profile_expect.is_some()),
            ("skip_if", s.skip_if.is_some()),
            ("capture", s.capture.is_some()),
            ("method", s.method.is_some()),
            ("chunk_size", s.chunk_size.is_some()),
            ("repo", s.repo.is_some()),
            ("reference", s.reference.is_some()),
            ("also", s.also.is_some()),
            ("as", s.as_.is_some()),
        ];
        for (field, set) in present {
            if set && !allowed.contains(&field) {
                return Err(self.err(
                    Some(l),
                    format!("field {field} does not belong to a {kind} step"),
                ));
            }
        }
        let requirements = match &s.requirements {
            Some(r) if r.is_empty() => {
                return Err(self.err(
                    Some(l),
                    "requirements: empty list (omit it to use the scenario's)",
                ));
            }
            Some(r) => {
                self.check_ids(Some(l), r)?;
                r.clone()
            }
            None => self.raw.requirements.clone(),
        };
        let kind = match kind {
            "request" => self.request_step(l, s, scope)?,
            "push_blob" => {
                let blob = s.push_blob.clone().unwrap_or_default();
                if !self.raw.blobs.contains_key(&blob) {
                    return Err(self.err(Some(l), format!("push_blob: unknown blob {blob:?}")));
                }
                if s.chunk_size == Some(0) {
                    return Err(self.err(Some(l), "chunk_size must be positive"));
                }
                let repo = s.repo.clone().unwrap_or_else(|| "${repo}".to_owned());
                self.template(l, "repo", &repo, scope)?;
                if !in_parallel {
                    scope.defined.insert(format!("blob.{blob}.location"));
                }
                StepKind::PushBlob(PushBlobStep {
                    blob,
                    method: s.method.unwrap_or_default(),
                    chunk_size: s.chunk_size,
                    repo,
                })
            }
            "push_manifest" => {
                let manifest = s.push_manifest.clone().unwrap_or_default();
                if !self.raw.manifests.contains_key(&manifest) {
                    return Err(self.err(
                        Some(l),
                        format!("push_manifest: unknown manifest {manifest:?}"),
                    ));
                }
                let reference = s.reference.clone().unwrap_or_else(|| "digest".to_owned());
                self.template(l, "reference", &reference, scope)?;
                let repo = s.repo.clone().unwrap_or_else(|| "${repo}".to_owned());
                self.template(l, "repo", &repo, scope)?;
                if !in_parallel {
                    scope
                        .defined
                        .insert(format!("manifest.{manifest}.location"));
                }
                StepKind::PushManifest(PushManifestStep {
                    manifest,
                    reference,
                    repo,
                })
            }
            "paginate" => {
                let spec = s.paginate.clone().unwrap_or_else(unreachable_spec);
                self.target(
                    l,
                    spec.path.as_deref(),
                    spec.url.as_deref(),
                    &spec.query,
                    &spec.headers,
                    scope,
                )?;
                if !(spec.collect.is_empty() || spec.collect.starts_with('/')) {
                    return Err(self.err(
                        Some(l),
                        format!("collect {:?} is not a JSON pointer", spec.collect),
                    ));
                }
                let parse = |v: &Value, what: &str| -> Result<PageExpect, LoadError> {
                    let e: PageExpect = serde_json::from_value(v.clone())
                        .map_err(|e| self.err(Some(l), format!("{what}: {e}")))?;
                    for item in e.items.iter().flatten() {
                        self.json_template(l, what, item, scope)?;
                    }
                    if e.max_pages == Some(0) {
                        return Err(
                            self.err(Some(l), format!("{what}: max_pages must be positive"))
                        );
                    }
                    Ok(e)
                };
                let expect = match &s.expect {
                    Some(v) => parse(v, "expect")?,
                    None => PageExpect::default(),
                };
                let mut profile_expect = IndexMap::new();
                for (p, v) in s.profile_expect.iter().flatten() {
                    profile_expect.insert(*p, parse(v, &format!("profile_expect.{p}"))?);
                }
                StepKind::Paginate(PaginateStep {
                    spec,
                    expect,
                    profile_expect,
                    identity: self.identity(l, s.as_.as_ref(), scope)?,
                })
            }
            "alter_token" => {
                let a = s.alter_token.clone().unwrap_or_else(unreachable_alter);
                if !self.builtin(&a.from, scope) {
                    return Err(self.err(
                        Some(l),
                        format!(
                            "alter_token.from: {:?} is no variable defined before this step",
                            a.from
                        ),
                    ));
                }
                if !usable_capture_name(&a.into) {
                    return Err(self.err(
                        Some(l),
                        format!(
                            "alter_token.into: {:?} is not a usable variable name",
                            a.into
                        ),
                    ));
                }
                scope.defined.insert(a.into.clone());
                StepKind::AlterToken(a)
            }
            "wait" => {
                let Some(w) = s.wait.clone() else {
                    return Err(self.err(Some(l), "wait: missing"));
                };
                match (&w.seconds, &w.jwt_exp) {
                    (Some(t), None) => self.template(l, "wait.seconds", t, scope)?,
                    (None, Some(t)) => self.template(l, "wait.jwt_exp", t, scope)?,
                    _ => {
                        return Err(self.err(Some(l), "wait: give exactly one of seconds, jwt_exp"));
                    }
                }
                if !self.raw.capabilities.iter().any(|c| c == "slow") {
                    return Err(self.err(
                        Some(l),
                        "wait: a scenario that waits declares the capability \"slow\" (opt-in)",
                    ));
                }
                if w.at_most > 3600 {
                    return Err(self.err(Some(l), "wait.at_most: at most 3600 seconds"));
                }
                StepKind::Wait(w)
            }
            _ => {
                let branches = s.parallel.as_deref().unwrap_or_default();
                if branches.is_empty() {
                    return Err(self.err(Some(l), "parallel: give at least one branch"));
                }
                let mut out = Vec::new();
                for (i, b) in branches.iter().enumerate() {
                    let mut branch_scope = scope.clone();
                    let bl = step_label(
                        &format!("{} > branch {}", l.split(" \"").next().unwrap_or(l), i + 1),
                        b.name.as_deref(),
                    );
                    out.push(self.step(bl, b, &mut branch_scope, true)?);
                }
                StepKind::Parallel(out)
            }
        };
        // Uploading and pushing are preparation unless the step says otherwise; a
        // failure of an ID the scenario itself cites is still that scenario's failure.
        let setup = s.setup.unwrap_or(matches!(
            kind,
            StepKind::PushBlob(_) | StepKind::PushManifest(_)
        ));
        if setup && matches!(kind, StepKind::Parallel(_)) {
            return Err(self.err(
                Some(l),
                "setup goes on the branches of a parallel step, not on the step",
            ));
        }
        Ok(Step {
            label,
            name: s.name.clone(),
            requirements,
            level: s.level.clone(),
            setup,
            kind,
        })
    }

    fn target(
        &self,
        l: &str,
        path: Option<&str>,
        url: Option<&str>,
        query: &IndexMap<String, QueryValue>,
        headers: &IndexMap<String, String>,
        scope: &Scope,
    ) -> Result<(), LoadError> {
        match (path, url) {
            (Some(p), None) => {
                if !p.starts_with('/') {
                    return Err(self.err(Some(l), format!("path {p:?} must start with /")));
                }
                self.template(l, "path", p, scope)?;
            }
            (None, Some(u)) => self.template(l, "url", u, scope)?,
            _ => return Err(self.err(Some(l), "give exactly one of path, url")),
        }
        for (k, v) in query {
            self.template(l, "query", k, scope)?;
            for x in &v.0 {
                self.template(l, &format!("query {k}"), x, scope)?;
            }
        }
        for (k, v) in headers {
            if reqwest::header::HeaderName::try_from(k.as_str()).is_err() {
                return Err(self.err(Some(l), format!("header name {k:?} is not valid")));
            }
            self.template(l, &format!("header {k}"), v, scope)?;
        }
        Ok(())
    }

    fn request_step(&self, l: &str, s: &RawStep, scope: &mut Scope) -> Result<StepKind, LoadError> {
        let req = s.request.clone().unwrap_or_else(unreachable_request);
        if reqwest::Method::from_bytes(req.method.as_bytes()).is_err()
            || req.method.chars().any(|c| c.is_ascii_lowercase())
        {
            return Err(self.err(
                Some(l),
                format!("method {:?} is not an upper-case HTTP method", req.method),
            ));
        }
        self.target(
            l,
            req.path.as_deref(),
            req.url.as_deref(),
            &req.query,
            &req.headers,
            scope,
        )?;
        let mut aborts = false;
        if let Some(b) = &req.body {
            aborts = b.abort_after.is_some();
            self.body(l, b, scope)?;
        }
        let expect = match &s.expect {
            Some(v) => self.expect(l, "expect", v, scope)?,
            None => Expect::default(),
        };
        let mut profile_expect = IndexMap::new();
        for (p, v) in s.profile_expect.iter().flatten() {
            profile_expect.insert(
                *p,
                self.expect(l, &format!("profile_expect.{p}"), v, scope)?,
            );
        }
        if aborts != (expect.aborted == Some(true)) {
            return Err(self.err(
                Some(l),
                "a body with abort_after goes with expect {\"aborted\": true}, and only then",
            ));
        }
        if let Some(si) = &s.skip_if {
            if si.status.as_ref().is_some_and(|st| st.to_vec().is_empty()) {
                return Err(self.err(Some(l), "skip_if.status: give at least one status"));
            }
            if si.status.is_none() && si.headers.is_none() && si.json_pointer.is_none() {
                return Err(self.err(
                    Some(l),
                    "skip_if: give status, headers, json_pointer or several",
                ));
            }
            for p in si.json_pointer.iter().flat_map(|m| m.keys()) {
                if !p.starts_with('/') {
                    return Err(self.err(
                        Some(l),
                        format!("skip_if.json_pointer {p}: not a JSON pointer (starts with /)"),
                    ));
                }
            }
            if let Some(hs) = &si.headers {
                self.header_matchers(l, "skip_if", hs, scope)?;
            }
            if aborts {
                return Err(self.err(Some(l), "skip_if cannot apply to an aborted request"));
            }
        }
        let identity = self.identity(l, s.as_.as_ref(), scope)?;
        let capture = s.capture.clone().unwrap_or_default();
        for (name, c) in &capture {
            let what = format!("capture {name}");
            if !usable_capture_name(name) {
                return Err(self.err(Some(l), format!("{what}: not a usable variable name")));
            }
            if c.header.is_some() == c.json.is_some() {
                return Err(self.err(Some(l), format!("{what}: give exactly one of header, json")));
            }
            if c.header.is_none() && (c.regex.is_some() || c.upload_offset.is_some()) {
                return Err(self.err(
                    Some(l),
                    format!("{what}: regex and upload_offset go with header"),
                ));
            }
            if c.regex.is_some() && c.upload_offset.is_some() {
                return Err(self.err(
                    Some(l),
                    format!("{what}: regex and upload_offset exclude each other"),
                ));
            }
            if let Some(re) = &c.regex {
                let r = Regex::new(re)
                    .map_err(|e| self.err(Some(l), format!("{what}: bad regex: {e}")))?;
                if r.captures_len() < 2 {
                    return Err(self.err(
                        Some(l),
                        format!("{what}: the regex needs a group to capture"),
                    ));
                }
            }
            if let Some(ps) = &c.json {
                let ps = ps.to_vec();
                if ps.is_empty() {
                    return Err(self.err(Some(l), format!("{what}: give at least one pointer")));
                }
                if let Some(p) = ps.iter().find(|p| !(p.is_empty() || p.starts_with('/'))) {
                    return Err(self.err(Some(l), format!("{what}: {p:?} is not a JSON pointer")));
                }
            }
            if aborts {
                return Err(self.err(Some(l), "an aborted request has nothing to capture"));
            }
        }
        for name in capture.keys() {
            scope.defined.insert(name.clone());
        }
        let mut also = Vec::new();
        for (i, a) in s.also.iter().flatten().enumerate() {
            let what = format!("also[{i}]");
            if a.requirements.is_empty() {
                return Err(self.err(
                    Some(l),
                    format!("{what}.requirements: cite the requirement it rests on"),
                ));
            }
            self.check_ids(Some(l), &a.requirements)?;
            if aborts {
                return Err(self.err(Some(l), "an aborted request has nothing to check"));
            }
            let expect = self.expect(l, &format!("{what}.expect"), &a.expect, scope)?;
            if expect.aborted.is_some() || expect.body.is_some() {
                // The body is compared while it streams, set up from `expect` alone.
                return Err(self.err(
                    Some(l),
                    format!("{what}.expect: aborted and body checks go in expect"),
                ));
            }
            let profiles = a.profiles.clone().unwrap_or_default();
            if a.profiles.as_ref().is_some_and(Vec::is_empty) {
                return Err(self.err(
                    Some(l),
                    format!("{what}.profiles: empty list (omit it for every profile)"),
                ));
            }
            also.push(Also {
                requirements: a.requirements.clone(),
                level: a.level.clone(),
                profiles,
                expect,
            });
        }
        Ok(StepKind::Request(RequestStep {
            request: req,
            expect,
            profile_expect,
            skip_if: s.skip_if.clone(),
            capture,
            also,
            identity,
        }))
    }

    /// `as`: templates must resolve, and `reader` needs the capability `reader` (so the
    /// scenario is skipped, not run anonymously, when no reader identity is configured).
    fn identity(&self, l: &str, a: Option<&AsSpec>, scope: &Scope) -> Result<AsSpec, LoadError> {
        let a = a.cloned().unwrap_or_default();
        match &a {
            AsSpec::Reader if !self.raw.capabilities.iter().any(|c| c == "reader") => {
                return Err(self.err(
                    Some(l),
                    "as \"reader\" needs \"reader\" in the scenario's capabilities (it is \
                     skipped when no reader identity is configured)",
                ));
            }
            AsSpec::Bearer(t) => self.template(l, "as.bearer", t, scope)?,
            AsSpec::Basic { username, password } => {
                self.template(l, "as.basic.username", username, scope)?;
                self.template(l, "as.basic.password", password, scope)?;
            }
            _ => {}
        }
        Ok(a)
    }

    fn body(&self, l: &str, b: &BodySpec, scope: &Scope) -> Result<(), LoadError> {
        let forms = [
            b.blob.is_some(),
            b.manifest.is_some(),
            b.text.is_some(),
            b.json.is_some(),
            b.form.is_some(),
            b.bytes.is_some(),
        ];
        if forms.iter().filter(|x| **x).count() != 1 {
            return Err(self.err(
                Some(l),
                "body: give exactly one of blob, manifest, text, json, form, bytes",
            ));
        }
        for (k, v) in b.form.iter().flatten() {
            self.template(l, &format!("body.form.{k}"), v, scope)?;
        }
        if b.blob.is_none() && (b.start.is_some() || b.end.is_some() || b.from.is_some()) {
            return Err(self.err(Some(l), "body: start, end and from go with blob"));
        }
        if b.from.is_some() && (b.start.is_some() || b.end.is_some()) {
            return Err(self.err(Some(l), "body: from excludes start/end"));
        }
        if let (Some(s), Some(e)) = (b.start, b.end)
            && s > e
        {
            return Err(self.err(Some(l), format!("body: start {s} is after end {e}")));
        }
        if b.seed.is_some() && b.bytes.is_none() {
            return Err(self.err(Some(l), "body: seed goes with bytes"));
        }
        if let Some(n) = &b.blob
            && !self.raw.blobs.contains_key(n)
        {
            return Err(self.err(Some(l), format!("body: unknown blob {n:?}")));
        }
        if let Some(m) = &b.manifest
            && !self.raw.manifests.contains_key(m)
        {
            return Err(self.err(Some(l), format!("body: unknown manifest {m:?}")));
        }
        if let Some(f) = &b.from {
            self.template(l, "body.from", f, scope)?;
        }
        if let Some(t) = &b.text {
            self.template(l, "body.text", t, scope)?;
        }
        if let Some(j) = &b.json {
            self.json_template(l, "body.json", j, scope)?;
        }
        Ok(())
    }

    fn expect(&self, l: &str, what: &str, v: &Value, scope: &Scope) -> Result<Expect, LoadError> {
        let e: Expect = serde_json::from_value(v.clone())
            .map_err(|e| self.err(Some(l), format!("{what}: {e}")))?;
        if let Some(hs) = &e.headers {
            self.header_matchers(l, what, hs, scope)?;
        }
        if let Some(j) = &e.json {
            self.json_template(l, &format!("{what}.json"), j, scope)?;
        }
        for (p, m) in e.json_pointer.iter().flatten() {
            let pw = format!("{what}.json_pointer {p}");
            self.template(l, &pw, p, scope)?;
            if !(p.is_empty() || p.starts_with('/') || p.starts_with("${")) {
                return Err(self.err(Some(l), format!("{pw}: not a JSON pointer (starts with /)")));
            }
            for v in [&m.equals, &m.contains, &m.not_contains]
                .into_iter()
                .flatten()
            {
                self.json_template(l, &pw, v, scope)?;
            }
            if let Some(re) = &m.matches {
                self.regex(l, &format!("{pw}.matches"), re, scope)?;
            }
            if let Some(SortedSpec::Order(o)) = &m.sorted
                && o != "lexical"
                && o != "case-insensitive"
            {
                return Err(self.err(
                    Some(l),
                    format!("{pw}: sorted is true, \"lexical\" or \"case-insensitive\""),
                ));
            }
            let parts = [
                m.equals.is_some(),
                m.length.is_some(),
                m.contains.is_some(),
                m.not_contains.is_some(),
                m.sorted.is_some(),
                m.absent.is_some(),
                m.present.is_some(),
                m.at_least.is_some(),
                m.matches.is_some(),
            ];
            if !parts.iter().any(|x| *x) {
                return Err(self.err(Some(l), format!("{pw}: an empty matcher checks nothing")));
            }
        }
        if let Some(b) = &e.body {
            let bw = format!("{what}.body");
            let forms = [
                b.blob.is_some(),
                b.manifest.is_some(),
                b.empty.is_some(),
                b.digest.is_some(),
                b.length.is_some(),
            ];
            if !forms.iter().any(|x| *x) {
                return Err(self.err(Some(l), format!("{bw}: states nothing")));
            }
            if b.blob.is_none() && (b.start.is_some() || b.end.is_some()) {
                return Err(self.err(Some(l), format!("{bw}: start/end go with blob")));
            }
            if let Some(n) = &b.blob
                && !self.raw.blobs.contains_key(n)
            {
                return Err(self.err(Some(l), format!("{bw}: unknown blob {n:?}")));
            }
            if let Some(m) = &b.manifest
                && !self.raw.manifests.contains_key(m)
            {
                return Err(self.err(Some(l), format!("{bw}: unknown manifest {m:?}")));
            }
            if let Some(d) = &b.digest {
                self.template(l, &bw, d, scope)?;
            }
        }
        for c in e.error_code.iter().flat_map(|c| c.to_vec()) {
            if c.is_empty() {
                return Err(self.err(Some(l), format!("{what}.error_code: empty code")));
            }
        }
        Ok(e)
    }
}

impl Validator<'_> {
    fn header_matchers(
        &self,
        l: &str,
        what: &str,
        matchers: &IndexMap<String, HeaderMatcher>,
        scope: &Scope,
    ) -> Result<(), LoadError> {
        for (h, m) in matchers {
            let hw = format!("{what}.headers.{h}");
            if reqwest::header::HeaderName::try_from(h.as_str()).is_err() {
                return Err(self.err(Some(l), format!("{hw}: not a valid header name")));
            }
            let parts = [
                m.present.is_some(),
                m.absent.is_some(),
                m.equals.is_some(),
                m.matches.is_some(),
                m.one_of.is_some(),
                m.list_contains.is_some(),
            ];
            if !parts.iter().any(|x| *x) {
                return Err(self.err(Some(l), format!("{hw}: an empty matcher checks nothing")));
            }
            if m.optional.is_some() && (m.present.is_some() || m.absent.is_some()) {
                return Err(self.err(
                    Some(l),
                    format!("{hw}: optional contradicts present/absent"),
                ));
            }
            if let Some(x) = &m.equals {
                self.template(l, &hw, x, scope)?;
            }
            if let Some(x) = &m.matches {
                self.regex(l, &hw, x, scope)?;
            }
            for x in m.one_of.iter().flatten() {
                self.template(l, &hw, x, scope)?;
            }
            if let Some(items) = &m.list_contains {
                if items.is_empty() {
                    return Err(self.err(Some(l), format!("{hw}: list_contains is empty")));
                }
                for x in items {
                    if x.contains(',') || x.trim() != x || x.is_empty() {
                        return Err(self.err(
                            Some(l),
                            format!(
                                "{hw}: list element {x:?} cannot contain a comma or edge spaces"
                            ),
                        ));
                    }
                    self.template(l, &hw, x, scope)?;
                }
            }
        }
        Ok(())
    }
}

/// A name a step may define (capture, `alter_token.into`): a valid variable name that is
/// not built in.
fn usable_capture_name(name: &str) -> bool {
    vars::parse(&format!("${{{name}}}")).is_ok_and(|p| p.len() == 1)
        && !matches!(
            name,
            "repo" | "namespace" | "unique" | "username" | "reader_username"
        )
        && !BUILTIN_PREFIXES.iter().any(|p| name.starts_with(p))
}

fn unreachable_alter() -> AlterTokenSpec {
    AlterTokenSpec {
        from: String::new(),
        into: String::new(),
        how: AlterHow::Signature,
    }
}

fn step_label(base: &str, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("{base} \"{n}\""),
        None => base.to_owned(),
    }
}

// The kind was checked to be present just before these are called; they only keep the
// code free of `unwrap`.
fn unreachable_spec() -> PaginateSpec {
    PaginateSpec {
        path: None,
        url: None,
        query: IndexMap::new(),
        headers: IndexMap::new(),
        collect: String::new(),
        last_fallback: false,
    }
}

fn unreachable_request() -> RequestSpec {
    RequestSpec {
        method: String::new(),
        path: None,
        url: None,
        query: IndexMap::new(),
        headers: IndexMap::new(),
        body: None,
        follow_redirects: None,
    }
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
        load_file(&p, "push", known).map_err(|e| e.to_string())
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
}

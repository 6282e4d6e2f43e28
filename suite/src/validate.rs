//! What a step is checked against when its scenario loads: the names the scenario defines
//! (blobs, manifests, capabilities, requirement IDs) and the variables defined before the
//! step. The loader builds one [`Context`] per scenario; each step kind checks its own
//! fields (`steps/<kind>.rs`) through the [`StepContext`] of its place, so every problem
//! names the file, the scenario and the step.

use std::collections::HashSet;

use indexmap::IndexMap;
use regex::Regex;

use crate::error::{LoadError, Location};
use crate::model::{AsSpec, BlobDef, ManifestDef};
use crate::vars;

/// The scenario a step belongs to, as far as checking the step needs it.
pub struct Context<'a> {
    /// The file and the scenario.
    pub at: Location,
    /// The catalog's requirement IDs, when there is a catalog.
    pub known: Option<&'a HashSet<String>>,
    /// The scenario's requirement IDs (a step's default).
    pub requirements: &'a [String],
    /// The scenario's capabilities.
    pub capabilities: &'a [String],
    /// The scenario's blobs.
    pub blobs: &'a IndexMap<String, BlobDef>,
    /// The scenario's manifests.
    pub manifests: &'a IndexMap<String, ManifestDef>,
}

/// The variable names a step's captures and `alter_token` have defined so far. A
/// `parallel` branch works on a copy, so what it defines stays inside it.
#[derive(Clone, Default)]
pub struct Scope {
    defined: HashSet<String>,
}

impl Scope {
    /// Makes `name` usable by the steps after this one.
    pub fn define(&mut self, name: impl Into<String>) {
        self.defined.insert(name.into());
    }
}

/// Names every run has: the scenario's repository, the namespace, the trial's tag and the
/// identities' user names.
const RUN_NAMES: [&str; 5] = ["repo", "namespace", "unique", "username", "reader_username"];

/// Prefixes of names the runner defines itself (repositories, blobs, manifests).
const BUILTIN_PREFIXES: [&str; 3] = ["repo.", "blob.", "manifest."];

impl<'a> Context<'a> {
    /// A problem of the scenario (`step: None`) or of one step.
    pub fn err(&self, step: Option<&str>, problem: impl Into<String>) -> LoadError {
        let mut at = self.at.clone();
        at.step = step.map(str::to_owned);
        LoadError::Invalid {
            at,
            problem: problem.into(),
        }
    }

    /// Every ID is in the catalog (when there is one).
    pub fn check_ids(&self, step: Option<&str>, ids: &[String]) -> Result<(), LoadError> {
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

    /// Whether the scenario declares capability `c`.
    pub fn has_capability(&self, c: &str) -> bool {
        self.capabilities.iter().any(|x| x == c)
    }

    /// Whether `name` is defined at a point with `scope`: a run's name, a name `scope`
    /// holds, `repo.X`, or a field of one of the scenario's blobs or manifests.
    pub fn defined(&self, name: &str, scope: &Scope) -> bool {
        if RUN_NAMES.contains(&name) || scope.defined.contains(name) {
            return true;
        }
        if let Some(x) = name.strip_prefix("repo.") {
            return vars::is_repo_suffix(x);
        }
        if let Some(rest) = name.strip_prefix("blob.") {
            return rest.rsplit_once('.').is_some_and(|(n, f)| {
                self.blobs.contains_key(n) && matches!(f, "digest" | "size" | "hex")
            });
        }
        if let Some(rest) = name.strip_prefix("manifest.") {
            return rest.rsplit_once('.').is_some_and(|(n, f)| {
                self.manifests.contains_key(n) && matches!(f, "digest" | "size" | "media_type")
            });
        }
        false
    }

    /// The place of the step labelled `label` (`step 3 "name"`); `in_parallel` for a
    /// branch of a `parallel` step.
    pub fn step<'s>(&'s self, label: &'s str, in_parallel: bool) -> StepContext<'s> {
        StepContext {
            cx: self,
            label,
            in_parallel,
        }
    }
}

/// One step's place: its scenario and its label.
#[derive(Clone, Copy)]
pub struct StepContext<'s> {
    /// The scenario.
    pub cx: &'s Context<'s>,
    /// `step 3 "name"`, or `step 3 > branch 1` inside a `parallel` step.
    pub label: &'s str,
    /// Whether the step is a branch of a `parallel` step (what it defines stays inside).
    pub in_parallel: bool,
}

impl StepContext<'_> {
    /// A problem of this step.
    pub fn err(&self, problem: impl Into<String>) -> LoadError {
        self.cx.err(Some(self.label), problem)
    }

    /// Every ID is in the catalog (when there is one).
    pub fn check_ids(&self, ids: &[String]) -> Result<(), LoadError> {
        self.cx.check_ids(Some(self.label), ids)
    }

    /// Every variable of template `t` (field `what`) is defined here.
    pub fn template(&self, what: &str, t: &str, scope: &Scope) -> Result<(), LoadError> {
        let refs = vars::references(t).map_err(|e| self.err(format!("{what}: {e}")))?;
        for r in refs {
            if !self.cx.defined(r, scope) {
                return Err(self.err(format!("{what}: unknown variable ${{{r}}}")));
            }
        }
        Ok(())
    }

    /// Every variable in the strings (keys included) of JSON template `v` is defined here.
    pub fn json_template(
        &self,
        what: &str,
        v: &serde_json::Value,
        scope: &Scope,
    ) -> Result<(), LoadError> {
        let mut refs = Vec::new();
        vars::json_references(v, &mut refs).map_err(|e| self.err(format!("{what}: {e}")))?;
        for r in refs {
            if !self.cx.defined(&r, scope) {
                return Err(self.err(format!("{what}: unknown variable ${{{r}}}")));
            }
        }
        Ok(())
    }

    /// A regex template: its variables are defined and it compiles.
    pub fn regex(&self, what: &str, re: &str, scope: &Scope) -> Result<Regex, LoadError> {
        self.template(what, re, scope)?;
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
        Regex::new(&probe).map_err(|e| self.err(format!("{what}: bad regex: {e}")))
    }

    /// `as`: templates must resolve, and `reader` needs the capability `reader` (so the
    /// scenario is skipped, not run anonymously, when no reader identity is configured).
    pub fn identity(&self, a: Option<&AsSpec>, scope: &Scope) -> Result<AsSpec, LoadError> {
        let a = a.cloned().unwrap_or_default();
        match &a {
            AsSpec::Reader if !self.cx.has_capability("reader") => {
                return Err(self.err(
                    "as \"reader\" needs \"reader\" in the scenario's capabilities (it is \
                     skipped when no reader identity is configured)",
                ));
            }
            AsSpec::Bearer(t) => self.template("as.bearer", t, scope)?,
            AsSpec::Basic { username, password } => {
                self.template("as.basic.username", username, scope)?;
                self.template("as.basic.password", password, scope)?;
            }
            _ => {}
        }
        Ok(a)
    }
}

/// A name a step may define (capture, `alter_token.into`): a valid variable name that is
/// not built in.
pub fn usable_capture_name(name: &str) -> bool {
    vars::parse(&format!("${{{name}}}")).is_ok_and(|p| p.len() == 1)
        && !RUN_NAMES.contains(&name)
        && !BUILTIN_PREFIXES.iter().any(|p| name.starts_with(p))
}

//! Named templates: a manifest or blob written once in `fixtures/templates/<name>.json`
//! and used by name from any scenario (`"image": { "template": "oci-image" }`), so the
//! same OCI image manifest is not copied into a hundred files. A new template is a new
//! file, not Rust.
//!
//! A template's variables (`${blob.config.digest}`) resolve in the scenario that uses it,
//! exactly as if its body were written there; a use may rename the blobs and manifests it
//! refers to (`"blobs": { "config": "config2" }`), and state `pad_to` and `shared`. What a
//! scenario's entry may say is read in [`entry`].

pub mod entry;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;

use crate::error::{LoadError, Location};
use crate::model::{BlobDef, ManifestDef};
use crate::vars;

/// One template file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateFile {
    /// What it is and when to use it.
    description: String,
    /// A manifest, as a scenario's `manifests` entry writes one.
    manifest: Option<ManifestDef>,
    /// A blob, as a scenario's `blobs` entry writes one.
    blob: Option<BlobDef>,
}

/// What a template holds.
#[derive(Debug, Clone)]
pub enum Body {
    /// A manifest.
    Manifest(ManifestDef),
    /// A blob.
    Blob(BlobDef),
}

impl Body {
    fn kind(&self) -> &'static str {
        match self {
            Body::Manifest(_) => "manifest",
            Body::Blob(_) => "blob",
        }
    }
}

/// One template.
#[derive(Debug, Clone)]
pub struct Template {
    /// Its file.
    pub file: PathBuf,
    /// What it is and when to use it.
    pub description: String,
    /// The manifest or blob.
    pub body: Body,
}

/// Every template of a fixtures directory, by name (the file stem).
#[derive(Debug, Clone, Default)]
pub struct Templates {
    by_name: BTreeMap<String, Template>,
}

/// Template names are file stems that a scenario can write as they are.
fn name_ok(n: &str) -> bool {
    !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
}

impl Templates {
    /// Reads `dir/*.json`; no directory, no templates. A template that does not load stops
    /// the loading of the fixtures: every scenario using it would be wrong.
    pub fn load(dir: &Path) -> Result<Templates, LoadError> {
        let mut out = Templates::default();
        if !dir.exists() {
            return Ok(out);
        }
        let io = |source| LoadError::Io {
            path: dir.to_owned(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
        files.sort();
        for file in files {
            let (name, t) = Self::load_file(&file)?;
            out.by_name.insert(name, t);
        }
        Ok(out)
    }

    fn load_file(file: &Path) -> Result<(String, Template), LoadError> {
        let at = Location {
            file: file.to_owned(),
            ..Location::default()
        };
        let invalid = |problem: String| LoadError::Invalid {
            at: at.clone(),
            problem,
        };
        let name = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !name_ok(&name) {
            return Err(invalid(format!(
                "template {name:?}: names are letters, digits, _ and -"
            )));
        }
        let text = std::fs::read_to_string(file).map_err(|source| LoadError::Io {
            path: file.to_owned(),
            source,
        })?;
        let raw: TemplateFile = serde_json::from_str(&text).map_err(|e| LoadError::Parse {
            at: at.clone(),
            message: e.to_string(),
        })?;
        let body = match (raw.manifest, raw.blob) {
            (Some(m), None) => Body::Manifest(m),
            (None, Some(b)) => Body::Blob(b),
            _ => {
                return Err(invalid(format!(
                    "template {name}: give exactly one of manifest, blob"
                )));
            }
        };
        let t = Template {
            file: file.to_owned(),
            description: raw.description,
            body,
        };
        Ok((name, t))
    }

    /// Every template, by name.
    pub fn all(&self) -> impl Iterator<Item = (&str, &Template)> {
        self.by_name.iter().map(|(n, t)| (n.as_str(), t))
    }

    /// The manifest template `name`, or why there is none.
    pub fn manifest(&self, name: &str) -> Result<&ManifestDef, String> {
        match self.by_name.get(name).map(|t| &t.body) {
            Some(Body::Manifest(m)) => Ok(m),
            found => Err(self.missing(name, "manifest", found)),
        }
    }

    /// The blob template `name`, or why there is none.
    pub fn blob(&self, name: &str) -> Result<&BlobDef, String> {
        match self.by_name.get(name).map(|t| &t.body) {
            Some(Body::Blob(b)) => Ok(b),
            found => Err(self.missing(name, "blob", found)),
        }
    }

    /// Why there is no `kind` template `name` (`found`: a template of the other kind).
    fn missing(&self, name: &str, kind: &str, found: Option<&Body>) -> String {
        match found {
            Some(other) => format!(
                "template {name:?} is a {} template, not a {kind} one",
                other.kind()
            ),
            None => format!("unknown template {name:?}{}", self.hint(name, kind)),
        }
    }

    /// `; did you mean "x"?` for the closest template of the kind, if it is close; else
    /// the templates there are.
    fn hint(&self, name: &str, kind: &str) -> String {
        let names: Vec<&str> = self
            .by_name
            .iter()
            .filter(|(_, t)| t.body.kind() == kind)
            .map(|(n, _)| n.as_str())
            .collect();
        let closest = names
            .iter()
            .map(|n| (strsim::levenshtein(n, name), *n))
            .filter(|(d, n)| *d <= 2.max(n.len() / 4))
            .min();
        match closest {
            Some((_, n)) => format!("; did you mean {n:?}?"),
            None if names.is_empty() => format!(" (there are no {kind} templates)"),
            None => format!(" ({kind} templates: {})", names.join(", ")),
        }
    }
}

/// The blob names (`${blob.N.…}`) and manifest names (`${manifest.M.…}`) a manifest refers
/// to, each once, in order. A string that does not parse counts for nothing here: it is
/// reported when the expanded manifest is checked.
pub fn referenced_items(def: &ManifestDef) -> (Vec<String>, Vec<String>) {
    let mut refs = Vec::new();
    if let Some(j) = &def.json {
        let _ = vars::json_references(j, &mut refs);
    }
    for t in def.text.iter().chain([&def.media_type]) {
        if let Ok(r) = vars::references(t) {
            refs.extend(r.into_iter().map(str::to_owned));
        }
    }
    let (mut blobs, mut manifests) = (Vec::new(), Vec::new());
    for r in &refs {
        for (prefix, out) in [("blob.", &mut blobs), ("manifest.", &mut manifests)] {
            if let Some((n, _)) = r.strip_prefix(prefix).and_then(|x| x.rsplit_once('.'))
                && !out.iter().any(|x| x == n)
            {
                out.push(n.to_owned());
            }
        }
    }
    (blobs, manifests)
}

/// `def` with its references to blob `a` made references to blob `blobs[a]` (and the same
/// for manifests), in every string of it: JSON keys and values, text, media type.
pub fn renamed(
    def: &ManifestDef,
    blobs: &IndexMap<String, String>,
    manifests: &IndexMap<String, String>,
) -> ManifestDef {
    let rename = |s: &str| -> String {
        let Ok(pieces) = vars::parse(s) else {
            return s.to_owned();
        };
        let mut out = String::with_capacity(s.len());
        for p in pieces {
            match p {
                vars::Piece::Text(t) => out.push_str(t),
                vars::Piece::Var(v) => {
                    out.push_str("${");
                    out.push_str(&rename_var(v, blobs, manifests));
                    out.push('}');
                }
            }
        }
        out
    };
    ManifestDef {
        media_type: rename(&def.media_type),
        json: def.json.as_ref().map(|j| map_strings(j, &rename)),
        text: def.text.as_deref().map(rename),
        pad_to: def.pad_to,
        shared: def.shared,
    }
}

/// Variable `v`, renamed when it is a field of a renamed blob or manifest.
fn rename_var(
    v: &str,
    blobs: &IndexMap<String, String>,
    manifests: &IndexMap<String, String>,
) -> String {
    for (prefix, names) in [("blob.", blobs), ("manifest.", manifests)] {
        if let Some((n, field)) = v.strip_prefix(prefix).and_then(|x| x.rsplit_once('.'))
            && let Some(to) = names.get(n)
        {
            return format!("{prefix}{to}.{field}");
        }
    }
    v.to_owned()
}

/// `v` with `f` applied to every string in it, keys included.
fn map_strings(v: &serde_json::Value, f: &impl Fn(&str) -> String) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => Value::String(f(s)),
        Value::Array(items) => Value::Array(items.iter().map(|i| map_strings(i, f)).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (f(k), map_strings(v, f))).collect())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def(json: serde_json::Value) -> ManifestDef {
        ManifestDef {
            media_type: "m".into(),
            json: Some(json),
            text: None,
            pad_to: None,
            shared: false,
        }
    }

    #[test]
    fn renames_reach_every_string_and_only_the_names_given() {
        let d = def(json!({
            "config": {"digest": "${blob.config.digest}", "size": "${blob.config.size}"},
            "layers": [{"digest": "${blob.layer.digest}"}],
            "${blob.config.hex}": "x${blob.configx.digest}y",
            "subject": {"digest": "${manifest.subject.digest}"},
            "n": 2
        }));
        assert_eq!(
            referenced_items(&d),
            (
                vec![
                    "config".to_owned(),
                    "configx".to_owned(),
                    "layer".to_owned()
                ],
                vec!["subject".to_owned()]
            )
        );
        let blobs: IndexMap<String, String> = [("config".to_owned(), "c2".to_owned())].into();
        let manifests: IndexMap<String, String> = [("subject".to_owned(), "s".to_owned())].into();
        let r = renamed(&d, &blobs, &manifests);
        assert_eq!(
            r.json.unwrap(),
            json!({
                "config": {"digest": "${blob.c2.digest}", "size": "${blob.c2.size}"},
                "layers": [{"digest": "${blob.layer.digest}"}],
                "${blob.c2.hex}": "x${blob.configx.digest}y",
                "subject": {"digest": "${manifest.s.digest}"},
                "n": 2
            })
        );
        // Without renames the body is unchanged, text and media type included.
        let t = ManifestDef {
            media_type: "${manifest.m.media_type}".into(),
            json: None,
            text: Some("{\"a\":\"${blob.b.digest}\"} ${".into()),
            pad_to: Some(9),
            shared: true,
        };
        let same = renamed(&t, &IndexMap::new(), &IndexMap::new());
        assert_eq!(format!("{same:?}"), format!("{t:?}"));
    }
}

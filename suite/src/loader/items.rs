//! A scenario's `blobs` and `manifests`: templates expanded, then each item checked on its
//! own (its form, and the variables it may use: a text blob only the trial's names, a
//! manifest the blobs and the manifests defined before it).

use base64::Engine as _;
use indexmap::IndexMap;
use serde_json::Value;

use crate::error::LoadError;
use crate::model::{BlobDef, ManifestDef};
use crate::templates::entry::{BlobEntry, ManifestEntry};
use crate::templates::{self, Templates};
use crate::validate::{Context, Scope};
use crate::vars;

/// Item names are written in variables (`${blob.layer.digest}`).
fn item_name_ok(n: &str) -> bool {
    !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
}

/// The blob of entry `name`, its template expanded, checked; and how messages name it.
pub fn blob(
    cx: &Context<'_>,
    templates: &Templates,
    name: &str,
    e: &BlobEntry,
) -> Result<BlobDef, LoadError> {
    let (b, what) = match (e.written_out(), &e.uses.template) {
        (Some(b), _) => (b, format!("blob {name}")),
        (None, Some(t)) => {
            let b = templates
                .blob(t)
                .map_err(|m| cx.err(None, format!("blob {name}: {m}")))?;
            (b.clone(), format!("blob {name} (template {t})"))
        }
        (None, None) => return Err(cx.err(None, format!("blob {name}: missing"))),
    };
    check_blob(cx, name, &what, &b)?;
    Ok(b)
}

/// A blob (`what`: how messages name it): one form, and a text blob uses only the run's
/// and the trial's names.
fn check_blob(cx: &Context<'_>, name: &str, what: &str, b: &BlobDef) -> Result<(), LoadError> {
    if !item_name_ok(name) {
        return Err(cx.err(None, format!("{what}: names are letters, digits, _ and -")));
    }
    let forms = [b.size.is_some(), b.text.is_some(), b.base64.is_some()];
    if forms.iter().filter(|x| **x).count() != 1 {
        return Err(cx.err(
            None,
            format!("{what}: give exactly one of size (+seed), text, base64"),
        ));
    }
    if b.seed.is_some() && b.size.is_none() {
        return Err(cx.err(None, format!("{what}: seed goes with size")));
    }
    if let Some(s) = &b.base64
        && base64::engine::general_purpose::STANDARD.decode(s).is_err()
    {
        return Err(cx.err(None, format!("{what}: base64 does not decode")));
    }
    if let Some(t) = &b.text {
        // Text blobs are rendered before anything else is defined: only the run's and
        // the trial's own names (`${unique}` makes the bytes unique to the trial).
        let refs = vars::references(t).map_err(|e| cx.err(None, format!("{what}: {e}")))?;
        if let Some(r) = refs.iter().find(|r| {
            !(matches!(**r, "repo" | "namespace" | "unique")
                || r.strip_prefix("repo.").is_some_and(vars::is_repo_suffix))
        }) {
            return Err(cx.err(
                None,
                format!("{what}: unknown variable ${{{r}}} (text blobs may use repo, namespace and unique)"),
            ));
        }
    }
    Ok(())
}

/// The manifest of entry `name`, its template expanded (renames, `pad_to`, `shared`
/// applied), checked. `cx.manifests` holds the manifests defined before it.
pub fn manifest(
    cx: &Context<'_>,
    templates: &Templates,
    name: &str,
    e: &ManifestEntry,
) -> Result<ManifestDef, LoadError> {
    let (m, what) = match e.written_out() {
        Some(m) => {
            if let Some(f) = e.uses.given().first() {
                return Err(cx.err(
                    None,
                    format!(
                        "manifest {name}: {f} goes with template (it renames the template's names)"
                    ),
                ));
            }
            (m, format!("manifest {name}"))
        }
        None => from_template(cx, templates, name, e)?,
    };
    check_manifest(cx, name, &what, &m)?;
    Ok(m)
}

/// A template use expanded; how messages name the manifest.
fn from_template(
    cx: &Context<'_>,
    templates: &Templates,
    name: &str,
    e: &ManifestEntry,
) -> Result<(ManifestDef, String), LoadError> {
    let t = e.uses.template.as_deref().unwrap_or_default();
    let err = |m: String| cx.err(None, format!("manifest {name}: {m}"));
    let body = templates.manifest(t).map_err(err)?;
    if let Some(f) = e
        .inline
        .given()
        .into_iter()
        .find(|f| !matches!(*f, "pad_to" | "shared"))
    {
        return Err(err(format!(
            "{f} does not go with template (template {t} gives media_type and json or text)"
        )));
    }
    let (blobs, manifests) = templates::referenced_items(body);
    let no_renames = IndexMap::new();
    let blob_renames = e.uses.blobs.as_ref().unwrap_or(&no_renames);
    let manifest_renames = e.uses.manifests.as_ref().unwrap_or(&no_renames);
    check_renames(t, "blobs", "blob", blob_renames, &blobs).map_err(err)?;
    check_renames(t, "manifests", "manifest", manifest_renames, &manifests).map_err(err)?;
    let mut m = templates::renamed(body, blob_renames, manifest_renames);
    if let Some(p) = e.inline.pad_to {
        m.pad_to = Some(p);
    }
    if let Some(s) = e.inline.shared {
        m.shared = s;
    }
    Ok((m, format!("manifest {name} (template {t})")))
}

/// Renames (`field` of a use of template `t`) only of names the template refers to
/// (`used`), each to an item name. Whether the scenario has the item is checked with the
/// expanded manifest.
fn check_renames(
    t: &str,
    field: &str,
    kind: &str,
    renames: &IndexMap<String, String>,
    used: &[String],
) -> Result<(), String> {
    for (from, to) in renames {
        if !used.contains(from) {
            let uses = if used.is_empty() {
                "none".to_owned()
            } else {
                used.join(", ")
            };
            return Err(format!(
                "{field}: template {t} uses no {kind} {from:?} (it uses {uses})"
            ));
        }
        if !item_name_ok(to) {
            return Err(format!("{field}: {to:?} is not a {kind} name"));
        }
    }
    Ok(())
}

/// A manifest (`what`: how messages name it): one form, and only the run's names, blobs
/// and the manifests defined before it (`cx.manifests`).
fn check_manifest(
    cx: &Context<'_>,
    name: &str,
    what: &str,
    m: &ManifestDef,
) -> Result<(), LoadError> {
    if !item_name_ok(name) {
        return Err(cx.err(None, format!("{what}: names are letters, digits, _ and -")));
    }
    if m.json.is_some() == m.text.is_some() {
        return Err(cx.err(None, format!("{what}: give exactly one of json, text")));
    }
    if m.pad_to.is_some() && !m.json.as_ref().is_some_and(Value::is_object) {
        return Err(cx.err(
            None,
            format!("{what}: pad_to needs json with an object root"),
        ));
    }
    let mut refs = Vec::new();
    let parsed = match (&m.json, &m.text) {
        (Some(j), _) => vars::json_references(j, &mut refs),
        (_, Some(t)) => vars::references(t).map(|r| refs.extend(r.into_iter().map(str::to_owned))),
        _ => Ok(()),
    };
    parsed.map_err(|e| cx.err(None, format!("{what}: {e}")))?;
    refs.extend(
        vars::references(&m.media_type)
            .map_err(|e| cx.err(None, format!("{what}: {e}")))?
            .into_iter()
            .map(str::to_owned),
    );
    for r in refs {
        // `cx.manifests` are the ones defined before this one: a manifest cannot refer to
        // itself or to a later one.
        let ok = match r.strip_prefix("manifest.") {
            Some(rest) => rest.rsplit_once('.').is_some_and(|(n, f)| {
                cx.manifests.contains_key(n) && matches!(f, "digest" | "size" | "media_type")
            }),
            None => cx.defined(&r, &Scope::default()),
        };
        if !ok {
            return Err(cx.err(
                None,
                format!("{what}: unknown variable ${{{r}}} (manifests may use repo, namespace, blobs and manifests defined before them)"),
            ));
        }
    }
    Ok(())
}

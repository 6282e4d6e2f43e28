//! A scenario's `blobs` and `manifests`, each item checked on its own (its form, and the variables it may use: a text blob only the trial's names, a
//! manifest the blobs and the manifests defined before it).

use base64::Engine as _;
use serde_json::Value;

use crate::error::LoadError;
use crate::model::{BlobDef, ManifestDef};
use crate::validate::{Context, Scope};
use crate::vars;

/// Item names are written in variables (`${blob.layer.digest}`).
fn item_name_ok(n: &str) -> bool {
    !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
}

/// A blob: one form, and a text blob uses only the run's and the trial's names.
pub fn check_blob(cx: &Context<'_>, name: &str, b: &BlobDef) -> Result<(), LoadError> {
    let what = format!("blob {name}");
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

/// A manifest: one form, and it uses only the run's names, blobs, and the manifests
/// defined before it (`cx.manifests`).
pub fn check_manifest(cx: &Context<'_>, name: &str, m: &ManifestDef) -> Result<(), LoadError> {
    let what = format!("manifest {name}");
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

//! A step as written, and its check: the loader picks the kind by its key and hands the
//! step to that kind (`steps/<kind>.rs`), which checks its own fields.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::LoadError;
use crate::fields::{MapValue, SeqElement, Source, duplicate};
use crate::model::{Step, StepKind};
use crate::steps::common::Common;
use crate::steps::{alter_token, paginate, parallel, push_blob, push_manifest, request, wait};
use crate::validate::{Context, Scope};

/// A step as written: the fields no single kind owns, and each kind's own. Each key is
/// read by the part that owns it, so a kind's fields are declared in its own file.
#[derive(Debug, Default)]
pub struct RawStep {
    /// `name`, `requirements`, `level`, `setup`, and the fields kinds share.
    pub common: Common,
    pub request: request::Raw,
    pub push_blob: push_blob::Raw,
    pub push_manifest: push_manifest::Raw,
    pub paginate: paginate::Raw,
    pub parallel: parallel::Raw<RawStep>,
    pub alter_token: alter_token::Raw,
    pub wait: wait::Raw,
}

/// Every key a step may have, in the order an unknown key's message lists them (and a
/// step written as an array gives them, as serde's derive read it).
const FIELDS: &[&str] = &[
    "name",
    "requirements",
    "level",
    "setup",
    "also",
    "request",
    "expect",
    "profile_expect",
    "skip_if",
    "capture",
    "push_blob",
    "method",
    "chunk_size",
    "repo",
    "push_manifest",
    "reference",
    "paginate",
    "parallel",
    "alter_token",
    "wait",
    "as",
];

/// The step kinds' keys, in the order "no step kind" lists them.
const KINDS: &[&str] = &[
    request::KEY,
    push_blob::KEY,
    push_manifest::KEY,
    paginate::KEY,
    parallel::KEY,
    alter_token::KEY,
    wait::KEY,
];

/// The fields some kinds take and others do not, in the order a misplaced one is named.
const OPTIONAL: &[&str] = &[
    "expect",
    "profile_expect",
    "skip_if",
    "capture",
    "method",
    "chunk_size",
    "repo",
    "reference",
    "also",
    "as",
];

impl RawStep {
    /// Offers `key` to each part until one owns it.
    fn read<'de, S: Source<'de>>(&mut self, key: &str, src: &mut S) -> Result<bool, S::Error> {
        Ok(self.common.read(key, src)?
            || self.request.read(key, src)?
            || self.push_blob.read(key, src)?
            || self.push_manifest.read(key, src)?
            || self.paginate.read(key, src)?
            || self.parallel.read(key, src)?
            || self.alter_token.read(key, src)?
            || self.wait.read(key, src)?)
    }

    /// The keys given a value, part by part.
    fn given(&self) -> Vec<&'static str> {
        [
            self.common.given(),
            self.request.given(),
            self.push_blob.given(),
            self.push_manifest.given(),
            self.paginate.given(),
            self.parallel.given(),
            self.alter_token.given(),
            self.wait.given(),
        ]
        .concat()
    }

    /// The optional `name`, for labels.
    pub fn name(&self) -> Option<&str> {
        self.common.name.as_deref()
    }
}

/// What a kind takes besides its key and the fields of every step.
fn accepts(kind: &str) -> &'static [&'static str] {
    match kind {
        request::KEY => request::ACCEPTS,
        push_blob::KEY => push_blob::ACCEPTS,
        push_manifest::KEY => push_manifest::ACCEPTS,
        paginate::KEY => paginate::ACCEPTS,
        parallel::KEY => parallel::ACCEPTS,
        alter_token::KEY => alter_token::ACCEPTS,
        _ => wait::ACCEPTS,
    }
}

impl<'de> Deserialize<'de> for RawStep {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct("RawStep", FIELDS, StepVisitor)
    }
}

struct StepVisitor;

impl<'de> Visitor<'de> for StepVisitor {
    type Value = RawStep;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("struct RawStep")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawStep, A::Error> {
        let mut step = RawStep::default();
        let mut seen: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if !FIELDS.contains(&key.as_str()) {
                return Err(de::Error::unknown_field(&key, FIELDS));
            }
            if seen.contains(&key) {
                return Err(duplicate(&key, FIELDS));
            }
            seen.push(key.clone());
            step.read(&key, &mut MapValue(&mut map))?;
        }
        Ok(step)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawStep, A::Error> {
        let mut step = RawStep::default();
        for (index, key) in FIELDS.iter().enumerate() {
            let mut src = SeqElement {
                seq: &mut seq,
                index,
                expecting: "struct RawStep with 21 elements",
            };
            step.read(key, &mut src)?;
        }
        Ok(step)
    }
}

/// `step 3 "name"`, or `step 3` without a name.
pub fn label(base: &str, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("{base} \"{n}\""),
        None => base.to_owned(),
    }
}

/// The label of branch `i` (from 0) of the parallel step labelled `parent`:
/// `step 3 > branch 2 "name"`.
pub fn branch_label(parent: &str, i: usize, name: Option<&str>) -> String {
    let base = parent.split(" \"").next().unwrap_or(parent);
    label(&format!("{base} > branch {}", i + 1), name)
}

/// Checks one step: exactly one kind, no field of another kind, its requirements, then
/// what the kind checks; `scope` gains what the step defines.
pub fn check(
    cx: &Context<'_>,
    label: String,
    s: &RawStep,
    scope: &mut Scope,
    in_parallel: bool,
) -> Result<Step, LoadError> {
    let at = cx.step(&label, in_parallel);
    let given = s.given();
    let kinds: Vec<&str> = KINDS
        .iter()
        .copied()
        .filter(|k| given.contains(k))
        .collect();
    let kind = match kinds.as_slice() {
        [k] => *k,
        [] => {
            return Err(at.err(format!("no step kind: give one of {}", KINDS.join(", "))));
        }
        more => {
            return Err(at.err(format!("more than one step kind: {}", more.join(", "))));
        }
    };
    let accepted = accepts(kind);
    if let Some(field) = OPTIONAL
        .iter()
        .find(|f| given.contains(f) && !accepted.contains(f))
    {
        return Err(at.err(format!("field {field} does not belong to a {kind} step")));
    }
    let requirements = match &s.common.requirements {
        Some(r) if r.is_empty() => {
            return Err(at.err("requirements: empty list (omit it to use the scenario's)"));
        }
        Some(r) => {
            at.check_ids(r)?;
            r.clone()
        }
        None => cx.requirements.to_vec(),
    };
    let common = &s.common;
    let kind = match kind {
        request::KEY => s.request.check(common, &at, scope)?,
        push_blob::KEY => s.push_blob.check(common, &at, scope)?,
        push_manifest::KEY => s.push_manifest.check(common, &at, scope)?,
        paginate::KEY => s.paginate.check(common, &at, scope)?,
        alter_token::KEY => s.alter_token.check(common, &at, scope)?,
        wait::KEY => s.wait.check(common, &at, scope)?,
        _ => s.parallel.check(common, &at, scope, |i, b, scope| {
            let bl = branch_label(&label, i, b.name());
            check(cx, bl, b, scope, true)
        })?,
    };
    // Uploading and pushing are preparation unless the step says otherwise; a failure of
    // an ID the scenario itself cites is still that scenario's failure.
    let setup = common.setup.unwrap_or(matches!(
        kind,
        StepKind::PushBlob(_) | StepKind::PushManifest(_)
    ));
    if setup && matches!(kind, StepKind::Parallel(_)) {
        return Err(at.err("setup goes on the branches of a parallel step, not on the step"));
    }
    Ok(Step {
        label,
        name: common.name.clone(),
        requirements,
        level: common.level.clone(),
        setup,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parts own every key exactly once, and the kinds' `ACCEPTS` name only optional
    /// fields.
    #[test]
    fn every_key_has_one_owner() {
        let mut owned: Vec<&str> = [
            Common::FIELDS,
            request::Raw::FIELDS,
            push_blob::Raw::FIELDS,
            push_manifest::Raw::FIELDS,
            paginate::Raw::FIELDS,
            parallel::Raw::<RawStep>::FIELDS,
            alter_token::Raw::FIELDS,
            wait::Raw::FIELDS,
        ]
        .concat();
        owned.sort_unstable();
        let mut all = FIELDS.to_vec();
        all.sort_unstable();
        assert_eq!(owned, all);
        for k in KINDS {
            assert!(accepts(k).iter().all(|f| OPTIONAL.contains(f)), "{k}");
            assert!(!OPTIONAL.contains(k));
        }
        for f in OPTIONAL {
            assert!(FIELDS.contains(f), "{f}");
        }
    }
}

//! The fields of a step that are not one kind's own: those every step may carry (the
//! loader checks them) and those several kinds share (each kind that takes one checks it;
//! the loader refuses it on the others: "field repo does not belong to a request step").

use indexmap::IndexMap;
use serde_json::Value;

use crate::fields::raw_fields;
use crate::model::{AsSpec, LevelSpec, Profile};

raw_fields! {
    /// A step's fields that no single kind owns.
    pub struct Common {
        /// Named in labels (`step 2 "open"`).
        "name" => name: Option<String>,
        /// The IDs a failure breaks (default: the scenario's).
        "requirements" => requirements: Option<Vec<String>>,
        /// Explicit level of the step's expectations (default: from its requirements).
        "level" => level: Option<LevelSpec>,
        /// The step prepares what the scenario checks: its failure is an `error`.
        "setup" => setup: Option<bool>,
        /// `request` and `paginate`: what the answer must be. Each kind has its own shape,
        /// so it is read as JSON here and by the kind.
        "expect" => expect: Option<Value>,
        /// `request` and `paginate`: parts of `expect` that differ per profile.
        "profile_expect" => profile_expect: Option<IndexMap<Profile, Value>>,
        /// `push_blob` and `push_manifest`: the repository (default `${repo}`).
        "repo" => repo: Option<String>,
        /// `request` and `paginate`: whose credentials the requests carry.
        "as" => as_: Option<AsSpec>,
    }
}

/// `repo` of a push step, `${repo}` when not given.
pub fn repo_or_default(common: &Common) -> String {
    common.repo.clone().unwrap_or_else(|| "${repo}".to_owned())
}

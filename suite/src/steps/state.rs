//! What one scenario run shares between its steps.

use std::collections::BTreeSet;
use std::sync::Mutex;

use super::outcome::Failure;
use crate::client::HttpClient;
use crate::expect::Items;
use crate::levels::Levels;
use crate::model::Profile;

/// What one scenario run shares between its steps.
pub struct ScenarioState<'a> {
    /// The client.
    pub client: &'a HttpClient,
    /// The profile whose expectations apply.
    pub profile: Profile,
    /// Named blobs and manifests.
    pub items: Items,
    /// `(repo, digest)` of everything the scenario may have created, for clean-up: what
    /// `push_blob` / `push_manifest` put, and the items a write `request` named (a repo of
    /// `""`: every repository the scenario used).
    pub pushed: Mutex<BTreeSet<(String, String)>>,
    /// The label of the step running now (for timeout messages).
    pub current: Mutex<String>,
    /// How binding each requirement is (judges `also` expectations as they run).
    pub levels: &'a Levels,
    /// Mixed into the seeds of anonymous generated bodies (unique per trial).
    pub seed_mix: u64,
    /// Violated expectations below MUST so far: the scenario goes on, and ends `warn`.
    pub warnings: Mutex<Vec<Failure>>,
}

//! How binding each expectation is, per profile.
//!
//! Principle 6: a registry fails only for breaking a sentence that says MUST. The catalog
//! (`fixtures/requirements.json`) says, per requirement and profile, what the text obliges
//! (`check`: MUST, SHOULD, MAY or none); an expectation is judged at the strongest level
//! of the requirements it rests on, unless the scenario states the level of the sentence
//! itself (`level`). A violation at MUST fails the scenario; anything weaker is a warning.

use std::collections::HashMap;

use crate::loader::{Catalog, Scenario};
use crate::model::{Level, LevelSpec, Profile, Step};

/// The level of every requirement under each profile.
#[derive(Debug, Clone, Default)]
pub struct Levels {
    by_id: HashMap<String, HashMap<Profile, Level>>,
}

impl Levels {
    /// Reads the levels of a catalog: its `check` field, else the first word of `level`.
    pub fn from_catalog(c: &Catalog) -> Levels {
        let mut by_id = HashMap::new();
        for r in &c.requirements {
            let fallback = Level::from_catalog_text(&r.level);
            let per: HashMap<Profile, Level> = Profile::ALL
                .into_iter()
                .map(|p| {
                    let l = r
                        .check
                        .as_ref()
                        .and_then(|m| m.get(&p).copied())
                        .unwrap_or(fallback);
                    (p, l)
                })
                .collect();
            by_id.insert(r.id.clone(), per);
        }
        Levels { by_id }
    }

    /// The level of one requirement under `p`. An ID the catalog does not know (no
    /// catalog at all, as in the engine's own test fixtures) counts as MUST, the level
    /// the suite judged everything at before levels existed.
    pub fn of(&self, id: &str, p: Profile) -> Level {
        self.by_id
            .get(id)
            .and_then(|m| m.get(&p).copied())
            .unwrap_or(Level::Must)
    }

    /// The level an expectation is judged at: the stated one, else the strongest of its
    /// requirements (MUST when it cites none).
    pub fn judge(&self, ids: &[String], explicit: Option<&LevelSpec>, p: Profile) -> Level {
        if let Some(l) = explicit.and_then(|l| l.for_profile(p)) {
            return l;
        }
        ids.iter()
            .map(|id| self.of(id, p))
            .min()
            .unwrap_or(Level::Must)
    }

    /// Whether some expectation of the scenario is judged differently under two of its
    /// profiles: then one trial cannot give both verdicts, and it runs once per profile.
    pub fn differs(&self, s: &Scenario) -> bool {
        if s.profiles.len() < 2 {
            return false;
        }
        s.steps
            .iter()
            .flat_map(Step::judgements)
            .any(|(ids, explicit)| {
                let mut verdicts = s
                    .profiles
                    .iter()
                    .map(|p| self.judge(ids, explicit, *p).fails());
                let first = verdicts.next();
                verdicts.any(|v| Some(v) != first)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexmap::IndexMap;

    fn levels() -> Levels {
        let cat: Catalog = serde_json::from_value(serde_json::json!({"requirements": [
            {"id": "A-01", "level": "MUST"},
            {"id": "A-02", "level": "SHOULD"},
            {"id": "A-03", "level": "MUST (d)", "check": {"oci-1.1": "none", "docker-v2": "MUST"}},
            {"id": "A-04", "level": "MAY"}
        ]}))
        .unwrap();
        Levels::from_catalog(&cat)
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn strongest_requirement_wins_and_check_is_per_profile() {
        let l = levels();
        let oci = Profile::Oci11;
        let docker = Profile::DockerV2;
        assert_eq!(l.judge(&ids(&["A-02", "A-01"]), None, oci), Level::Must);
        assert_eq!(l.judge(&ids(&["A-02", "A-04"]), None, oci), Level::Should);
        assert_eq!(l.judge(&ids(&["A-04"]), None, oci), Level::May);
        assert_eq!(l.judge(&ids(&["A-03"]), None, oci), Level::None);
        assert_eq!(l.judge(&ids(&["A-03"]), None, docker), Level::Must);
        assert_eq!(l.judge(&ids(&["UNKNOWN-1"]), None, oci), Level::Must);
    }

    #[test]
    fn a_stated_level_overrides_the_requirements() {
        let l = levels();
        let all = LevelSpec::All(Level::Should);
        assert_eq!(
            l.judge(&ids(&["A-01"]), Some(&all), Profile::DockerV2),
            Level::Should
        );
        let mut m = IndexMap::new();
        m.insert(Profile::DockerV2, Level::Must);
        let per = LevelSpec::PerProfile(m);
        assert_eq!(
            l.judge(&ids(&["A-02"]), Some(&per), Profile::DockerV2),
            Level::Must
        );
        assert_eq!(
            l.judge(&ids(&["A-02"]), Some(&per), Profile::Oci11),
            Level::Should
        );
    }
}

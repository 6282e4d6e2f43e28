//! `requirements.json`: the requirement catalog scenarios cite.

use std::collections::HashSet;
use std::path::Path;

use indexmap::IndexMap;
use serde::Deserialize;

use crate::error::{LoadError, Location};
use crate::model::{Level, Profile};

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

//! From loaded fixtures to the list of trials of a run: profile variants, names, and the
//! repository each trial works in.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::capabilities;
use crate::levels::Levels;
use crate::loader::{Fixtures, Scenario};
use crate::model::{Profile, PushMethod, Step, StepKind};

/// One trial.
#[derive(Debug, Clone)]
pub struct TrialPlan {
    /// `<area>::<id>` or `<area>::<id>@<profile>`.
    pub name: String,
    /// Area (JUnit testsuite).
    pub area: String,
    /// `<id>` or `<id>@<profile>` (JUnit testcase).
    pub case: String,
    /// What to run: the scenario, or why it could not be loaded.
    pub what: Planned,
    /// Profile the expectations are taken from.
    pub profile: Profile,
    /// `${repo}`.
    pub repo: String,
}

impl TrialPlan {
    /// About how many round trips the trial takes: the scenario's requests (an upload is
    /// three: POST, PUT, and the HEAD that checks it; a chunked one a PATCH more per
    /// chunk), a wait at 20 per second, and a delete per push for clean-up. Only for the
    /// order trials start in: the longest first, so that with many at once the run does
    /// not end waiting for one long trial that started last.
    pub fn round_trips(&self) -> u64 {
        let Planned::Scenario(s) = &self.what else {
            return 0;
        };
        let size = |name: &str| s.blobs.get(name).and_then(|b| b.size).unwrap_or(0);
        fn cost(step: &Step, size: &dyn Fn(&str) -> u64) -> u64 {
            match &step.kind {
                StepKind::Request(_) => 1,
                StepKind::PushBlob(b) => {
                    let chunks = match b.method {
                        PushMethod::Chunked | PushMethod::ChunkedFinalInPut => size(&b.blob)
                            .div_ceil(b.chunk_size.unwrap_or(1024 * 1024).max(1))
                            .max(1),
                        _ => 0,
                    };
                    // And its delete at clean-up.
                    4 + chunks
                }
                StepKind::PushManifest(_) => 2,
                StepKind::Paginate(_) => 3,
                StepKind::Parallel(branches) => {
                    branches.iter().map(|b| cost(b, size)).max().unwrap_or(0)
                }
                StepKind::AlterToken(_) => 0,
                StepKind::Wait(w) => 20 * w.at_most,
            }
        }
        s.steps.iter().map(|step| cost(step, &size)).sum()
    }
}

/// A trial's content.
#[derive(Debug, Clone)]
pub enum Planned {
    /// A valid scenario.
    Scenario(Arc<Scenario>),
    /// A file that failed to load: the trial reports this as an `error`.
    LoadError {
        /// The file.
        file: std::path::PathBuf,
        /// The message.
        message: String,
    },
}

/// `conformance-<8 random lowercase letters/digits>`: unique per run, so parallel CI jobs
/// and reruns against the same registry never share a repository.
pub fn random_namespace() -> String {
    use rand::RngExt as _;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let s: String = (0..8)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect();
    format!("conformance-{s}")
}

/// Checks a namespace given on the command line (one or more repository path components).
pub fn check_namespace(ns: &str) -> Result<(), String> {
    let re = regex::Regex::new(
        r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$",
    )
    .map_err(|e| e.to_string())?;
    if re.is_match(ns) {
        Ok(())
    } else {
        Err(format!(
            "namespace {ns:?} is not a valid repository path prefix (lowercase components separated by /)"
        ))
    }
}

/// The trials for the selected profiles, sorted by name, for a registry with every
/// capability (see [`plan_without`]).
pub fn plan(fx: &Fixtures, selected: &[Profile], namespace: &str) -> Vec<TrialPlan> {
    plan_without(fx, selected, namespace, &BTreeSet::new())
}

/// The trials for the selected profiles, sorted by name. Scenarios with `profile_expect`,
/// or whose expectations are judged at different levels under the profiles (a Docker
/// MUST that OCI does not state), run once per selected profile they apply to; the rest once; scenarios for no selected
/// profile, and scenarios whose `when_without` capabilities are not all in `without`, are
/// left out, and so are scenarios needing an opt-in capability (`--with`, checks that wait
/// minutes) that was not asked for, like another profile's scenarios, so they neither slow
/// a run nor show up as skips in every report and baseline. Files that failed to load
/// become error trials.
pub fn plan_without(
    fx: &Fixtures,
    selected: &[Profile],
    namespace: &str,
    without: &BTreeSet<String>,
) -> Vec<TrialPlan> {
    let levels = fx
        .catalog
        .as_ref()
        .map(Levels::from_catalog)
        .unwrap_or_default();
    let mut out = Vec::new();
    for s in &fx.scenarios {
        // A check of how a switched-off operation is refused means nothing on a registry
        // that offers it, so it is not even listed (like another profile's scenario).
        if !s.when_without.iter().all(|c| without.contains(c)) {
            continue;
        }
        if s.capabilities
            .iter()
            .any(|c| is_opt_in(c) && without.contains(c))
        {
            continue;
        }
        let applicable: Vec<Profile> = Profile::ALL
            .into_iter()
            .filter(|p| selected.contains(p) && s.profiles.contains(p))
            .collect();
        let Some(first) = applicable.first().copied() else {
            continue;
        };
        let base_repo = format!("{namespace}/{}", s.id.replace('.', "-"));
        // One trial per profile when the expectations or their verdicts differ.
        if s.has_profile_expect() || levels.differs(s) {
            for p in applicable {
                out.push(TrialPlan {
                    name: format!("{}::{}@{p}", s.area, s.id),
                    area: s.area.clone(),
                    case: format!("{}@{p}", s.id),
                    what: Planned::Scenario(s.clone()),
                    profile: p,
                    // Variants run in parallel, so each needs its own repository.
                    repo: format!("{base_repo}-{}", p.as_str().replace('.', "-")),
                });
            }
        } else {
            out.push(TrialPlan {
                name: format!("{}::{}", s.area, s.id),
                area: s.area.clone(),
                case: s.id.clone(),
                what: Planned::Scenario(s.clone()),
                profile: first,
                repo: base_repo,
            });
        }
    }
    for (name, err) in &fx.errors {
        let (area, case) = name.split_once("::").unwrap_or(("fixtures", name));
        out.push(TrialPlan {
            name: name.clone(),
            area: area.to_owned(),
            case: case.to_owned(),
            what: Planned::LoadError {
                file: err.file().to_owned(),
                message: err.to_string(),
            },
            profile: selected.first().copied().unwrap_or(Profile::Oci11),
            repo: String::new(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Whether `c` is asked for with `--with` rather than assumed ([`capabilities`]).
fn is_opt_in(c: &str) -> bool {
    capabilities::find(c).is_some_and(|c| c.switch == capabilities::Switch::OptIn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces() {
        let ns = random_namespace();
        assert!(check_namespace(&ns).is_ok(), "{ns}");
        assert_ne!(ns, random_namespace());
        assert!(check_namespace("ci/job-1").is_ok());
        assert!(check_namespace("CI").is_err());
        assert!(check_namespace("a//b").is_err());
        assert!(check_namespace("").is_err());
    }
}

//! Runs one trial: capability check, blob/manifest preparation, the steps under a
//! scenario timeout, clean-up, and the outcome.

use std::collections::{BTreeSet, HashMap};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::Method;
use serde_json::Value;

use crate::client::{HttpClient, OutBody};
use crate::content::{Content, Item};
use crate::events::{Event, EventSender, Outcome, ScenarioReport};
use crate::expect::Items;
use crate::levels::Levels;
use crate::loader::Scenario;
use crate::model::{Algorithm, ManifestDef};
use crate::plan::{Planned, TrialPlan};
use crate::steps::{Failure, ScenarioState, StepEnd, run_step, simple};
use crate::vars::{self, Vars};

/// The annotation `pad_to` grows a manifest with.
pub const PADDING_ANNOTATION: &str = "org.opencontainers.conformance.padding";
/// The annotation that makes each trial's manifests its own (value: `${unique}`).
pub const TRIAL_ANNOTATION: &str = "org.opencontainers.conformance.trial";
/// Upper bound for clean-up after a scenario.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(60);

/// What every trial of a run shares.
#[derive(Debug)]
pub struct RunContext {
    /// The client (base URL, auth, timeouts).
    pub client: HttpClient,
    /// The run's namespace.
    pub namespace: String,
    /// Capabilities switched off by the user (or by the harness: `reader` without a reader
    /// identity).
    pub without: BTreeSet<String>,
    /// Skip reasons of capabilities switched off for a reason other than `--without`.
    pub without_reasons: std::collections::BTreeMap<String, String>,
    /// Bound on one scenario's steps.
    pub scenario_timeout: Duration,
    /// Set when the registry could not be reached at start-up: every trial is an error.
    pub unreachable: Option<String>,
    /// How binding each requirement is under each profile.
    pub levels: Levels,
    /// `--strict`: a warning (violated SHOULD) counts as a failure.
    pub strict: bool,
}

impl RunContext {
    /// Whether clean-up deletes: not when the user said the registry has no deletes.
    pub fn cleanup_enabled(&self) -> bool {
        !self.without.contains("delete")
    }
}

/// What `GET /v2/` said before the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preflight {
    /// The registry answered (any status but a 401 that credentials could fix).
    Ready,
    /// No answer at all: every trial becomes an error saying so.
    Unreachable(String),
    /// 401 and no credentials were given: the run stops at once with this message, rather
    /// than reporting the same 401 in every scenario.
    NeedsCredentials(String),
}

/// Checks that the registry answers `GET /v2/`, and that it does not want credentials the
/// run lacks (AUTH-01: an unauthenticated request gets 401 with a challenge).
pub async fn preflight(client: &HttpClient) -> Preflight {
    let url = match client.url_for_path("/v2/") {
        Ok(u) => u,
        Err(e) => return Preflight::Unreachable(format!("bad registry URL: {e}")),
    };
    let req = simple(Method::GET, url.clone(), vec![], OutBody::Empty);
    match client.send(&req).await {
        Ok(resp) if resp.status.as_u16() == 401 && !client.has_credentials() => {
            Preflight::NeedsCredentials(needs_credentials(
                client,
                &resp.header_values("www-authenticate"),
            ))
        }
        Ok(_) => Preflight::Ready,
        Err(e) => Preflight::Unreachable(format!(
            "the registry at {} does not answer GET /v2/: {e}",
            client.base()
        )),
    }
}

/// The message for a registry that answered 401 to an anonymous `GET /v2/`: the challenge
/// it sent and what to pass.
fn needs_credentials(client: &HttpClient, challenges: &[String]) -> String {
    let lines: Vec<&str> = challenges.iter().map(String::as_str).collect();
    let described = match crate::challenge::parse(&lines) {
        Ok(cs) if !cs.is_empty() => cs
            .iter()
            .map(|c| format!("WWW-Authenticate: {}", c.describe()))
            .collect::<Vec<_>>()
            .join("; "),
        Ok(_) => "no WWW-Authenticate header (RFC 9110 requires one with a 401)".to_owned(),
        Err(e) => format!("an unparsable WWW-Authenticate header ({e})"),
    };
    format!(
        "the registry at {} requires authentication: GET /v2/ answered 401 with {described}. \
         Pass credentials with --username and --password (REGISTRY_USERNAME, \
         REGISTRY_PASSWORD) or --token (REGISTRY_TOKEN), or log in so that the docker config \
         ($DOCKER_CONFIG/config.json, ~/.docker/config.json) or REGISTRY_AUTH_FILE holds \
         them (see suite/AUTH.md); every scenario would otherwise fail the same way",
        client.base()
    )
}

/// Runs one trial and sends its events; returns the report.
pub async fn run_trial(
    ctx: &RunContext,
    plan: &TrialPlan,
    events: Option<&EventSender>,
) -> ScenarioReport {
    if let Some(tx) = events {
        let _ = tx.send(Event::Started {
            name: plan.name.clone(),
        });
    }
    let start = Instant::now();
    let (outcome, title, requirements, file) = match &plan.what {
        Planned::LoadError { file, message } => (
            Outcome::Error {
                summary: "the scenario file does not load".to_owned(),
                details: message.clone(),
                requirements: Vec::new(),
                cause: None,
            },
            String::new(),
            Vec::new(),
            file.clone(),
        ),
        Planned::Scenario(s) => {
            let outcome = match (
                &ctx.unreachable,
                s.capabilities.iter().find(|c| ctx.without.contains(*c)),
            ) {
                (Some(e), _) => Outcome::Error {
                    summary: "registry unreachable".to_owned(),
                    details: e.clone(),
                    requirements: Vec::new(),
                    cause: Some(format!("registry unreachable: {e}")),
                },
                (None, Some(cap)) => Outcome::Skip {
                    reason: ctx.without_reasons.get(cap).cloned().unwrap_or_else(|| {
                        format!("capability {cap} is switched off (--without {cap})")
                    }),
                },
                (None, None) => match ctx.client.breaker().tripped() {
                    Some(stopped) => gave_up(stopped),
                    None => run_scenario(ctx, s, plan).await,
                },
            };
            (
                outcome,
                s.title.clone(),
                s.cited_requirements().into_iter().collect(),
                s.file.clone(),
            )
        }
    };
    // `--strict`: every SHOULD is held like a MUST.
    let outcome = match outcome {
        Outcome::Warn {
            summary,
            details,
            requirements,
            cause,
        } if ctx.strict => Outcome::Fail {
            summary: format!("{summary} (a SHOULD, failed by --strict)"),
            details,
            requirements,
            cause,
        },
        other => other,
    };
    let report = ScenarioReport {
        name: plan.name.clone(),
        area: plan.area.clone(),
        case: plan.case.clone(),
        title,
        profile: Some(plan.profile),
        requirements,
        file,
        outcome,
        duration: start.elapsed(),
    };
    if let Some(tx) = events {
        let _ = tx.send(Event::Finished(Box::new(report.clone())));
    }
    report
}

async fn run_scenario(ctx: &RunContext, s: &Scenario, plan: &TrialPlan) -> Outcome {
    let mut vars = Vars::new(&ctx.namespace, &plan.repo);
    vars.set("username", ctx.client.username().unwrap_or_default());
    vars.set(
        "reader_username",
        ctx.client.reader_username().unwrap_or_default(),
    );
    let seed_mix = vars::trial_seed(&plan.repo);
    let items = match prepare(s, &mut vars, seed_mix) {
        Ok(i) => i,
        Err(e) => {
            return Outcome::Error {
                summary: "cannot prepare the scenario's content".to_owned(),
                details: e,
                requirements: Vec::new(),
                cause: None,
            };
        }
    };
    let state = ScenarioState {
        client: &ctx.client,
        profile: plan.profile,
        items,
        pushed: Mutex::new(BTreeSet::new()),
        current: Mutex::new(String::new()),
        levels: &ctx.levels,
        seed_mix,
        warnings: Mutex::new(Vec::new()),
    };
    let steps = async {
        for step in &s.steps {
            run_step(&state, step, &mut vars).await?;
        }
        Ok::<(), StepEnd>(())
    };
    let result = tokio::time::timeout(ctx.scenario_timeout, steps).await;
    if ctx.cleanup_enabled() && ctx.client.breaker().tripped().is_none() {
        let _ = tokio::time::timeout(CLEANUP_TIMEOUT, cleanup(&state, s, &vars)).await;
    }
    let mut warnings = state.warnings.lock().map(|w| w.clone()).unwrap_or_default();
    let mut outcome = match result {
        Ok(Ok(())) => warned(warnings),
        Ok(Err(StepEnd::Skip(reason))) => Outcome::Skip { reason },
        Ok(Err(StepEnd::Fail(f))) => judge(ctx, s, plan, *f, &mut warnings),
        Err(_) => {
            let step = state.current.lock().map(|c| c.clone()).unwrap_or_default();
            let summary = format!(
                "[{}] {step}: scenario did not finish within {} s",
                s.requirements.join(", "),
                ctx.scenario_timeout.as_secs()
            );
            Outcome::Fail {
                details: format!("{summary}\n(raise --scenario-timeout for a slow registry)"),
                cause: format!(
                    "[{}] scenario did not finish within {} s",
                    s.requirements.join(", "),
                    ctx.scenario_timeout.as_secs()
                ),
                summary,
                requirements: s.requirements.clone(),
            }
        }
    };
    // A scenario cut short because the run gave up on the registry was not judged.
    if let (Some(stopped), Outcome::Fail { details, .. } | Outcome::Error { details, .. }) =
        (ctx.client.breaker().tripped(), &outcome)
        && details.contains(crate::breaker::STOPPED)
    {
        return gave_up(stopped);
    }
    if let Some(cause) = outcome.cause_mut() {
        *cause = generic_cause(cause, ctx, plan);
    }
    outcome
}

/// The outcome of a scenario not run (or cut short) because the registry stopped
/// answering ([`crate::breaker`]): an error, since nothing was judged.
fn gave_up(stopped: &str) -> Outcome {
    Outcome::Error {
        summary: crate::breaker::STOPPED.to_owned(),
        details: stopped.to_owned(),
        requirements: Vec::new(),
        cause: Some(crate::breaker::STOPPED.to_owned()),
    }
}

/// The outcome of a step that did not hold:
/// - a setup step (an upload or push the scenario needs) that broke a requirement the
///   scenario does not itself cite: `error`, naming the requirement that really broke;
/// - an expectation judged at MUST: `fail`;
/// - anything weaker: `warn` (the scenario stops there, since later steps may build on
///   what this one should have done).
fn judge(
    ctx: &RunContext,
    s: &Scenario,
    plan: &TrialPlan,
    f: Failure,
    warnings: &mut Vec<Failure>,
) -> Outcome {
    let own = f.requirements.iter().any(|r| s.requirements.contains(r));
    let cause = f.cause();
    if f.setup && !own {
        return Outcome::Error {
            summary: format!("could not set up: {}", f.summary()),
            details: format!(
                "could not set up the scenario: a preparation step broke {}, which this \
                 scenario does not check (see the scenarios that cite it)\n{}{}",
                f.requirements.join(", "),
                f.render(),
                render_warnings(warnings)
            ),
            requirements: f.requirements,
            cause: Some(cause),
        };
    }
    let level = ctx
        .levels
        .judge(&f.requirements, f.level.as_ref(), plan.profile);
    if level.fails() {
        return Outcome::Fail {
            summary: f.summary(),
            details: format!("{}{}", f.render(), render_warnings(warnings)),
            requirements: f.requirements.clone(),
            cause,
        };
    }
    warnings.insert(0, f);
    warned(std::mem::take(warnings))
}

/// A cause without what differs between trials and runs (the repository, the namespace,
/// digests), so that one defect met by many scenarios is one root cause.
fn generic_cause(cause: &str, ctx: &RunContext, plan: &TrialPlan) -> String {
    let mut c = cause.to_owned();
    if !plan.repo.is_empty() {
        c = c.replace(&plan.repo, "<repo>");
    }
    if !ctx.namespace.is_empty() {
        c = c.replace(&ctx.namespace, "<namespace>");
    }
    static DIGEST: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"sha(256:[0-9a-f]{64}|512:[0-9a-f]{128})").expect("a valid regex")
    });
    DIGEST.replace_all(&c, "<digest>").into_owned()
}

/// `pass` without warnings, else `warn` with all of them.
fn warned(warnings: Vec<Failure>) -> Outcome {
    let Some(first) = warnings.first() else {
        return Outcome::Pass;
    };
    let mut requirements: Vec<String> = Vec::new();
    for w in &warnings {
        for r in &w.requirements {
            if !requirements.contains(r) {
                requirements.push(r.clone());
            }
        }
    }
    let details = warnings
        .iter()
        .map(|w| {
            format!(
                "warning (a SHOULD or weaker, not a failure):\n{}",
                w.render()
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    Outcome::Warn {
        summary: first.summary(),
        cause: first.cause(),
        details,
        requirements,
    }
}

fn render_warnings(warnings: &[Failure]) -> String {
    warnings
        .iter()
        .map(|w| format!("\nalso a warning (a SHOULD or weaker):\n{}", w.render()))
        .collect()
}

/// Hashes the blobs and renders the manifests (in order), defining their variables.
///
/// Isolation: generated blobs mix `seed_mix` (unique per trial) into their seed, text
/// blobs may use `${unique}`, and JSON manifests get the [`TRIAL_ANNOTATION`], so no two
/// trials push the same blob or manifest unless a scenario marks it `shared`, and one
/// scenario's deletes can never change another's result.
pub fn prepare(s: &Scenario, vars: &mut Vars, seed_mix: u64) -> Result<Items, String> {
    let mut items = Items::default();
    for (name, def) in &s.blobs {
        let content = match (&def.size, &def.text, &def.base64) {
            (Some(size), _, _) => Content::Generated {
                seed: def.seed.unwrap_or(0) ^ seed_mix,
                size: *size,
            },
            (_, Some(t), _) => Content::Bytes(Bytes::from(
                vars.render(t).map_err(|e| format!("blob {name}: {e}"))?,
            )),
            (_, _, Some(b)) => {
                use base64::Engine as _;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map_err(|e| format!("blob {name}: {e}"))?;
                Content::Bytes(Bytes::from(bytes))
            }
            _ => return Err(format!("blob {name}: no content")),
        };
        let item = Item::new(content, def.algorithm, None);
        vars.set(format!("blob.{name}.digest"), item.digest.clone());
        vars.set(format!("blob.{name}.hex"), item.hex().to_owned());
        vars.set(format!("blob.{name}.size"), item.content.len().to_string());
        items.blobs.insert(name.clone(), (item, def.algorithm));
    }
    for (name, def) in &s.manifests {
        let bytes = render_manifest(name, def, vars)?;
        let media_type = vars
            .render(&def.media_type)
            .map_err(|e| format!("manifest {name}: {e}"))?;
        let item = Item::new(
            Content::Bytes(bytes),
            Algorithm::Sha256,
            Some(media_type.clone()),
        );
        vars.set(format!("manifest.{name}.digest"), item.digest.clone());
        vars.set(
            format!("manifest.{name}.size"),
            item.content.len().to_string(),
        );
        vars.set(format!("manifest.{name}.media_type"), media_type);
        items.manifests.insert(name.clone(), item);
    }
    Ok(items)
}

/// The exact bytes of a manifest: substituted, compact, padded to `pad_to`.
pub fn render_manifest(name: &str, def: &ManifestDef, vars: &Vars) -> Result<Bytes, String> {
    let err = |e: String| format!("manifest {name}: {e}");
    if let Some(t) = &def.text {
        return Ok(Bytes::from(vars.render(t).map_err(|e| err(e.to_string()))?));
    }
    let Some(tmpl) = &def.json else {
        return Err(err("no json or text".into()));
    };
    let mut v = vars.render_json(tmpl).map_err(|e| err(e.to_string()))?;
    if !def.shared
        && let Some(obj) = v.as_object_mut()
        && let Some(unique) = vars.get("unique")
    {
        let ann = obj
            .entry("annotations")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(ann) = ann.as_object_mut() {
            ann.insert(TRIAL_ANNOTATION.to_owned(), Value::String(unique));
        }
    }
    let compact = |v: &Value| serde_json::to_vec(v).unwrap_or_default();
    let Some(target) = def.pad_to else {
        return Ok(Bytes::from(compact(&v)));
    };
    let set_padding = |v: &mut Value, pad: String| -> Result<(), String> {
        let obj = v
            .as_object_mut()
            .ok_or_else(|| err("pad_to needs an object".into()))?;
        let ann = obj
            .entry("annotations")
            .or_insert_with(|| Value::Object(Default::default()));
        let ann = ann
            .as_object_mut()
            .ok_or_else(|| err("annotations is not an object".into()))?;
        ann.insert(PADDING_ANNOTATION.to_owned(), Value::String(pad));
        Ok(())
    };
    set_padding(&mut v, String::new())?;
    let base = compact(&v).len() as u64;
    if base > target {
        return Err(err(format!(
            "pad_to {target} is smaller than the manifest ({base} bytes)"
        )));
    }
    // Each plain ASCII letter in a JSON string is exactly one byte of output.
    set_padding(&mut v, "a".repeat((target - base) as usize))?;
    let out = compact(&v);
    if out.len() as u64 != target {
        return Err(err(format!(
            "padding produced {} bytes, not {target}",
            out.len()
        )));
    }
    Ok(Bytes::from(out))
}

/// Deletes in parallel at most this many of one trial's clean-up requests.
const CLEANUP_FAN_OUT: usize = 4;

/// Deletes what the scenario may have pushed ([`ScenarioState::pushed`]): each such
/// manifest, then each such blob, by digest, in the repository it went to. Everything it
/// deletes is unique to this trial (see [`prepare`]), so clean-up removes only what this
/// scenario pushed, and nothing it never pushed is asked for (a needless round trip each).
///
/// In waves, up to [`CLEANUP_FAN_OUT`] requests at a time: first the manifests no other
/// manifest of the scenario refers to (an index, a referrer), then those they referred
/// to, and so on; then the blobs. So an index still goes before its children and
/// manifests before blobs, as a registry that refuses to delete referenced content needs,
/// and the deletes of one wave overlap instead of costing a round trip each.
///
/// Every answer is ignored: a registry without deletes must not fail scenarios for it.
/// The first request without an answer ends clean-up: a registry that hangs on one delete
/// would hang on the next, and each would cost a whole request timeout.
async fn cleanup(state: &ScenarioState<'_>, s: &Scenario, vars: &Vars) {
    let used = vars.used_repos();
    // digest -> the repositories it may be in.
    let mut targets: HashMap<String, BTreeSet<String>> = HashMap::new();
    if let Ok(p) = state.pushed.lock() {
        for (repo, digest) in p.iter() {
            let repos = targets.entry(digest.clone()).or_default();
            if repo.is_empty() {
                repos.extend(used.iter().cloned());
            } else {
                repos.insert(repo.clone());
            }
        }
    }
    // Shared content (the same bytes in other scenarios) is never deleted: another
    // trial may be using it right now.
    let manifests: Vec<&Item> = s
        .manifests
        .iter()
        .filter(|(_, d)| !d.shared)
        .filter_map(|(n, _)| state.items.manifests.get(n))
        .collect();
    let blobs: Vec<&Item> = s
        .blobs
        .iter()
        .filter(|(_, d)| !d.shared)
        .filter_map(|(n, _)| state.items.blobs.get(n).map(|(i, _)| i))
        .collect();
    let mut waves: Vec<Vec<String>> = Vec::new();
    for wave in manifest_waves(&manifests) {
        waves.push(deletes("manifests", &wave, &targets));
    }
    waves.push(deletes("blobs", &blobs, &targets));
    let stopped = std::sync::atomic::AtomicBool::new(false);
    for wave in waves {
        use futures_util::StreamExt as _;
        futures_util::stream::iter(wave)
            .for_each_concurrent(CLEANUP_FAN_OUT, |path| {
                let stopped = &stopped;
                async move {
                    if stopped.load(std::sync::atomic::Ordering::Relaxed) {
                        return;
                    }
                    let Ok(url) = state.client.url_for_path(&path) else {
                        return;
                    };
                    let sent = state
                        .client
                        .send(&simple(Method::DELETE, url, vec![], OutBody::Empty))
                        .await;
                    if sent.is_err() {
                        stopped.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            })
            .await;
        if stopped.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
    }
}

/// `/v2/<repo>/<kind>/<digest>` for each item in each repository it may be in, sorted.
fn deletes(
    kind: &str,
    items: &[&Item],
    targets: &HashMap<String, BTreeSet<String>>,
) -> Vec<String> {
    let mut out: Vec<String> = items
        .iter()
        .flat_map(|item| {
            targets
                .get(&item.digest)
                .into_iter()
                .flatten()
                .map(move |repo| format!("/v2/{repo}/{kind}/{}", item.digest))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The scenario's manifests in deletion waves: first those no other manifest refers to
/// (by its digest in the referrer's bytes: an index's children, a referrer's subject),
/// then those only the first wave referred to, and so on. A manifest refers only to
/// manifests defined before it, so there are no cycles; a wave is never empty.
fn manifest_waves<'a>(manifests: &[&'a Item]) -> Vec<Vec<&'a Item>> {
    let refers = |a: &Item, b: &Item| {
        let Content::Bytes(bytes) = &*a.content else {
            return false;
        };
        a.digest != b.digest
            && match std::str::from_utf8(bytes) {
                Ok(text) => text.contains(&b.digest),
                Err(_) => bytes
                    .windows(b.digest.len())
                    .any(|w| w == b.digest.as_bytes()),
            }
    };
    let mut left: Vec<&Item> = manifests.to_vec();
    let mut waves = Vec::new();
    while !left.is_empty() {
        let (wave, rest): (Vec<&Item>, Vec<&Item>) = left
            .iter()
            .partition(|m| !left.iter().any(|other| refers(other, m)));
        if wave.is_empty() {
            // Not reachable with fixtures (references only point backwards); keep going.
            waves.push(rest);
            break;
        }
        waves.push(wave);
        left = rest;
    }
    waves
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pad_to_hits_the_exact_size() {
        let def = ManifestDef {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            json: Some(json!({"schemaVersion": 2, "layers": [{"size": "${blob.l.size}"}]})),
            text: None,
            pad_to: Some(4096),
            shared: false,
        };
        let mut vars = Vars::new("n", "n/r");
        vars.set("blob.l.size", "12");
        let b = render_manifest("m", &def, &vars).unwrap();
        assert_eq!(b.len(), 4096);
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["layers"][0]["size"], json!(12));
        assert!(v["annotations"][PADDING_ANNOTATION].is_string());

        let small = ManifestDef {
            pad_to: Some(5),
            ..def
        };
        assert!(
            render_manifest("m", &small, &vars)
                .unwrap_err()
                .contains("smaller")
        );
    }

    #[test]
    fn text_manifests_are_exact() {
        let def = ManifestDef {
            media_type: "x".into(),
            json: None,
            text: Some("{ \"a\" :  \"${repo}\" }".into()),
            pad_to: None,
            shared: false,
        };
        let b = render_manifest("m", &def, &Vars::new("n", "n/r")).unwrap();
        assert_eq!(&b[..], b"{ \"a\" :  \"n/r\" }");
    }
}

//! `push_manifest`: PUT a named manifest by tag or digest, expecting 201.

use reqwest::Method;

use super::common::{Common, repo_or_default};
use super::exchange::simple;
use super::outcome::{StepEnd, missing};
use super::push_flow::{expect_status, ids, undefined, url};
use super::state::ScenarioState;
use crate::client::OutBody;
use crate::error::LoadError;
use crate::fields::raw_fields;
use crate::model::{PushManifestStep, Step, StepKind};
use crate::validate::{Scope, StepContext};
use crate::vars::Vars;

/// The key that makes a step a `push_manifest` step.
pub const KEY: &str = "push_manifest";

/// The fields besides its own key that a `push_manifest` step takes.
pub const ACCEPTS: &[&str] = &["reference", "repo"];

raw_fields! {
    /// A `push_manifest` step's own fields (`repo` it shares with `push_blob`: [`Common`]).
    pub struct Raw {
        /// The manifest's name in the scenario.
        "push_manifest" => push_manifest: Option<String>,
        /// A tag, or `digest` (the default) for the manifest's own digest.
        "reference" => reference: Option<String>,
    }
}

impl Raw {
    /// The manifest is the scenario's; `${manifest.M.location}` is defined afterwards
    /// (outside a `parallel` branch).
    pub fn check(
        &self,
        common: &Common,
        cx: &StepContext<'_>,
        scope: &mut Scope,
    ) -> Result<StepKind, LoadError> {
        let manifest = self.push_manifest.clone().unwrap_or_default();
        if !cx.cx.manifests.contains_key(&manifest) {
            return Err(cx.err(format!("push_manifest: unknown manifest {manifest:?}")));
        }
        let reference = self
            .reference
            .clone()
            .unwrap_or_else(|| "digest".to_owned());
        cx.template("reference", &reference, scope)?;
        let repo = repo_or_default(common);
        cx.template("repo", &repo, scope)?;
        if !cx.in_parallel {
            scope.define(format!("manifest.{manifest}.location"));
        }
        Ok(StepKind::PushManifest(PushManifestStep {
            manifest,
            reference,
            repo,
        }))
    }
}

/// PUTs the manifest by tag or digest, expecting 201; defines `${manifest.M.location}`
/// when the registry sends one.
pub(super) async fn run(
    st: &ScenarioState<'_>,
    step: &Step,
    push: &PushManifestStep,
    vars: &mut Vars,
) -> Result<(), StepEnd> {
    let PushManifestStep {
        manifest,
        reference,
        repo,
    } = push;
    let Some(item) = st.items.manifests.get(manifest) else {
        return Err(undefined(step, "manifest", manifest));
    };
    let repo = vars.render(repo).map_err(|m| missing(step, m))?;
    let reference = if reference == "digest" {
        item.digest.clone()
    } else {
        vars.render(reference).map_err(|m| missing(step, m))?
    };
    if let Ok(mut p) = st.pushed.lock() {
        p.insert((repo.clone(), item.digest.clone()));
    }
    let headers = vec![(
        "Content-Type".to_owned(),
        item.media_type.clone().unwrap_or_default(),
    )];
    let body = OutBody::Content {
        reader: item.content.reader(0, item.content.len()),
        stream: false,
        abort_after: None,
        describe: format!("manifest {manifest}"),
    };
    let put = simple(
        Method::PUT,
        url(st, step, &format!("/v2/{repo}/manifests/{reference}"))?,
        headers,
        body,
    );
    let id = if push.reference == "digest" {
        ids::MANIFEST_BY_DIGEST
    } else {
        ids::MANIFEST_BY_TAG
    };
    let ex = expect_status(st, step, ("PUT manifest", id), put, &[201]).await?;
    if let Some(l) = ex.header("location") {
        vars.set(format!("manifest.{manifest}.location"), l);
    }
    Ok(())
}

//! `registry-conformance explain ID|SCENARIO`: what a requirement or a scenario is about,
//! from the fixtures alone (no registry is contacted).
//!
//! Why: a failing trial names requirement IDs and scenario names; the reader then has to
//! open `requirements.json` and the scenario file to learn what was checked and where the
//! spec says so. `explain` prints exactly that, and the scenarios citing a requirement
//! (the same mapping as `--coverage`: [`Scenario::cited_requirements`]).

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use crate::loader::{self, Catalog, Fixtures, Requirement, Scenario};
use crate::model::{AsSpec, Expect, OneOrMany, PushMethod, Step, StepKind};

/// Why `explain` could not answer: the message, ready to print (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplainError(pub String);

impl std::fmt::Display for ExplainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Loads the fixtures in `dir` and explains `query` (a requirement ID or a scenario name).
pub fn explain_in(dir: &Path, query: &str) -> Result<String, ExplainError> {
    let fx = loader::load_dir(dir).map_err(|e| ExplainError(e.to_string()))?;
    explain(&fx, query)
}

/// Explains `query`: a requirement ID (`PUSH-08`, any case) or a scenario as `--list`
/// names it (`pull::pull.manifest-by-tag`, with or without `@profile`), its id
/// (`pull.manifest-by-tag`) or its file stem (`manifest-by-tag`, when unambiguous).
pub fn explain(fx: &Fixtures, query: &str) -> Result<String, ExplainError> {
    let q = query.trim();
    if let Some(cat) = &fx.catalog
        && let Some(r) = cat
            .requirements
            .iter()
            .find(|r| r.id.eq_ignore_ascii_case(q))
    {
        return Ok(requirement(r, &fx.scenarios));
    }
    let found = find_scenarios(&fx.scenarios, q);
    match found.as_slice() {
        [s] => Ok(scenario(s, fx.catalog.as_ref())),
        [] => Err(ExplainError(not_found(fx, q))),
        many => Err(ExplainError(format!(
            "{q:?} names several scenarios; give one of: {}",
            many.iter()
                .map(|s| full_name(s))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn full_name(s: &Scenario) -> String {
    format!("{}::{}", s.area, s.id)
}

fn stem(s: &Scenario) -> String {
    s.file
        .file_stem()
        .map(|x| x.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn find_scenarios<'a>(all: &'a [Arc<Scenario>], q: &str) -> Vec<&'a Scenario> {
    // `--list` names profile variants `area::id@profile`: the scenario is the same.
    let q = q.split_once('@').map_or(q, |(name, _)| name);
    let by = |f: &dyn Fn(&Scenario) -> bool| -> Vec<&'a Scenario> {
        all.iter().map(|s| s.as_ref()).filter(|s| f(s)).collect()
    };
    let exact = by(&|s| full_name(s) == q || s.id == q);
    if !exact.is_empty() {
        return exact;
    }
    by(&|s| stem(s) == q || format!("{}::{}", s.area, stem(s)) == q)
}

/// The message for an unknown name: the closest IDs and scenario names.
fn not_found(fx: &Fixtures, q: &str) -> String {
    let mut names: Vec<String> = fx
        .catalog
        .iter()
        .flat_map(|c| c.requirements.iter().map(|r| r.id.clone()))
        .collect();
    names.extend(fx.scenarios.iter().map(|s| full_name(s)));
    let hints = suggestions(q, &names);
    let mut msg = format!("no requirement ID or scenario named {q:?}");
    if !hints.is_empty() {
        let _ = write!(msg, "; did you mean {}?", hints.join(", "));
    }
    msg.push_str(" (IDs are in fixtures/requirements.json; scenario names as --list shows them)");
    msg
}

/// Up to five names closest to `q`: those it is a prefix or part of first, then the
/// smallest edit distances (case-insensitive, at most a third of the name).
pub fn suggestions(q: &str, names: &[String]) -> Vec<String> {
    let ql = q.to_ascii_lowercase();
    if ql.is_empty() {
        return Vec::new();
    }
    let mut scored: Vec<(usize, &String)> = names
        .iter()
        .filter_map(|n| {
            let nl = n.to_ascii_lowercase();
            let tail = nl.rsplit("::").next().unwrap_or(&nl).to_owned();
            if nl.starts_with(&ql) || tail.starts_with(&ql) || nl.contains(&ql) {
                return Some((0, n));
            }
            let d = edit_distance(&ql, &nl).min(edit_distance(&ql, &tail));
            (d <= ql.len().max(3) / 3 + 1).then_some((d, n))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(5).map(|(_, n)| n.clone()).collect()
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn requirement(r: &Requirement, scenarios: &[Arc<Scenario>]) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{} ({})", r.id, r.level);
    let _ = writeln!(o, "  {}", r.summary);
    if let Some(check) = &r.check {
        let per: Vec<String> = check.iter().map(|(p, l)| format!("{p} {l}")).collect();
        let _ = writeln!(o, "  checked as: {}", per.join(", "));
    }
    let _ = writeln!(o, "  spec: {}", r.spec);
    let _ = writeln!(o, "  source: {}", r.source);
    if let Some(u) = &r.url {
        let _ = writeln!(o, "  OCI: {u}");
    }
    if let Some(u) = &r.docker_url {
        let _ = writeln!(o, "  Docker: {u}");
    }
    match &r.excused {
        Some(why) => {
            let _ = writeln!(o, "  excused (not tested): {why}");
        }
        None => {
            let _ = writeln!(o, "  excused: no");
        }
    }
    let citing: Vec<&Arc<Scenario>> = scenarios
        .iter()
        .filter(|s| s.cited_requirements().contains(&r.id))
        .collect();
    if citing.is_empty() {
        let _ = writeln!(o, "scenarios citing it: none");
    } else {
        let _ = writeln!(o, "scenarios citing it ({}):", citing.len());
        for s in citing {
            let _ = writeln!(o, "  {}: {}", full_name(s), s.title);
        }
    }
    o
}

fn scenario(s: &Scenario, catalog: Option<&Catalog>) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{}: {}", full_name(s), s.title);
    let _ = writeln!(o, "  file: {}", s.file.display());
    if let Some(d) = &s.description {
        let _ = writeln!(o, "  {d}");
    }
    let profiles: Vec<&str> = s.profiles.iter().map(|p| p.as_str()).collect();
    let _ = writeln!(o, "  profiles: {}", profiles.join(", "));
    let caps = if s.capabilities.is_empty() {
        "none".to_owned()
    } else {
        s.capabilities.join(", ")
    };
    let _ = writeln!(o, "  capabilities: {caps}");
    if !s.when_without.is_empty() {
        let _ = writeln!(
            o,
            "  listed only with --without {}",
            s.when_without.join(", ")
        );
    }
    let _ = writeln!(o, "requirements:");
    for id in s.cited_requirements() {
        let found = catalog.and_then(|c| c.requirements.iter().find(|r| r.id == id));
        match found {
            Some(r) => {
                let _ = writeln!(o, "  {id} ({}): {}", r.level, r.summary);
            }
            None => {
                let _ = writeln!(o, "  {id}");
            }
        }
    }
    let _ = writeln!(o, "steps:");
    for (i, step) in s.steps.iter().enumerate() {
        describe_step(&mut o, step, &format!("{}.", i + 1), 1, &s.requirements);
    }
    o
}

fn status_text(e: &Expect) -> String {
    let mut parts = Vec::new();
    if let Some(st) = &e.status {
        let codes: Vec<String> = st.to_vec().iter().map(u16::to_string).collect();
        parts.push(codes.join("|"));
    }
    if let Some(h) = &e.headers {
        let names: Vec<&str> = h.keys().map(String::as_str).collect();
        parts.push(format!("headers {}", names.join(", ")));
    }
    if let Some(c) = &e.error_code {
        let codes = match c {
            OneOrMany::One(c) => c.clone(),
            OneOrMany::Many(v) => v.join("|"),
        };
        parts.push(format!("error {codes}"));
    }
    if e.json.is_some() || e.json_pointer.is_some() {
        parts.push("JSON body checked".to_owned());
    }
    if e.body.is_some() {
        parts.push("body checked".to_owned());
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" → {}", parts.join("; "))
    }
}

fn identity(a: &AsSpec) -> &'static str {
    match a {
        AsSpec::Writer => "",
        AsSpec::Reader => " (as reader)",
        AsSpec::Anonymous => " (anonymous)",
        AsSpec::Bearer(_) => " (with a given bearer token)",
        AsSpec::Basic { .. } => " (with given Basic credentials)",
    }
}

/// One line per step (branches of a parallel step indented below it). A step's own
/// requirement IDs are shown only where they differ from the scenario's.
fn describe_step(o: &mut String, step: &Step, num: &str, depth: usize, cited: &[String]) {
    let pad = "  ".repeat(depth);
    let name = step
        .name
        .as_ref()
        .map(|n| format!(" [{n}]"))
        .unwrap_or_default();
    let setup = if step.setup { " (setup)" } else { "" };
    let what = match &step.kind {
        StepKind::Request(r) => {
            let target = r
                .request
                .path
                .clone()
                .or_else(|| r.request.url.clone())
                .unwrap_or_default();
            let query = if r.request.query.is_empty() {
                String::new()
            } else {
                let q: Vec<String> = r
                    .request
                    .query
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.0.join(",")))
                    .collect();
                format!("?{}", q.join("&"))
            };
            let mut line = format!(
                "{} {target}{query}{}{}",
                r.request.method,
                identity(&r.identity),
                status_text(&r.expect)
            );
            for (p, e) in &r.profile_expect {
                let _ = write!(line, " ({p}:{})", status_text(e).trim_start_matches(' '));
            }
            if !r.also.is_empty() {
                let ids: Vec<&str> = r
                    .also
                    .iter()
                    .flat_map(|a| a.requirements.iter().map(String::as_str))
                    .collect();
                let _ = write!(line, "; also checks {}", ids.join(", "));
            }
            line
        }
        StepKind::PushBlob(b) => {
            let how = match b.method {
                PushMethod::Monolithic => "monolithic",
                PushMethod::SinglePost => "single POST",
                PushMethod::Chunked => "chunked",
                PushMethod::Streamed => "streamed",
                PushMethod::ChunkedFinalInPut => "chunked, last chunk in the PUT",
            };
            format!("push blob {} ({how}) to {}", b.blob, b.repo)
        }
        StepKind::PushManifest(m) => {
            format!(
                "push manifest {} as {} to {}",
                m.manifest, m.reference, m.repo
            )
        }
        StepKind::Paginate(p) => format!(
            "paginate GET {}{}, collecting {}",
            p.spec
                .path
                .clone()
                .or_else(|| p.spec.url.clone())
                .unwrap_or_default(),
            identity(&p.identity),
            p.spec.collect
        ),
        StepKind::Parallel(b) => format!("in parallel, {} branches:", b.len()),
        StepKind::AlterToken(a) => {
            format!("alter token {} ({:?}) into {}", a.from, a.how, a.into)
        }
        StepKind::Wait(w) => match (&w.seconds, &w.jwt_exp) {
            (Some(s), _) => format!("wait {s} s (at most {} s)", w.at_most),
            (_, Some(t)) => format!("wait until token {t} expires (at most {} s)", w.at_most),
            _ => "wait".to_owned(),
        },
    };
    let reqs = if step.requirements.is_empty() || step.requirements == cited {
        String::new()
    } else {
        format!(" [{}]", step.requirements.join(", "))
    };
    let _ = writeln!(o, "{pad}{num}{name}{setup} {what}{reqs}");
    if let StepKind::Parallel(branches) = &step.kind {
        for (i, b) in branches.iter().enumerate() {
            describe_step(o, b, &format!("{num}{}.", i + 1), depth + 1, cited);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(edit_distance("push-8", "push-08"), 1);
        assert_eq!(edit_distance("", "ab"), 2);
    }

    #[test]
    fn suggests_close_names() {
        let names = vec![
            "PUSH-08".to_owned(),
            "PULL-01".to_owned(),
            "BASE-01".to_owned(),
        ];
        assert_eq!(suggestions("PUSH-8", &names), vec!["PUSH-08".to_owned()]);
        assert_eq!(suggestions("pu", &names).len(), 2);
        assert!(suggestions("zzzzzzzz", &names).is_empty());
    }
}

//! Every requirement in fixtures/requirements.json links to the spec section it rests on, at
//! a pinned tag or commit: `url` (the OCI section when both texts state it) and, optionally,
//! `docker_url` (the Docker section). The test cannot reach the network, so it checks the
//! shape of the links only; the anchors were checked against the local copies of the specs
//! when the catalog was built. It also checks that every requirement says, per profile, how
//! a violation is judged (`check`).

use std::path::PathBuf;

use serde_json::Value;

/// The only places a link may point to: pinned tags (v1.1.1, v3.1.1), the pinned
/// distribution-spec `main` commit, and rfc-editor.org.
const ALLOWED_PREFIXES: &[&str] = &[
    "https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#",
    "https://github.com/opencontainers/distribution-spec/blob/967efdc079b91785ad18c77cc4f8991a47feefbf/spec.md#",
    "https://github.com/distribution/distribution/blob/v3.1.1/docs/content/spec/api.md#",
    "https://github.com/distribution/distribution/blob/v3.1.1/docs/content/spec/auth/token.md#",
    "https://github.com/distribution/distribution/blob/v3.1.1/docs/content/spec/auth/jwt.md#",
    "https://github.com/distribution/distribution/blob/v3.1.1/docs/content/spec/auth/oauth.md#",
    "https://github.com/distribution/distribution/blob/v3.1.1/docs/content/spec/auth/scope.md#",
    "https://github.com/distribution/distribution/blob/v3.1.1/docs/content/spec/manifest-v2-2.md#",
    "https://github.com/opencontainers/image-spec/blob/v1.1.1/manifest.md#",
    "https://github.com/opencontainers/image-spec/blob/v1.1.1/image-index.md#",
    "https://github.com/opencontainers/image-spec/blob/v1.1.1/descriptor.md#",
    "https://www.rfc-editor.org/rfc/rfc",
];

/// Where a `docker_url` may point: the distribution/distribution docs at v3.1.1.
const DOCKER_PREFIX: &str = "https://github.com/distribution/distribution/blob/v3.1.1/";

const RFC_PREFIX: &str = "https://www.rfc-editor.org/rfc/rfc";

/// Branch names a link must never use instead of a tag or commit.
const BRANCHES: &[&str] = &[
    "/blob/main/",
    "/blob/master/",
    "/tree/main/",
    "/tree/master/",
];

fn catalog() -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/requirements.json");
    let text = std::fs::read_to_string(&path).expect("fixtures/requirements.json is readable");
    let doc: Value = serde_json::from_str(&text).expect("fixtures/requirements.json is JSON");
    doc["requirements"]
        .as_array()
        .expect("a `requirements` array")
        .clone()
}

/// A GitHub heading anchor: lowercase letters, digits and hyphens.
fn is_heading_anchor(f: &str) -> bool {
    !f.is_empty()
        && f.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// An rfc-editor anchor: `section-5`, `section-9.3.2`.
fn is_rfc_anchor(f: &str) -> bool {
    f.strip_prefix("section-").is_some_and(|n| {
        !n.is_empty()
            && n.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// What is wrong with one link, if anything.
fn link_problem(url: &str) -> Option<String> {
    if let Some(b) = BRANCHES.iter().find(|b| url.contains(**b)) {
        return Some(format!("points at a branch ({b}), not a tag or commit"));
    }
    let Some(prefix) = ALLOWED_PREFIXES.iter().find(|p| url.starts_with(**p)) else {
        return Some("not one of the pinned upstream files".to_owned());
    };
    let Some((_, fragment)) = url.split_once('#') else {
        return Some("no #fragment".to_owned());
    };
    if *prefix == RFC_PREFIX {
        let number = &url[RFC_PREFIX.len()..url.len() - fragment.len() - 1];
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Some("not an rfc-editor.org/rfc/rfcNNNN address".to_owned());
        }
        if !is_rfc_anchor(fragment) {
            return Some(format!("fragment {fragment:?} is not #section-N[.N...]"));
        }
    } else if !is_heading_anchor(fragment) {
        return Some(format!(
            "fragment {fragment:?} is empty or not made of [a-z0-9-]"
        ));
    }
    None
}

#[test]
fn every_requirement_links_to_a_pinned_spec_section() {
    let reqs = catalog();
    assert!(!reqs.is_empty(), "the catalog is empty");
    let mut problems = Vec::new();
    for r in &reqs {
        let id = r["id"].as_str().unwrap_or("<no id>");
        match r.get("url") {
            Some(Value::String(u)) => {
                if let Some(p) = link_problem(u) {
                    problems.push(format!("{id}: url {u}: {p}"));
                }
            }
            Some(other) => problems.push(format!("{id}: url is not a string: {other}")),
            None => problems.push(format!("{id}: no url")),
        }
        match r.get("docker_url") {
            None => {}
            Some(Value::String(u)) => {
                if let Some(p) = link_problem(u) {
                    problems.push(format!("{id}: docker_url {u}: {p}"));
                } else if !u.starts_with(DOCKER_PREFIX) {
                    problems.push(format!(
                        "{id}: docker_url {u}: not a distribution/distribution v3.1.1 document"
                    ));
                }
                if r.get("url") == r.get("docker_url") {
                    problems.push(format!("{id}: docker_url repeats url"));
                }
            }
            Some(other) => problems.push(format!("{id}: docker_url is not a string: {other}")),
        }
    }
    assert!(
        problems.is_empty(),
        "{} link problems in fixtures/requirements.json:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn every_requirement_says_how_a_violation_is_judged_per_profile() {
    const PROFILES: &[&str] = &["oci-1.1", "docker-v2"];
    const LEVELS: &[&str] = &["MUST", "SHOULD", "MAY", "none"];
    let mut problems = Vec::new();
    for r in &catalog() {
        let id = r["id"].as_str().unwrap_or("<no id>");
        let Some(check) = r.get("check").and_then(Value::as_object) else {
            problems.push(format!("{id}: no `check` object"));
            continue;
        };
        for p in PROFILES {
            match check.get(*p).and_then(Value::as_str) {
                Some(l) if LEVELS.contains(&l) => {}
                Some(l) => problems.push(format!("{id}: check.{p} = {l:?}, not one of {LEVELS:?}")),
                None => problems.push(format!("{id}: check.{p} missing")),
            }
        }
        for k in check.keys() {
            if !PROFILES.contains(&k.as_str()) {
                problems.push(format!("{id}: check has an unknown profile {k:?}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} check problems in fixtures/requirements.json:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_link_rules_reject_what_they_should() {
    let ok =
        "https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pulling-manifests";
    assert_eq!(link_problem(ok), None);
    assert_eq!(
        link_problem("https://www.rfc-editor.org/rfc/rfc9110#section-9.3.2"),
        None
    );
    for bad in [
        "https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests",
        "https://github.com/distribution/distribution/blob/master/docs/content/spec/api.md#overview",
        "https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md",
        "https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#",
        "https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#Pulling_Manifests",
        "https://github.com/opencontainers/distribution-spec/blob/v1.0.0/spec.md#pulling-manifests",
        "https://www.rfc-editor.org/rfc/rfc9110#name-range-requests",
        "https://www.rfc-editor.org/rfc/rfcabc#section-1",
    ] {
        assert!(link_problem(bad).is_some(), "accepted {bad}");
    }
}

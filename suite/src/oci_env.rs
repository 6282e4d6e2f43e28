//! The official OCI conformance suite's environment variables (`OCI_ROOT_URL`, ...), so a
//! CI job written for it runs this suite unchanged.
//!
//! They are a layer of [`crate::config_file::Defaults`]: over the config file, under our
//! own flags and `REGISTRY_*` variables. Every variable of the official suite is accepted;
//! those without an equivalent here are listed in [`NO_EFFECT`] with the reason (the
//! README's mapping table says the same).

use std::path::Path;

use crate::config_file::Defaults;

/// Variables accepted without effect, and why.
pub const NO_EFFECT: &[(&str, &str)] = &[
    (
        "OCI_CROSSMOUNT_NAMESPACE",
        "the mount scenarios push their own source repository under the namespace",
    ),
    (
        "OCI_AUTOMATIC_CROSSMOUNT",
        "the mount scenarios accept both outcomes the spec allows (201 mounted, 202 session)",
    ),
    (
        "OCI_DELETE_MANIFEST_BEFORE_BLOBS",
        "clean-up always deletes manifests before blobs",
    ),
    (
        "OCI_HIDE_SKIPPED_WORKFLOWS",
        "skipped scenarios are listed as ignored, with their reason, in every report",
    ),
];

/// Areas run for each `OCI_TEST_*` workflow variable.
pub const WORKFLOWS: &[(&str, &[&str])] = &[
    ("OCI_TEST_PULL", &["base", "pull"]),
    ("OCI_TEST_PUSH", &["push", "mount", "manifest"]),
    ("OCI_TEST_CONTENT_DISCOVERY", &["discovery", "referrers"]),
    ("OCI_TEST_CONTENT_MANAGEMENT", &["delete"]),
];

/// `1`, `true`, `yes`, `on` (any case).
fn truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

/// The defaults the `OCI_*` variables set (read through `env`).
pub fn defaults(env: &dyn Fn(&str) -> Option<String>) -> Defaults {
    let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let mut d = Defaults::default();
    if let Some(u) = get("OCI_ROOT_URL") {
        d.set("url", u.trim_end_matches('/'), "OCI_ROOT_URL");
    } else if let Some(host) = get("OCI_REGISTRY") {
        // The 2026 rewrite names host[:port] and says with OCI_TLS whether it is HTTPS.
        let tls = get("OCI_TLS").is_none_or(|v| truthy(&v));
        let scheme = if tls { "https" } else { "http" };
        d.set("url", format!("{scheme}://{host}"), "OCI_REGISTRY/OCI_TLS");
    }
    if let Some(ns) = get("OCI_NAMESPACE") {
        d.set("namespace", ns, "OCI_NAMESPACE");
    } else if let Some(ns) = get("OCI_REPO1") {
        d.set("namespace", ns, "OCI_REPO1");
    }
    if let Some(u) = get("OCI_USERNAME") {
        d.set("username", u, "OCI_USERNAME");
    }
    if let Some(p) = get("OCI_PASSWORD") {
        d.set_secret("password", p, "OCI_PASSWORD");
    }
    if let Some(dir) = get("OCI_REPORT_DIR") {
        d.set("report_dir", dir, "OCI_REPORT_DIR");
    }
    d
}

/// The areas selected by `OCI_TEST_*` variables set to a true value, or `None` when none
/// is (then every area runs).
pub fn selected_areas(env: &dyn Fn(&str) -> Option<String>) -> Option<Vec<&'static str>> {
    let mut out: Vec<&'static str> = WORKFLOWS
        .iter()
        .filter(|(var, _)| env(var).is_some_and(|v| truthy(&v)))
        .flat_map(|(_, areas)| areas.iter().copied())
        .collect();
    out.sort_unstable();
    (!out.is_empty()).then_some(out)
}

/// `--skip` filters leaving out every area of `all` not in `selected` (trial names start
/// with `<area>::`).
pub fn skips(all: &[String], selected: &[&str]) -> Vec<String> {
    all.iter()
        .filter(|a| !selected.contains(&a.as_str()))
        .map(|a| format!("{a}::"))
        .collect()
}

/// The area names under `<fixtures>/scenarios`.
pub fn areas(fixtures: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(fixtures.join("scenarios"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn maps_url_namespace_credentials_and_report_dir() {
        let d = defaults(&env_of(&[
            ("OCI_ROOT_URL", "http://r:5000/"),
            ("OCI_NAMESPACE", "myorg/conf"),
            ("OCI_USERNAME", "u"),
            ("OCI_PASSWORD", "p"),
            ("OCI_REPORT_DIR", "out"),
        ]));
        assert_eq!(d.values["url"], vec!["http://r:5000"]);
        assert_eq!(d.values["namespace"], vec!["myorg/conf"]);
        assert_eq!(d.values["username"], vec!["u"]);
        assert!(d.secrets.contains("password"));
        assert_eq!(d.values["report_dir"], vec!["out"]);
    }

    #[test]
    fn registry_and_tls() {
        let d = defaults(&env_of(&[("OCI_REGISTRY", "r:5000"), ("OCI_TLS", "false")]));
        assert_eq!(d.values["url"], vec!["http://r:5000"]);
        let d = defaults(&env_of(&[("OCI_REGISTRY", "r")]));
        assert_eq!(d.values["url"], vec!["https://r"]);
    }

    #[test]
    fn workflows_select_areas() {
        assert_eq!(selected_areas(&env_of(&[("OCI_TEST_PULL", "0")])), None);
        let sel = selected_areas(&env_of(&[
            ("OCI_TEST_PULL", "1"),
            ("OCI_TEST_CONTENT_MANAGEMENT", "true"),
        ]))
        .unwrap();
        assert_eq!(sel, vec!["base", "delete", "pull"]);
        let all = ["auth", "base", "pull"].map(String::from);
        assert_eq!(skips(&all, &sel), vec!["auth::"]);
    }
}

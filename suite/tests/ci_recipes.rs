//! docs/ci/*.yml: both recipes are valid YAML and every `registry-conformance` invocation
//! in them uses only flags that `registry-conformance --help` lists (a renamed flag must
//! not leave a broken recipe behind).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

fn docs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/ci")
}

/// Every `--flag` and `-x` in the help text.
fn known_flags() -> BTreeSet<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_registry-conformance"))
        .arg("--help")
        .output()
        .expect("run --help");
    let help = String::from_utf8_lossy(&out.stdout);
    let re = regex::Regex::new(r"(?m)^\s+(?:(-[a-zA-Z]), )?(--[a-z0-9-]+)").unwrap();
    re.captures_iter(&help)
        .flat_map(|c| [c.get(1), c.get(2)])
        .flatten()
        .map(|m| m.as_str().to_owned())
        .collect()
}

/// Every string in the document (scripts are strings wherever they sit).
fn strings(v: &serde_yaml_ng::Value, out: &mut Vec<String>) {
    match v {
        serde_yaml_ng::Value::String(s) => out.push(s.clone()),
        serde_yaml_ng::Value::Sequence(items) => items.iter().for_each(|i| strings(i, out)),
        serde_yaml_ng::Value::Mapping(m) => m.iter().for_each(|(k, v)| {
            strings(k, out);
            strings(v, out);
        }),
        serde_yaml_ng::Value::Tagged(t) => strings(&t.value, out),
        _ => {}
    }
}

/// The flags of each invocation: a command whose program is `registry-conformance` (a path
/// ending in it), up to the end of the command.
fn invocations(script: &str) -> Vec<Vec<String>> {
    // A bare word is a name (`name: registry-conformance`, a job key), not a command.
    if !script.trim().contains(char::is_whitespace) {
        return Vec::new();
    }
    let joined = script.replace("\\\n", " ");
    let mut found = Vec::new();
    for line in joined.lines() {
        let mut current: Option<Vec<String>> = None;
        let mut at_start = true;
        for tok in line.split_whitespace() {
            let tok = tok.trim_matches('"').trim_matches('\'');
            if matches!(tok, "|" | "||" | "&&" | ";" | ">" | ">>") {
                found.extend(current.take());
                at_start = true;
                continue;
            }
            if at_start && (tok == "registry-conformance" || tok.ends_with("/registry-conformance"))
            {
                found.extend(current.take());
                current = Some(Vec::new());
            } else if let Some(flags) = current.as_mut()
                && tok.starts_with('-')
            {
                flags.push(tok.split('=').next().unwrap_or(tok).to_owned());
            }
            at_start = false;
        }
        found.extend(current);
    }
    found
}

#[test]
fn recipes_parse_and_use_only_existing_flags() {
    let known = known_flags();
    assert!(
        known.contains("--url") && known.contains("--baseline"),
        "{known:?}"
    );
    for file in ["github-actions.yml", "gitlab-ci.yml"] {
        let path = docs().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let doc: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut all = Vec::new();
        strings(&doc, &mut all);
        let calls: Vec<Vec<String>> = all.iter().flat_map(|s| invocations(s)).collect();
        assert!(
            !calls.is_empty(),
            "{file}: no registry-conformance invocation"
        );
        for flags in &calls {
            for f in flags {
                assert!(
                    known.contains(f),
                    "{file}: {f} is not a registry-conformance flag"
                );
            }
            for needed in ["--url", "--junit", "--baseline"] {
                assert!(flags.iter().any(|f| f == needed), "{file}: no {needed}");
            }
        }
    }
}

#[test]
fn finds_invocations_and_their_flags() {
    let calls = invocations(
        "git clone x registry-conformance && a/target/release/registry-conformance \\\n  --url u --junit=j | tee log",
    );
    // `registry-conformance` as an argument (a clone target) is not an invocation.
    assert_eq!(calls, vec![vec!["--url".to_owned(), "--junit".to_owned()]]);
}

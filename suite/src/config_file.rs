//! `registry-conformance.toml` (in the working folder, or `--config FILE`): any run flag,
//! so a CI job or a developer keeps one file instead of a long command line.
//!
//! The file's values become the *defaults* of the command-line arguments ([`Defaults`],
//! applied with [`apply`]); clap then lets a flag or its `REGISTRY_*` variable win over
//! them, exactly as over a built-in default. The official suite's `OCI_*` variables
//! ([`crate::oci_env`]) are a layer between the two.
//!
//! Secrets are never written in the file: `password_env = "MY_REGISTRY_PASSWORD"` names
//! the environment variable holding the password; an inline `password =` (or `token =`,
//! `reader_password =`) is refused, naming the key and its line. Unknown keys are errors
//! too (a misspelt key must not silently do nothing).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The file read when there is no `--config`, if it exists in the working folder.
pub const DEFAULT_FILE: &str = "registry-conformance.toml";

/// Default values for command-line arguments, by clap argument id (the `Cli` field name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defaults {
    /// Argument id → its values (one for a scalar, several for `without`/`with`).
    pub values: BTreeMap<&'static str, Vec<String>>,
    /// Ids whose value is a secret: never shown in `--help` as a default.
    pub secrets: BTreeSet<&'static str>,
    /// Where each value came from (a file or a variable), for messages.
    pub sources: BTreeMap<&'static str, String>,
}

impl Defaults {
    /// Sets `id` (a later layer overrides an earlier one).
    pub fn set(&mut self, id: &'static str, value: impl Into<String>, source: impl Into<String>) {
        self.values.insert(id, vec![value.into()]);
        self.sources.insert(id, source.into());
    }

    /// Sets a secret `id` (hidden from `--help`).
    pub fn set_secret(&mut self, id: &'static str, value: String, source: impl Into<String>) {
        self.set(id, value, source);
        self.secrets.insert(id);
    }

    /// `other`'s values over `self`'s.
    pub fn overlay(&mut self, other: Defaults) {
        self.values.extend(other.values);
        self.secrets.extend(other.secrets);
        self.sources.extend(other.sources);
    }
}

/// Makes `defaults` the default values of `cmd`'s arguments (flags and env still win).
pub fn apply(mut cmd: clap::Command, defaults: &Defaults) -> clap::Command {
    for (id, vals) in &defaults.values {
        // clap (without its `string` feature) keeps defaults as `&'static str`; this runs
        // once per process, so leaking a few short strings costs nothing.
        let vals: Vec<&'static str> = vals
            .iter()
            .map(|v| &*Box::leak(v.clone().into_boxed_str()))
            .collect();
        let secret = defaults.secrets.contains(id);
        cmd = cmd.mut_arg(*id, |a| {
            let a = a.default_values(vals).required(false);
            if secret {
                a.hide_default_value(true)
            } else {
                a
            }
        });
    }
    // `--username` requires `--password` on the command line; clap does not count a
    // default as given, so a password from the file or OCI_PASSWORD must lift that.
    for (user, pass) in [
        ("username", "password"),
        ("reader_username", "reader_password"),
    ] {
        if defaults.values.contains_key(pass) {
            cmd = cmd.mut_arg(user, |a| a.requires(clap::builder::Resettable::Reset));
        }
    }
    cmd
}

/// The keys of the file: every run flag, with `_` for `-`; credentials by variable name.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    url: Option<String>,
    namespace: Option<String>,
    profile: Option<String>,
    junit: Option<PathBuf>,
    report_dir: Option<PathBuf>,
    baseline: Option<PathBuf>,
    fixtures: Option<PathBuf>,
    ca_cert: Option<PathBuf>,
    insecure: Option<bool>,
    coverage: Option<bool>,
    strict: Option<bool>,
    without: Option<Vec<String>>,
    with: Option<Vec<String>>,
    request_timeout: Option<u64>,
    scenario_timeout: Option<u64>,
    max_transport_failures: Option<u64>,
    test_threads: Option<u64>,
    username: Option<String>,
    /// The name of the variable holding the password.
    password_env: Option<String>,
    /// The name of the variable holding a bearer token.
    token_env: Option<String>,
    reader_username: Option<String>,
    /// The name of the variable holding the reader's password.
    reader_password_env: Option<String>,
    // Inline secrets: read only to refuse them, naming the line.
    password: Option<toml::Spanned<toml::Value>>,
    token: Option<toml::Spanned<toml::Value>>,
    reader_password: Option<toml::Spanned<toml::Value>>,
}

/// Which file to read: `--config FILE` / `--config=FILE` among `args`, else
/// `REGISTRY_CONFIG`, else [`DEFAULT_FILE`] when it exists in the working folder.
pub fn locate(
    args: &[std::ffi::OsString],
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<PathBuf> {
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let a = a.to_string_lossy();
        if a == "--" {
            break;
        }
        if a == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(p) = a.strip_prefix("--config=") {
            return Some(PathBuf::from(p));
        }
    }
    if let Some(p) = env("REGISTRY_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let p = PathBuf::from(DEFAULT_FILE);
    p.is_file().then_some(p)
}

/// Reads `path`: its values as [`Defaults`]. `env` resolves `*_env` keys.
pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Defaults, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text, path, env)
}

/// Parses the text of a config file read from `path` (relative paths in it are taken
/// relative to the file's folder).
pub fn parse(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Defaults, String> {
    let shown = path.display();
    let f: File = toml::from_str(text).map_err(|e| format!("{shown}: {e}"))?;
    let line =
        |span: std::ops::Range<usize>| text[..span.start.min(text.len())].matches('\n').count() + 1;
    for (key, v) in [
        ("password", &f.password),
        ("token", &f.token),
        ("reader_password", &f.reader_password),
    ] {
        if let Some(v) = v {
            return Err(format!(
                "{shown}: line {}: `{key}`: secrets are not written in the config file; name the \
                 environment variable holding it instead: {key}_env = \"MY_VARIABLE\"",
                line(v.span())
            ));
        }
    }
    let dir = path.parent().unwrap_or(Path::new(""));
    let rel = |p: &PathBuf| dir.join(p).to_string_lossy().into_owned();
    let src = format!("{shown}");
    let mut d = Defaults::default();
    let mut put = |id: &'static str, v: Option<String>| {
        if let Some(v) = v {
            d.set(id, v, src.clone());
        }
    };
    put("url", f.url);
    put("namespace", f.namespace);
    put("profile", f.profile);
    put("junit", f.junit.as_ref().map(rel));
    put("report_dir", f.report_dir.as_ref().map(rel));
    put("baseline", f.baseline.as_ref().map(rel));
    put("fixtures", f.fixtures.as_ref().map(rel));
    put("ca_cert", f.ca_cert.as_ref().map(rel));
    put("insecure", f.insecure.map(|b| b.to_string()));
    put("coverage", f.coverage.map(|b| b.to_string()));
    put("strict", f.strict.map(|b| b.to_string()));
    put("request_timeout", f.request_timeout.map(|n| n.to_string()));
    put(
        "scenario_timeout",
        f.scenario_timeout.map(|n| n.to_string()),
    );
    put(
        "max_transport_failures",
        f.max_transport_failures.map(|n| n.to_string()),
    );
    put("test_threads", f.test_threads.map(|n| n.to_string()));
    put("username", f.username);
    put("reader_username", f.reader_username);
    for (id, list) in [("without", f.without), ("with", f.with)] {
        if let Some(list) = list {
            d.values.insert(id, list);
            d.sources.insert(id, src.clone());
        }
    }
    for (id, key, var) in [
        ("password", "password_env", f.password_env),
        ("token", "token_env", f.token_env),
        (
            "reader_password",
            "reader_password_env",
            f.reader_password_env,
        ),
    ] {
        if let Some(var) = var {
            let value = env(&var).ok_or_else(|| {
                format!("{shown}: {key} = {var:?}: the environment variable {var} is not set")
            })?;
            d.set_secret(id, value, format!("{shown} ({key} = {var})"));
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        (k == "MY_PW").then(|| "s3cret".to_owned())
    }

    #[test]
    fn reads_values_and_secret_references() {
        let d = parse(
            "url = \"http://r:5000\"\nwithout = [\"delete\"]\npassword_env = \"MY_PW\"\njunit = \"out/j.xml\"\n",
            Path::new("/etc/rc/registry-conformance.toml"),
            &env,
        )
        .unwrap();
        assert_eq!(d.values["url"], vec!["http://r:5000"]);
        assert_eq!(d.values["without"], vec!["delete"]);
        assert_eq!(d.values["password"], vec!["s3cret"]);
        assert!(d.secrets.contains("password"));
        assert_eq!(d.values["junit"], vec!["/etc/rc/out/j.xml"]);
    }

    #[test]
    fn refuses_inline_secrets_and_unknown_keys() {
        let p = Path::new("c.toml");
        let e = parse("url = \"x\"\n\npassword = \"hunter2\"\n", p, &env).unwrap_err();
        assert!(e.contains("line 3") && e.contains("`password`"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        let e = parse("url = \"x\"\nnamspace = \"a\"\n", p, &env).unwrap_err();
        assert!(e.contains("namspace") && e.contains("line 2"), "{e}");
        let e = parse("password_env = \"NOPE\"\n", p, &env).unwrap_err();
        assert!(e.contains("NOPE is not set"), "{e}");
    }

    #[test]
    fn locates_the_file() {
        let args: Vec<std::ffi::OsString> = ["rc", "--url", "u", "--config=a.toml"]
            .map(Into::into)
            .to_vec();
        assert_eq!(locate(&args, &|_| None), Some("a.toml".into()));
        let args: Vec<std::ffi::OsString> = ["rc", "--config", "b.toml"].map(Into::into).to_vec();
        assert_eq!(locate(&args, &|_| None), Some("b.toml".into()));
    }
}

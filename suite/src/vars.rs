//! `${name}` variables: parsing templates, checking names at load time, substituting at
//! run time.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Literal text.
    Text(&'a str),
    /// `${name}`.
    Var(&'a str),
}

/// Splits a template into literal text and variable references.
///
/// Errors on an unterminated `${` or an empty / malformed name, so a broken template is a
/// load error rather than a literal `${` sent to the registry.
pub fn parse(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(pos) = rest.find("${") {
        if pos > 0 {
            out.push(Piece::Text(&rest[..pos]));
        }
        let after = &rest[pos + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unterminated variable in {template:?}"))?;
        let name = &after[..end];
        if !is_valid_name(name) {
            return Err(format!("bad variable name ${{{name}}} in {template:?}"));
        }
        out.push(Piece::Var(name));
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The variable names a template refers to.
pub fn references(template: &str) -> Result<Vec<&str>, String> {
    Ok(parse(template)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Var(v) => Some(v),
            Piece::Text(_) => None,
        })
        .collect())
}

/// The names every string inside a JSON value refers to (keys included).
pub fn json_references(value: &Value, out: &mut Vec<String>) -> Result<(), String> {
    match value {
        Value::String(s) => out.extend(references(s)?.into_iter().map(str::to_owned)),
        Value::Array(items) => {
            for i in items {
                json_references(i, out)?;
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                out.extend(references(k)?.into_iter().map(str::to_owned));
                json_references(v, out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// `repo.X`: is `X` an acceptable suffix (a lowercase repository path component)?
pub fn is_repo_suffix(x: &str) -> bool {
    let mut chars = x.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && x.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'))
}

/// The values visible to one scenario run (or one `parallel` branch).
///
/// Cloning shares the record of repositories used, so clean-up knows every repository a
/// scenario touched, including `${repo.X}` ones.
#[derive(Debug, Clone)]
pub struct Vars {
    values: HashMap<String, String>,
    repo: String,
    used_repos: Arc<Mutex<BTreeSet<String>>>,
}

/// A variable that has no value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("variable ${{{0}}} has no value")]
pub struct Missing(pub String);

impl Vars {
    /// Variables for a scenario whose main repository is `repo`.
    pub fn new(namespace: &str, repo: &str) -> Vars {
        let mut values = HashMap::new();
        values.insert("namespace".to_owned(), namespace.to_owned());
        Vars {
            values,
            repo: repo.to_owned(),
            used_repos: Arc::new(Mutex::new(BTreeSet::new())),
        }
    }

    /// Defines (or redefines) a variable.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.values.insert(name.into(), value.into());
    }

    /// The value of a variable, if it has one.
    pub fn get(&self, name: &str) -> Option<String> {
        let repo = if name == "repo" {
            Some(self.repo.clone())
        } else {
            name.strip_prefix("repo.")
                .filter(|x| is_repo_suffix(x))
                .map(|x| format!("{}-{x}", self.repo))
        };
        if let Some(r) = repo {
            if let Ok(mut used) = self.used_repos.lock() {
                used.insert(r.clone());
            }
            return Some(r);
        }
        self.values.get(name).cloned()
    }

    /// Every repository a template resolved so far (always includes `${repo}` once used).
    pub fn used_repos(&self) -> Vec<String> {
        self.used_repos
            .lock()
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Substitutes every `${name}` in `template`.
    pub fn render(&self, template: &str) -> Result<String, Missing> {
        self.render_with(template, |s| s.to_owned())
    }

    /// Like [`Vars::render`], escaping each value for use inside a regular expression, so
    /// a repository name with `.` matches only itself.
    pub fn render_regex(&self, template: &str) -> Result<String, Missing> {
        self.render_with(template, regex::escape)
    }

    fn render_with(&self, template: &str, esc: impl Fn(&str) -> String) -> Result<String, Missing> {
        // Templates were parsed at load time; a parse failure here means a literal `${`
        // reached us through a captured value, which we pass through unchanged.
        let Ok(pieces) = parse(template) else {
            return Ok(template.to_owned());
        };
        let mut out = String::with_capacity(template.len());
        for p in pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(name) => {
                    let v = self.get(name).ok_or_else(|| Missing(name.to_owned()))?;
                    out.push_str(&esc(&v));
                }
            }
        }
        Ok(out)
    }

    /// Substitutes inside a JSON template. A string that is exactly `${blob.N.size}` or
    /// `${manifest.M.size}` becomes a JSON number (sizes are numbers in descriptors).
    pub fn render_json(&self, value: &Value) -> Result<Value, Missing> {
        Ok(match value {
            Value::String(s) => {
                if let Some(name) = exact_size_variable(s) {
                    let v = self.get(name).ok_or_else(|| Missing(name.to_owned()))?;
                    match v.parse::<u64>() {
                        Ok(n) => Value::Number(n.into()),
                        Err(_) => Value::String(v),
                    }
                } else {
                    Value::String(self.render(s)?)
                }
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| self.render_json(i))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => {
                let mut out = serde_json::Map::new();
                for (k, v) in map {
                    out.insert(self.render(k)?, self.render_json(v)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }
}

/// `Some(name)` when `s` is exactly `${blob.N.size}` or `${manifest.M.size}`.
fn exact_size_variable(s: &str) -> Option<&str> {
    let name = s.strip_prefix("${")?.strip_suffix('}')?;
    if name.contains(['$', '{', '}']) {
        return None;
    }
    ((name.starts_with("blob.") || name.starts_with("manifest.")) && name.ends_with(".size"))
        .then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Vars {
        let mut v = Vars::new("ns-1", "ns-1/push-post-put");
        v.set("blob.layer.size", "4096");
        v.set("blob.layer.digest", "sha256:abc");
        v.set("upload", "/v2/x/blobs/uploads/u?state=1");
        v
    }

    #[test]
    fn parses_text_and_variables() {
        assert_eq!(
            parse("/v2/${repo}/blobs/${blob.a.digest}").unwrap(),
            vec![
                Piece::Text("/v2/"),
                Piece::Var("repo"),
                Piece::Text("/blobs/"),
                Piece::Var("blob.a.digest")
            ]
        );
        assert_eq!(parse("plain").unwrap(), vec![Piece::Text("plain")]);
        assert!(parse("/v2/${repo").is_err());
        assert!(parse("${}").is_err());
        assert!(parse("${a b}").is_err());
    }

    #[test]
    fn substitutes_builtins_captures_and_extra_repos() {
        let v = vars();
        assert_eq!(
            v.render("/v2/${repo}/blobs/${blob.layer.digest}").unwrap(),
            "/v2/ns-1/push-post-put/blobs/sha256:abc"
        );
        assert_eq!(
            v.render("${repo.other}").unwrap(),
            "ns-1/push-post-put-other"
        );
        assert_eq!(v.render("${namespace}").unwrap(), "ns-1");
        assert_eq!(
            v.render("${upload}").unwrap(),
            "/v2/x/blobs/uploads/u?state=1"
        );
        assert_eq!(v.render("${nope}").unwrap_err(), Missing("nope".to_owned()));
        assert_eq!(
            v.used_repos(),
            vec![
                "ns-1/push-post-put".to_owned(),
                "ns-1/push-post-put-other".to_owned()
            ]
        );
    }

    #[test]
    fn regex_rendering_escapes_values() {
        let mut v = vars();
        v.set("x", "a.b");
        assert_eq!(v.render_regex("^${x}$").unwrap(), "^a\\.b$");
    }

    #[test]
    fn exact_size_strings_become_numbers_in_json() {
        let v = vars();
        let t = json!({
            "size": "${blob.layer.size}",
            "digest": "${blob.layer.digest}",
            "note": "size ${blob.layer.size}",
            "list": ["${blob.layer.size}"]
        });
        assert_eq!(
            v.render_json(&t).unwrap(),
            json!({"size": 4096, "digest": "sha256:abc", "note": "size 4096", "list": [4096]})
        );
    }

    #[test]
    fn references_are_collected_from_json() {
        let mut out = Vec::new();
        json_references(&json!({"${k}": ["${a}", {"b": "x${b}y"}]}), &mut out).unwrap();
        assert_eq!(out, vec!["k", "a", "b"]);
    }
}

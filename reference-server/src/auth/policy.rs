//! The access policy: JSON rules granting actions on repository globs to users.
//!
//! ```json
//! {"rules": [
//!   {"repositories": ["**"], "users": ["writer"], "actions": ["pull", "push", "delete"]},
//!   {"repositories": ["team/*"], "users": ["*"], "actions": ["pull"]},
//!   {"repositories": ["public/**"], "users": ["anonymous"], "actions": ["pull"]}
//!  ],
//!  "catalog": ["writer"]}
//! ```
//!
//! Semantics (AUTH-19, AUTH-24):
//! - a pattern is `/`-separated components; `*` inside a component matches any run of
//!   characters except `/`; a component that is exactly `**` matches ONE OR MORE whole
//!   components. So `**` alone matches every repository, `public/**` matches `public/a`
//!   and `public/a/b` but not `public` itself, and `a/**/z` matches `a/b/z` and `a/b/c/z`;
//! - user `*` is any authenticated user, `anonymous` a request without credentials (it is
//!   not included in `*`), anything else a user name;
//! - the rights of every matching rule add up; nothing matching means no access;
//! - `catalog` names who may list `/v2/_catalog` (same user syntax); the listing is then
//!   filtered to the repositories the caller may pull.
//!
//! A malformed file stops start-up with an error naming the place: `line:column` for JSON
//! syntax, a JSON path such as `rules[1].actions[0]` for everything else.

use std::path::Path;

use serde_json::Value;

use super::AuthError;
use crate::authz::Action;

/// A set of actions on one repository.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rights(u8);

impl Rights {
    pub const NONE: Rights = Rights(0);
    pub const ALL: Rights = Rights(0b111);

    fn bit(a: Action) -> u8 {
        match a {
            Action::Pull => 1,
            Action::Push => 2,
            Action::Delete => 4,
        }
    }

    pub fn has(self, a: Action) -> bool {
        self.0 & Rights::bit(a) != 0
    }

    pub fn insert(&mut self, a: Action) {
        self.0 |= Rights::bit(a);
    }

    pub fn union(self, o: Rights) -> Rights {
        Rights(self.0 | o.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The actions in canonical order (pull, push, delete).
    pub fn actions(self) -> Vec<Action> {
        [Action::Pull, Action::Push, Action::Delete]
            .into_iter()
            .filter(|a| self.has(*a))
            .collect()
    }
}

impl FromIterator<Action> for Rights {
    fn from_iter<I: IntoIterator<Item = Action>>(iter: I) -> Self {
        let mut r = Rights::NONE;
        for a in iter {
            r.insert(a);
        }
        r
    }
}

/// Who a rule or the catalog list names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Who {
    /// `*`: any authenticated user.
    Authenticated,
    /// `anonymous`: no credentials.
    Anonymous,
    User(String),
}

impl Who {
    fn parse(s: &str) -> Who {
        match s {
            "*" => Who::Authenticated,
            "anonymous" => Who::Anonymous,
            u => Who::User(u.to_string()),
        }
    }

    /// `user`: `None` for anonymous.
    fn matches(&self, user: Option<&str>) -> bool {
        match (self, user) {
            (Who::Authenticated, Some(_)) => true,
            (Who::Anonymous, None) => true,
            (Who::User(u), Some(v)) => u == v,
            _ => false,
        }
    }
}

#[derive(Debug, Clone)]
struct Rule {
    repositories: Vec<Glob>,
    users: Vec<Who>,
    rights: Rights,
}

/// A parsed policy. See the module docs for the file format and semantics.
#[derive(Debug, Clone)]
pub struct Policy {
    rules: Vec<Rule>,
    catalog: Vec<Who>,
}

impl Policy {
    /// The policy without `--access`: every authenticated user may pull, push and delete
    /// everything and list the catalog; anonymous callers may do nothing.
    pub fn authenticated_only() -> Policy {
        Policy {
            rules: vec![Rule {
                repositories: vec![Glob::parse("**").expect("valid glob")],
                users: vec![Who::Authenticated],
                rights: Rights::ALL,
            }],
            catalog: vec![Who::Authenticated],
        }
    }

    pub fn load(path: &Path) -> Result<Policy, AuthError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| AuthError::new(format!("cannot read access file: {e}")))
            .map_err(|e| e.context(path.display()))?;
        Policy::parse(&text).map_err(|e| e.context(path.display()))
    }

    pub fn parse(text: &str) -> Result<Policy, AuthError> {
        let v: Value = serde_json::from_str(text).map_err(|e| {
            AuthError::new(format!(
                "{}:{}: invalid JSON: {}",
                e.line(),
                e.column(),
                strip_position(&e.to_string())
            ))
        })?;
        let obj = v
            .as_object()
            .ok_or_else(|| AuthError::new("(root): expected an object with \"rules\""))?;
        for k in obj.keys() {
            if k != "rules" && k != "catalog" {
                return Err(AuthError::new(format!(
                    "{k}: unknown field (expected \"rules\" or \"catalog\")"
                )));
            }
        }
        let mut rules = Vec::new();
        if let Some(r) = obj.get("rules") {
            let arr = r
                .as_array()
                .ok_or_else(|| AuthError::new("rules: expected an array"))?;
            for (i, rule) in arr.iter().enumerate() {
                rules.push(parse_rule(rule, &format!("rules[{i}]"))?);
            }
        }
        let catalog = match obj.get("catalog") {
            None => Vec::new(),
            Some(c) => strings(c, "catalog")?
                .into_iter()
                .map(|s| Who::parse(&s))
                .collect(),
        };
        Ok(Policy { rules, catalog })
    }

    /// What `user` (`None` = anonymous) may do on `repository`: the union of every
    /// matching rule.
    pub fn rights(&self, user: Option<&str>, repository: &str) -> Rights {
        self.rules
            .iter()
            .filter(|r| r.users.iter().any(|w| w.matches(user)))
            .filter(|r| r.repositories.iter().any(|g| g.matches(repository)))
            .fold(Rights::NONE, |acc, r| acc.union(r.rights))
    }

    /// Whether `user` (`None` = anonymous) may list the catalog.
    pub fn may_list_catalog(&self, user: Option<&str>) -> bool {
        self.catalog.iter().any(|w| w.matches(user))
    }
}

/// serde_json appends " at line L column C"; we put the position first instead.
fn strip_position(msg: &str) -> &str {
    msg.rfind(" at line ").map(|i| &msg[..i]).unwrap_or(msg)
}

fn parse_rule(v: &Value, at: &str) -> Result<Rule, AuthError> {
    let obj = v
        .as_object()
        .ok_or_else(|| AuthError::new(format!("{at}: expected an object")))?;
    for k in obj.keys() {
        if !matches!(k.as_str(), "repositories" | "users" | "actions") {
            return Err(AuthError::new(format!(
                "{at}.{k}: unknown field (expected repositories, users, actions)"
            )));
        }
    }
    let field = |name: &str| -> Result<Vec<String>, AuthError> {
        let path = format!("{at}.{name}");
        let v = obj
            .get(name)
            .ok_or_else(|| AuthError::new(format!("{path}: missing")))?;
        strings(v, &path)
    };
    let mut repositories = Vec::new();
    for (i, p) in field("repositories")?.iter().enumerate() {
        repositories.push(
            Glob::parse(p)
                .map_err(|why| AuthError::new(format!("{at}.repositories[{i}]: {why}")))?,
        );
    }
    let users = field("users")?.iter().map(|s| Who::parse(s)).collect();
    let mut rights = Rights::NONE;
    for (i, a) in field("actions")?.iter().enumerate() {
        let action = match a.as_str() {
            "pull" => Action::Pull,
            "push" => Action::Push,
            "delete" => Action::Delete,
            other => {
                return Err(AuthError::new(format!(
                    "{at}.actions[{i}]: unknown action {other:?} (expected pull, push or delete)"
                )));
            }
        };
        rights.insert(action);
    }
    Ok(Rule {
        repositories,
        users,
        rights,
    })
}

/// An array of non-empty strings.
fn strings(v: &Value, at: &str) -> Result<Vec<String>, AuthError> {
    let arr = v
        .as_array()
        .ok_or_else(|| AuthError::new(format!("{at}: expected an array of strings")))?;
    arr.iter()
        .enumerate()
        .map(|(i, s)| match s.as_str() {
            Some("") => Err(AuthError::new(format!("{at}[{i}]: empty string"))),
            Some(s) => Ok(s.to_string()),
            None => Err(AuthError::new(format!("{at}[{i}]: expected a string"))),
        })
        .collect()
}

/// A repository glob: components, each `**` or a wildcard pattern over `[a-z0-9._-]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// `**`: one or more components.
    Deep,
    /// A component, `*` matching within it.
    Component(String),
}

impl Glob {
    /// Parses a pattern; the error says what is wrong with it.
    pub fn parse(p: &str) -> Result<Glob, String> {
        if p.is_empty() {
            return Err("empty pattern".into());
        }
        let mut parts = Vec::new();
        for c in p.split('/') {
            if c.is_empty() {
                return Err(format!("bad glob {p:?}: empty path component"));
            }
            if c == "**" {
                parts.push(Part::Deep);
                continue;
            }
            if c.contains("**") {
                return Err(format!(
                    "bad glob {p:?}: `**` must be a whole path component"
                ));
            }
            if let Some(bad) = c
                .chars()
                .find(|ch| !matches!(ch, 'a'..='z' | '0'..='9' | '.' | '_' | '-' | '*'))
            {
                return Err(format!(
                    "bad glob {p:?}: character {bad:?} cannot appear in a repository name"
                ));
            }
            parts.push(Part::Component(c.to_string()));
        }
        Ok(Glob { parts })
    }

    pub fn matches(&self, repository: &str) -> bool {
        let comps: Vec<&str> = repository.split('/').collect();
        match_parts(&self.parts, &comps)
    }
}

fn match_parts(parts: &[Part], comps: &[&str]) -> bool {
    match parts.split_first() {
        None => comps.is_empty(),
        Some((Part::Deep, rest)) => (1..=comps.len()).any(|k| match_parts(rest, &comps[k..])),
        Some((Part::Component(p), rest)) => match comps.split_first() {
            Some((c, more)) => wildcard(p.as_bytes(), c.as_bytes()) && match_parts(rest, more),
            None => false,
        },
    }
}

/// `*` matches any run (possibly empty) of characters; everything else literally.
///
/// Greedy with backtracking to the last `*` only, so it takes at most
/// `pattern × name` steps: the recursive form was exponential in the number of `*`s,
/// and the name comes from the client.
fn wildcard(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    // The last `*` seen, and where in `s` its current match ends.
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if p.get(pi) == Some(&b'*') {
            star = Some((pi, si));
            pi += 1;
        } else if p.get(pi) == Some(&s[si]) {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            // Let that `*` take one more byte and retry the rest.
            star = Some((sp, ss + 1));
            pi = sp + 1;
            si = ss + 1;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    #[test]
    fn wildcard_is_linear_in_its_inputs_and_right() {
        use super::wildcard;
        for (p, n, want) in [
            ("*", "", true),
            ("a*", "abc", true),
            ("*c", "abc", true),
            ("a*c", "ac", true),
            ("a*c", "ab", false),
            ("*b*", "abc", true),
            ("a**b", "ab", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("", "a", false),
        ] {
            assert_eq!(wildcard(p.as_bytes(), n.as_bytes()), want, "{p} ~ {n}");
        }
        // Exponential before: 30 stars against 200 `a`s that never match.
        let p = format!("{}b", "a*".repeat(30));
        assert!(!wildcard(p.as_bytes(), "a".repeat(200).as_bytes()));
    }

    use super::*;

    const EXAMPLE: &str = r#"{"rules": [
        {"repositories": ["**"], "users": ["writer"], "actions": ["pull", "push", "delete"]},
        {"repositories": ["team/*"], "users": ["*"], "actions": ["pull"]},
        {"repositories": ["public/**"], "users": ["anonymous"], "actions": ["pull"]}
       ],
       "catalog": ["writer"]}"#;

    fn g(p: &str, r: &str) -> bool {
        Glob::parse(p).unwrap().matches(r)
    }

    #[test]
    fn glob_semantics() {
        assert!(g("**", "a") && g("**", "a/b/c"));
        assert!(g("public/**", "public/a") && g("public/**", "public/a/b"));
        assert!(!g("public/**", "public") && !g("public/**", "publicx/a"));
        assert!(g("team/*", "team/x") && !g("team/*", "team/x/y") && !g("team/*", "team"));
        assert!(g("a/*-dev", "a/app-dev") && !g("a/*-dev", "a/app-prod"));
        assert!(g("a/**/z", "a/b/z") && g("a/**/z", "a/b/c/z") && !g("a/**/z", "a/z"));
        assert!(g("exact/name", "exact/name") && !g("exact/name", "exact/name2"));
        for bad in ["", "a//b", "a**", "A/b", "a/b/"] {
            assert!(Glob::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rights_add_up() {
        let p = Policy::parse(EXAMPLE).unwrap();
        assert_eq!(p.rights(Some("writer"), "x/y"), Rights::ALL);
        let reader = p.rights(Some("reader"), "team/app");
        assert!(reader.has(Action::Pull) && !reader.has(Action::Push));
        assert!(p.rights(Some("reader"), "other").is_empty());
        assert!(p.rights(None, "public/a/b").has(Action::Pull));
        assert!(
            p.rights(None, "team/app").is_empty(),
            "* excludes anonymous"
        );
        assert!(p.rights(Some("reader"), "public/a").is_empty());
        assert!(p.may_list_catalog(Some("writer")));
        assert!(!p.may_list_catalog(Some("reader")) && !p.may_list_catalog(None));
        let open = Policy::authenticated_only();
        assert_eq!(open.rights(Some("anyone"), "a/b"), Rights::ALL);
        assert!(open.rights(None, "a").is_empty());
        assert!(open.may_list_catalog(Some("x")) && !open.may_list_catalog(None));
    }

    #[test]
    fn malformed_files_name_the_place() {
        let cases = [
            ("{\"rules\": [\n  {]", "2:4"),
            (r#"{"rules": [], "extra": 1}"#, "extra: unknown field"),
            (
                r#"{"rules": [{"repositories": ["a"], "users": ["u"], "actions": ["pull"]},
                   {"repositories": ["a"], "users": ["u"], "actions": ["fetch"]}]}"#,
                "rules[1].actions[0]",
            ),
            (
                r#"{"rules": [{"repositories": [""], "users": ["u"], "actions": []}]}"#,
                "rules[0].repositories[0]",
            ),
            (
                r#"{"rules": [{"repositories": ["a**"], "users": ["u"], "actions": []}]}"#,
                "rules[0].repositories[0]: bad glob",
            ),
            (
                r#"{"rules": [{"repositories": ["a"], "users": ["u"], "actions": [], "x": 1}]}"#,
                "rules[0].x",
            ),
            (
                r#"{"rules": [{"users": ["u"], "actions": []}]}"#,
                "rules[0].repositories: missing",
            ),
        ];
        for (text, want) in cases {
            let err = Policy::parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} should contain {want:?}");
        }
    }
}

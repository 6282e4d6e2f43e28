//! The token scope grammar (AUTH-17, AUTH-18) and access entries (AUTH-21).
//!
//! `type[(class)]:name:action[,action]*`, several scopes separated by spaces. The name may
//! hold a `:` (a registry host with a port), so the type is split off at the first `:`
//! and the actions at the last. The class is deprecated and ignored (AUTH-18).

use serde::{Deserialize, Serialize};

/// One `access` entry of a token (AUTH-21), also used for requested scopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

impl Access {
    pub fn repository(name: &str, actions: &[&str]) -> Access {
        Access {
            kind: "repository".into(),
            name: name.into(),
            actions: actions.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// The catalog scope, `registry:catalog:*`.
    pub fn catalog() -> Access {
        Access {
            kind: "registry".into(),
            name: "catalog".into(),
            actions: vec!["*".into()],
        }
    }

    /// `type:name:a,b` (the scope string form, AUTH-17).
    pub fn to_scope(&self) -> String {
        format!("{}:{}:{}", self.kind, self.name, self.actions.join(","))
    }
}

/// Parses one or more space-separated scopes. Malformed items are skipped, not errors: a
/// token server grants the intersection of what was asked and what is allowed (AUTH-09),
/// and nothing is allowed on a scope it can't read.
pub fn parse_scopes(s: &str) -> Vec<Access> {
    s.split(' ').filter_map(parse_one).collect()
}

fn parse_one(s: &str) -> Option<Access> {
    let (kind, rest) = s.split_once(':')?;
    let (name, actions) = rest.rsplit_once(':')?;
    // Drop a deprecated resource class, `repository(plugin)` (AUTH-18).
    let kind = kind.split_once('(').map(|(k, _)| k).unwrap_or(kind);
    if kind.is_empty()
        || !kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        || name.is_empty()
    {
        return None;
    }
    let actions = actions
        .split(',')
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect();
    Some(Access {
        kind: kind.to_string(),
        name: name.to_string(),
        actions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        let v = parse_scopes(
            "repository:a/b:pull,push registry:catalog:* bad repository(plugin):localhost:5000/x:pull",
        );
        assert_eq!(v.len(), 3);
        assert_eq!(v[0], Access::repository("a/b", &["pull", "push"]));
        assert_eq!(v[1], Access::catalog());
        assert_eq!(v[2].name, "localhost:5000/x");
        assert_eq!(v[2].kind, "repository");
        assert_eq!(v[0].to_scope(), "repository:a/b:pull,push");
    }
}

//! The closed set of capabilities: what a scenario may need (`capabilities`), what it checks
//! the absence of (`when_without`), what a user may declare missing (`--without`) or ask
//! for (`--with`).
//!
//! A name outside this set is an error wherever it appears: a misspelt `"delte"` in a
//! scenario would otherwise make it run everywhere (nothing ever lacks `"delte"`), and
//! `--without delte` would silently run the delete scenarios the user meant to skip.

use std::fmt;

/// How a capability is switched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// Assumed present; a registry that lacks it on purpose says so with `--without`.
    Lackable,
    /// Off unless asked for with `--with` (checks that take minutes).
    OptIn,
}

/// One capability: its name in scenarios and on the command line, and what it means.
#[derive(Debug, Clone, Copy)]
pub struct Capability {
    pub name: &'static str,
    pub switch: Switch,
    pub about: &'static str,
}

const fn lackable(name: &'static str, about: &'static str) -> Capability {
    Capability {
        name,
        switch: Switch::Lackable,
        about,
    }
}

/// Every capability, in the order `--help` and the README list them.
pub const ALL: &[Capability] = &[
    lackable("push", "accepts writes (a read-only mirror lacks it)"),
    lackable("delete", "deletes manifests, tags and blobs"),
    lackable(
        "tag-delete",
        "deletes a tag by name (DELETE /manifests/<tag>)",
    ),
    lackable("blob-delete", "deletes blobs"),
    lackable("catalog", "lists repositories (GET /v2/_catalog)"),
    lackable("referrers", "serves the referrers API"),
    lackable(
        "mount",
        "mounts a blob from another repository (?mount=&from=)",
    ),
    lackable(
        "mount-without-from",
        "mounts a blob given only ?mount= (OCI main)",
    ),
    lackable("cancel", "cancels an upload session (DELETE on its URL)"),
    lackable(
        "single-post",
        "takes a whole blob in one POST ?digest= (else 202 and a session)",
    ),
    lackable(
        "streamed-patch",
        "takes a PATCH without Content-Range (a streamed chunk)",
    ),
    lackable("sha512", "accepts sha512 digests"),
    lackable(
        "sparse-manifests",
        "accepts an index whose children are not pushed",
    ),
    lackable(
        "reader",
        "a second, read-only identity is given (--reader-username/--reader-password); \
         missing without one",
    ),
    Capability {
        name: "slow",
        switch: Switch::OptIn,
        about: "scenarios that wait out a token's lifetime (about two minutes)",
    },
];

/// The capability named `name`.
pub fn find(name: &str) -> Option<&'static Capability> {
    ALL.iter().find(|c| c.name == name)
}

/// Names of the capabilities switched by `switch`.
pub fn names(switch: Switch) -> impl Iterator<Item = &'static str> {
    ALL.iter()
        .filter(move |c| c.switch == switch)
        .map(|c| c.name)
}

/// A name that is not a capability, or not one that can be switched the way it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// Where it was written: `capabilities`, `when_without`, `--without`, `--with`.
    pub place: &'static str,
    pub name: String,
    /// The names allowed there.
    pub allowed: Vec<&'static str>,
}

impl fmt::Display for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (place, name) = (self.place, &self.name);
        match find(name).map(|c| c.switch) {
            Some(Switch::OptIn) => write!(
                f,
                "{place}: {name:?} is an opt-in capability (asked for with --with), not one a registry lacks"
            )?,
            Some(Switch::Lackable) => write!(
                f,
                "{place}: {name:?} is assumed present (declared missing with --without), not an opt-in"
            )?,
            None => write!(f, "{place}: {name:?} is not a capability{}", self.hint())?,
        }
        write!(f, " (allowed here: {})", self.allowed.join(", "))
    }
}

impl Unknown {
    /// `; did you mean "x"?` for the closest allowed name, if it is close.
    fn hint(&self) -> String {
        self.allowed
            .iter()
            .map(|a| (strsim::levenshtein(a, &self.name), *a))
            .filter(|(d, a)| *d <= 2.max(a.len() / 4))
            .min()
            .map(|(_, a)| format!("; did you mean {a:?}?"))
            .unwrap_or_default()
    }
}

/// Checks that every name in `names` is a capability that `place` allows: a scenario's
/// `capabilities` take any, its `when_without` and `--without` the lackable ones, `--with`
/// the opt-in ones.
pub fn check<'a>(
    place: &'static str,
    given: impl IntoIterator<Item = &'a String>,
) -> Result<(), Unknown> {
    let allowed: Vec<&'static str> = match place {
        "--with" => names(Switch::OptIn).collect(),
        "when_without" | "--without" => names(Switch::Lackable).collect(),
        _ => ALL.iter().map(|c| c.name).collect(),
    };
    match given.into_iter().find(|n| !allowed.contains(&n.as_str())) {
        None => Ok(()),
        Some(n) => Err(Unknown {
            place,
            name: n.clone(),
            allowed,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn known_names_pass_where_they_are_allowed() {
        assert!(check("capabilities", &s(&["delete", "slow", "reader"])).is_ok());
        assert!(check("--without", &s(&["push", "catalog"])).is_ok());
        assert!(check("--with", &s(&["slow"])).is_ok());
    }

    #[test]
    fn typos_and_misplaced_names_are_errors_with_a_suggestion() {
        let e = check("--without", &s(&["delete", "delte"])).unwrap_err();
        assert_eq!(e.name, "delte");
        let msg = e.to_string();
        assert!(
            msg.starts_with("--without: \"delte\" is not a capability; did you mean \"delete\"?"),
            "{msg}"
        );
        assert!(msg.contains("allowed here: push, delete"), "{msg}");

        // `slow` is opt-in: it cannot be declared missing, and `delete` cannot be asked for.
        let msg = check("--without", &s(&["slow"])).unwrap_err().to_string();
        assert!(msg.contains("\"slow\" is an opt-in capability"), "{msg}");
        let msg = check("--with", &s(&["delete"])).unwrap_err().to_string();
        assert!(msg.contains("\"delete\" is assumed present"), "{msg}");
        // Far from every name: no suggestion.
        let msg = check("capabilities", &s(&["quantum"]))
            .unwrap_err()
            .to_string();
        assert!(!msg.contains("did you mean"), "{msg}");
    }

    #[test]
    fn names_are_unique_and_well_formed() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ALL {
            assert!(seen.insert(c.name), "{} twice", c.name);
            assert!(
                c.name.split('-').all(|w| !w.is_empty()
                    && w.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())),
                "{}",
                c.name
            );
        }
    }
}

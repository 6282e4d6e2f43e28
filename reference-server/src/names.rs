//! Repository-name and tag grammar (NAME-01, NAME-02, NAME-03, NAME-04, NAME-07).
//!
//! We apply the OCI grammar, which is a superset of Docker's (it also allows `__` and runs
//! of `-`), plus Docker's hard limit of 255 characters, so every name either spec accepts
//! for real registries is accepted here and nothing longer than clients can handle is.

use std::sync::LazyLock;

use regex::Regex;

/// Longest repository name accepted (Docker: "less than 256 characters", NAME-03).
///
/// OCI asks registries to avoid names longer than 255 characters *including the host*
/// (NAME-04). The registry can't know the host name clients use, so it enforces Docker's
/// hard limit on the name alone and leaves the shorter, host-dependent bound to operators.
pub const MAX_NAME_LEN: usize = 255;

static NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$")
        .expect("static regex")
});

static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$").expect("static regex"));

/// Whether `name` is a valid repository name: the OCI lowercase component grammar
/// (NAME-01), components joined by single slashes, one-component and one-character names
/// allowed (NAME-02), at most [`MAX_NAME_LEN`] characters (NAME-03).
///
/// Because no component may start with `_`, storage can keep its own `_layers`,
/// `_manifests`, ... directories next to nested repositories without collisions.
pub fn is_valid_name(name: &str) -> bool {
    name.len() <= MAX_NAME_LEN && matches_name_grammar(name)
}

/// The component grammar alone, without the length limit.
pub fn matches_name_grammar(name: &str) -> bool {
    NAME.is_match(name)
}

/// Whether `tag` is a valid tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`, so at most 128
/// characters and never a `:` (NAME-07, NAME-08).
pub fn is_valid_tag(tag: &str) -> bool {
    TAG.is_match(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in [
            "a",
            "library/ubuntu",
            "a__b",
            "a--b",
            "a.b/c_d",
            "x/blobs/y",
            "0",
        ] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in [
            "", "A", "a/", "/a", "a//b", "a/../b", "a..b", "_a", "a_", "a___b", "a b",
        ] {
            assert!(!is_valid_name(bad), "{bad}");
        }
        assert!(is_valid_name(&"a".repeat(255)));
        assert!(!is_valid_name(&"a".repeat(256)));
    }

    #[test]
    fn tags() {
        assert!(is_valid_tag("latest"));
        assert!(is_valid_tag("_x.Y-1"));
        assert!(is_valid_tag(&"a".repeat(128)));
        assert!(!is_valid_tag(&"a".repeat(129)));
        assert!(!is_valid_tag(".a"));
        assert!(!is_valid_tag("-a"));
        assert!(!is_valid_tag("a:b"));
        assert!(!is_valid_tag(""));
    }
}

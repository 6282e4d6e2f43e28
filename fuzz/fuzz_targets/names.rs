//! Repository names and tags (reference-server `names`): never panics, and what is
//! accepted has the grammar's shape and routes as that name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reference_server::names::{MAX_NAME_LEN, is_valid_name, is_valid_tag, matches_name_grammar};
use reference_server::routes::{Route, parse_path};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let grammar = matches_name_grammar(s);
    let valid = is_valid_name(s);
    assert_eq!(valid, grammar && s.len() <= MAX_NAME_LEN);
    if grammar {
        assert!(!s.is_empty());
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/".contains(&b))
        );
        assert!(!s.contains("//") && !s.contains(".."), "{s:?}");
        for c in s.split('/') {
            assert!(!c.starts_with(['_', '.', '-']), "{s:?}");
            assert!(!c.ends_with(['_', '.', '-']), "{s:?}");
        }
    }
    if valid {
        // A valid name routes as itself (its characters need no percent-encoding).
        let route = parse_path(&format!("/v2/{s}/tags/list")).expect("a valid name routes");
        assert_eq!(route, Some(Route::Tags { name: s.to_owned() }));
    }
    if is_valid_tag(s) {
        assert!(!s.is_empty() && s.len() <= 128, "{s:?}");
        assert!(!s.contains(':') && !s.contains('/'), "{s:?}");
        assert!(!s.starts_with(['.', '-']), "{s:?}");
    }
});

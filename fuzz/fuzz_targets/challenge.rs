//! `WWW-Authenticate` (suite `challenge::parse`, RFC 9110 § 11.6.1). Input: field lines
//! separated by `\n`. Parsed challenges have tchar schemes and lower-case parameter names,
//! and their `describe()` form parses back to the same challenges.
#![no_main]

use libfuzzer_sys::fuzz_target;
use suite::auth::{Scope, split_scopes};
use suite::challenge::parse;

fn tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let lines: Vec<&str> = s.split('\n').collect();
    let Ok(challenges) = parse(&lines) else {
        return;
    };
    for c in &challenges {
        assert!(!c.scheme.is_empty() && c.scheme.chars().all(tchar), "{c:?}");
        for (k, _) in &c.params {
            assert!(!k.is_empty() && k.chars().all(tchar), "{c:?}");
            assert_eq!(*k, k.to_ascii_lowercase());
        }
        assert!(c.token68.is_none() || c.params.is_empty(), "{c:?}");
        let again = parse(&[&c.describe()]).expect("describe() parses");
        assert_eq!(again, vec![c.clone()], "{s:?}");
        if let Some(scope) = c.param("scope") {
            for one in split_scopes(scope) {
                if let Some(sc) = Scope::parse(&one) {
                    assert_eq!(Scope::parse(&sc.render()), Some(sc));
                }
            }
        }
    }
});

//! The pagination `Link` header (suite `steps::paginate::next_link`): the target found is
//! the inside of a `<...>` of the header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use suite::fuzzing::next_link;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(t) = next_link(s) {
        assert!(s.contains(&format!("<{t}>")), "{s:?} -> {t:?}");
        assert!(!t.contains('>'));
    }
});

//! The upload chunk `Content-Range` (reference-server `routes::uploads::parse_content_range`):
//! a parsed range has end >= start, and its length fits the u64 the handler computes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reference_server::fuzzing::parse_content_range;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Some((a, b)) = parse_content_range(s) {
        assert!(b >= a, "{s:?}: {a}-{b}");
        assert!((b - a).checked_add(1).is_some(), "{s:?}: length overflows");
        // The canonical form reads back the same.
        assert_eq!(parse_content_range(&format!("{a}-{b}")), Some((a, b)));
    }
});

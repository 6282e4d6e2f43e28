//! The blob GET `Range` header (reference-server `routes::blobs::parse_range`). Input: the
//! first line is the blob size (decimal; anything else uses the byte count), the rest the
//! header value. A part is always inside the blob.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reference_server::fuzzing::parse_range;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let (size, header) = match s.split_once('\n') {
        Some((n, h)) => (n.trim().parse::<u64>().unwrap_or(n.len() as u64), h),
        None => (1000, s),
    };
    if let Ok(Some((first, last))) = parse_range(Some(header), size) {
        assert!(first <= last, "{header:?} of {size}: {first}-{last}");
        assert!(last < size, "{header:?} of {size}: {first}-{last}");
    }
    // Without a header: the whole blob.
    assert_eq!(parse_range(None, size), Ok(None));
});

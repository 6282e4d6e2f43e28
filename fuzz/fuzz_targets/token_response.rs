//! Token server answers as the suite reads them: the JSON body (`token::parse_token_response`,
//! with `issued_at` through `parse_rfc3339`), the claims of a JWT (`jwt_claims`) and the
//! error codes of an error body (`expect::error_codes`).
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use suite::expect::error_codes;
use suite::fuzzing::jwt_claims;
use suite::token::{parse_rfc3339, parse_token_response};

fuzz_target!(|data: &[u8]| {
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    if let Ok(t) = parse_token_response(data, now) {
        assert!(t.expires_at > UNIX_EPOCH);
        // Never valid for longer than its lifetime from now.
        let _ = t.fresh_at(now);
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Some(codes) = error_codes(&v) {
            assert!(codes.len() == v["errors"].as_array().map_or(0, Vec::len));
        }
    }
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_rfc3339(s);
    let _ = jwt_claims(s);
});

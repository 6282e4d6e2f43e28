//! Manifest and index validation on PUT (reference-server `routes::validate`). Input: the
//! first line is the `Content-Type` (an empty line: none), the rest the body. A refusal
//! is a 4xx, never a 5xx; what is accepted is a JSON object whose referenced digests are
//! all well formed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reference_server::digest::Digest;
use reference_server::fuzzing::check_manifest;

fuzz_target!(|data: &[u8]| {
    let (ct, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (std::str::from_utf8(&data[..i]).ok(), &data[i + 1..]),
        None => (None, data),
    };
    let ct = ct.filter(|c| !c.is_empty());
    match check_manifest(body, ct) {
        Ok(c) => {
            let v: serde_json::Value = serde_json::from_slice(body).expect("accepted is JSON");
            assert!(v.is_object());
            assert!(!c.media_type.is_empty());
            for d in c
                .required_blobs
                .iter()
                .chain(&c.required_manifests)
                .chain(&c.subject)
            {
                assert!(Digest::is_well_formed(d), "{d:?}");
            }
        }
        Err(status) => assert!((400..500).contains(&status), "status {status}"),
    }
});

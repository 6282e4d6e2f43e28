//! Digests (reference-server `digest`): a parsed digest formats back to its input, is
//! well formed, and a digest computed by the server parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reference_server::digest::{Algorithm, Digest, DigestError};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        match s.parse::<Digest>() {
            Ok(d) => {
                assert_eq!(d.to_string(), s);
                assert!(Digest::is_well_formed(s));
                assert_eq!(d.algorithm().as_str(), s.split(':').next().unwrap());
            }
            Err(DigestError::Unsupported(_)) => assert!(Digest::is_well_formed(s), "{s:?}"),
            Err(DigestError::Malformed(_)) => assert!(!Digest::is_well_formed(s), "{s:?}"),
        }
    }
    for alg in [Algorithm::Sha256, Algorithm::Sha512] {
        let d = alg.digest_of(data);
        assert_eq!(d.to_string().parse::<Digest>().as_ref(), Ok(&d));
    }
});

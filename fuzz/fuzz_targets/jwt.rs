//! Token verification (reference-server `auth::jwt::verify`) with a fixed ES256 key.
//! Garbage is refused without panicking; with the first byte odd, the rest of the input
//! as claims is signed with the key and must verify to the same claims, and must stop
//! verifying once its signature is replaced.
#![no_main]

use std::sync::LazyLock;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
use aws_lc_rs::signature::EcdsaKeyPair;
use libfuzzer_sys::fuzz_target;
use reference_server::auth::jwt::{Es256Key, verify};
use serde_json::{Value, json};

static KEY: LazyLock<Es256Key> = LazyLock::new(|| {
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .expect("P-256 key generation");
    Es256Key::from_pkcs8(doc.as_ref()).expect("a generated key loads")
});

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let key = &*KEY;
    if mode % 2 == 0 {
        let Ok(token) = std::str::from_utf8(rest) else {
            return;
        };
        for accept_unsigned in [false, true] {
            if let Ok(v) = verify(token, key.public_key(), accept_unsigned) {
                assert!(v.header.is_object() && v.claims.is_object());
                let alg = v.header["alg"].as_str().unwrap_or_default();
                assert!(alg == "ES256" || (accept_unsigned && alg.eq_ignore_ascii_case("none")));
            }
        }
        return;
    }
    let claims = match serde_json::from_slice::<Value>(rest) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({ "sub": String::from_utf8_lossy(rest) }),
    };
    let token = key.sign("JWT", json!({}), &claims);
    let v = verify(&token, key.public_key(), false).expect("a token we signed verifies");
    assert_eq!(v.claims, claims);
    let (unsigned, _) = token.rsplit_once('.').unwrap();
    assert!(verify(&format!("{unsigned}.AAAA"), key.public_key(), false).is_err());
    assert!(verify(&format!("{unsigned}."), key.public_key(), true).is_err());
});

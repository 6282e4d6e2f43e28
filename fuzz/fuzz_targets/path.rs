//! URL path routing (reference-server `routes::parse_path`): never panics; every route
//! with a repository carries a valid name, and a refusal is 400 NAME_INVALID.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reference_server::names::is_valid_name;
use reference_server::routes::parse_path;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for raw in [s.to_owned(), format!("/v2/{s}")] {
        match parse_path(&raw) {
            Ok(Some(route)) => {
                let name = route.repository();
                if let Some(name) = name {
                    assert!(is_valid_name(name), "{raw:?} -> {route:?}");
                }
            }
            Ok(None) => {}
            Err(e) => assert_eq!(e.status.as_u16(), 400, "{raw:?}"),
        }
    }
});

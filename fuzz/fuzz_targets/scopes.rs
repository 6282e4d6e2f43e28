//! Token scopes: the server's `auth::scope::parse_scopes` and the suite's `Scope::parse`
//! and `split_scopes`. Parsed scopes render back to strings that parse the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reference_server::auth::scope::parse_scopes;
use suite::auth::{Scope, split_scopes, union_scopes};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for a in parse_scopes(s) {
        assert!(!a.kind.is_empty() && !a.name.is_empty(), "{s:?}");
        assert!(a.actions.iter().all(|x| !x.is_empty() && !x.contains(',')));
        assert_eq!(parse_scopes(&a.to_scope()), vec![a.clone()], "{s:?}");
    }
    let split = split_scopes(s);
    for one in &split {
        assert!(!one.is_empty() && !one.contains(char::is_whitespace));
        if let Some(sc) = Scope::parse(one) {
            assert_eq!(Scope::parse(&sc.render()), Some(sc.clone()), "{one:?}");
        }
    }
    // The union is sorted and deduplicated, and idempotent.
    let u = union_scopes(&split, &split);
    assert!(u.windows(2).all(|w| w[0] < w[1]), "{u:?}");
    assert_eq!(union_scopes(&u, &[]), u);
});

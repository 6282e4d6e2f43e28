//! The registry's auth configuration files: the access policy (`Policy::parse`, JSON with
//! repository globs) and htpasswd (`Users::parse`). Input: the text; when a policy parses,
//! the lines after a `\n--\n` separator are checked as `user repository` queries, which
//! exercise the glob matcher on hostile repository names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reference_server::{Policy, Users};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let (text, queries) = s.split_once("\n--\n").unwrap_or((s, ""));
    let _ = Users::parse(text);
    let Ok(policy) = Policy::parse(text) else {
        return;
    };
    let mut queries: Vec<(Option<&str>, &str)> = queries
        .lines()
        .take(8)
        .map(|l| {
            let (u, r) = l.split_once(' ').unwrap_or(("anonymous", l));
            ((u != "anonymous").then_some(u), r)
        })
        .collect();
    queries.push((None, "library/ubuntu"));
    queries.push((Some("writer"), "a/b/c/d/e/f/g/h"));
    for (user, repo) in queries {
        let rights = policy.rights(user, repo);
        // The union over rules is monotone: the same question gets the same answer.
        assert_eq!(rights, policy.rights(user, repo));
        let _ = policy.may_list_catalog(user);
    }
});

//! Refusals: 401 with a challenge, or 403 `DENIED`.
//!
//! Token mode (distribution's behaviour, AUTH-23 decided as 401): every refusal is `401
//! UNAUTHORIZED` with `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` naming
//! every scope the request needs, space-separated in one `scope` parameter (AUTH-02,
//! AUTH-03), plus `error="invalid_token"` for a refused token or
//! `error="insufficient_scope"` for a valid one lacking rights. Basic mode: 401 with
//! `WWW-Authenticate: Basic realm="reference-registry"` without (valid) credentials, 403
//! `DENIED` for a verified user without the right (AUTH-24, AUTH-25). The 401 body is
//! `UNAUTHORIZED` whose `detail` lists the missing access as `[{"Type","Name","Action"}]`
//! (AUTH-01, AUTH-04).

use serde_json::{Value, json};

use super::AuthMode;
use super::scope::Access;
use crate::authz::{Caller, Identity};
use crate::errors::{Code, RegistryError};
use crate::request::RegistryRequest;
use crate::state::Registry;

/// The Basic realm; fixed, it only labels the password prompt.
pub const BASIC_REALM: &str = "reference-registry";

/// The refusal for `caller`, which lacks `needs` (empty for `/v2/`, which needs only
/// authentication).
pub(crate) fn refuse(
    registry: &Registry,
    req: &RegistryRequest,
    caller: &Caller,
    needs: &[Access],
) -> RegistryError {
    let detail = detail(needs);
    match &registry.config.auth.mode {
        AuthMode::Token(tc) => {
            let mut value = format!(
                "Bearer realm=\"{}\",service=\"{}\"",
                realm(registry, req),
                tc.service
            );
            if !needs.is_empty() {
                let scopes: Vec<String> = needs.iter().map(Access::to_scope).collect();
                value.push_str(&format!(",scope=\"{}\"", scopes.join(" ")));
            }
            match caller.identity {
                Identity::BadToken => value.push_str(",error=\"invalid_token\""),
                Identity::Token(_) => value.push_str(",error=\"insufficient_scope\""),
                _ => {}
            }
            unauthorized(detail).with_header("www-authenticate", value)
        }
        AuthMode::Basic if matches!(caller.identity, Identity::User(_)) => {
            RegistryError::new(Code::Denied, "requested access to the resource is denied")
                .detail(detail)
        }
        AuthMode::Basic => unauthorized(detail)
            .with_header("www-authenticate", format!("Basic realm=\"{BASIC_REALM}\"")),
        AuthMode::None => {
            RegistryError::new(Code::Denied, "requested access to the resource is denied")
        }
    }
}

fn unauthorized(detail: Value) -> RegistryError {
    RegistryError::new(Code::Unauthorized, "authentication required").detail(detail)
}

/// `[{"Type","Name","Action"}]`, one entry per action (AUTH-04).
fn detail(needs: &[Access]) -> Value {
    let entries: Vec<Value> = needs
        .iter()
        .flat_map(|a| {
            a.actions
                .iter()
                .map(|act| json!({"Type": a.kind, "Name": a.name, "Action": act}))
        })
        .collect();
    Value::Array(entries)
}

/// The token endpoint URL: `--public-url` + `/token`, else the scheme this registry
/// serves and the authority the client addressed + `/token`, so the realm is on the
/// registry's own address (crane refuses a loopback realm on another port).
pub(crate) fn realm(registry: &Registry, req: &RegistryRequest) -> String {
    if let AuthMode::Token(tc) = &registry.config.auth.mode
        && let Some(base) = &tc.public_url
    {
        return format!("{}/token", base.trim_end_matches('/'));
    }
    let scheme = if registry.config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let host = req.host.as_deref().unwrap_or("localhost");
    format!("{scheme}://{host}/token")
}

//! The token endpoint, `/token` on the registry's own address (`--auth token`).
//!
//! - `GET /token?service=…&scope=…&scope=…[&offline_token=true][&client_id=…]` with Basic
//!   credentials or none (AUTH-05, AUTH-06, AUTH-07, AUTH-08). Each `scope` may itself hold
//!   several space-separated scopes.
//! - `POST /token` with an OAuth2 form (AUTH-15): `grant_type=password` (`username`,
//!   `password`) or `grant_type=refresh_token` (`refresh_token`); `service` and `client_id`
//!   required; `access_type=offline` asks for a refresh token; `scope` space-separated.
//!
//! Granted access is what was asked intersected with what the policy allows; asking too
//! much is never an error (AUTH-09). Wrong credentials are 401 with a Basic challenge and
//! an `UNAUTHORIZED` body (AUTH-07). An unknown `service` is 400 (the token would be
//! useless here, and saying so beats a token every registry refuses). The answer is JSON
//! with `token` = `access_token`, `expires_in`, `issued_at` (AUTH-10..AUTH-12), and for
//! POST `scope` (AUTH-16) and `refresh_token` when asked (AUTH-13).
//!
//! The access log records only the path, never this endpoint's query (it may hold a
//! refresh token) nor any `Authorization` header.

use futures_util::TryStreamExt;
use serde_json::{Map, Value, json};
use warp::http::{Method, StatusCode};
use warp::reply::Response;

use super::TokenConfig;
use super::challenge::BASIC_REALM;
use super::scope::{Access, parse_scopes};
use super::token::rfc3339;
use crate::authz::{Action, basic_credentials};
use crate::defects;
use crate::errors::{Code, RegistryError};
use crate::request::{RegistryRequest, parse_query};
use crate::response;
use crate::state::Registry;

/// Largest POST form accepted.
const MAX_FORM: usize = 64 * 1024;

pub(crate) async fn handle(
    registry: &Registry,
    tc: &TokenConfig,
    mut req: RegistryRequest,
) -> Result<Response, RegistryError> {
    let post = req.method == Method::POST;
    if !post && req.method != Method::GET {
        return Err(RegistryError::unsupported(
            "the token endpoint takes GET and POST",
        ));
    }
    let params = if post {
        read_form(&mut req).await?
    } else {
        req.query.clone()
    };
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    match get("service") {
        Some(s) if s != tc.service => {
            return Err(bad_request(format!(
                "unknown service {s:?}; this token server issues tokens for {:?}",
                tc.service
            )));
        }
        None if post => return Err(bad_request("service is required")),
        _ => {}
    }
    if post && get("client_id").is_none_or(str::is_empty) {
        return Err(bad_request("client_id is required"));
    }
    let requested: Vec<Access> = params
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| parse_scopes(v))
        .collect();

    // Who is asking: `None` = anonymous.
    let subject: Option<String> = if post {
        match get("grant_type") {
            Some("password") => {
                let (Some(u), Some(p)) = (get("username"), get("password")) else {
                    return Err(bad_request("username and password are required"));
                };
                Some(login(registry, u, p).await?)
            }
            Some("refresh_token") => {
                let rt =
                    get("refresh_token").ok_or_else(|| bad_request("refresh_token is required"))?;
                match tc.verify_refresh(rt) {
                    Ok(sub) if registry.config.auth.users.contains(&sub) => Some(sub),
                    _ => return Err(unauthorized("invalid refresh token")),
                }
            }
            _ => {
                return Err(bad_request("grant_type must be password or refresh_token"));
            }
        }
    } else {
        match basic_credentials(&req.headers) {
            None => None,
            Some(Ok((u, p))) => Some(login(registry, &u, &p).await?),
            Some(Err(())) => return Err(unauthorized("malformed credentials")),
        }
    };

    let granted = grant(registry, subject.as_deref(), &requested);
    let issued = tc.issue(subject.as_deref().unwrap_or(""), &granted);
    let mut body = Map::new();
    body.insert("token".into(), json!(issued.token));
    body.insert("access_token".into(), json!(issued.token));
    body.insert("expires_in".into(), json!(issued.expires_in));
    body.insert("issued_at".into(), json!(rfc3339(issued.issued_at)));
    if post {
        let scope: Vec<String> = granted.iter().map(Access::to_scope).collect();
        body.insert("scope".into(), json!(scope.join(" ")));
    }
    let wants_refresh = if post {
        get("access_type") == Some("offline")
    } else {
        get("offline_token") == Some("true")
    };
    if wants_refresh && let Some(sub) = &subject {
        body.insert("refresh_token".into(), json!(tc.issue_refresh(sub)));
    }
    let mut resp = response::json(StatusCode::OK, &Value::Object(body));
    response::set(&mut resp, "cache-control", "no-store");
    Ok(resp)
}

/// Checks a password (AUTH-07); the defect switchboard may wave a wrong one through.
async fn login(registry: &Registry, user: &str, password: &str) -> Result<String, RegistryError> {
    let ok = registry.config.auth.users.verify(user, password).await;
    if defects::accept_credentials(registry.config.defects, ok) {
        Ok(user.to_string())
    } else {
        Err(unauthorized("invalid username or password"))
    }
}

/// Requested ∩ allowed (AUTH-09): repository actions the policy gives `subject`, and the
/// catalog to those it names. Unknown types, invalid names and refused actions are
/// dropped; several scopes on one repository merge.
fn grant(registry: &Registry, subject: Option<&str>, requested: &[Access]) -> Vec<Access> {
    let policy = &registry.policy;
    let mut out: Vec<Access> = Vec::new();
    for r in requested {
        match r.kind.as_str() {
            "repository" if crate::names::is_valid_name(&r.name) => {
                let rights = policy.rights(subject, &r.name);
                let wanted: Vec<Action> = r
                    .actions
                    .iter()
                    .flat_map(|a| match a.as_str() {
                        "pull" => vec![Action::Pull],
                        "push" => vec![Action::Push],
                        "delete" => vec![Action::Delete],
                        "*" => vec![Action::Pull, Action::Push, Action::Delete],
                        _ => vec![],
                    })
                    .filter(|a| rights.has(*a))
                    .collect();
                if wanted.is_empty() {
                    continue;
                }
                match out
                    .iter_mut()
                    .find(|a| a.kind == "repository" && a.name == r.name)
                {
                    Some(existing) => {
                        for a in wanted {
                            if !existing.actions.iter().any(|x| x == a.as_str()) {
                                existing.actions.push(a.as_str().to_string());
                            }
                        }
                    }
                    None => {
                        let mut acts: Vec<&str> = Vec::new();
                        for a in wanted {
                            if !acts.contains(&a.as_str()) {
                                acts.push(a.as_str());
                            }
                        }
                        out.push(Access::repository(&r.name, &acts));
                    }
                }
            }
            "registry"
                if r.name == "catalog"
                    && r.actions.iter().any(|a| a == "*")
                    && policy.may_list_catalog(subject)
                    && !out.contains(&Access::catalog()) =>
            {
                out.push(Access::catalog());
            }
            _ => {}
        }
    }
    out
}

async fn read_form(req: &mut RegistryRequest) -> Result<Vec<(String, String)>, RegistryError> {
    let mut body = req.take_body();
    let mut buf = Vec::new();
    while let Some(chunk) = body
        .try_next()
        .await
        .map_err(|_| bad_request("could not read the request body"))?
    {
        buf.extend_from_slice(&chunk);
        if buf.len() > MAX_FORM {
            return Err(bad_request("form too large"));
        }
    }
    Ok(parse_query(&String::from_utf8_lossy(&buf)))
}

fn bad_request(message: impl Into<String>) -> RegistryError {
    RegistryError::new(Code::Unsupported, message).with_status(StatusCode::BAD_REQUEST)
}

/// 401 `UNAUTHORIZED` with a Basic challenge: the token endpoint takes passwords.
fn unauthorized(message: &str) -> RegistryError {
    RegistryError::new(Code::Unauthorized, message)
        .with_header("www-authenticate", format!("Basic realm=\"{BASIC_REALM}\""))
}

//! Routing: one warp filter extracts the request as plain data, and [`dispatch`] routes it.
//!
//! Repository names contain `/` (and may contain components such as `blobs` or
//! `manifests`), so warp's `path!` segments can't express the API. Rather than a tree of
//! `tail()` filters we parse the path here, anchored on the fixed segments at the right
//! (`…/tags/list`, `…/blobs/uploads/<id>`, `…/manifests/<ref>`, `…/blobs/<digest>`,
//! `…/referrers/<digest>`). One filter also avoids warp's route-tree compile blowup and its
//! 404-vs-405 ranking, and keeps handlers plain `async fn`s over our own types.

mod base;
pub(crate) mod blobs;
mod catalog;
mod manifests;
mod pagination;
mod referrers;
mod tags;
pub(crate) mod uploads;
pub(crate) mod validate;

use std::sync::Arc;
use std::time::Instant;

use bytes::Buf;
use futures_util::TryStreamExt;
use warp::Filter;
use warp::http::{Method, StatusCode};
use warp::reply::Response;

use crate::auth::scope::Access;
use crate::auth::{self, AuthMode};
use crate::authz::{self, Action, Caller};
use crate::defects::{self, Defect};
use crate::errors::{Code, RegistryError};
use crate::names;
use crate::request::{BodyStream, RegistryRequest, parse_query};
use crate::response;
use crate::state::Registry;

/// What a path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Base,
    Catalog,
    Tags { name: String },
    Manifest { name: String, reference: String },
    Blob { name: String, digest: String },
    UploadStart { name: String },
    Upload { name: String, id: String },
    Referrers { name: String, digest: String },
}

impl Route {
    /// The repository the route names, if any.
    pub fn repository(&self) -> Option<&str> {
        match self {
            Route::Base | Route::Catalog => None,
            Route::Tags { name }
            | Route::Manifest { name, .. }
            | Route::Blob { name, .. }
            | Route::UploadStart { name }
            | Route::Upload { name, .. }
            | Route::Referrers { name, .. } => Some(name),
        }
    }
}

/// Parses a raw path. `Ok(None)`: no such endpoint. `Err`: an endpoint with an invalid
/// repository name (400 NAME_INVALID: NAME-05, ERR-20).
///
/// Names span any number of `/`-separated components (NAME-02), so the fixed segments are
/// matched from the right and everything before them is the name (BASE-09).
pub fn parse_path(raw: &str) -> Result<Option<Route>, RegistryError> {
    parse_path_with(raw, names::is_valid_name)
}

/// [`parse_path`] with another name check (the defect switchboard's lax grammars).
fn parse_path_with(
    raw: &str,
    name_ok: impl Fn(&str) -> bool,
) -> Result<Option<Route>, RegistryError> {
    let Some(rest) = raw.strip_prefix("/v2") else {
        return Ok(None);
    };
    if rest.is_empty() || rest == "/" {
        return Ok(Some(Route::Base));
    }
    let Some(rest) = rest.strip_prefix('/') else {
        return Ok(None);
    };
    if rest == "_catalog" {
        return Ok(Some(Route::Catalog));
    }
    let segs: Vec<String> = rest
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let n = segs.len();
    let at = |i: usize| segs[n - i].as_str();
    let name_of = |k: usize| -> Result<String, RegistryError> {
        let name = segs[..n - k].join("/");
        if name_ok(&name) {
            Ok(name)
        } else {
            Err(RegistryError::name_invalid(&name))
        }
    };
    let route = if n >= 3 && at(2) == "tags" && at(1) == "list" {
        Route::Tags { name: name_of(2)? }
    } else if n >= 4 && at(3) == "blobs" && at(2) == "uploads" {
        let id = at(1).to_string();
        if id.is_empty() {
            Route::UploadStart { name: name_of(3)? }
        } else {
            Route::Upload {
                name: name_of(3)?,
                id,
            }
        }
    } else if n >= 3 && at(2) == "blobs" && at(1) == "uploads" {
        Route::UploadStart { name: name_of(2)? }
    } else if n >= 3 && at(2) == "manifests" {
        Route::Manifest {
            name: name_of(2)?,
            reference: at(1).to_string(),
        }
    } else if n >= 3 && at(2) == "blobs" {
        Route::Blob {
            name: name_of(2)?,
            digest: at(1).to_string(),
        }
    } else if n >= 3 && at(2) == "referrers" {
        Route::Referrers {
            name: name_of(2)?,
            digest: at(1).to_string(),
        }
    } else {
        return Ok(None);
    };
    Ok(Some(route))
}

/// The whole HTTP surface as one warp filter.
pub fn filter(
    registry: Arc<Registry>,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    let idle_timeout = registry.config.idle_timeout;
    // warp's `path::full()` panics on a request target without a path (the authority form,
    // `CONNECT 127.0.0.1:80`: warp 0.4.3 falls back to `PathAndQuery::from_static("")`,
    // which `http` refuses; found by tests/http_fuzz.rs). `path::end()` matches exactly
    // the targets whose path is empty or `/`, so those never reach it.
    let path = warp::path::end()
        .map(|| "/".to_string())
        .or(warp::path::full().map(|p: warp::path::FullPath| p.as_str().to_string()))
        .unify();
    warp::method()
        .and(path)
        .and(query)
        .and(warp::header::headers_cloned())
        .and(warp::host::optional())
        .and(
            warp::body::stream()
                .map(move |s| crate::limits::with_idle_timeout(boxed_body(s), idle_timeout)),
        )
        .then(
            move |method: Method,
                  path: String,
                  query: String,
                  headers,
                  host: Option<warp::host::Authority>,
                  body: BodyStream| {
                let registry = registry.clone();
                async move {
                    let caller = Caller::authenticate(&registry, &headers).await;
                    let req = RegistryRequest {
                        method,
                        path,
                        query: parse_query(&query),
                        headers,
                        body,
                        caller,
                        host: host.map(|h| h.as_str().to_string()),
                    };
                    dispatch(registry, req).await
                }
            },
        )
}

/// Erases warp's unnameable body stream type into ours.
fn boxed_body<S, B>(s: S) -> BodyStream
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Send + Sync + 'static,
    B: Buf,
{
    Box::pin(
        s.map_ok(|mut buf| buf.copy_to_bytes(buf.remaining()))
            .map_err(std::io::Error::other),
    )
}

/// Routes one request, renders errors, adds the common headers and logs it.
///
/// Every answer, success or error, carries `Docker-Distribution-API-Version: registry/2.0`
/// (BASE-04, HDR-01). Errors become the JSON errors object (ERR-02), except on HEAD, whose
/// answers never have a body (BASE-14).
pub async fn dispatch(registry: Arc<Registry>, req: RegistryRequest) -> Response {
    let started = Instant::now();
    let method = req.method.clone();
    let path = req.path.clone();
    let head = req.is_head();
    let mut resp = match route(&registry, req).await {
        Ok(r) => r,
        Err(e) => {
            if head {
                // HEAD answers never have a body (BASE-14); keep the status and headers
                // (a 401's challenge).
                let mut r = response::empty(e.status);
                response::error_headers(&mut r, &e);
                r
            } else {
                response::error(&e)
            }
        }
    };
    if !registry.config.defects.has(Defect::NoApiVersion) {
        response::set(&mut resp, "docker-distribution-api-version", "registry/2.0");
    }
    tracing::info!(
        target: "reference_server::access",
        method = %method,
        path = %path,
        status = resp.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    resp
}

async fn route(registry: &Registry, mut req: RegistryRequest) -> Result<Response, RegistryError> {
    let defects = registry.config.defects;
    if req.path == "/token"
        && let AuthMode::Token(tc) = &registry.config.auth.mode
    {
        return auth::endpoint::handle(registry, tc, req).await;
    }
    let parsed = if defects.is_empty() {
        parse_path(&req.path)
    } else {
        parse_path_with(&req.path, |n| defects::name_ok(defects, n))
    };
    let Some(route) = parsed? else {
        return Err(RegistryError::new(Code::Unsupported, "no such endpoint")
            .with_status(StatusCode::NOT_FOUND));
    };
    if defects.is_empty() {
        return handle(registry, &route, req).await;
    }
    // The switchboard rewrites the request and the answer around the clean handlers.
    defects::on_request(defects, &route, &mut req);
    let method = req.method.clone();
    let result = handle(registry, &route, req).await;
    defects::on_result(defects, &route, &method, result)
}

/// The endpoint table: every pull endpoint (BASE-06: `/v2/`, blobs, manifests) and every
/// push, discovery and management endpoint (BASE-07), plus the catalog (DISC-16). A known
/// path with a method it doesn't have is 405 `UNSUPPORTED`.
///
/// Query parameters a handler doesn't read are ignored. That includes OCI main's proxy
/// parameter `ns=` on pulls (FUT-10): this registry is not a pull-through proxy, so it
/// serves its own repository whatever `ns` says and sends no `OCI-Namespace` (a registry
/// MAY ignore `ns`).
async fn handle(
    registry: &Registry,
    route: &Route,
    mut req: RegistryRequest,
) -> Result<Response, RegistryError> {
    let m = req.method.clone();
    check_policy(registry, &req, route)?;
    let head = m == Method::HEAD;
    match (route, &m) {
        (Route::Base, &Method::GET | &Method::HEAD) => Ok(base::get()),
        (Route::Catalog, &Method::GET | &Method::HEAD) => catalog::get(registry, &req).await,
        (Route::Tags { name }, &Method::GET | &Method::HEAD) => {
            tags::get(registry, &req, name).await
        }
        (Route::Manifest { name, reference }, &Method::GET | &Method::HEAD) => {
            manifests::get(registry, &req, name, reference, head).await
        }
        (Route::Manifest { name, reference }, &Method::PUT) => {
            manifests::put(registry, &mut req, name, reference).await
        }
        (Route::Manifest { name, reference }, &Method::DELETE) => {
            manifests::delete(registry, name, reference).await
        }
        (Route::Blob { name, digest }, &Method::GET | &Method::HEAD) => {
            blobs::get(registry, &req, name, digest, head).await
        }
        (Route::Blob { name, digest }, &Method::DELETE) => {
            blobs::delete(registry, name, digest).await
        }
        (Route::UploadStart { name }, &Method::POST) => {
            uploads::start(registry, &mut req, name).await
        }
        (Route::Upload { name, id }, &Method::GET) => uploads::status(registry, name, id).await,
        (Route::Upload { name, id }, &Method::PATCH) => {
            uploads::patch(registry, &mut req, name, id).await
        }
        (Route::Upload { name, id }, &Method::PUT) => {
            uploads::put(registry, &mut req, name, id).await
        }
        (Route::Upload { name, id }, &Method::DELETE) => uploads::cancel(registry, name, id).await,
        (Route::Referrers { name, digest }, &Method::GET | &Method::HEAD) => {
            referrers::get(registry, &req, name, digest).await
        }
        _ => Err(RegistryError::unsupported(format!(
            "method {m} not allowed on this endpoint"
        ))),
    }
}

/// Read-only mode, disabled deletes and the authorization hook, decided before any handler.
///
/// Read-only refuses every upload, mount and manifest PUT with 405 `UNSUPPORTED` (PUSH-46,
/// MPUT-27, ERR-26). With deletes disabled (MGMT-01), manifest, tag and blob deletes get
/// 405 `UNSUPPORTED`, one of the two answers OCI allows (MGMT-06, MGMT-08, MGMT-12). Both are
/// decided before the reference or digest is looked at, so the answer doesn't depend on it.
///
/// Access (AUTH-19): GET/HEAD need `pull`; POST/PATCH/PUT (and cancelling an upload) need
/// `pull` and `push`; DELETE of a manifest or blob needs `delete`. A refusal names every
/// scope the request needs (AUTH-03), including `pull` on a mount's `from` repository;
/// with the target writable but the source not, the mount itself quietly becomes an
/// ordinary upload session (see `uploads::try_mount`). `/v2/` needs any valid
/// authentication when auth is on; the catalog needs the catalog right (`auth::challenge`
/// renders 401 or 403).
fn check_policy(
    registry: &Registry,
    req: &RegistryRequest,
    route: &Route,
) -> Result<(), RegistryError> {
    let m = &req.method;
    let write = matches!(
        *m,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let content_delete =
        *m == Method::DELETE && matches!(route, Route::Manifest { .. } | Route::Blob { .. });
    if write && registry.config.read_only {
        return Err(RegistryError::unsupported("the registry is read-only"));
    }
    if content_delete && !registry.config.delete_enabled {
        return Err(RegistryError::unsupported(
            "deletes are disabled on this registry",
        ));
    }
    let caller = &req.caller;
    if let Some(repo) = route.repository() {
        let actions: &[Action] = if content_delete {
            &[Action::Delete]
        } else if write {
            &[Action::Pull, Action::Push]
        } else {
            &[Action::Pull]
        };
        if !actions.iter().all(|a| authz::allowed(caller, repo, *a)) {
            let names: Vec<&str> = actions.iter().map(|a| a.as_str()).collect();
            let mut needs = vec![Access::repository(repo, &names)];
            if matches!(route, Route::UploadStart { .. })
                && *m == Method::POST
                && req.query("mount").is_some()
                && let Some(from) = req.query("from")
                && from != repo
                && crate::names::is_valid_name(from)
                && !authz::allowed(caller, from, Action::Pull)
            {
                needs.push(Access::repository(from, &["pull"]));
            }
            return Err(auth::challenge::refuse(registry, req, caller, &needs));
        }
    }
    match route {
        // With authentication on, `/v2/` itself needs valid credentials: a 401 with the
        // challenge tells the client how to authenticate before it tries anything else
        // (BASE-02, AUTH-01), as distribution does.
        Route::Base if !caller.is_authenticated() => {
            Err(auth::challenge::refuse(registry, req, caller, &[]))
        }
        Route::Catalog if !authz::may_list_catalog(caller) => Err(auth::challenge::refuse(
            registry,
            req,
            caller,
            &[Access::catalog()],
        )),
        _ => Ok(()),
    }
}

/// `Location` of a committed blob: a plain blob URL of this repository, so GET on it
/// serves the blob (PUSH-09).
pub(crate) fn blob_location(name: &str, digest: &crate::digest::Digest) -> String {
    format!("/v2/{name}/blobs/{digest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<Route> {
        parse_path(s).unwrap()
    }

    #[test]
    fn routes_from_the_right() {
        assert_eq!(p("/v2/"), Some(Route::Base));
        assert_eq!(p("/v2/_catalog"), Some(Route::Catalog));
        assert_eq!(
            p("/v2/a/b/tags/list"),
            Some(Route::Tags { name: "a/b".into() })
        );
        assert_eq!(
            p("/v2/a/blobs/uploads/"),
            Some(Route::UploadStart { name: "a".into() })
        );
        assert_eq!(
            p("/v2/x/blobs/uploads/blobs/uploads/id"),
            Some(Route::Upload {
                name: "x/blobs/uploads".into(),
                id: "id".into()
            })
        );
        assert_eq!(
            p("/v2/manifests/tags/manifests/latest"),
            Some(Route::Manifest {
                name: "manifests/tags".into(),
                reference: "latest".into()
            })
        );
        assert_eq!(
            p("/v2/a/tags/list/blobs/sha256:x"),
            Some(Route::Blob {
                name: "a/tags/list".into(),
                digest: "sha256:x".into()
            })
        );
        assert_eq!(
            p("/v2/a/referrers/d"),
            Some(Route::Referrers {
                name: "a".into(),
                digest: "d".into()
            })
        );
        assert_eq!(p("/v3/a"), None);
        assert_eq!(p("/v2/a/b"), None);
        assert!(parse_path("/v2/A/manifests/x").is_err());
        assert!(parse_path("/v2/a//b/manifests/x").is_err());
        assert!(parse_path("/v2/a/../b/manifests/x").is_err());
        assert!(parse_path("/v2//a/tags/list").is_err());
    }
}

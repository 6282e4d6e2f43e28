//! `GET /v2/_catalog` (DISC-16, DISC-17, DISC-18): every repository, byte-ordered,
//! paginated.
//!
//! Listing walks the repository tree on each request; fine for a reference registry.
//! Who may list at all is decided in `routes::check_policy`; the list is filtered through
//! the authorization hook to what the caller may pull (DISC-18, AUTH-19).

use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;

use super::pagination::paginate;
use crate::authz;
use crate::defects::Defect;
use crate::errors::RegistryError;
use crate::request::RegistryRequest;
use crate::response;
use crate::state::Registry;

/// 200 with `{"repositories"}` in byte order (DISC-16), paginated like tags (DISC-17).
pub async fn get(registry: &Registry, req: &RegistryRequest) -> Result<Response, RegistryError> {
    let mut all: Vec<String> = registry
        .storage
        .list_repositories()
        .await?
        .into_iter()
        .filter(|r| authz::listed_in_catalog(&req.caller, r))
        .collect();
    if registry.config.defects.has(Defect::CatalogUnsorted) {
        all.reverse();
    }
    let page = paginate(registry, req, all, "/v2/_catalog")?;
    let mut resp = response::json(StatusCode::OK, &json!({ "repositories": page.items }));
    if let Some(link) = page.link {
        response::set(&mut resp, "link", link);
    }
    Ok(resp)
}

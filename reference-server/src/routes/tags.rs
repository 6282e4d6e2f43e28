//! `GET /v2/<name>/tags/list` (DISC-01..15): byte-ordered, paginated, `tags` always an array.

use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;

use super::pagination::paginate;
use crate::errors::RegistryError;
use crate::request::RegistryRequest;
use crate::response;
use crate::state::Registry;

pub async fn get(
    registry: &Registry,
    req: &RegistryRequest,
    name: &str,
) -> Result<Response, RegistryError> {
    let storage = &registry.storage;
    if !storage.repo_exists(name).await {
        return Err(RegistryError::name_unknown(name));
    }
    let all = storage.list_tags(name).await?;
    let page = paginate(
        req,
        all,
        registry.config.max_page_size,
        &format!("/v2/{name}/tags/list"),
    )?;
    let mut resp = response::json(StatusCode::OK, &json!({ "name": name, "tags": page.items }));
    if let Some(link) = page.link {
        response::set(&mut resp, "link", link);
    }
    Ok(resp)
}

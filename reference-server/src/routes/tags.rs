//! `GET /v2/<name>/tags/list` (DISC-01 to DISC-15): byte-ordered, paginated, `tags` always
//! an array.

use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;

use super::pagination::paginate;
use crate::defects::Defect;
use crate::errors::RegistryError;
use crate::request::RegistryRequest;
use crate::response;
use crate::state::Registry;

/// 200 with `{"name", "tags"}` as `application/json` (DISC-01, HDR-09); `tags` is `[]`,
/// never `null`, for a repository without tags (DISC-02); an unknown repository is 404
/// `NAME_UNKNOWN` (DISC-03). Tags are in byte order (DISC-04, FUT-07; see
/// [`crate::storage::Storage::list_tags`]) and paginated by [`paginate`].
pub async fn get(
    registry: &Registry,
    req: &RegistryRequest,
    name: &str,
) -> Result<Response, RegistryError> {
    let storage = &registry.storage;
    let Some(mut all) = storage.repository_tags(name).await? else {
        return Err(RegistryError::name_unknown(name));
    };
    let defects = registry.config.defects;
    if defects.has(Defect::TagsUnsorted) {
        all.reverse();
    }
    let page = paginate(registry, req, all, &format!("/v2/{name}/tags/list"))?;
    let mut tags = json!(page.items);
    if page.items.is_empty() && defects.has(Defect::TagsNullWhenEmpty) {
        tags = serde_json::Value::Null;
    }
    let mut resp = response::json(StatusCode::OK, &json!({ "name": name, "tags": tags }));
    if let Some(link) = page.link {
        response::set(&mut resp, "link", link);
    }
    Ok(resp)
}

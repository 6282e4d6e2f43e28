//! `GET /v2/<name>/referrers/<digest>` (DISC-20 to DISC-32): always an OCI index, never
//! 404, so clients know the API exists; optional `artifactType` filter.

use serde_json::{Value, json};
use warp::http::StatusCode;
use warp::reply::Response;

use super::manifests::REFERRERS_MEDIA_TYPE;
use crate::defects::Defect;
use crate::digest::Digest;
use crate::errors::RegistryError;
use crate::request::RegistryRequest;
use crate::response;
use crate::state::Registry;

/// 200 with an OCI index of the manifests in `name` whose `subject` is `digest` (DISC-20),
/// served as `application/vnd.oci.image.index.v1+json` (DISC-21), also for an unknown
/// subject or repository: the API never answers 404 (DISC-22). A malformed digest is 400
/// (DISC-23).
///
/// Entries are the descriptors written at manifest PUT (DISC-24, DISC-25, DISC-26), for
/// every referrer pushed, even before its subject (DISC-30), and gone once it is deleted
/// (DISC-32). `?artifactType=` filters (DISC-28) and then `OCI-Filters-Applied:
/// artifactType` says so (DISC-29). No pagination: the list is one page.
pub async fn get(
    registry: &Registry,
    req: &RegistryRequest,
    name: &str,
    digest: &str,
) -> Result<Response, RegistryError> {
    let subject: Digest = digest.parse()?;
    let mut manifests = registry.storage.list_referrers(name, &subject).await?;
    let filters = req.query_all("artifactType");
    if manifests.is_empty() && registry.config.defects.has(Defect::Referrers404) {
        return Err(RegistryError::manifest_unknown(digest));
    }
    if !filters.is_empty() && !registry.config.defects.has(Defect::ReferrersFilterIgnored) {
        manifests.retain(|m| {
            m.get("artifactType")
                .and_then(Value::as_str)
                .is_some_and(|t| filters.contains(&t))
        });
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": REFERRERS_MEDIA_TYPE,
        "manifests": manifests,
    });
    let body = serde_json::to_vec(&index).map_err(RegistryError::internal)?;
    let mut resp = response::bytes(StatusCode::OK, REFERRERS_MEDIA_TYPE, body);
    if !filters.is_empty() {
        response::set(&mut resp, "oci-filters-applied", "artifactType");
    }
    Ok(resp)
}

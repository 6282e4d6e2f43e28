//! `GET /v2/`: the version check (BASE-01, BASE-03, BASE-04).

use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;

use crate::response;

/// 200 with `{}`, always: the API is implemented and there is no auth yet (BASE-01), so
/// `/v2/` never answers 404 (BASE-03). The body is free-form (BASE-05); the dispatcher adds
/// `Docker-Distribution-API-Version` (BASE-04).
pub fn get() -> Response {
    response::json(StatusCode::OK, &json!({}))
}

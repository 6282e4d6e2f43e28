//! `GET /v2/`: the version check (BASE-01, BASE-04).

use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;

use crate::response;

pub fn get() -> Response {
    response::json(StatusCode::OK, &json!({}))
}

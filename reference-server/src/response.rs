//! Small builders for replies. Every reply gets `Docker-Distribution-API-Version` in the
//! dispatcher, so builders don't repeat it.

use bytes::Bytes;
use serde_json::Value;
use warp::http::StatusCode;
use warp::http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use warp::reply::Response;

use crate::errors::RegistryError;

/// A reply with no body and `Content-Length: 0` (HDR-07): every 201/202/204 of a write
/// (PUSH-03, PUSH-11, PUSH-42, MPUT-06).
pub fn empty(status: StatusCode) -> Response {
    let mut r = Response::new(Bytes::new().into());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    r
}

/// A complete in-memory body with its `Content-Type` and `Content-Length`.
pub fn bytes(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response {
    let len = body.len();
    let mut r = Response::new(Bytes::from(body).into());
    *r.status_mut() = status;
    set(&mut r, CONTENT_TYPE, content_type);
    set(&mut r, CONTENT_LENGTH, len);
    r
}

/// A JSON body as `application/json` with its `Content-Length`: tag list, catalog and
/// error answers (HDR-09, ERR-08).
pub fn json(status: StatusCode, value: &Value) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    bytes(status, "application/json", body)
}

/// The JSON error answer with the error's extra headers.
pub fn error(err: &RegistryError) -> Response {
    let mut r = json(err.status, &err.body());
    error_headers(&mut r, err);
    r
}

/// Copies an error's extra headers (`WWW-Authenticate`) onto an answer, e.g. a bodiless
/// HEAD answer.
pub fn error_headers(r: &mut Response, err: &RegistryError) {
    for (k, v) in &err.headers {
        set(r, k.as_str(), v);
    }
}

/// Sets a header, silently skipping values that aren't valid header text (they can only
/// come from our own formatting, never from unchecked input).
pub fn set(r: &mut Response, name: impl TryInto<HeaderName>, value: impl ToString) {
    if let (Ok(name), Ok(value)) = (name.try_into(), HeaderValue::from_str(&value.to_string())) {
        r.headers_mut().insert(name, value);
    }
}

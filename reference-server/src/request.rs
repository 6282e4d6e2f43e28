//! The request as handlers see it: plain data, independent of warp's filter types, so the
//! routing layer could be swapped without touching handlers.

use std::io;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;
use warp::http::{HeaderMap, Method};

use crate::authz::Caller;

/// A streamed request body.
pub type BodyStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + Sync>>;

pub struct RegistryRequest {
    pub method: Method,
    /// The raw (still percent-encoded) path.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: BodyStream,
    pub caller: Caller,
    /// The authority the client addressed (`Host`, or the HTTP/2 `:authority`), for the
    /// token realm; `None` if absent or not plain `host[:port]` text.
    pub host: Option<String>,
}

impl RegistryRequest {
    pub fn is_head(&self) -> bool {
        self.method == Method::HEAD
    }

    /// First value of query parameter `key`.
    pub fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of query parameter `key`, in order.
    pub fn query_all(&self, key: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A request header by name, case-insensitively (BASE-15): `HeaderMap` keys are
    /// normalised to lowercase, whatever case the client sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The declared `Content-Length`, if any and well-formed.
    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length")
            .and_then(|v| v.trim().parse().ok())
    }

    /// Takes the body, leaving an empty one.
    pub fn take_body(&mut self) -> BodyStream {
        std::mem::replace(&mut self.body, Box::pin(futures_util::stream::empty()))
    }
}

/// Parses a raw query string, keeping repeated keys (several `digest=`, DIG-10; several
/// `tag=`, FUT-06). Unknown parameters are kept and simply never read (`ns=`, FUT-10).
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect()
}

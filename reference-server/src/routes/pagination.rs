//! `n`/`last` pagination shared by tags and catalog (DISC-05 to DISC-14, DISC-17).

use crate::defects::Defect;
use crate::errors::{Code, RegistryError};
use crate::request::RegistryRequest;
use crate::state::Registry;

/// One page of a sorted list, and the `Link` header value when more remain.
pub struct Page {
    pub items: Vec<String>,
    pub link: Option<String>,
}

/// Applies `n` and `last` to `all` (already sorted). `base` is the path the link continues
/// (e.g. `/v2/<name>/tags/list`).
///
/// - Exactly `n` items unless fewer remain, and then a `Link` (DISC-05); `n=0` is an empty
///   page without `Link` (DISC-06); `n` that is not a non-negative integer is 400
///   `PAGINATION_NUMBER_INVALID` (DISC-13, ERR-28).
/// - A missing `n` (also with `last`, DISC-11) or one above the configured page size is
///   clamped to it, and the `Link` leads on (DISC-12).
/// - `last` is a value, not an index: the page starts strictly after it, whether or not it
///   is itself in the list (DISC-09, DISC-10).
/// - `Link: <base?n=…&last=…>; rel="next"` exactly when more remain (DISC-07), so no `Link`
///   means the list is complete (DISC-08) and following the links yields every item once
///   (DISC-14). The catalog paginates the same way (DISC-17).
pub fn paginate(
    registry: &Registry,
    req: &RegistryRequest,
    all: Vec<String>,
    base: &str,
) -> Result<Page, RegistryError> {
    let max = registry.config.max_page_size;
    let n = match req.query("n") {
        None | Some("") => max,
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| {
                RegistryError::new(
                    Code::PaginationNumberInvalid,
                    "invalid number of results requested",
                )
                .detail(serde_json::json!({ "n": v }))
            })?
            .min(max as u64) as usize,
    };
    let last = req.query("last").unwrap_or("");
    let inclusive = registry.config.defects.has(Defect::LastInclusive);
    let mut rest = all
        .into_iter()
        .filter(|s| last.is_empty() || s.as_str() > last || (inclusive && s == last));
    let items: Vec<String> = rest.by_ref().take(n).collect();
    let more = n > 0 && rest.next().is_some();
    let link = match (more, items.last()) {
        (true, Some(last)) => Some(format!(
            "<{base}?n={n}&last={}>; rel=\"next\"",
            encode(last)
        )),
        _ => None,
    };
    Ok(Page { items, link })
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace("%2F", "/")
}

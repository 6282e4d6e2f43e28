//! Entry points for the cargo-fuzz targets in `fuzz/` (see `fuzz/README.md`).
//!
//! The request-header and manifest parsers are private to their handlers; this module
//! reaches them without making the handlers' types part of the crate's API. Not a stable
//! interface: it exists for the fuzzers only, hence `#[doc(hidden)]` on the module.

use crate::defects::Defects;
use crate::routes::blobs::{self, Wanted};
use crate::routes::{uploads, validate};

pub use crate::routes::validate::Checked;

/// What a blob GET's `Range` header asks for, given the blob size: `Ok(None)` the whole
/// blob (200), `Ok(Some((first, last)))` an inclusive part (206), `Err(())` 416.
#[allow(clippy::result_unit_err)]
pub fn parse_range(header: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, ()> {
    match blobs::parse_range(header, size) {
        Wanted::Whole => Ok(None),
        Wanted::Part(a, b) => Ok(Some((a, b))),
        Wanted::Unsatisfiable => Err(()),
    }
}

/// An upload chunk's `Content-Range`: the inclusive `(first, last)` byte offsets.
pub fn parse_content_range(v: &str) -> Option<(u64, u64)> {
    uploads::parse_content_range(v)
}

/// Manifest validation of a PUT body with its `Content-Type`, as the handler does it
/// (without defects). The error is the HTTP status the handler would answer with.
pub fn check_manifest(body: &[u8], content_type: Option<&str>) -> Result<Checked, u16> {
    validate::check_with(body, content_type, Defects::NONE).map_err(|e| e.status.as_u16())
}

//! Entry points for the cargo-fuzz targets in `fuzz/` (see `fuzz/README.md`): parsers of
//! registry answers that live in private step modules. Not a stable interface: it exists
//! for the fuzzers only, hence `#[doc(hidden)]` on the module.

pub use crate::steps::jwt::jwt_claims;
pub use crate::steps::paginate::next_link;

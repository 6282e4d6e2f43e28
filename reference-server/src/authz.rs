//! The single authorization hook.
//!
//! Today every caller may do everything. Auth (basic/bearer with scopes) will fill in
//! [`Caller`] from the request and make [`allowed`] real; because every access decision,
//! including the implicit "may read the mount source" of a mount without `from`, goes
//! through [`allowed`], adding auth cannot leak blobs across repositories.

use warp::http::HeaderMap;

/// Who is calling. Empty until authentication exists.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    _private: (),
}

impl Caller {
    pub fn from_headers(_headers: &HeaderMap) -> Self {
        Caller::default()
    }
}

/// What a request wants to do with a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Pull,
    Push,
    Delete,
}

/// Whether `caller` may perform `action` on `repository`.
pub fn allowed(_caller: &Caller, _repository: &str, _action: Action) -> bool {
    true
}

//! Reference registry: OCI Distribution 1.1 + Docker Registry HTTP API V2.
//!
//! The public entry point is [`start`], used by the `reference-registry` binary, the
//! integration tests and the conformance suite's embedded default. [`gc`] is the garbage
//! collector behind `reference-registry gc`.
//!
//! Layout, one module per concern:
//! - [`routes`]: path parsing anchored on the right and one handler file per endpoint family;
//! - `errors`, `names`, `digest`: the error model and the grammars;
//! - [`storage`]: the content-addressed filesystem store with atomic publication;
//! - [`auth`]: users, access policy, token issuer and verifier; `authz`: the single
//!   authorization hook every access decision goes through; [`tls`]: HTTPS serving;
//! - [`defects`]: the switchboard of deliberate spec violations for mutation testing.

pub mod auth;
mod authz;
mod config;
pub mod defects;
pub mod digest;
mod errors;
pub mod fsck;
#[doc(hidden)]
pub mod fuzzing;
pub mod gc;
mod idle;
mod limits;
mod maintenance;
pub mod names;
mod request;
mod response;
pub mod routes;
mod server;
mod state;
pub mod storage;
pub mod tls;

pub use auth::{AuthConfig, AuthError, AuthMode, Policy, TokenConfig, Users};
pub use config::Config;
pub use defects::{Defect, Defects};
pub use server::{RunningRegistry, start};
pub use tls::TlsConfig;

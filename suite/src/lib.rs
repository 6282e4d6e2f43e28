//! The engine of `registry-conformance`: spec-derived scenarios (data files under
//! `fixtures/`) run against any registry URL.
//!
//! Layout (nextest style: engine here, thin CLI in `main.rs`):
//! - [`model`], [`loader`], [`validate`], [`fields`], [`templates`], [`catalog`]: the scenario
//!   format, its loading and validation (each step kind's own in [`steps`]), named templates
//!   and the requirement catalog;
//! - [`vars`], [`content`]: variables and body sources (deterministic, streamed blobs);
//! - [`auth`], [`challenge`], [`client`]: credentials, `WWW-Authenticate` parsing, HTTP with
//!   timeouts, redirects, 429 handling and transcripts; [`transport_fault`]: faults named;
//!   [`breaker`]: giving up on a registry that stopped answering; [`token`], [`token_flow`]: the
//!   Docker token flow; [`credentials`]: where credentials come from; [`redact`]: secrets
//!   out of transcripts;
//! - [`expect`], [`levels`], [`steps`], [`runner`]: expectations, how binding each one is,
//!   step kinds, one scenario run;
//! - [`plan`], [`harness`]: trials for libtest-mimic, one run end to end;
//! - [`progress`]: the progress line, libtest lines, or only the summary;
//! - [`events`], [`report`]: the event stream and its sinks (summary, JUnit, coverage,
//!   baseline);
//! - [`config_file`], [`oci_env`]: defaults from `registry-conformance.toml` and the official
//!   suite's `OCI_*` variables (flags and `REGISTRY_*` variables win);
//! - [`explain`]: `registry-conformance explain`, a requirement or scenario in words;
//! - [`bench`]: `registry-conformance bench`, throughput and latency of a registry (or two,
//!   side by side), with the client's own ceiling measured.

pub mod auth;
pub mod bench;
pub mod breaker;
pub mod capabilities;
pub mod catalog;
pub mod challenge;
pub mod client;
pub mod config_file;
pub mod content;
pub mod credentials;
pub mod embedded_auth;
pub mod error;
pub mod events;
pub mod expect;
pub mod explain;
pub mod fields;
#[doc(hidden)]
pub mod fuzzing;
pub mod harness;
pub mod levels;
pub mod loader;
pub mod model;
pub mod oci_env;
pub mod plan;
pub mod progress;
pub mod redact;
pub mod report;
pub mod runner;
pub mod steps;
pub mod templates;
pub mod token;
pub mod token_flow;
pub mod transport_fault;
pub mod validate;
pub mod vars;

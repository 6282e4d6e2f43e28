//! `push_blob`: upload a named blob by one of the standard flows, expecting success.

use reqwest::{Method, Url};

use super::common::{Common, repo_or_default};
use super::exchange::{Exchange, simple};
use super::outcome::{StepEnd, missing};
use super::push_flow::{expect_status, ids, location, undefined, url};
use super::state::ScenarioState;
use crate::client::OutBody;
use crate::content::Item;
use crate::error::LoadError;
use crate::fields::raw_fields;
use crate::model::{PushBlobStep, PushMethod, Step, StepKind};
use crate::validate::{Scope, StepContext};
use crate::vars::Vars;

/// The key that makes a step a `push_blob` step.
pub const KEY: &str = "push_blob";

/// The fields besides its own key that a `push_blob` step takes.
pub const ACCEPTS: &[&str] = &["method", "chunk_size", "repo"];

/// Default chunk for `chunked` uploads.
const DEFAULT_CHUNK: u64 = 1024 * 1024;
const OCTET: &str = "application/octet-stream";

raw_fields! {
    /// A `push_blob` step's own fields (`repo` it shares with `push_manifest`: [`Common`]).
    pub struct Raw {
        /// The blob's name in the scenario.
        "push_blob" => push_blob: Option<String>,
        /// How to upload (default monolithic).
        "method" => method: Option<PushMethod>,
        /// The chunk size of chunked uploads.
        "chunk_size" => chunk_size: Option<u64>,
    }
}

impl Raw {
    /// The blob is the scenario's; `${blob.N.location}` is defined afterwards (outside a
    /// `parallel` branch).
    pub fn check(
        &self,
        common: &Common,
        cx: &StepContext<'_>,
        scope: &mut Scope,
    ) -> Result<StepKind, LoadError> {
        let blob = self.push_blob.clone().unwrap_or_default();
        if !cx.cx.blobs.contains_key(&blob) {
            return Err(cx.err(format!("push_blob: unknown blob {blob:?}")));
        }
        if self.chunk_size == Some(0) {
            return Err(cx.err("chunk_size must be positive"));
        }
        let repo = repo_or_default(common);
        cx.template("repo", &repo, scope)?;
        if !cx.in_parallel {
            scope.define(format!("blob.{blob}.location"));
        }
        Ok(StepKind::PushBlob(PushBlobStep {
            blob,
            method: self.method.unwrap_or_default(),
            chunk_size: self.chunk_size,
            repo,
        }))
    }
}

/// `POST …/blobs/uploads/` that must open a session: the 202 exchange and its `Location`.
async fn open_session(
    st: &ScenarioState<'_>,
    step: &Step,
    uploads: Url,
) -> Result<(Exchange, Url), StepEnd> {
    let what = ("POST (open session)", ids::OPEN);
    let headers = vec![("Content-Length".to_owned(), "0".to_owned())];
    let post = simple(Method::POST, uploads, headers, OutBody::Empty);
    let open = expect_status(st, step, what, post, &[202]).await?;
    let (_, loc) = location(step, what, &open)?;
    Ok((open, loc))
}

/// Uploads the blob by its method, expecting success at each operation, then checks a HEAD
/// finds it; defines `${blob.N.location}`.
pub(super) async fn run(
    st: &ScenarioState<'_>,
    step: &Step,
    push: &PushBlobStep,
    vars: &mut Vars,
) -> Result<(), StepEnd> {
    let PushBlobStep {
        blob,
        method,
        chunk_size,
        repo,
    } = push;
    let Some((item, _)) = st.items.blobs.get(blob) else {
        return Err(undefined(step, "blob", blob));
    };
    let repo = vars.render(repo).map_err(|m| missing(step, m))?;
    let len = item.content.len();
    let digest = item.digest.clone();
    let uploads = url(st, step, &format!("/v2/{repo}/blobs/uploads/"))?;
    if let Ok(mut p) = st.pushed.lock() {
        p.insert((repo.clone(), digest.clone()));
    }

    let final_ex = match method {
        PushMethod::Monolithic => {
            let (_, loc) = open_session(st, step, uploads).await?;
            let put = simple(
                Method::PUT,
                with_digest(loc, &digest),
                octet(),
                content_body(item, blob, 0, len, false),
            );
            expect_status(st, step, ("PUT (whole blob)", ids::PUT), put, &[201]).await?
        }
        PushMethod::SinglePost => {
            let post = simple(
                Method::POST,
                with_digest(uploads, &digest),
                octet(),
                content_body(item, blob, 0, len, false),
            );
            let ex = expect_status(
                st,
                step,
                ("POST ?digest= (single request)", ids::SINGLE_POST),
                post,
                &[201, 202],
            )
            .await?;
            if ex.status.as_u16() == 202 {
                // The registry does not take the blob in the POST: it opened a session.
                let (_, loc) = location(
                    step,
                    ("POST ?digest= (202 fallback)", ids::SINGLE_POST),
                    &ex,
                )?;
                let put = simple(
                    Method::PUT,
                    with_digest(loc, &digest),
                    octet(),
                    content_body(item, blob, 0, len, false),
                );
                expect_status(
                    st,
                    step,
                    ("PUT (after 202 fallback)", ids::PUT),
                    put,
                    &[201],
                )
                .await?
            } else {
                ex
            }
        }
        PushMethod::Chunked | PushMethod::ChunkedFinalInPut => {
            let (open, mut loc) = open_session(st, step, uploads).await?;
            let min = open
                .header("oci-chunk-min-length")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0);
            let chunk = chunk_size.unwrap_or(DEFAULT_CHUNK).max(min).max(1);
            let final_in_put = *method == PushMethod::ChunkedFinalInPut;
            let mut start = 0;
            // With the final chunk in the PUT, PATCH everything but the last chunk.
            let patch_end = if final_in_put && len > 0 {
                (len - 1) / chunk * chunk
            } else {
                len
            };
            while start < patch_end {
                let end = (start + chunk).min(patch_end);
                let mut headers = octet();
                headers.push(("Content-Range".to_owned(), format!("{start}-{}", end - 1)));
                let patch = simple(
                    Method::PATCH,
                    loc.clone(),
                    headers,
                    content_body(item, blob, start, end, false),
                );
                let what = format!("PATCH (bytes {start}-{})", end - 1);
                let ex = expect_status(st, step, (&what, ids::PATCH), patch, &[202]).await?;
                if ex.header("location").is_some() {
                    loc = location(step, (&what, ids::PATCH_LOCATION), &ex)?.1;
                }
                start = end;
            }
            let close_id = if final_in_put {
                ids::FINAL_IN_PUT
            } else {
                ids::PUT
            };
            let put = if final_in_put && start < len {
                let mut headers = octet();
                headers.push(("Content-Range".to_owned(), format!("{start}-{}", len - 1)));
                simple(
                    Method::PUT,
                    with_digest(loc, &digest),
                    headers,
                    content_body(item, blob, start, len, false),
                )
            } else {
                simple(
                    Method::PUT,
                    with_digest(loc, &digest),
                    vec![("Content-Length".to_owned(), "0".to_owned())],
                    OutBody::Empty,
                )
            };
            expect_status(st, step, ("PUT (close session)", close_id), put, &[201]).await?
        }
        PushMethod::Streamed => {
            let (_, loc) = open_session(st, step, uploads).await?;
            let patch = simple(
                Method::PATCH,
                loc,
                octet(),
                content_body(item, blob, 0, len, true),
            );
            let what = ("PATCH (streamed)", ids::STREAMED);
            let ex = expect_status(st, step, what, patch, &[202]).await?;
            let (_, loc) = location(step, what, &ex)?;
            let put = simple(
                Method::PUT,
                with_digest(loc, &digest),
                vec![("Content-Length".to_owned(), "0".to_owned())],
                OutBody::Empty,
            );
            expect_status(st, step, ("PUT (close session)", ids::PUT), put, &[201]).await?
        }
    };
    let (raw_loc, _) = location(step, ("blob created", ids::PUT), &final_ex)?;
    vars.set(format!("blob.{blob}.location"), raw_loc);

    let head = simple(
        Method::HEAD,
        url(st, step, &format!("/v2/{repo}/blobs/{digest}"))?,
        vec![],
        OutBody::Empty,
    );
    let what = ("HEAD (blob exists after upload)", ids::READABLE);
    expect_status(st, step, what, head, &[200]).await?;
    Ok(())
}

/// `url` with `?digest=`.
fn with_digest(mut url: Url, digest: &str) -> Url {
    url.query_pairs_mut().append_pair("digest", digest);
    url
}

/// Bytes `start..end` of a blob as a request body.
fn content_body(item: &Item, name: &str, start: u64, end: u64, stream: bool) -> OutBody {
    let whole = start == 0 && end >= item.content.len();
    OutBody::Content {
        reader: item.content.reader(start, end),
        stream,
        abort_after: None,
        describe: if whole {
            format!("blob {name}")
        } else {
            format!("blob {name} bytes {start}-{}", end.saturating_sub(1))
        },
    }
}

/// `Content-Type: application/octet-stream`.
fn octet() -> Vec<(String, String)> {
    vec![("Content-Type".to_owned(), OCTET.to_owned())]
}

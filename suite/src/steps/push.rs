//! `push_blob` and `push_manifest`: the standard upload flows, expecting success.

use reqwest::{Method, Url};

use super::{
    Exchange, ScenarioState, StepEnd, exchange, fail, fail_as, missing, request_line, simple,
};
use crate::client::{BodyCheck, OutBody, OutRequest};
use crate::content::Item;
use crate::expect::Problem;
use crate::model::{PushBlobStep, PushManifestStep, PushMethod, Step};
use crate::vars::Vars;

/// Default chunk for `chunked` uploads.
const DEFAULT_CHUNK: u64 = 1024 * 1024;
const OCTET: &str = "application/octet-stream";

/// The requirement each operation of the built-in flows rests on: a failure names this
/// one, so a registry that breaks one upload rule gets one root cause, not a failure of
/// whatever each scenario was about.
mod ids {
    /// POST opens a session: 202 with `Location`.
    pub const OPEN: &str = "PUSH-01";
    /// PUT `?digest=` with the blob (or closing a session): 201 with `Location`.
    pub const PUT: &str = "PUSH-08";
    /// Single POST `?digest=` with the body: 201, or 202 with a session.
    pub const SINGLE_POST: &str = "PUSH-16";
    /// PATCH with `Content-Range` appends: 202.
    pub const PATCH: &str = "PUSH-18";
    /// An accepted PATCH answers with `Location` and `Range`.
    pub const PATCH_LOCATION: &str = "PUSH-20";
    /// PATCH without `Content-Range` streams into the session (Docker, MAY).
    pub const STREAMED: &str = "PUSH-25";
    /// The last chunk may travel in the closing PUT (MAY).
    pub const FINAL_IN_PUT: &str = "PUSH-26";
    /// After the 201 the blob is readable in that repository.
    pub const READABLE: &str = "PUSH-10";
    /// PUT manifest by tag: 201.
    pub const MANIFEST_BY_TAG: &str = "MPUT-01";
    /// PUT manifest by digest: 201.
    pub const MANIFEST_BY_DIGEST: &str = "MPUT-02";
}

fn id_list(id: &str) -> Vec<String> {
    vec![id.to_owned()]
}

/// Sends `req` and checks the status is one of `allowed`; a failure breaks `id`.
async fn expect_status(
    st: &ScenarioState<'_>,
    step: &Step,
    (what, id): (&str, &str),
    req: OutRequest,
    allowed: &[u16],
) -> Result<Exchange, StepEnd> {
    let ex = exchange(st, step, &req, BodyCheck::default())
        .await
        .map_err(|e| with_requirement(e, id))?;
    if !allowed.contains(&ex.status.as_u16()) {
        let expected = allowed
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(" or ");
        let status = ex.status.as_u16().to_string();
        return Err(ex.fail(
            step,
            &id_list(id),
            Some(request_line(&req)),
            vec![Problem::new(format!("{what}: status"), expected, status)],
        ));
    }
    Ok(ex)
}

/// A transport failure during an operation breaks that operation's requirement too.
fn with_requirement(e: StepEnd, id: &str) -> StepEnd {
    match e {
        StepEnd::Fail(mut f) => {
            f.requirements = id_list(id);
            StepEnd::Fail(f)
        }
        other => other,
    }
}

/// The `Location` of a response resolved against the URL that answered (RFC 9110), or a
/// failure of `id` when it is missing.
fn location(
    step: &Step,
    (what, id): (&str, &str),
    ex: &Exchange,
) -> Result<(String, Url), StepEnd> {
    let Some(raw) = ex.header("location") else {
        return Err(fail_as(
            step,
            &id_list(id),
            None,
            vec![Problem::new(
                format!("{what}: header Location"),
                "present",
                "absent",
            )],
            ex.transcript.clone(),
        ));
    };
    match ex.url.join(&raw) {
        Ok(u) => Ok((raw, u)),
        Err(e) => Err(fail_as(
            step,
            &id_list(id),
            None,
            vec![Problem::new(
                format!("{what}: header Location"),
                "a URL",
                format!("{raw:?}: {e}"),
            )],
            ex.transcript.clone(),
        )),
    }
}

fn with_digest(mut url: Url, digest: &str) -> Url {
    url.query_pairs_mut().append_pair("digest", digest);
    url
}

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

fn octet() -> Vec<(String, String)> {
    vec![("Content-Type".to_owned(), OCTET.to_owned())]
}

/// The loader rejects steps naming undefined content, so this only guards against a
/// harness bug; it fails loudly rather than letting the step pass unchecked.
fn undefined(step: &Step, kind: &str, name: &str) -> StepEnd {
    fail(
        step,
        None,
        vec![Problem::new(
            format!("{kind} {name:?}"),
            "defined by the scenario",
            "not defined (harness bug)",
        )],
        String::new(),
    )
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

pub(super) async fn blob(
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

pub(super) async fn manifest(
    st: &ScenarioState<'_>,
    step: &Step,
    push: &PushManifestStep,
    vars: &mut Vars,
) -> Result<(), StepEnd> {
    let PushManifestStep {
        manifest,
        reference,
        repo,
    } = push;
    let Some(item) = st.items.manifests.get(manifest) else {
        return Err(undefined(step, "manifest", manifest));
    };
    let repo = vars.render(repo).map_err(|m| missing(step, m))?;
    let reference = if reference == "digest" {
        item.digest.clone()
    } else {
        vars.render(reference).map_err(|m| missing(step, m))?
    };
    if let Ok(mut p) = st.pushed.lock() {
        p.insert((repo.clone(), item.digest.clone()));
    }
    let headers = vec![(
        "Content-Type".to_owned(),
        item.media_type.clone().unwrap_or_default(),
    )];
    let body = OutBody::Content {
        reader: item.content.reader(0, item.content.len()),
        stream: false,
        abort_after: None,
        describe: format!("manifest {manifest}"),
    };
    let put = simple(
        Method::PUT,
        url(st, step, &format!("/v2/{repo}/manifests/{reference}"))?,
        headers,
        body,
    );
    let id = if push.reference == "digest" {
        ids::MANIFEST_BY_DIGEST
    } else {
        ids::MANIFEST_BY_TAG
    };
    let ex = expect_status(st, step, ("PUT manifest", id), put, &[201]).await?;
    if let Some(l) = ex.header("location") {
        vars.set(format!("manifest.{manifest}.location"), l);
    }
    Ok(())
}

fn url(st: &ScenarioState<'_>, step: &Step, path: &str) -> Result<Url, StepEnd> {
    st.client.url_for_path(path).map_err(|e| {
        fail(
            step,
            None,
            vec![Problem::new(
                "URL",
                "a usable URL",
                format!("{path:?}: {e}"),
            )],
            String::new(),
        )
    })
}

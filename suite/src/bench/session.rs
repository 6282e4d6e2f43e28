//! One registry under bench: the suite's [`HttpClient`] for everything that is not timed
//! (preflight, auth priming, cleanup), and a lean `reqwest::Client` for the timed path.
//!
//! Why two clients: the suite's client keeps a transcript of every exchange and copies
//! bodies it reads, which is right for conformance failures and wrong for a hot loop. The
//! lean client sends exactly the request and nothing else. Authentication is still the
//! suite's: the lean path asks the suite's token flow ([`crate::token_flow`]) for the
//! `Authorization` it would send preemptively for the repository (a Bearer token the flow
//! fetched for pull+push, or Basic once a Basic challenge was met, or `--token` as is).
//! To get there it *primes* the repository once through the suite's client (a POST that
//! opens an upload session, cancelled at once), which runs the whole challenge → token
//! flow. A 401 on the lean path (a token expired mid-run) primes again and retries the
//! request once; every timed request body is regenerated from the seed, so it can be.
//!
//! Every request to the registry takes one of its [`Slots`] ([`super::inflight`]), so the
//! bench never has more than `--concurrency` requests in flight against it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, StatusCode, Url};

use super::inflight::{Slot, Slots, hold};
use crate::auth::Auth;
use crate::client::{AuthHeader, BodyCheck, ClientConfig, HttpClient, OutBody, RetryPolicy};

/// How a registry is reached.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Base URL.
    pub base: Url,
    /// Credentials (resolved by [`crate::credentials`]).
    pub auth: Auth,
    /// Where they came from (for the header; never a secret).
    pub auth_source: String,
    /// Extra trust anchors.
    pub ca_cert: Option<std::path::PathBuf>,
    /// Accept invalid certificates.
    pub insecure: bool,
    /// Connect timeout of the suite's client and idle-read timeout of both.
    pub request_timeout: Duration,
}

/// What was pushed, so it can be deleted again.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Blob digests by repository.
    pub blobs: BTreeMap<String, BTreeSet<String>>,
    /// Manifest digests by repository.
    pub manifests: BTreeMap<String, BTreeSet<String>>,
}

impl Ledger {
    /// Adds everything in `other`.
    pub fn merge(&mut self, other: Ledger) {
        for (mine, theirs) in [
            (&mut self.blobs, other.blobs),
            (&mut self.manifests, other.manifests),
        ] {
            for (repo, digests) in theirs {
                mine.entry(repo).or_default().extend(digests);
            }
        }
    }

    /// Manifests and blobs in it.
    pub fn len(&self) -> usize {
        [&self.blobs, &self.manifests]
            .iter()
            .flat_map(|m| m.values())
            .map(BTreeSet::len)
            .sum()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What became of the upload sessions of failed pushes ([`super::cancel`]).
#[derive(Debug, Default)]
pub struct Abandoned {
    /// Cancelled (the DELETE answered 2xx, or 404: the registry had ended it already).
    pub cancelled: AtomicUsize,
    /// Not cancelled (an error answer, a transport error, the short timeout).
    pub left: AtomicUsize,
}

/// A registry under bench.
#[derive(Debug)]
pub struct Target {
    /// `A` (`--url`) or `B` (`--compare-url`); `null` for the ceiling's null sink.
    pub label: String,
    /// What the table shows for it (URL, and "embedded reference registry" if so).
    pub describe: String,
    /// The suite's client (transcripts, token flow).
    pub http: HttpClient,
    lean: reqwest::Client,
    auth: Auth,
    /// The repository prefix of this run (`bench-<random>`).
    pub namespace: String,
    /// Authorization to send per repository (`None`: none needed).
    headers: tokio::sync::Mutex<HashMap<String, Option<HeaderValue>>>,
    /// What the workloads pushed and is not deleted yet (cleared after each workload).
    pub ledger: Mutex<Ledger>,
    /// What the preflight and the set-up pushed for the workloads to read: deleted by the
    /// final clean-up only.
    pub kept: Mutex<Ledger>,
    /// The sessions of failed pushes.
    pub abandoned: Abandoned,
    /// The bound on requests in flight.
    slots: Slots,
}

impl Target {
    /// Both clients for `ep`; at most `max_in_flight` requests at once.
    pub fn new(
        label: &str,
        describe: String,
        ep: &Endpoint,
        namespace: &str,
        max_in_flight: usize,
    ) -> anyhow::Result<Target> {
        let http = HttpClient::new(ClientConfig {
            base: ep.base.clone(),
            auth: ep.auth.clone(),
            reader: None,
            request_timeout: ep.request_timeout,
            insecure: ep.insecure,
            ca_cert: ep.ca_cert.clone(),
            retry: RetryPolicy::default(),
        })
        .map_err(|e| anyhow!("{e}"))?;
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::limited(5))
            .connect_timeout(ep.request_timeout.min(Duration::from_secs(10)))
            .read_timeout(ep.request_timeout)
            .tcp_nodelay(true)
            .tls_danger_accept_invalid_certs(ep.insecure);
        if let Some(path) = &ep.ca_cert {
            b = b.tls_certs_merge(crate::client::load_ca_certs(path).map_err(|e| anyhow!("{e}"))?);
        }
        let lean = b
            .build()
            .map_err(|e| anyhow!(crate::client::error_chain(&e)))?;
        Ok(Target {
            label: label.to_owned(),
            describe,
            http,
            lean,
            auth: ep.auth.clone(),
            namespace: namespace.to_owned(),
            headers: tokio::sync::Mutex::new(HashMap::new()),
            ledger: Mutex::new(Ledger::default()),
            kept: Mutex::new(Ledger::default()),
            abandoned: Abandoned::default(),
            slots: Slots::new(max_in_flight),
        })
    }

    /// Waits for one of the registry's in-flight slots: for a request through
    /// [`Target::http`], held until its answer has been read (the lean path takes its own
    /// in [`Target::send`]).
    pub async fn slot(&self) -> Slot {
        self.slots.take().await
    }

    /// Moves everything pushed so far to [`Target::kept`]: the set-up's content, which the
    /// workloads read and only the final clean-up deletes.
    pub fn keep_pushed(&self) {
        let pushed = self.take_pushed();
        if let Ok(mut k) = self.kept.lock() {
            k.merge(pushed);
        }
    }

    /// Takes what the workloads pushed (the ledger is left empty).
    pub fn take_pushed(&self) -> Ledger {
        self.ledger
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default()
    }

    /// Puts back what could not be deleted yet (for the final clean-up to try again).
    pub fn return_pushed(&self, rest: Ledger) {
        if let Ok(mut l) = self.ledger.lock() {
            l.merge(rest);
        }
    }

    /// Counts the outcome of cancelling a failed push's session.
    pub fn abandoned_session(&self, cancelled: bool) {
        let n = if cancelled {
            &self.abandoned.cancelled
        } else {
            &self.abandoned.left
        };
        n.fetch_add(1, Ordering::Relaxed);
    }

    /// `<namespace>/<name>`.
    pub fn repo(&self, name: &str) -> String {
        format!("{}/{name}", self.namespace)
    }

    /// `base` + `path` (the base may carry a path prefix).
    pub fn api(&self, path: &str) -> Url {
        self.http
            .url_for_path(path)
            .unwrap_or_else(|_| self.http.base().clone())
    }

    /// A `Location` resolved against the base (they may be relative).
    pub fn resolve(&self, loc: &str) -> anyhow::Result<Url> {
        self.http
            .resolve(loc)
            .map_err(|e| anyhow!("unusable Location {loc:?}: {e}"))
    }

    /// Records a pushed blob for cleanup.
    pub fn pushed_blob(&self, repo: &str, digest: &str) {
        if let Ok(mut l) = self.ledger.lock() {
            l.blobs
                .entry(repo.to_owned())
                .or_default()
                .insert(digest.to_owned());
        }
    }

    /// Records a pushed manifest for cleanup.
    pub fn pushed_manifest(&self, repo: &str, digest: &str) {
        if let Ok(mut l) = self.ledger.lock() {
            l.manifests
                .entry(repo.to_owned())
                .or_default()
                .insert(digest.to_owned());
        }
    }

    /// Sends a request built by `mk` on the lean client, with the repository's
    /// Authorization; on a 401, primes the repository again and retries once. The request
    /// holds one in-flight slot, from before it (and any priming) is sent until the
    /// returned response's body is read or dropped.
    pub async fn send(
        &self,
        repo: &str,
        mk: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> anyhow::Result<reqwest::Response> {
        let slot = self.slot().await;
        let authz = self.authorization(repo).await?;
        let resp = self.send_once(&mk, authz).await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(hold(resp, slot));
        }
        drop(resp);
        self.prime(repo).await?;
        let authz = self.authorization(repo).await?;
        Ok(hold(self.send_once(&mk, authz).await?, slot))
    }

    async fn send_once(
        &self,
        mk: &impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        authz: Option<HeaderValue>,
    ) -> anyhow::Result<reqwest::Response> {
        let mut rb = mk(&self.lean);
        if let Some(h) = authz {
            rb = rb.header(AUTHORIZATION, h);
        }
        rb.send()
            .await
            .map_err(|e| anyhow!(crate::client::error_chain(&e)))
    }

    /// The Authorization for `repo`, priming it the first time.
    async fn authorization(&self, repo: &str) -> anyhow::Result<Option<HeaderValue>> {
        if let Some(h) = self.headers.lock().await.get(repo) {
            return Ok(h.clone());
        }
        self.prime(repo).await?;
        Ok(self.headers.lock().await.get(repo).cloned().flatten())
    }

    /// Forgets the cached Authorization of `repo`: the next request takes what the suite's
    /// flow holds now (after a request through [`Target::http`] widened its token, say).
    pub async fn refresh(&self, repo: &str) {
        let h = self.flow_header(repo);
        self.headers.lock().await.insert(repo.to_owned(), h);
    }

    /// Runs the suite's auth flow for push on `repo` (POST an upload, cancel it) and
    /// remembers the Authorization it would now send.
    async fn prime(&self, repo: &str) -> anyhow::Result<()> {
        let url = self.api(&format!("/v2/{repo}/blobs/uploads/"));
        let resp = self
            .http
            .send(&crate::steps::simple(
                Method::POST,
                url,
                vec![],
                OutBody::Empty,
            ))
            .await
            .map_err(|e| anyhow!("POST /v2/{repo}/blobs/uploads/: {e}"))?;
        let status = resp.status;
        let loc = resp.header("location");
        let (body, _) = resp.read(BodyCheck::default()).await;
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            bail!(
                "POST /v2/{repo}/blobs/uploads/ answered {status} even with the credentials ({}): {}",
                self.http
                    .username()
                    .map(|u| format!("user {u}"))
                    .unwrap_or_else(|| "anonymous".to_owned()),
                snippet(&body.kept)
            );
        }
        if status == StatusCode::ACCEPTED
            && let Some(loc) = loc
            && let Ok(u) = self.resolve(&loc)
        {
            let cancel = crate::steps::simple(Method::DELETE, u, vec![], OutBody::Empty);
            if let Ok(r) = self.http.send(&cancel).await {
                let _ = r.read(BodyCheck::default()).await;
            }
        }
        self.refresh(repo).await;
        Ok(())
    }

    /// What the suite's flow would send preemptively for `repo` now.
    fn flow_header(&self, repo: &str) -> Option<HeaderValue> {
        let header = match &self.auth {
            Auth::Bearer { token } => Some(AuthHeader::Bearer(token.clone())),
            auth => self
                .http
                .flow
                .preemptive("writer", &format!("repository:{repo}"), auth),
        }?;
        let text = match header {
            AuthHeader::Bearer(t) => format!("Bearer {t}"),
            AuthHeader::Basic { username, password } => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            ),
        };
        let mut v = HeaderValue::from_str(&text).ok()?;
        v.set_sensitive(true);
        Some(v)
    }
}

/// The start of a body as one line of text (secrets redacted), for error messages.
pub fn snippet(body: &[u8]) -> String {
    let s = crate::client::printable(&body[..body.len().min(300)]);
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.is_empty() {
        "(empty body)".to_owned()
    } else {
        s
    }
}

/// `resp` if its status is one of `ok`, else an error saying what answered what.
pub async fn expect(
    resp: reqwest::Response,
    ok: &[u16],
    what: &str,
) -> anyhow::Result<reqwest::Response> {
    let status = resp.status();
    if ok.contains(&status.as_u16()) {
        return Ok(resp);
    }
    let body = resp.bytes().await.unwrap_or_default();
    bail!("{what} answered {status}: {}", snippet(&body))
}

/// Reads and discards a response body; the number of bytes.
pub async fn drain(mut resp: reqwest::Response) -> anyhow::Result<u64> {
    let mut n = 0u64;
    while let Some(c) = resp
        .chunk()
        .await
        .map_err(|e| anyhow!(crate::client::error_chain(&e)))
        .context("reading the body")?
    {
        n += c.len() as u64;
    }
    Ok(n)
}

/// The `Location` header, resolved.
pub fn location(t: &Target, resp: &reqwest::Response, what: &str) -> anyhow::Result<Url> {
    let loc = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| anyhow!("{what} answered {} without a Location", resp.status()))?;
    t.resolve(loc)
}

/// `url` with `digest=<d>` added to its query (a Location may carry a query already).
pub fn with_digest(url: &Url, digest: &str) -> Url {
    let mut u = url.clone();
    u.query_pairs_mut().append_pair("digest", digest);
    u
}

//! The HTTP client: bounded time, opaque `Location`s, redirects followed by hand (bounded),
//! `429 Retry-After` waited out within a bound, and a transcript of every exchange for
//! failure messages.
//!
//! reqwest's own redirect handling is off: a check that must see a `307` has to see it,
//! and following by hand lets the transcript show every hop.

use std::fmt::Write as _;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};

use crate::auth::Auth;
use crate::breaker::Breaker;
use crate::content::{ContentReader, Hasher};
use crate::model::Algorithm;
use crate::token::TokenCache;
use crate::token_flow::FlowState;
use crate::transport_fault;

/// Redirect hops followed at most.
pub const MAX_REDIRECTS: usize = 5;
/// Bodies up to this size are sent from memory; bigger ones are streamed.
const IN_MEMORY_BODY: u64 = 1024 * 1024;
/// How much of a response body is kept for JSON parsing and transcripts.
pub const KEEP_BODY: usize = 16 * 1024 * 1024;
/// How much of a response body is read at most. Nothing the suite checks comes near it
/// (the biggest blob of the fixtures is 6 MiB, the biggest manifest 16 MiB); a registry
/// that streams without end would otherwise be hashed until the request timeout, so the
/// read stops here and the step fails saying so.
pub const MAX_BODY: u64 = 64 * 1024 * 1024;
/// Idle connections kept per host: enough for every trial of a parallel run
/// ([`crate::harness::REMOTE_TEST_THREADS`]) with its clean-up's parallel deletes, so a
/// burst of requests never closes connections that the next burst would reopen.
const POOL_IDLE_PER_HOST: usize = 4 * crate::harness::REMOTE_TEST_THREADS;
/// Body bytes shown in a transcript.
const SHOW_BODY: usize = 2048;

/// How long and how often a `429` is waited out.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Longest single `Retry-After` honoured; a longer one returns the 429 as is.
    pub max_wait: Duration,
    /// Total waiting per request.
    pub budget: Duration,
    /// Retries per request.
    pub max_retries: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_wait: Duration::from_secs(30),
            budget: Duration::from_secs(60),
            max_retries: 5,
        }
    }
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Registry base URL (`http://host:port`, maybe with a path prefix).
    pub base: Url,
    /// The run's (writer's) credentials.
    pub auth: Auth,
    /// The reader identity (may pull, not push or delete), if configured.
    pub reader: Option<Auth>,
    /// Per-request timeout (connect + headers + body).
    pub request_timeout: Duration,
    /// Accept invalid TLS certificates.
    pub insecure: bool,
    /// A PEM file of extra trust anchors (`--ca-cert`), on top of the system roots.
    pub ca_cert: Option<std::path::PathBuf>,
    /// 429 handling.
    pub retry: RetryPolicy,
}

/// The shared client of a run.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    pub(crate) cfg: ClientConfig,
    /// Tokens and what each identity learnt per repository (shared by every trial).
    pub(crate) flow: std::sync::Arc<FlowState>,
    /// Gives up on a registry that stopped answering (off unless [`HttpClient::with_breaker`]).
    breaker: std::sync::Arc<Breaker>,
}

/// Whose credentials a request carries (AUTH-02, AUTH-05, AUTH-27; the `as` field of
/// request steps).
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Identity {
    /// The run's credentials, with the whole challenge / token flow.
    #[default]
    Writer,
    /// The reader identity, with the whole flow.
    Reader,
    /// No credentials and no flow: a 401 and its challenge are the answer.
    Anonymous,
    /// `Authorization: Bearer <value>` as given; no flow, no retry.
    Bearer(String),
    /// `Authorization: Basic` as given; no flow, no retry.
    Basic {
        /// User name.
        username: String,
        /// Password (never printed).
        password: String,
    },
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

impl Identity {
    /// How transcripts name it (never a secret).
    pub fn label(&self) -> &'static str {
        match self {
            Identity::Writer => "writer",
            Identity::Reader => "reader",
            Identity::Anonymous => "anonymous",
            Identity::Bearer(_) => "a given bearer token",
            Identity::Basic { .. } => "given basic credentials",
        }
    }
}

/// An `Authorization` header to attach.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum AuthHeader {
    Basic { username: String, password: String },
    Bearer(String),
}

/// Scheme, host and port: credentials never cross from one origin to another (AUTH-27).
pub(crate) type Origin = (String, Option<String>, Option<u16>);

/// The origin of a URL.
pub(crate) fn origin(u: &Url) -> Origin {
    (
        u.scheme().to_owned(),
        u.host_str().map(str::to_owned),
        u.port_or_known_default(),
    )
}

/// A request body.
#[derive(Debug, Clone)]
pub enum OutBody {
    /// No body (`Content-Length: 0` on methods that carry one).
    Empty,
    /// Bytes from a content source.
    Content {
        /// The bytes to send.
        reader: ContentReader,
        /// Send chunked, without `Content-Length`.
        stream: bool,
        /// Break the request off after this many bytes.
        abort_after: Option<u64>,
        /// For transcripts: what the body is (`blob layer [0..1023]`).
        describe: String,
    },
}

/// One request as the steps describe it.
#[derive(Debug, Clone)]
pub struct OutRequest {
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: Url,
    /// Headers set by the step.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: OutBody,
    /// Follow 3xx.
    pub follow_redirects: bool,
    /// Whose credentials it carries.
    pub identity: Identity,
    /// The step named this absolute URL itself (a token endpoint, say): the identity's
    /// credentials go to its origin too (raw: Basic once, no flow). Built-in flows leave
    /// it `false`, so a `Location` elsewhere never receives credentials.
    pub own_url: bool,
}

/// Why no response arrived.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct HttpError {
    /// Classification for messages.
    pub kind: HttpErrorKind,
    /// The fault named ([`crate::transport_fault`]), then the client's cause chain.
    pub message: String,
    /// What was exchanged before the error (earlier hops) and the failing request.
    pub transcript: String,
}

/// Classes of transport failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpErrorKind {
    /// No TCP/TLS connection.
    Connect,
    /// The request timeout elapsed.
    Timeout,
    /// The body we sent was broken off (by `abort_after` or the peer).
    RequestBody,
    /// The response could not be read (garbage, reset mid-body, ...).
    Response,
    /// Too many redirects or a bad `Location`.
    Redirect,
    /// Not sent: the registry stopped answering earlier in the run ([`crate::breaker`]).
    GaveUp,
}

impl std::fmt::Display for HttpErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HttpErrorKind::Connect => "cannot connect",
            HttpErrorKind::Timeout => "no complete response in time",
            HttpErrorKind::RequestBody => "request body broken off",
            HttpErrorKind::Response => "bad or broken response",
            HttpErrorKind::Redirect => "redirect problem",
            HttpErrorKind::GaveUp => crate::breaker::STOPPED,
        })
    }
}

/// A response whose head arrived; the body is still to be read.
#[derive(Debug)]
pub struct Response {
    /// Status.
    pub status: StatusCode,
    /// The HTTP version it came in (HTTP/2 when the registry offered it over TLS).
    pub version: reqwest::Version,
    /// Headers.
    pub headers: HeaderMap,
    /// The URL that answered (after redirects).
    pub url: Url,
    /// Why the token flow could not get past a 401, when the registry is to blame: the
    /// requirement it broke, so a push that fails for it is reported as that, not as a
    /// broken push.
    pub auth_note: Option<AuthNote>,
    inner: reqwest::Response,
    pub(crate) transcript: String,
    /// Told whether the body came in whole.
    breaker: std::sync::Arc<Breaker>,
    /// Named when the body times out.
    timeout: Duration,
}

/// A registry fault found while answering a 401 ([`Response::auth_note`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthNote {
    /// The requirement IDs it breaks.
    pub requirements: Vec<String>,
    /// What happened, for the failure message.
    pub message: String,
}

/// What to do with a response body while it streams in.
#[derive(Debug, Clone)]
pub struct BodyCheck {
    /// Digest algorithm to hash with.
    pub alg: Algorithm,
    /// Compare with these bytes.
    pub compare: Option<ContentReader>,
}

impl Default for BodyCheck {
    fn default() -> Self {
        BodyCheck {
            alg: Algorithm::Sha256,
            compare: None,
        }
    }
}

/// A read response body.
#[derive(Debug, Clone)]
pub struct Body {
    /// Total length.
    pub len: u64,
    /// The first [`KEEP_BODY`] bytes.
    pub kept: Bytes,
    /// Whether `kept` is shorter than the body.
    pub truncated: bool,
    /// Digest with the requested algorithm.
    pub digest: String,
    /// With [`BodyCheck::compare`]: the offset of the first differing byte, if any
    /// (a length difference counts as differing at the shorter length).
    pub first_difference: Option<u64>,
    /// The body broke off (reset, timeout): the message.
    pub error: Option<String>,
}

impl HttpClient {
    /// Builds the client.
    pub fn new(cfg: ClientConfig) -> Result<HttpClient, crate::error::HarnessError> {
        // One client, so one connection pool, for the whole run: trials reuse each
        // other's connections (a new one costs a round trip, two with TLS). HTTP/2 when
        // a TLS registry offers it by ALPN (reqwest's `http2` feature offers `h2` and
        // `http/1.1`): the trials' requests then share one connection. Plain HTTP stays
        // HTTP/1.1: registries do not offer prior-knowledge h2c.
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .pool_max_idle_per_host(POOL_IDLE_PER_HOST)
            .pool_idle_timeout(Duration::from_secs(90))
            // Big bodies over one HTTP/2 connection at a high round-trip time: grow the
            // receive window with the bandwidth-delay product instead of 64 KiB steps.
            .http2_adaptive_window(true)
            .timeout(cfg.request_timeout)
            .connect_timeout(cfg.request_timeout.min(Duration::from_secs(10)))
            .tls_danger_accept_invalid_certs(cfg.insecure);
        if let Some(path) = &cfg.ca_cert {
            builder = builder.tls_certs_merge(load_ca_certs(path)?);
        }
        let inner = builder
            .build()
            .map_err(|e| crate::error::HarnessError::Client(error_chain(&e)))?;
        Ok(HttpClient {
            inner,
            cfg,
            flow: std::sync::Arc::new(FlowState::default()),
            breaker: std::sync::Arc::new(Breaker::new(0)),
        })
    }

    /// Gives up after `limit` requests in a row without a complete answer (0: never); see
    /// [`crate::breaker`].
    pub fn with_breaker(mut self, limit: usize) -> HttpClient {
        self.breaker = std::sync::Arc::new(Breaker::new(limit));
        self
    }

    /// The run's circuit breaker.
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    /// Whether the run's requests carry credentials (any source).
    pub fn has_credentials(&self) -> bool {
        self.cfg.auth.is_some()
    }

    /// Whether a reader identity is configured.
    pub fn has_reader(&self) -> bool {
        self.cfg.reader.is_some()
    }

    /// The writer's user name, if any (`${username}`).
    pub fn username(&self) -> Option<&str> {
        self.cfg.auth.username()
    }

    /// The reader's user name, if any (`${reader_username}`).
    pub fn reader_username(&self) -> Option<&str> {
        self.cfg.reader.as_ref().and_then(Auth::username)
    }

    /// The token cache of the run.
    pub fn tokens(&self) -> &TokenCache {
        &self.flow.tokens
    }

    /// The registry base URL.
    pub fn base(&self) -> &Url {
        &self.cfg.base
    }

    /// The configured request timeout.
    pub fn request_timeout(&self) -> Duration {
        self.cfg.request_timeout
    }

    /// `base` + `path` (`/v2/...`); the base may carry a path prefix.
    pub fn url_for_path(&self, path: &str) -> Result<Url, String> {
        let base = self.cfg.base.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}{path}")).map_err(|e| e.to_string())
    }

    /// Resolves an opaque URL (relative or absolute) against the base, RFC 3986 style.
    pub fn resolve(&self, url: &str) -> Result<Url, String> {
        self.cfg.base.join(url).map_err(|e| e.to_string())
    }

    /// Sends a request as its [`Identity`] says, following redirects and waiting out 429s
    /// as configured. `Writer` and `Reader` answer challenges (Basic, or a token from the
    /// Bearer realm, AUTH-02/03/05/10/14) and retry once; the other identities send what
    /// they hold and take the answer as it is.
    pub async fn send(&self, req: &OutRequest) -> Result<Response, HttpError> {
        let on_registry = origin(&req.url) == origin(&self.cfg.base);
        let target = (on_registry || req.own_url).then(|| origin(&req.url));
        let who = req.identity.label();
        let given = match &req.identity {
            Identity::Anonymous => None,
            Identity::Bearer(t) => Some(AuthHeader::Bearer(t.clone())),
            Identity::Basic { username, password } => Some(AuthHeader::Basic {
                username: username.clone(),
                password: password.clone(),
            }),
            Identity::Writer | Identity::Reader => {
                let auth = self.auth_of(&req.identity);
                match auth {
                    // A token used as is (`--token`, `registrytoken`): the registry only.
                    Auth::Bearer { token } => {
                        let header = AuthHeader::Bearer(token.clone());
                        let to = on_registry.then(|| origin(&req.url));
                        return self
                            .send_raw(req, Some(&header), to.as_ref(), who, String::new())
                            .await;
                    }
                    _ if on_registry && self.is_api(&req.url) => {
                        return self.send_with_flow(req, auth).await;
                    }
                    // The step's own URL outside the API (a token endpoint, on this host as
                    // the reference registry's `/token` or elsewhere): Basic once, raw.
                    Auth::Basic { username, password } => Some(AuthHeader::Basic {
                        username: username.clone(),
                        password: password.clone(),
                    }),
                    _ => None,
                }
            }
        };
        self.send_raw(req, given.as_ref(), target.as_ref(), who, String::new())
            .await
    }

    /// Whether `url` is under the registry API (`<base>/v2...`): only there do challenges
    /// get the token flow. Other paths of the registry's host, such as a token endpoint
    /// at `/token`, are what a scenario asks directly.
    fn is_api(&self, url: &Url) -> bool {
        let prefix = self.cfg.base.path().trim_end_matches('/');
        url.path()
            .strip_prefix(prefix)
            .is_some_and(|rest| rest == "/v2" || rest.starts_with("/v2/"))
    }

    /// The credentials of `Writer` or `Reader` (a missing reader is anonymous; the loader
    /// and the harness keep reader steps from running without one).
    pub(crate) fn auth_of(&self, identity: &Identity) -> &Auth {
        static NONE: Auth = Auth::None;
        match identity {
            Identity::Reader => self.cfg.reader.as_ref().unwrap_or(&NONE),
            _ => &self.cfg.auth,
        }
    }

    /// One request with a fixed `Authorization` (sent only to `cred_origin`, never across
    /// a redirect to another scheme, host or port: AUTH-27), redirects and 429s handled.
    /// `transcript` holds what came before (a refused first attempt, a token fetch).
    pub(crate) async fn send_raw(
        &self,
        req: &OutRequest,
        authz: Option<&AuthHeader>,
        cred_origin: Option<&Origin>,
        who: &str,
        mut transcript: String,
    ) -> Result<Response, HttpError> {
        let mut method = req.method.clone();
        let mut url = req.url.clone();
        let mut body = req.body.clone();
        let mut hops = 0;
        let mut retries = 0;
        let mut waited = Duration::ZERO;
        loop {
            if let Some(stopped) = self.breaker.tripped() {
                let _ = writeln!(transcript, "> {method} {url}\n(not sent)");
                return Err(HttpError {
                    kind: HttpErrorKind::GaveUp,
                    message: stopped.to_owned(),
                    transcript,
                });
            }
            let hop_auth = authz.filter(|_| cred_origin == Some(&origin(&url)));
            write_request(
                &mut transcript,
                &method,
                &url,
                &req.headers,
                &body,
                hop_auth.is_some(),
                who,
            );
            let resp = match self
                .build(&method, &url, &req.headers, &body, hop_auth)
                .send()
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    let (kind, message) = transport_fault::describe(&e, self.cfg.request_timeout);
                    // A body the suite broke off itself says nothing about the registry.
                    if kind != HttpErrorKind::RequestBody {
                        self.breaker.failure(&message);
                    }
                    return Err(HttpError {
                        kind,
                        message,
                        transcript,
                    });
                }
            };
            let status = resp.status();
            write_response_head(&mut transcript, &resp);

            if status == StatusCode::TOO_MANY_REQUESTS
                && retries < self.cfg.retry.max_retries
                && let Some(wait) = retry_after(resp.headers())
                && wait <= self.cfg.retry.max_wait
                && waited + wait <= self.cfg.retry.budget
            {
                let _ = writeln!(
                    transcript,
                    "(429: waiting {} s as Retry-After asks)\n",
                    wait.as_secs()
                );
                tokio::time::sleep(wait).await;
                waited += wait;
                retries += 1;
                continue;
            }

            if req.follow_redirects && status.is_redirection() && status != StatusCode::NOT_MODIFIED
            {
                let Some(loc) = resp.headers().get("location").and_then(|v| v.to_str().ok()) else {
                    return Ok(self.response(resp, transcript));
                };
                if hops >= MAX_REDIRECTS {
                    let message = format!(
                        "too many redirects: still redirected after {MAX_REDIRECTS} hops (a \
                         redirect loop?), the last to {loc}"
                    );
                    self.breaker.failure(&message);
                    return Err(HttpError {
                        kind: HttpErrorKind::Redirect,
                        message,
                        transcript,
                    });
                }
                let next = url.join(loc).map_err(|e| HttpError {
                    kind: HttpErrorKind::Redirect,
                    message: format!("unusable Location {loc:?}: {e}"),
                    transcript: transcript.clone(),
                })?;
                transcript.push_str("(following the redirect)\n\n");
                // 307/308 keep method and body; 301/302/303 turn a non-HEAD into a bodiless GET,
                // as browsers and Go's client do.
                if !matches!(status.as_u16(), 307 | 308) && method != Method::HEAD {
                    method = Method::GET;
                    body = OutBody::Empty;
                }
                url = next;
                hops += 1;
                continue;
            }
            return Ok(self.response(resp, transcript));
        }
    }

    fn response(&self, inner: reqwest::Response, transcript: String) -> Response {
        Response {
            status: inner.status(),
            version: inner.version(),
            headers: inner.headers().clone(),
            url: inner.url().clone(),
            auth_note: None,
            inner,
            transcript,
            breaker: self.breaker.clone(),
            timeout: self.cfg.request_timeout,
        }
    }

    fn build(
        &self,
        method: &Method,
        url: &Url,
        headers: &[(String, String)],
        body: &OutBody,
        authz: Option<&AuthHeader>,
    ) -> reqwest::RequestBuilder {
        let mut rb = self.inner.request(method.clone(), url.clone());
        let mut user_length = false;
        for (k, v) in headers {
            user_length |= k.eq_ignore_ascii_case("content-length");
            if let (Ok(name), Ok(value)) = (
                HeaderName::try_from(k.as_str()),
                HeaderValue::try_from(v.as_str()),
            ) {
                rb = rb.header(name, value);
            }
        }
        match authz {
            Some(AuthHeader::Basic { username, password }) => {
                rb = rb.basic_auth(username, Some(password));
            }
            Some(AuthHeader::Bearer(t)) => rb = rb.bearer_auth(t),
            None => {}
        }
        match body {
            OutBody::Empty => {
                if carries_body(method) && !user_length {
                    rb = rb.header("content-length", "0");
                }
                rb
            }
            OutBody::Content {
                reader,
                stream,
                abort_after,
                ..
            } => {
                let len = reader.remaining();
                if !stream && !user_length {
                    rb = rb.header("content-length", len.to_string());
                }
                if !stream && abort_after.is_none() && !user_length && len <= IN_MEMORY_BODY {
                    let mut r = reader.clone();
                    let mut buf = Vec::with_capacity(len as usize);
                    while let Some(c) = r.next_chunk(crate::content::CHUNK) {
                        buf.extend_from_slice(&c);
                    }
                    rb.body(buf)
                } else {
                    // A stream body: hyper honours the Content-Length header we set (and
                    // sends chunked when there is none, which is what `stream` asks for).
                    rb.body(reqwest::Body::wrap_stream(
                        reader.clone().into_stream(*abort_after),
                    ))
                }
            }
        }
    }
}

fn carries_body(m: &Method) -> bool {
    matches!(*m, Method::POST | Method::PUT | Method::PATCH)
}

/// The trust anchors of a `--ca-cert` file: a setup error naming the file when it cannot
/// be read or holds no certificate.
pub(crate) fn load_ca_certs(
    path: &std::path::Path,
) -> Result<Vec<reqwest::Certificate>, crate::error::HarnessError> {
    let bad = |why: String| {
        crate::error::HarnessError::Client(format!("--ca-cert {}: {why}", path.display()))
    };
    let pem = std::fs::read(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| bad(format!("not a PEM certificate bundle: {}", error_chain(&e))))?;
    if certs.is_empty() {
        return Err(bad("holds no PEM CERTIFICATE block".to_owned()));
    }
    Ok(certs)
}

impl Response {
    /// All values of a header, as text (non-UTF-8 values lossily).
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<String> {
        self.header_values(name).into_iter().next()
    }

    /// Streams the body in, hashing, keeping a prefix and comparing as asked. Never fails:
    /// a broken body is reported in [`Body::error`]. Returns the transcript with the body.
    pub async fn read(self, check: BodyCheck) -> (Body, String) {
        let mut hasher = Hasher::new(check.alg);
        let mut compare = check.compare;
        let mut kept = Vec::new();
        let mut len = 0u64;
        let mut truncated = false;
        let mut first_difference = None;
        let mut error = None;
        let promised = self
            .headers
            .get("content-length")
            .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
        let mut stream = self.inner.bytes_stream();
        while let Some(item) = stream.next().await {
            let chunk = match item {
                Ok(c) => c,
                Err(e) => {
                    let (_, what) = transport_fault::describe(&e, self.timeout);
                    let got = match promised {
                        Some(p) => format!("{len} of the {p} bytes its Content-Length promised"),
                        None => format!("{len} bytes"),
                    };
                    error = Some(format!("{what}; {got} came"));
                    break;
                }
            };
            if len + chunk.len() as u64 > MAX_BODY {
                error = Some(format!(
                    "body longer than {} MiB: the suite stops reading there (no response it \
                     checks is that big; a body without end?)",
                    MAX_BODY / (1024 * 1024)
                ));
                truncated = true;
                break;
            }
            hasher.update(&chunk);
            if let (Some(expected), None) = (compare.as_mut(), first_difference) {
                first_difference = compare_chunk(expected, &chunk, len);
            }
            let room = KEEP_BODY.saturating_sub(kept.len());
            if room < chunk.len() {
                truncated = true;
            }
            kept.extend_from_slice(&chunk[..room.min(chunk.len())]);
            len += chunk.len() as u64;
        }
        if let (Some(expected), None) = (compare.as_ref(), first_difference)
            && expected.remaining() > 0
        {
            first_difference = Some(len);
        }
        match &error {
            Some(e) => self.breaker.failure(e),
            None => self.breaker.success(),
        }
        let body = Body {
            len,
            kept: Bytes::from(kept),
            truncated,
            digest: hasher.finish(),
            first_difference,
            error,
        };
        let mut transcript = self.transcript;
        write_body(&mut transcript, &body);
        (body, transcript)
    }
}

/// Compares the next bytes of `expected` with `chunk` (at absolute offset `at`).
fn compare_chunk(expected: &mut ContentReader, chunk: &[u8], at: u64) -> Option<u64> {
    let mut off = 0;
    while off < chunk.len() {
        let Some(exp) = expected.next_chunk(chunk.len() - off) else {
            return Some(at + off as u64);
        };
        if let Some(i) = exp.iter().zip(&chunk[off..]).position(|(a, b)| a != b) {
            return Some(at + (off + i) as u64);
        }
        off += exp.len();
    }
    None
}

/// The error with all its causes (`a: b: c`), which is where hyper says what was wrong.
/// reqwest's "error sending request for url (...)" prefix is dropped: transcripts and
/// messages show the request already, and the cause is what matters.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    if s.starts_with("error sending request for url (") {
        s = "error sending request".to_owned();
    }
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

fn retry_after(h: &HeaderMap) -> Option<Duration> {
    let v = h.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

fn write_request(
    t: &mut String,
    method: &Method,
    url: &Url,
    headers: &[(String, String)],
    body: &OutBody,
    auth: bool,
    who: &str,
) {
    let _ = writeln!(t, "> {method} {url}");
    for (k, v) in headers {
        let shown = if k.eq_ignore_ascii_case("authorization") {
            "<redacted>"
        } else {
            v
        };
        let _ = writeln!(t, "> {k}: {shown}");
    }
    if auth {
        let _ = writeln!(t, "> Authorization: <redacted> (as {who})");
    } else if who != "writer" {
        let _ = writeln!(t, "> (as {who}: no credentials to this URL)");
    }
    if let OutBody::Content {
        reader,
        stream,
        abort_after,
        describe,
    } = body
    {
        let mut how = if *stream {
            "chunked".to_owned()
        } else {
            format!("{} bytes", reader.remaining())
        };
        if let Some(n) = abort_after {
            how.push_str(&format!(", broken off after {n} bytes"));
        }
        let _ = writeln!(t, "> ({describe}, {how})");
    }
}

fn write_response_head(t: &mut String, r: &reqwest::Response) {
    let _ = writeln!(t, "< {:?} {}", r.version(), r.status());
    for (k, v) in r.headers() {
        let _ = writeln!(t, "< {k}: {}", String::from_utf8_lossy(v.as_bytes()));
    }
}

fn write_body(t: &mut String, b: &Body) {
    if b.len == 0 && b.error.is_none() {
        return;
    }
    let shown = &b.kept[..b.kept.len().min(SHOW_BODY)];
    let text = printable(shown);
    let _ = writeln!(t, "<");
    let _ = writeln!(t, "{text}");
    if (b.len as usize) > shown.len() {
        let _ = writeln!(t, "< ... ({} bytes in all)", b.len);
    }
    if let Some(e) = &b.error {
        let _ = writeln!(t, "< (body broken off: {e})");
    }
}

/// Text as-is but for secrets in JSON fields (`token`, ...: [`crate::redact`]); binary as
/// a hex preview, so transcripts stay readable and XML-safe.
pub fn printable(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s)
            if !s
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) =>
        {
            crate::redact::redact_json_secrets(s)
        }
        _ => {
            let n = bytes.len().min(64);
            format!(
                "(binary) {}{}",
                hex::encode(&bytes[..n]),
                if bytes.len() > n { "..." } else { "" }
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Content;

    #[test]
    fn compare_finds_first_difference() {
        let c = Content::Bytes(Bytes::from_static(b"abcdef"));
        assert_eq!(compare_chunk(&mut c.reader(0, 6), b"abcdef", 0), None);
        assert_eq!(compare_chunk(&mut c.reader(0, 6), b"abXdef", 0), Some(2));
        assert_eq!(compare_chunk(&mut c.reader(0, 3), b"abcd", 0), Some(3));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(
            "retry-after",
            HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn printable_keeps_text_and_hexes_binary() {
        assert_eq!(printable(b"{\"a\":1}"), "{\"a\":1}");
        assert_eq!(printable(&[0, 1, 2, 0x1b]), "(binary) 0001021b");
    }
}

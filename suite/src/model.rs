//! The scenario file format (`fixtures/README.md`) as serde types, and the checked steps.
//!
//! Every struct denies unknown fields: a misspelt key must be a load error, never a check
//! that silently does nothing. A step as written is read part by part, each kind's fields
//! by the kind (`steps/<kind>.rs`, [`crate::fields`]), and checked into a [`Step`].

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

/// A spec profile: which text the registry is judged against where OCI and Docker differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
pub enum Profile {
    /// OCI Distribution Specification v1.1.
    #[serde(rename = "oci-1.1")]
    Oci11,
    /// Docker Registry HTTP API V2.
    #[serde(rename = "docker-v2")]
    DockerV2,
}

impl Profile {
    /// Both profiles, in the order variants are run and listed.
    pub const ALL: [Profile; 2] = [Profile::Oci11, Profile::DockerV2];

    /// The name used in files, on the command line and in test names.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Oci11 => "oci-1.1",
            Profile::DockerV2 => "docker-v2",
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "oci-1.1" => Ok(Profile::Oci11),
            "docker-v2" => Ok(Profile::DockerV2),
            other => Err(format!("unknown profile {other:?} (oci-1.1, docker-v2)")),
        }
    }
}

/// How binding the sentence behind an expectation is. A violated `Must` fails the
/// scenario; a violated `Should` is a warning (principle 6: never fail a registry for what
/// the spec allows). `May` and `None` (the text says nothing) can never fail a registry
/// either, so they judge like `Should`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
pub enum Level {
    /// MUST, MUST NOT, REQUIRED.
    #[serde(rename = "MUST")]
    Must,
    /// SHOULD, SHOULD NOT, RECOMMENDED.
    #[serde(rename = "SHOULD")]
    Should,
    /// MAY, OPTIONAL.
    #[serde(rename = "MAY")]
    May,
    /// The profile's text says nothing.
    #[serde(rename = "none")]
    None,
}

impl Level {
    /// `MUST`, `SHOULD`, `MAY`, `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
            Level::None => "none",
        }
    }

    /// Whether a violation fails the scenario (else it is a warning).
    pub fn fails(self) -> bool {
        self == Level::Must
    }

    /// The level of a free-text catalog `level` (`MUST (d)`, `SHOULD / MUST(main)`, ...):
    /// its first word. Only a fallback for catalog entries without `check`.
    pub fn from_catalog_text(s: &str) -> Level {
        let s = s.trim_start();
        if s.starts_with("MUST") {
            Level::Must
        } else if s.starts_with("SHOULD") {
            Level::Should
        } else if s.starts_with("MAY") {
            Level::May
        } else {
            Level::None
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A level stated in a scenario: one for every profile, or one per profile.
#[derive(Debug, Clone, PartialEq)]
pub enum LevelSpec {
    /// The same level under every profile.
    All(Level),
    /// Per profile; a profile not named falls back to the requirements' level.
    PerProfile(IndexMap<Profile, Level>),
}

impl<'de> Deserialize<'de> for LevelSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let shape = || {
            serde::de::Error::custom(format!(
                "level {v}: give \"MUST\", \"SHOULD\", \"MAY\" or \"none\", or an object of \
                 profile (oci-1.1, docker-v2) to one of them"
            ))
        };
        match &v {
            Value::String(_) => serde_json::from_value(v.clone())
                .map(LevelSpec::All)
                .map_err(|_| shape()),
            Value::Object(_) => serde_json::from_value(v.clone())
                .map(LevelSpec::PerProfile)
                .map_err(|_| shape()),
            _ => Err(shape()),
        }
    }
}

impl LevelSpec {
    /// The level under `p`, when stated.
    pub fn for_profile(&self, p: Profile) -> Option<Level> {
        match self {
            LevelSpec::All(l) => Some(*l),
            LevelSpec::PerProfile(m) => m.get(&p).copied(),
        }
    }
}

/// Digest algorithm of a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// `sha256`, the default.
    #[default]
    Sha256,
    /// `sha512`.
    Sha512,
}

impl Algorithm {
    /// The prefix used in digests.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }
}

/// `{size, seed}` | `{text}` | `{base64}`, plus optional `algorithm`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobDef {
    /// Generated content length.
    pub size: Option<u64>,
    /// Generator seed (default 0).
    pub seed: Option<u64>,
    /// UTF-8 text content.
    pub text: Option<String>,
    /// Base64 content.
    pub base64: Option<String>,
    /// Digest algorithm.
    #[serde(default)]
    pub algorithm: Algorithm,
    /// The same bytes in every scenario on purpose (e.g. the empty JSON `{}`): clean-up
    /// never deletes it, since another scenario may be using it at the same time.
    #[serde(default)]
    pub shared: bool,
}

/// A named manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestDef {
    /// Sent as `Content-Type` by `push_manifest`.
    pub media_type: String,
    /// JSON template.
    pub json: Option<Value>,
    /// Exact bytes template.
    pub text: Option<String>,
    /// Pad to exactly this many bytes with an annotation.
    pub pad_to: Option<u64>,
    /// The same bytes in every scenario on purpose: no per-scenario annotation is added
    /// and clean-up never deletes it.
    #[serde(default)]
    pub shared: bool,
}

/// `as`: the identity of a request or paginate step (AUTH-02, AUTH-05, AUTH-22..28 checks
/// need a reader, no one, or exactly the credentials a scenario gives).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum AsSpec {
    /// `"writer"`: the run's credentials with the whole challenge / token flow.
    #[default]
    Writer,
    /// `"reader"`: the reader identity with the whole flow (needs capability `reader`).
    Reader,
    /// `"anonymous"`: no credentials, no flow.
    Anonymous,
    /// `{"bearer": "..."}`: this bearer token (`${vars}` allowed), no flow, no retry.
    Bearer(String),
    /// `{"basic": {"username", "password"}}`: these (`${vars}` allowed), no flow, no retry.
    Basic {
        /// User name template.
        username: String,
        /// Password template.
        password: String,
    },
}

impl<'de> Deserialize<'de> for AsSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let shape = || {
            serde::de::Error::custom(format!(
                "as {v}: give \"writer\", \"reader\", \"anonymous\", {{\"bearer\": \"...\"}} \
                 or {{\"basic\": {{\"username\": \"...\", \"password\": \"...\"}}}}"
            ))
        };
        let text = |x: Option<&Value>| x.and_then(Value::as_str).map(str::to_owned);
        match &v {
            Value::String(s) => match s.as_str() {
                "writer" => Ok(AsSpec::Writer),
                "reader" => Ok(AsSpec::Reader),
                "anonymous" => Ok(AsSpec::Anonymous),
                _ => Err(shape()),
            },
            Value::Object(m) if m.len() == 1 => {
                if let Some(b) = m.get("bearer") {
                    return text(Some(b)).map(AsSpec::Bearer).ok_or_else(shape);
                }
                match m.get("basic") {
                    Some(Value::Object(b)) if b.len() == 2 => {
                        match (text(b.get("username")), text(b.get("password"))) {
                            (Some(username), Some(password)) => {
                                Ok(AsSpec::Basic { username, password })
                            }
                            _ => Err(shape()),
                        }
                    }
                    _ => Err(shape()),
                }
            }
            _ => Err(shape()),
        }
    }
}

/// `alter_token`: a copy of a captured token, altered as a forger would (the registry must
/// refuse it: AUTH-22). No network.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlterTokenSpec {
    /// The variable holding the token.
    pub from: String,
    /// The variable that receives the altered token.
    pub into: String,
    /// What to alter.
    pub how: AlterHow,
}

/// `wait`: let time pass (until a token has expired, to see the registry refuse it after).
/// Scenarios that wait declare the opt-in capability `slow`. Exactly one of `seconds` and
/// `jwt_exp`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitSpec {
    /// Seconds, a template (`"${expires_in}"`).
    pub seconds: Option<String>,
    /// A token (template): wait until its JWT `exp` claim has passed. An opaque token
    /// skips the scenario (clients must treat tokens as opaque; only a JWT says when).
    pub jwt_exp: Option<String>,
    /// Added to the wait (a clock-skew leeway).
    #[serde(default)]
    pub plus: u64,
    /// The longest wait: a longer one skips the scenario, saying so.
    pub at_most: u64,
}

/// The alterations of `alter_token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlterHow {
    /// One character of the signature flipped (the token stays well-formed); any token.
    Signature,
    /// The header replaced by `{"alg":"none","typ":"JWT"}`, the signature dropped.
    AlgNone,
    /// `push` and `delete` added to every `access` entry and `jti` changed, signature kept.
    Claims,
}

/// `also`: a further expectation on the same response, with its own requirements and
/// level, checked after `expect` holds. A violated SHOULD is a warning and the scenario
/// goes on; a violated MUST fails it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlsoSpec {
    /// The IDs this expectation rests on (required: that is the point of `also`).
    pub requirements: Vec<String>,
    /// Explicit level (default: from `requirements`).
    pub level: Option<LevelSpec>,
    /// Only under these profiles (default: every profile).
    pub profiles: Option<Vec<Profile>>,
    /// What must hold.
    pub expect: Value,
}

/// A checked `also` entry.
#[derive(Debug, Clone)]
pub struct Also {
    /// The IDs this expectation rests on.
    pub requirements: Vec<String>,
    /// Explicit level.
    pub level: Option<LevelSpec>,
    /// Profiles it applies to (empty: all).
    pub profiles: Vec<Profile>,
    /// The expectation.
    pub expect: Expect,
}

/// One value or a list of values (`"status": 201` or `"status": [201, 202]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// A single value.
    One(T),
    /// A list.
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    /// The values as a list.
    pub fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::One(v) => vec![v.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// A query parameter value: a string, a number, or a list of them (repeated parameter).
#[derive(Debug, Clone, PartialEq)]
pub struct QueryValue(pub Vec<String>);

impl<'de> Deserialize<'de> for QueryValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        fn scalar<E: serde::de::Error>(v: &Value) -> Result<String, E> {
            match v {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                Value::Bool(b) => Ok(b.to_string()),
                other => Err(E::custom(format!(
                    "a query value must be a string, number or list of them, not {other}"
                ))),
            }
        }
        let v = Value::deserialize(d)?;
        match &v {
            Value::Array(items) => Ok(QueryValue(
                items.iter().map(scalar).collect::<Result<_, _>>()?,
            )),
            other => Ok(QueryValue(vec![scalar(other)?])),
        }
    }
}

/// The HTTP method of a request step.
pub type Method = String;

/// `request`: one HTTP exchange.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    pub method: Method,
    pub path: Option<String>,
    pub url: Option<String>,
    #[serde(default)]
    pub query: IndexMap<String, QueryValue>,
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    pub body: Option<BodySpec>,
    pub follow_redirects: Option<bool>,
}

/// A request body source.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BodySpec {
    pub blob: Option<String>,
    pub start: Option<u64>,
    pub end: Option<u64>,
    pub from: Option<String>,
    pub manifest: Option<String>,
    pub text: Option<String>,
    pub json: Option<Value>,
    /// An `application/x-www-form-urlencoded` body (an OAuth2 token request): each value
    /// is a template, encoded here; transcripts show secret-looking fields redacted.
    pub form: Option<IndexMap<String, String>>,
    pub bytes: Option<u64>,
    pub seed: Option<u64>,
    #[serde(default)]
    pub stream: bool,
    pub abort_after: Option<u64>,
}

/// `expect` of a request step.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub status: Option<OneOrMany<u16>>,
    pub headers: Option<IndexMap<String, HeaderMatcher>>,
    pub error_code: Option<OneOrMany<String>>,
    pub json: Option<Value>,
    pub json_pointer: Option<IndexMap<String, PointerMatcher>>,
    pub body: Option<BodyExpect>,
    pub aborted: Option<bool>,
}

impl Expect {
    /// `self` with every part that `over` states replaced (`profile_expect` semantics).
    pub fn overridden_by(&self, over: &Expect) -> Expect {
        Expect {
            status: over.status.clone().or_else(|| self.status.clone()),
            headers: over.headers.clone().or_else(|| self.headers.clone()),
            error_code: over.error_code.clone().or_else(|| self.error_code.clone()),
            json: over.json.clone().or_else(|| self.json.clone()),
            json_pointer: over
                .json_pointer
                .clone()
                .or_else(|| self.json_pointer.clone()),
            body: over.body.clone().or_else(|| self.body.clone()),
            aborted: over.aborted.or(self.aborted),
        }
    }
}

/// A header matcher; every stated part must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderMatcher {
    pub present: Option<bool>,
    pub absent: Option<bool>,
    pub equals: Option<String>,
    pub matches: Option<String>,
    pub one_of: Option<Vec<String>>,
    /// Every item is an element of the header's RFC 9110 list (all field lines joined
    /// by commas, elements trimmed), so one or several lines both satisfy it.
    pub list_contains: Option<Vec<String>>,
    /// `true`: an absent header passes; a present one must satisfy the other parts.
    pub optional: Option<bool>,
}

/// `sorted`: `true` accepts byte order or case-insensitive order (OCI v1.1.1 and Docker
/// disagree, OCI-main allows both); the strings pick one.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum SortedSpec {
    /// `true`: either order; `false`: no check.
    Flag(bool),
    /// `"lexical"` or `"case-insensitive"`.
    Order(String),
}

/// A JSON-pointer matcher; every stated part must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointerMatcher {
    pub equals: Option<Value>,
    pub length: Option<u64>,
    pub contains: Option<Value>,
    pub not_contains: Option<Value>,
    pub sorted: Option<SortedSpec>,
    pub absent: Option<bool>,
    pub present: Option<bool>,
    /// `true`: an absent value passes; a present one must satisfy the other parts (an
    /// optional field whose value is constrained, such as a token's `expires_in`).
    pub optional: Option<bool>,
    /// A number at least this large.
    pub at_least: Option<f64>,
    /// A string matching this regex (variables expanded first).
    pub matches: Option<String>,
}

/// `expect.body`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BodyExpect {
    pub blob: Option<String>,
    pub start: Option<u64>,
    pub end: Option<u64>,
    pub manifest: Option<String>,
    pub empty: Option<bool>,
    pub digest: Option<String>,
    pub length: Option<u64>,
}

/// `skip_if`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkipIf {
    /// The response status is one of these (any status when not stated).
    pub status: Option<OneOrMany<u16>>,
    pub error_code: Option<OneOrMany<String>>,
    /// Every matcher holds on the response headers.
    pub headers: Option<IndexMap<String, HeaderMatcher>>,
    /// Every matcher holds on the JSON body (e.g. an optional field absent).
    pub json_pointer: Option<IndexMap<String, PointerMatcher>>,
    pub reason: String,
}

/// A capture source.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureSpec {
    pub header: Option<String>,
    pub regex: Option<String>,
    /// A JSON pointer, or a list of them: the first present wins (`["/token",
    /// "/access_token"]` takes whichever a token server sends).
    pub json: Option<OneOrMany<String>>,
    pub upload_offset: Option<bool>,
}

/// `push_blob` methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PushMethod {
    /// POST then PUT with the whole body.
    #[default]
    Monolithic,
    /// `POST ?digest=` with the body; a 202 falls back to PUT.
    SinglePost,
    /// PATCHes with Content-Range, then an empty PUT.
    Chunked,
    /// One PATCH without Content-Range, chunked transfer encoding.
    Streamed,
    /// Like chunked, the last chunk in the PUT.
    ChunkedFinalInPut,
}

/// `paginate`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaginateSpec {
    pub path: Option<String>,
    pub url: Option<String>,
    #[serde(default)]
    pub query: IndexMap<String, QueryValue>,
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    pub collect: String,
    /// Without a `Link`, continue a full page (`n` items) with `last=<last item>`: the
    /// walk a client does on a registry that paginates but sends no `Link` (a MAY).
    #[serde(default)]
    pub last_fallback: bool,
}

/// `expect` of a paginate step.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageExpect {
    pub items: Option<Vec<Value>>,
    pub pages: Option<u64>,
    pub max_pages: Option<u64>,
}

impl PageExpect {
    /// `profile_expect` semantics for paginate steps.
    pub fn overridden_by(&self, over: &PageExpect) -> PageExpect {
        PageExpect {
            items: over.items.clone().or_else(|| self.items.clone()),
            pages: over.pages.or(self.pages),
            max_pages: over.max_pages.or(self.max_pages),
        }
    }
}

/// A checked step.
#[derive(Debug, Clone)]
pub struct Step {
    /// `step 3 "name"` (or `step 3 > branch 2 ...`): how messages refer to it.
    pub label: String,
    /// The optional name.
    pub name: Option<String>,
    /// The requirement IDs a failure breaks (the scenario's when not stated; for
    /// `push_blob` / `push_manifest` the ID of the operation that failed).
    pub requirements: Vec<String>,
    /// Explicit level of the expectations (default: from the requirements).
    pub level: Option<LevelSpec>,
    /// A preparation step: when it fails for a requirement the scenario does not cite,
    /// the outcome is `error` ("could not set up"), not a failure of the scenario's IDs.
    pub setup: bool,
    /// What it does.
    pub kind: StepKind,
}

/// The checked step kinds.
// Steps are built once at load time (a few hundred per run) and only borrowed afterwards,
// so the size of the `Request` variant costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum StepKind {
    /// One exchange.
    Request(RequestStep),
    /// Upload a named blob.
    PushBlob(PushBlobStep),
    /// PUT a named manifest.
    PushManifest(PushManifestStep),
    /// Follow `Link` headers.
    Paginate(PaginateStep),
    /// Run several steps at once.
    Parallel(Vec<Step>),
    /// Alter a captured token (no network).
    AlterToken(AlterTokenSpec),
    /// Let time pass.
    Wait(WaitSpec),
}

/// A checked `request` step.
#[derive(Debug, Clone)]
pub struct RequestStep {
    pub request: RequestSpec,
    pub expect: Expect,
    pub profile_expect: IndexMap<Profile, Expect>,
    pub skip_if: Option<SkipIf>,
    pub capture: IndexMap<String, CaptureSpec>,
    pub also: Vec<Also>,
    /// Whose credentials it carries.
    pub identity: AsSpec,
}

/// A checked `push_blob` step (the blob name is known to exist).
#[derive(Debug, Clone)]
pub struct PushBlobStep {
    pub blob: String,
    pub method: PushMethod,
    pub chunk_size: Option<u64>,
    pub repo: String,
}

/// A checked `push_manifest` step (the manifest name is known to exist).
#[derive(Debug, Clone)]
pub struct PushManifestStep {
    pub manifest: String,
    pub reference: String,
    pub repo: String,
}

/// A checked `paginate` step.
#[derive(Debug, Clone)]
pub struct PaginateStep {
    pub spec: PaginateSpec,
    pub expect: PageExpect,
    pub profile_expect: IndexMap<Profile, PageExpect>,
    /// Whose credentials its requests carry.
    pub identity: AsSpec,
}

impl Step {
    /// Whether this step (or a branch of it) states per-profile expectations.
    pub fn has_profile_expect(&self) -> bool {
        match &self.kind {
            StepKind::Request(r) => {
                !r.profile_expect.is_empty() || r.also.iter().any(|a| !a.profiles.is_empty())
            }
            StepKind::Paginate(p) => !p.profile_expect.is_empty(),
            StepKind::Parallel(branches) => branches.iter().any(Step::has_profile_expect),
            _ => false,
        }
    }

    /// Every judged expectation of this step (and its branches): the requirement IDs it
    /// rests on and its explicit level. Used to find scenarios whose verdicts differ
    /// between profiles (they then run once per profile).
    pub fn judgements(&self) -> Vec<(&[String], Option<&LevelSpec>)> {
        let mut out = vec![(self.requirements.as_slice(), self.level.as_ref())];
        match &self.kind {
            StepKind::Request(r) => {
                out.extend(
                    r.also
                        .iter()
                        .map(|a| (a.requirements.as_slice(), a.level.as_ref())),
                );
            }
            StepKind::Parallel(branches) => {
                out.extend(branches.iter().flat_map(Step::judgements));
            }
            _ => {}
        }
        out
    }
}

//! The client's token flow against a scripted registry and token server on loopback
//! ports (AUTH-02, AUTH-03, AUTH-05, AUTH-10, AUTH-27): challenge → token with the right
//! query and credentials → retry; the token sent preemptively afterwards; scopes unioned
//! on insufficient_scope; anonymous steps see the raw 401; no token crosses a redirect to
//! another port; token values never reach a transcript.

mod common;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use common::{Reply, Request, serve};
use reqwest::{Method, Url};
use suite::auth::Auth;
use suite::client::{ClientConfig, HttpClient, Identity, OutBody, OutRequest, RetryPolicy};
use suite::content::Content;

const WRITER: (&str, &str) = ("writer", "writer-pw");
const READER: (&str, &str) = ("reader", "reader-pw");

fn basic(u: &str, p: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
    )
}

/// Registry and token server in one: `/token` issues `secret-<scopes>` to the writer,
/// the reader (pull only) and anonymous callers (nothing); manifests need pull for GET
/// and push for PUT; `/v2/ns/a/blobs/redirect` sends a 307 to `OTHER`.
fn registry(me: Arc<OnceLock<String>>, other: Arc<OnceLock<String>>) -> common::Handler {
    Arc::new(move |r: &Request| {
        let me = me.get().cloned().unwrap_or_default();
        let auth = r.header("authorization").unwrap_or("").to_owned();
        if r.path() == "/token" {
            let q = r.target.split_once('?').map(|x| x.1).unwrap_or("");
            let scopes: Vec<String> = form_urlencoded::parse(q.as_bytes())
                .filter(|(k, _)| k == "scope")
                .map(|(_, v)| v.into_owned())
                .collect();
            let granted = if auth == basic(WRITER.0, WRITER.1) {
                scopes.join("+")
            } else if auth == basic(READER.0, READER.1) {
                scopes
                    .iter()
                    .map(|s| s.replace("push", "").replace("delete", ""))
                    .collect::<Vec<_>>()
                    .join("+")
            } else if auth.is_empty() {
                String::new()
            } else {
                return Reply::json(401, r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#);
            };
            return Reply::json(
                200,
                &format!(r#"{{"token":"secret-{granted}","expires_in":300}}"#),
            );
        }
        let challenge = |scope: &str, error: Option<&str>| {
            let err = error.map(|e| format!(",error=\"{e}\"")).unwrap_or_default();
            Reply::json(401, r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#).with_header(
                "WWW-Authenticate",
                &format!(r#"Bearer realm="{me}/token",service="svc",scope="{scope}"{err}"#),
            )
        };
        let token = auth.strip_prefix("Bearer ").unwrap_or("");
        match (r.method.as_str(), r.path()) {
            ("GET", "/v2/ns/a/blobs/redirect") => Reply::status(307).with_header(
                "Location",
                &format!("{}/blob", other.get().cloned().unwrap_or_default()),
            ),
            ("GET", "/v2/ns/a/manifests/x") if token.contains("repository:ns/a:") => {
                Reply::json(200, "{}")
            }
            ("GET", "/v2/ns/a/manifests/x") => challenge("repository:ns/a:pull", None),
            ("PUT", "/v2/ns/a/manifests/x") if token.contains("push") && r.body == b"hello" => {
                Reply::status(201)
            }
            ("PUT", "/v2/ns/a/manifests/x") if token.is_empty() => {
                challenge("repository:ns/a:pull,push", None)
            }
            ("PUT", "/v2/ns/a/manifests/x") => {
                challenge("repository:ns/a:push", Some("insufficient_scope"))
            }
            _ => Reply::status(404),
        }
    })
}

fn client(base: &str) -> HttpClient {
    HttpClient::new(ClientConfig {
        base: base.parse().unwrap(),
        auth: Auth::from_parts(Some(WRITER.0.into()), Some(WRITER.1.into())),
        reader: Some(Auth::from_parts(
            Some(READER.0.into()),
            Some(READER.1.into()),
        )),
        ca_cert: None,
        request_timeout: Duration::from_secs(5),
        insecure: false,
        retry: RetryPolicy::default(),
    })
    .unwrap()
}

fn req(method: Method, url: String, identity: Identity, body: OutBody) -> OutRequest {
    OutRequest {
        follow_redirects: method == Method::GET,
        method,
        url: Url::parse(&url).unwrap(),
        headers: vec![],
        body,
        identity,
        own_url: false,
    }
}

#[tokio::test]
async fn the_token_flow_answers_challenges_caches_and_never_leaks() {
    let me = Arc::new(OnceLock::new());
    let other_url = Arc::new(OnceLock::new());
    let other = serve(Arc::new(|_: &Request| Reply::status(200))).await;
    other_url.set(other.url()).unwrap();
    let server = serve(registry(me.clone(), other_url.clone())).await;
    me.set(server.url()).unwrap();
    let base = server.url();
    let c = client(&base);
    let seen = || server.seen.lock().unwrap().clone();
    let manifest = format!("{base}/v2/ns/a/manifests/x");

    // 1. Challenge → token (GET, service, one scope, the writer's Basic) → retry.
    let resp = c
        .send(&req(
            Method::GET,
            manifest.clone(),
            Identity::Writer,
            OutBody::Empty,
        ))
        .await
        .unwrap();
    assert_eq!(resp.status.as_u16(), 200);
    let (_, transcript) = resp.read(Default::default()).await;
    let s = seen();
    assert_eq!(s.len(), 3, "{s:?}");
    assert_eq!(s[0].header("authorization"), None, "nothing preemptive yet");
    assert_eq!(
        s[1].target,
        "/token?service=svc&scope=repository%3Ans%2Fa%3Apull"
    );
    assert_eq!(
        s[1].header("authorization"),
        Some(basic(WRITER.0, WRITER.1).as_str())
    );
    assert_eq!(
        s[2].header("authorization"),
        Some("Bearer secret-repository:ns/a:pull")
    );
    assert!(
        transcript.contains(r#""token":"<redacted>""#) && !transcript.contains("secret-"),
        "{transcript}"
    );
    assert!(!transcript.contains(WRITER.1));

    // 2. The same repository again: the token goes preemptively, one request.
    let resp = c
        .send(&req(
            Method::GET,
            manifest.clone(),
            Identity::Writer,
            OutBody::Empty,
        ))
        .await
        .unwrap();
    assert_eq!(resp.status.as_u16(), 200);
    assert_eq!(seen().len(), 4);

    // 3. insufficient_scope: a token for the union of held and challenged actions, and
    //    the body sent again with the retry.
    let body = Content::Bytes(Bytes::from_static(b"hello"));
    let put = req(
        Method::PUT,
        manifest.clone(),
        Identity::Writer,
        OutBody::Content {
            reader: body.reader(0, body.len()),
            stream: false,
            abort_after: None,
            describe: "text hello".into(),
        },
    );
    let resp = c.send(&put).await.unwrap();
    assert_eq!(resp.status.as_u16(), 201);
    let s = seen();
    assert_eq!(s.len(), 7, "{s:?}");
    assert_eq!(
        s[5].target,
        "/token?service=svc&scope=repository%3Ans%2Fa%3Apull%2Cpush"
    );
    assert_eq!(s[6].body, b"hello");

    // 4. Anonymous: the raw 401, no token request.
    let resp = c
        .send(&req(
            Method::GET,
            manifest.clone(),
            Identity::Anonymous,
            OutBody::Empty,
        ))
        .await
        .unwrap();
    assert_eq!(resp.status.as_u16(), 401);
    assert!(resp.header("www-authenticate").is_some());
    assert_eq!(seen().len(), 8);

    // 5. The reader gets its own token (pull only) and cannot push: one retry, no loop.
    let resp = c
        .send(&{
            let mut p = put.clone();
            p.identity = Identity::Reader;
            p
        })
        .await
        .unwrap();
    assert_eq!(resp.status.as_u16(), 401);
    let s = seen();
    assert_eq!(s.len(), 11, "{s:?}");
    assert_eq!(
        s[9].header("authorization"),
        Some(basic(READER.0, READER.1).as_str())
    );
    let (_, transcript) = resp.read(Default::default()).await;
    assert!(transcript.contains("(as reader)"), "{transcript}");

    // 6. A bearer token as given: no flow, no retry.
    let resp = c
        .send(&req(
            Method::GET,
            manifest.clone(),
            Identity::Bearer("forged".into()),
            OutBody::Empty,
        ))
        .await
        .unwrap();
    assert_eq!(resp.status.as_u16(), 401);
    assert_eq!(seen().len(), 12);
    assert_eq!(seen()[11].header("authorization"), Some("Bearer forged"));

    // 7. A redirect to another port never carries the token (AUTH-27).
    let resp = c
        .send(&req(
            Method::GET,
            format!("{base}/v2/ns/a/blobs/redirect"),
            Identity::Writer,
            OutBody::Empty,
        ))
        .await
        .unwrap();
    assert_eq!(resp.status.as_u16(), 200);
    let s = seen();
    assert!(
        s.last().unwrap().header("authorization").is_some(),
        "the registry got the preemptive token"
    );
    let o = other.seen.lock().unwrap().clone();
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].header("authorization"), None);
}

#[tokio::test]
async fn a_refused_token_request_leaves_the_401_and_says_why() {
    let me = Arc::new(OnceLock::new());
    let server = serve(registry(me.clone(), Arc::new(OnceLock::new()))).await;
    me.set(server.url()).unwrap();
    // A wrong password: the token server answers 401.
    let cfg_client = HttpClient::new(ClientConfig {
        base: server.url().parse().unwrap(),
        auth: Auth::from_parts(Some("writer".into()), Some("wrong-pw".into())),
        reader: None,
        ca_cert: None,
        request_timeout: Duration::from_secs(5),
        insecure: false,
        retry: RetryPolicy::default(),
    })
    .unwrap();
    let resp = cfg_client
        .send(&req(
            Method::GET,
            format!("{}/v2/ns/a/manifests/x", server.url()),
            Identity::Writer,
            OutBody::Empty,
        ))
        .await
        .unwrap();
    assert_eq!(resp.status.as_u16(), 401);
    let (_, transcript) = resp.read(Default::default()).await;
    assert!(
        transcript.contains("no token: the token server answered 401"),
        "{transcript}"
    );
    assert!(!transcript.contains("wrong-pw"));
    assert_eq!(
        server.seen.lock().unwrap().len(),
        2,
        "no retry without a token"
    );
}

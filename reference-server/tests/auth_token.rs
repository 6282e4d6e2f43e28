//! `--auth token`: the registry's own `/token` endpoint and Bearer verification
//! (AUTH-01..AUTH-22, AUTH-26), exercised like a client would: challenge, token request,
//! Bearer requests.

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::*;
use reference_server::auth::jwt;
use reference_server::auth::scope::Access;
use reference_server::{AuthConfig, Policy, TokenConfig, Users};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

const POLICY: &str = r#"{"rules": [
    {"repositories": ["**"], "users": ["writer"], "actions": ["pull", "push", "delete"]},
    {"repositories": ["team/*"], "users": ["*"], "actions": ["pull"]},
    {"repositories": ["team/*"], "users": ["teamwriter"], "actions": ["push"]},
    {"repositories": ["public/**"], "users": ["anonymous"], "actions": ["pull"]}
  ],
  "catalog": ["writer", "reader"]}"#;

struct Setup {
    t: TestRegistry,
    tc: TokenConfig,
}

async fn start_token() -> Setup {
    let (key, cert) = reference_server::auth::keygen(&["localhost"]).unwrap();
    let tc = TokenConfig::from_pem(&key, &cert).unwrap();
    let users = Users::from_plain(&[
        ("writer", "w-pass"),
        ("reader", "r-pass"),
        ("teamwriter", "t-pass"),
    ]);
    let policy = Policy::parse(POLICY).unwrap();
    let auth = AuthConfig::token(tc.clone(), users, Some(policy));
    let t = start_with(|c| c.auth = auth).await;
    Setup { t, tc }
}

/// The challenge's parameters (a minimal parser: our own quoted, comma-separated form).
fn challenge(r: &reqwest::Response) -> (String, Vec<(String, String)>) {
    let h = header(r, "www-authenticate").expect("WWW-Authenticate");
    let (scheme, rest) = h.split_once(' ').unwrap();
    let mut params = Vec::new();
    let mut s = rest;
    while let Some((k, v)) = s.split_once("=\"") {
        let end = v.find('"').unwrap();
        params.push((k.trim_start_matches(',').to_string(), v[..end].to_string()));
        s = &v[end + 1..];
    }
    (scheme.to_string(), params)
}

fn param<'a>(params: &'a [(String, String)], k: &str) -> Option<&'a str> {
    params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

/// GET /token with optional Basic credentials and scopes; (status, body).
async fn get_token(
    t: &TestRegistry,
    cred: Option<(&str, &str)>,
    scopes: &[&str],
) -> (StatusCode, Value, Option<String>) {
    let mut q: Vec<(&str, &str)> = vec![("service", "reference-registry")];
    for s in scopes {
        q.push(("scope", s));
    }
    // A fresh client: `t.client` may carry a Bearer header, which /token refuses.
    let mut rb = Client::new().get(t.url("/token")).query(&q);
    if let Some((u, p)) = cred {
        rb = rb.basic_auth(u, Some(p));
    }
    let r = rb.send().await.unwrap();
    let status = r.status();
    let www = header(&r, "www-authenticate");
    (status, r.json().await.unwrap_or(Value::Null), www)
}

async fn token_for(t: &TestRegistry, cred: Option<(&str, &str)>, scopes: &[&str]) -> String {
    let (status, body, _) = get_token(t, cred, scopes).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().unwrap().to_string()
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn header_of(token: &str) -> Value {
    let h = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap()
}

fn bearer(token: &str) -> Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(h)
        .build()
        .unwrap()
}

#[tokio::test]
async fn anonymous_base_gets_a_bearer_challenge_without_scope() {
    let s = start_token().await;
    let r = s.t.get("/v2/").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (scheme, p) = challenge(&r);
    assert_eq!(scheme, "Bearer");
    assert_eq!(
        param(&p, "realm"),
        Some(format!("{}/token", s.t.base).as_str())
    );
    assert_eq!(param(&p, "service"), Some("reference-registry"));
    assert_eq!(param(&p, "scope"), None);
    assert_eq!(codes(r).await, ["UNAUTHORIZED"]);
    // Basic credentials are no Bearer token: still challenged.
    let r =
        s.t.client
            .get(s.t.url("/v2/"))
            .basic_auth("writer", Some("w-pass"))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Any valid token, even an anonymous one, opens /v2/.
    let anon = token_for(&s.t, None, &[]).await;
    let r = bearer(&anon).get(s.t.url("/v2/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(claims(&anon)["sub"], "");
}

#[tokio::test]
async fn writer_full_flow_challenge_token_push_pull() {
    let mut s = start_token().await;
    // 1. The challenge names the scope a push needs (AUTH-02, AUTH-03).
    let r =
        s.t.req(Method::POST, "/v2/mine/app/blobs/uploads/")
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (_, p) = challenge(&r);
    let scope = param(&p, "scope").unwrap().to_string();
    assert_eq!(scope, "repository:mine/app:pull,push");
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["detail"],
        json!([{"Type": "repository", "Name": "mine/app", "Action": "pull"},
               {"Type": "repository", "Name": "mine/app", "Action": "push"}])
    );
    // 2. The token (AUTH-05, AUTH-10..AUTH-12, AUTH-21).
    let realm = param(&p, "realm").unwrap().to_string();
    let r =
        s.t.client
            .get(&realm)
            .query(&[
                ("service", param(&p, "service").unwrap()),
                ("scope", &scope),
            ])
            .basic_auth("writer", Some("w-pass"))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_string();
    assert_eq!(body["access_token"], body["token"]);
    assert_eq!(body["expires_in"], 300);
    assert!(body["issued_at"].as_str().unwrap().ends_with('Z'));
    assert!(body.get("refresh_token").is_none());
    let h = header_of(&token);
    assert_eq!(
        (h["alg"].as_str(), h["typ"].as_str()),
        (Some("ES256"), Some("JWT"))
    );
    let x5c = STANDARD.decode(h["x5c"][0].as_str().unwrap()).unwrap();
    assert!(!x5c.is_empty());
    let c = claims(&token);
    assert_eq!(c["iss"], "reference-registry");
    assert_eq!(c["aud"], "reference-registry", "aud is a string");
    assert_eq!(c["sub"], "writer");
    for k in ["exp", "nbf", "iat"] {
        assert!(c[k].is_u64(), "{k}");
    }
    assert!(c["jti"].is_string());
    assert_eq!(
        c["access"],
        json!([{"type": "repository", "name": "mine/app", "actions": ["pull", "push"]}])
    );
    // 3. Push and pull with the token.
    s.t.client = bearer(&token);
    let (m, d) = s.t.push_image("mine/app", "v1", 7).await;
    assert_eq!(
        s.t.get_bytes(&format!("/v2/mine/app/manifests/{d}")).await,
        m
    );
    // The token is for mine/app only (AUTH-19).
    let r = s.t.get("/v2/other/manifests/v1").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (_, p) = challenge(&r);
    assert_eq!(param(&p, "error"), Some("insufficient_scope"));
    assert_eq!(param(&p, "scope"), Some("repository:other:pull"));
    let _ = s.tc;
}

#[tokio::test]
async fn requested_intersect_allowed_and_insufficient_scope() {
    let mut s = start_token().await;
    let w = token_for(
        &s.t,
        Some(("writer", "w-pass")),
        &["repository:team/app:pull,push"],
    )
    .await;
    s.t.client = bearer(&w);
    s.t.push_image("team/app", "v1", 1).await;
    // Reader asks for push: gets only pull, still 200 (AUTH-09); several scopes in one
    // parameter and repeated parameters both count; unknown things are dropped.
    let (status, body, _) = get_token(
        &s.t,
        Some(("reader", "r-pass")),
        &[
            "repository:team/app:pull,push repository:secret/x:pull",
            "bogus registry:catalog:*",
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let r = body["token"].as_str().unwrap().to_string();
    assert_eq!(
        claims(&r)["access"],
        json!([{"type": "repository", "name": "team/app", "actions": ["pull"]},
               {"type": "registry", "name": "catalog", "actions": ["*"]}])
    );
    s.t.client = bearer(&r);
    let resp = s.t.get("/v2/team/app/manifests/v1").await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "{:?}",
        header(&resp, "www-authenticate")
    );
    let r =
        s.t.req(Method::POST, "/v2/team/app/blobs/uploads/")
            .send()
            .await
            .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "never 403 in token mode"
    );
    let (_, p) = challenge(&r);
    assert_eq!(param(&p, "error"), Some("insufficient_scope"));
    assert_eq!(param(&p, "scope"), Some("repository:team/app:pull,push"));
    // HEAD keeps the challenge, without a body.
    let r = s.t.head("/v2/secret/x/manifests/v1").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        header(&r, "www-authenticate")
            .unwrap()
            .contains("insufficient_scope")
    );
    assert!(r.bytes().await.unwrap().is_empty());
    // Anonymous: only what `anonymous` may do; an empty grant is still 200.
    let (status, body, _) = get_token(&s.t, None, &["repository:team/app:pull"]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(claims(body["token"].as_str().unwrap())["access"], json!([]));
}

#[tokio::test]
async fn wrong_credentials_at_the_token_endpoint_are_401() {
    let s = start_token().await;
    for cred in [("writer", "wrong"), ("nobody", "x")] {
        let (status, body, www) = get_token(&s.t, Some(cred), &["repository:a:pull"]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");
        assert!(www.unwrap().starts_with("Basic realm="));
    }
    // Another service: 400, nothing issued.
    let r =
        s.t.client
            .get(s.t.url("/token?service=other&scope=repository:a:pull"))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn refused_tokens_get_invalid_token() {
    let s = start_token().await;
    let good = token_for(&s.t, Some(("writer", "w-pass")), &["repository:a:pull"]).await;
    let c = claims(&good);
    let now = c["iat"].as_u64().unwrap();
    let mut tampered = good.clone();
    // Flip one signature character.
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let with = |k: &str, v: Value| {
        let mut c = c.clone();
        c[k] = v;
        c
    };
    let (key2, cert2) = reference_server::auth::keygen(&["localhost"]).unwrap();
    let foreign = TokenConfig::from_pem(&key2, &cert2).unwrap();
    let cases = [
        ("tampered signature", tampered),
        ("alg none", jwt::unsigned(&c)),
        ("other aud", s.tc.sign_claims(&with("aud", json!("other")))),
        (
            "aud array",
            s.tc.sign_claims(&with("aud", json!(["reference-registry"]))),
        ),
        (
            "other issuer",
            s.tc.sign_claims(&with("iss", json!("evil"))),
        ),
        ("expired", s.tc.sign_claims(&with("exp", json!(now - 61)))),
        (
            "no exp",
            s.tc.sign_claims(&{
                let mut c = c.clone();
                c.as_object_mut().unwrap().remove("exp");
                c
            }),
        ),
        (
            "not yet valid",
            s.tc.sign_claims(&with("nbf", json!(now + 3600))),
        ),
        ("other key", foreign.sign_claims(&c)),
        ("garbage", "not.a.jwt".to_string()),
    ];
    for (what, token) in cases {
        let r = bearer(&token)
            .get(s.t.url("/v2/a/tags/list"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{what}");
        let (_, p) = challenge(&r);
        assert_eq!(param(&p, "error"), Some("invalid_token"), "{what}");
        assert_eq!(param(&p, "scope"), Some("repository:a:pull"), "{what}");
    }
    // Within the 60 s leeway an expired token still works (distribution's behaviour).
    let lenient = s.tc.sign_claims(&with("exp", json!(now - 30)));
    let r = bearer(&lenient).get(s.t.url("/v2/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn mount_without_pull_on_the_source_is_an_ordinary_session() {
    let mut s = start_token().await;
    let w = token_for(
        &s.t,
        Some(("writer", "w-pass")),
        &["repository:secret/x:pull,push"],
    )
    .await;
    s.t.client = bearer(&w);
    let d = s.t.push_blob("secret/x", b"secret layer").await;
    let path = format!("/v2/team/app/blobs/uploads/?mount={d}&from=secret/x");
    // No token: the challenge names both scopes in one parameter (AUTH-03).
    let r =
        s.t.client
            .post(s.t.url(&path))
            .header("authorization", "")
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (_, p) = challenge(&r);
    assert_eq!(
        param(&p, "scope"),
        Some("repository:team/app:pull,push repository:secret/x:pull")
    );
    // A token that may push the target but not read the source: 202, nothing revealed.
    let tw = token_for(
        &s.t,
        Some(("teamwriter", "t-pass")),
        &["repository:team/app:pull,push", "repository:secret/x:pull"],
    )
    .await;
    assert_eq!(claims(&tw)["access"].as_array().unwrap().len(), 1);
    s.t.client = bearer(&tw);
    let r = s.t.req(Method::POST, &path).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(
        s.t.head(&format!("/v2/team/app/blobs/{d}")).await.status(),
        StatusCode::NOT_FOUND
    );
    // The writer, holding pull on the source, mounts.
    let w = token_for(
        &s.t,
        Some(("writer", "w-pass")),
        &["repository:team/app:pull,push", "repository:secret/x:pull"],
    )
    .await;
    s.t.client = bearer(&w);
    assert_eq!(
        s.t.req(Method::POST, &path).send().await.unwrap().status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn catalog_needs_the_catalog_scope_and_is_filtered() {
    let mut s = start_token().await;
    let w = token_for(
        &s.t,
        Some(("writer", "w-pass")),
        &[
            "repository:team/app:pull,push",
            "repository:secret/x:pull,push",
        ],
    )
    .await;
    s.t.client = bearer(&w);
    s.t.push_image("team/app", "v1", 1).await;
    s.t.push_image("secret/x", "v1", 2).await;
    // Without registry:catalog:* in the token: challenge naming it.
    let r = s.t.get("/v2/_catalog").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (_, p) = challenge(&r);
    assert_eq!(param(&p, "scope"), Some("registry:catalog:*"));
    assert_eq!(param(&p, "error"), Some("insufficient_scope"));
    // Reader: listed only what it may pull.
    let r = token_for(&s.t, Some(("reader", "r-pass")), &["registry:catalog:*"]).await;
    s.t.client = bearer(&r);
    let cat: Value = s.t.get("/v2/_catalog").await.json().await.unwrap();
    assert_eq!(cat["repositories"], json!(["team/app"]));
    // Writer sees everything.
    let w = token_for(&s.t, Some(("writer", "w-pass")), &["registry:catalog:*"]).await;
    s.t.client = bearer(&w);
    let cat: Value = s.t.get("/v2/_catalog").await.json().await.unwrap();
    assert_eq!(cat["repositories"], json!(["secret/x", "team/app"]));
    // teamwriter is not named in `catalog`: the scope is not granted.
    let tw = token_for(
        &s.t,
        Some(("teamwriter", "t-pass")),
        &["registry:catalog:*"],
    )
    .await;
    assert_eq!(claims(&tw)["access"], json!([]));
}

#[tokio::test]
async fn oauth2_password_and_refresh_token_grants() {
    let s = start_token().await;
    let post = |form: Vec<(&'static str, String)>| {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        s.t.client
            .post(s.t.url("/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let r = post(vec![
        ("grant_type", "password".into()),
        ("username", "writer".into()),
        ("password", "w-pass".into()),
        ("service", "reference-registry".into()),
        ("client_id", "test".into()),
        ("access_type", "offline".into()),
        ("scope", "repository:a:pull,push repository:b:pull".into()),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "repository:a:pull,push repository:b:pull");
    assert_eq!(body["access_token"], body["token"]);
    assert!(body["expires_in"].is_u64());
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    // A refresh token is no access token.
    let r = bearer(&refresh).get(s.t.url("/v2/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Refresh grant (AUTH-26): bound to writer.
    let r = post(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", refresh.clone()),
        ("service", "reference-registry".into()),
        ("client_id", "test".into()),
        ("scope", "repository:c:delete".into()),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "repository:c:delete");
    assert_eq!(claims(body["token"].as_str().unwrap())["sub"], "writer");
    assert!(body.get("refresh_token").is_none());
    // An access token is no refresh token; wrong password; missing client_id.
    let access = body["token"].as_str().unwrap().to_string();
    let cases = [
        (
            vec![
                ("grant_type", "refresh_token".into()),
                ("refresh_token", access),
                ("service", "reference-registry".into()),
                ("client_id", "t".into()),
            ],
            StatusCode::UNAUTHORIZED,
        ),
        (
            vec![
                ("grant_type", "password".into()),
                ("username", "writer".into()),
                ("password", "nope".into()),
                ("service", "reference-registry".into()),
                ("client_id", "t".into()),
            ],
            StatusCode::UNAUTHORIZED,
        ),
        (
            vec![
                ("grant_type", "password".into()),
                ("username", "writer".into()),
                ("password", "w-pass".into()),
                ("service", "reference-registry".into()),
            ],
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (form, want) in cases {
        assert_eq!(post(form).await.unwrap().status(), want);
    }
    // GET with offline_token=true also issues a refresh token.
    let r =
        s.t.client
            .get(s.t.url("/token?service=reference-registry&offline_token=true"))
            .basic_auth("writer", Some("w-pass"))
            .send()
            .await
            .unwrap();
    let body: Value = r.json().await.unwrap();
    assert!(body["refresh_token"].is_string());
}

#[tokio::test]
async fn ttl_never_below_sixty_seconds() {
    let (key, cert) = reference_server::auth::keygen(&[]).unwrap();
    let mut tc = TokenConfig::from_pem(&key, &cert).unwrap();
    tc.ttl = Duration::from_secs(5);
    let issued = tc.issue("u", &[Access::repository("a", &["pull"])]);
    assert_eq!(issued.expires_in, 60);
}

/// The auth defects do what they say (and only with them switched on).
#[tokio::test]
async fn auth_defects_break_what_they_claim() {
    use reference_server::Defect;
    async fn with(d: Defect) -> Setup {
        let (key, cert) = reference_server::auth::keygen(&["localhost"]).unwrap();
        let tc = TokenConfig::from_pem(&key, &cert).unwrap();
        let users = Users::from_plain(&[("writer", "w-pass"), ("reader", "r-pass")]);
        let auth = AuthConfig::token(tc.clone(), users, Some(Policy::parse(POLICY).unwrap()));
        let t = start_with(|c| {
            c.auth = auth;
            c.defects = [d].into_iter().collect();
        })
        .await;
        Setup { t, tc }
    }
    // alg-none-accepted
    let s = with(Defect::AlgNoneAccepted).await;
    let c = claims(&token_for(&s.t, Some(("writer", "w-pass")), &["repository:a:pull"]).await);
    let r = bearer(&jwt::unsigned(&c))
        .get(s.t.url("/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // expired-token-accepted
    let s = with(Defect::ExpiredTokenAccepted).await;
    let mut old = c.clone();
    old["exp"] = json!(1);
    let r = bearer(&s.tc.sign_claims(&old))
        .get(s.t.url("/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // no-www-authenticate, challenge-without-scope
    let s = with(Defect::NoWwwAuthenticate).await;
    let r = s.t.get("/v2/a/tags/list").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&r, "www-authenticate").is_none());
    let s = with(Defect::ChallengeWithoutScope).await;
    let r = s.t.get("/v2/a/tags/list").await;
    let www = header(&r, "www-authenticate").unwrap();
    assert!(
        www.starts_with("Bearer realm=") && !www.contains("scope"),
        "{www}"
    );
    // push-with-pull-token, token-repo-unchecked
    let s = with(Defect::PushWithPullToken).await;
    let pull = token_for(
        &s.t,
        Some(("reader", "r-pass")),
        &["repository:team/app:pull"],
    )
    .await;
    let r = bearer(&pull)
        .post(s.t.url("/v2/team/app/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let s = with(Defect::TokenRepoUnchecked).await;
    let pull = token_for(
        &s.t,
        Some(("reader", "r-pass")),
        &["repository:team/app:pull"],
    )
    .await;
    let r = bearer(&pull)
        .get(s.t.url("/v2/secret/tags/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "passed auth");
    // wrong-password-token
    let s = with(Defect::WrongPasswordToken).await;
    let (status, body, _) = get_token(&s.t, Some(("writer", "nope")), &["repository:a:push"]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(claims(body["token"].as_str().unwrap())["sub"], "writer");
    // catalog-unfiltered
    let s = with(Defect::CatalogUnfiltered).await;
    assert_eq!(s.t.get("/v2/_catalog").await.status(), StatusCode::OK);
    // reader-can-delete
    let s = with(Defect::ReaderCanDelete).await;
    let pull = token_for(
        &s.t,
        Some(("reader", "r-pass")),
        &["repository:team/app:pull"],
    )
    .await;
    let r = bearer(&pull)
        .delete(s.t.url(&format!("/v2/team/app/blobs/{}", sha256(b"x"))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "passed auth");
}

//! `--auth basic`: htpasswd users checked on every request (AUTH-25), 401 with a Basic
//! challenge without valid credentials (AUTH-01), 403 DENIED without the right (AUTH-24),
//! the access policy's globs and catalog list (AUTH-19).

mod common;

use base64::Engine as _;
use common::*;
use reference_server::{AuthConfig, Policy, Users};
use reqwest::{Client, Method, StatusCode, header};
use serde_json::Value;

const POLICY: &str = r#"{"rules": [
    {"repositories": ["**"], "users": ["writer"], "actions": ["pull", "push", "delete"]},
    {"repositories": ["team/*"], "users": ["*"], "actions": ["pull"]},
    {"repositories": ["public/**"], "users": ["anonymous"], "actions": ["pull"]}
  ],
  "catalog": ["writer"]}"#;

fn client_as(user: &str, password: &str) -> Client {
    let cred = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut h = header::HeaderMap::new();
    h.insert(
        header::AUTHORIZATION,
        format!("Basic {cred}").parse().unwrap(),
    );
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(h)
        .build()
        .unwrap()
}

async fn start_basic() -> TestRegistry {
    let users = Users::from_plain(&[("writer", "w-pass"), ("reader", "r-pass")]);
    let policy = Policy::parse(POLICY).unwrap();
    start_with(|c| c.auth = AuthConfig::basic(users, Some(policy))).await
}

#[test]
fn htpasswd_files_bcrypt_only_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = bcrypt::hash("pw", 4).unwrap();
    let path = dir.path().join("htpasswd");
    std::fs::write(&path, format!("# comment\n\nalice:{good}\n")).unwrap();
    assert!(Users::load(&path).unwrap().contains("alice"));
    for (bad, kind) in [
        ("bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "{SHA}"),
        ("bob:$apr1$Vx1Wq2nC$0v5yE2KJ2vM3b0B1ccw5Z/", "$apr1$"),
        ("bob:plaintext", "plain"),
    ] {
        std::fs::write(&path, format!("alice:{good}\n{bad}\n")).unwrap();
        let err = Users::load(&path).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains(kind), "{err}");
        assert!(err.contains("htpasswd"), "names the file: {err}");
        assert!(
            !err.contains("plaintext") && !err.contains("W6ph5"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn no_or_wrong_credentials_get_a_basic_challenge() {
    let t = start_basic().await;
    for client in [
        t.client.clone(),
        client_as("writer", "wrong"),
        client_as("nobody", "x"),
    ] {
        let r = client.get(t.url("/v2/")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            header(&r, "www-authenticate").as_deref(),
            Some(r#"Basic realm="reference-registry""#)
        );
        assert!(header(&r, "docker-distribution-api-version").is_some());
        assert_eq!(codes(r).await, ["UNAUTHORIZED"]);
    }
    // HEAD: status and challenge, no body.
    let r = t.head("/v2/team/app/manifests/latest").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&r, "www-authenticate").is_some());
    assert!(r.bytes().await.unwrap().is_empty());
    let r = client_as("reader", "r-pass")
        .get(t.url("/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn writer_pushes_and_pulls_reader_is_denied() {
    let mut t = start_basic().await;
    let anonymous = t.client.clone();
    t.client = client_as("writer", "w-pass");
    let (m, d) = t.push_image("team/app", "v1", 1).await;
    t.push_image("public/x/y", "v1", 2).await;
    t.push_image("secret/db", "v1", 3).await;
    assert_eq!(t.get_bytes("/v2/team/app/manifests/v1").await, m);

    t.client = client_as("reader", "r-pass");
    // Reader may pull team/* ...
    assert_eq!(t.get_bytes(&format!("/v2/team/app/manifests/{d}")).await, m);
    // ... but not push (403 DENIED: authenticated, no right) nor read elsewhere.
    let r = t
        .req(Method::POST, "/v2/team/app/blobs/uploads/")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(header(&r, "www-authenticate").is_none());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "DENIED");
    assert_eq!(
        body["errors"][0]["detail"][1],
        serde_json::json!({"Type": "repository", "Name": "team/app", "Action": "push"})
    );
    let r = t.get("/v2/secret/db/manifests/v1").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = t.delete(&format!("/v2/team/app/manifests/{d}")).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Catalog: only writer is named.
    assert_eq!(t.get("/v2/_catalog").await.status(), StatusCode::FORBIDDEN);

    // Anonymous: public/** only, and a 401 challenge elsewhere.
    t.client = anonymous;
    assert_eq!(
        t.get("/v2/public/x/y/manifests/v1").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        t.get("/v2/team/app/manifests/v1").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        t.get("/v2/_catalog").await.status(),
        StatusCode::UNAUTHORIZED
    );

    t.client = client_as("writer", "w-pass");
    let cat: Value = t.get("/v2/_catalog").await.json().await.unwrap();
    assert_eq!(
        cat["repositories"],
        serde_json::json!(["public/x/y", "secret/db", "team/app"])
    );
    assert_eq!(
        t.delete(&format!("/v2/team/app/manifests/{d}"))
            .await
            .status(),
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn without_a_policy_every_user_may_do_everything_anonymous_nothing() {
    let users = Users::from_plain(&[("u", "p")]);
    let mut t = start_with(|c| c.auth = AuthConfig::basic(users, None)).await;
    assert_eq!(
        t.get("/v2/a/tags/list").await.status(),
        StatusCode::UNAUTHORIZED
    );
    t.client = client_as("u", "p");
    t.push_image("a", "v1", 1).await;
    let cat: Value = t.get("/v2/_catalog").await.json().await.unwrap();
    assert_eq!(cat["repositories"], serde_json::json!(["a"]));
}

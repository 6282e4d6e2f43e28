//! HTTPS: HTTP/2 and HTTP/1.1 by ALPN with a `keygen` certificate, a plain-HTTP request to
//! the TLS port doesn't stop the server, and token mode's realm says https.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;

use reference_server::{AuthConfig, Config, TlsConfig, TokenConfig, Users};
use reqwest::{Certificate, Client, StatusCode, Version};

async fn start_tls(
    adjust: impl FnOnce(&mut Config),
) -> (reference_server::RunningRegistry, String, tempfile::TempDir) {
    let (key, cert) = reference_server::auth::keygen(&["127.0.0.1"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path());
    config.tls = Some(TlsConfig::from_pem(&cert, &key).unwrap());
    adjust(&mut config);
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let reg = reference_server::start(config, addr).await.unwrap();
    (reg, cert, dir)
}

fn client(cert: &str, h1: bool) -> Client {
    let mut b =
        Client::builder().tls_certs_merge([Certificate::from_pem(cert.as_bytes()).unwrap()]);
    if h1 {
        b = b.http1_only();
    }
    b.build().unwrap()
}

#[tokio::test]
async fn https_with_http2_and_http1() {
    let (reg, cert, _dir) = start_tls(|_| {}).await;
    let url = reg.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let r = client(&cert, false)
        .get(format!("{url}/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.version(), Version::HTTP_2);
    assert!(r.headers().contains_key("docker-distribution-api-version"));
    let r = client(&cert, true)
        .get(format!("{url}/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.version(), Version::HTTP_11);
    // A client that doesn't trust the certificate fails the handshake...
    assert!(
        Client::new()
            .get(format!("{url}/v2/"))
            .send()
            .await
            .is_err()
    );
    // ... and so does plain HTTP on the TLS port; the server keeps serving.
    let addr = reg.local_addr();
    tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let _ = s.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n");
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
    })
    .await
    .unwrap();
    let r = client(&cert, false)
        .get(format!("{url}/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    reg.shutdown().await;
}

#[tokio::test]
async fn token_realm_is_https_over_tls() {
    let (key, cert) = reference_server::auth::keygen(&["localhost"]).unwrap();
    let tc = TokenConfig::from_pem(&key, &cert).unwrap();
    let (reg, tls_cert, _dir) = start_tls(|c| {
        c.auth = AuthConfig::token(tc, Users::from_plain(&[("u", "p")]), None);
    })
    .await;
    let c = client(&tls_cert, false);
    let r = c.get(format!("{}/v2/", reg.url())).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let www = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        www.contains(&format!("realm=\"{}/token\"", reg.url())),
        "{www}"
    );
    let r = c
        .get(format!(
            "{}/token?service=reference-registry&scope=repository:a:pull",
            reg.url()
        ))
        .basic_auth("u", Some("p"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let tok: serde_json::Value = r.json().await.unwrap();
    let r = c
        .get(format!("{}/v2/", reg.url()))
        .bearer_auth(tok["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    reg.shutdown().await;
}

#[test]
fn keygen_output_is_accepted_for_tokens_and_tls() {
    let (key, cert) = reference_server::auth::keygen(&["localhost", "127.0.0.1"]).unwrap();
    assert!(key.contains("BEGIN PRIVATE KEY") && cert.contains("BEGIN CERTIFICATE"));
    assert!(TokenConfig::from_pem(&key, &cert).is_ok());
    assert!(TlsConfig::from_pem(&cert, &key).is_ok());
    assert!(TlsConfig::from_pem(&cert, "nope").is_err());
}

//! The engine against a scripted, partly wrong registry: wrong status, missing header,
//! wrong error code, hangs, garbage and resets must fail naming the requirement; 429,
//! redirects, aborted uploads, pagination, chunked pushes and skips must work.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Handler, Reply, Request, serve};
use suite::auth::Auth;
use suite::client::{ClientConfig, HttpClient, RetryPolicy};
use suite::events::Outcome;
use suite::levels::Levels;
use suite::loader::Catalog;
use suite::model::Profile;
use suite::runner::{RunContext, run_trial};

fn fixtures(set: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(set)
}

const NAME_UNKNOWN: &str =
    r#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}"#;

fn handler() -> Handler {
    let hits: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    Arc::new(move |r: &Request| {
        let p = r.path().to_owned();
        let m = r.method.as_str();
        let hit = || {
            let mut h = hits.lock().unwrap();
            let n = h.entry(p.clone()).or_default();
            *n += 1;
            *n
        };
        if p == "/v2/" {
            return Reply::json(200, "{}");
        }
        if p.starts_with("/storage/") {
            return Reply::status(200).with_body(b"hello, blob".to_vec());
        }
        if m == "DELETE" && !p.contains("/good-") {
            return Reply::status(202);
        }
        if p.contains("/wrong-status/") {
            return Reply::json(404, NAME_UNKNOWN);
        }
        if p.contains("/wrong-header/") {
            return Reply::json(200, "{}");
        }
        if p.contains("/wrong-error-code/") {
            return Reply::json(404, NAME_UNKNOWN);
        }
        if p.contains("/wrong-hang/") {
            return Reply::Hang;
        }
        if p.contains("/wrong-garbage/") {
            return Reply::Raw(b"\x00\x01 this is not HTTP\r\n\r\n".to_vec());
        }
        if p.contains("/wrong-reset/") {
            return Reply::Close;
        }
        if p.contains("/wrong-no-location/") {
            return Reply::status(202);
        }
        if p.contains("/wrong-should/")
            || p.contains("/wrong-also-must/")
            || p.contains("/wrong-level-per-profile")
        {
            return Reply::status(200)
                .with_header("Content-Type", "application/json; charset=utf-8")
                .with_body(b"{}".to_vec());
        }
        if p.contains("/wrong-json/") {
            return Reply::json(200, r#"{"name":"x]]>y","tags":["b"]}"#);
        }
        if p.contains("/good-retry-after/") {
            return if hit() == 1 {
                Reply::json(429, r#"{"errors":[{"code":"TOOMANYREQUESTS"}]}"#)
                    .with_header("Retry-After", "1")
            } else {
                Reply::json(200, r#"{"tags":[]}"#)
            };
        }
        if p.contains("/good-redirect/") {
            return Reply::status(307).with_header("Location", "/storage/blob");
        }
        if p.contains("/good-abort/") {
            return match m {
                "GET" => Reply::status(204).with_header("Range", "0-0"),
                "PATCH"
                    if r.header("content-range") == Some("0-99999") && r.body.len() == 100_000 =>
                {
                    Reply::status(202)
                }
                _ => Reply::status(400),
            };
        }
        if p.contains("/good-paginate/") {
            let repo = p.trim_start_matches("/v2/").trim_end_matches("/tags/list");
            return if r.target.contains("last=b") {
                Reply::json(200, r#"{"tags":["c"]}"#)
            } else {
                Reply::json(200, r#"{"tags":["a","b"]}"#).with_header(
                    "Link",
                    &format!("</v2/{repo}/tags/list?n=2&last=b>; rel=\"next\""),
                )
            };
        }
        if p.contains("/good-skip/") {
            return Reply::json(405, r#"{"errors":[{"code":"UNSUPPORTED"}]}"#);
        }
        if p.contains("/good-push/") {
            let repo_end = p
                .find("/blobs/")
                .or_else(|| p.find("/manifests/"))
                .unwrap_or(p.len());
            let repo = &p[4..repo_end];
            return match (m, p.contains("/blobs/uploads/")) {
                ("POST", true) => Reply::status(202).with_header(
                    "Location",
                    &format!("/v2/{repo}/blobs/uploads/abc?state=s0"),
                ),
                ("PATCH", true) => {
                    let n = hit();
                    Reply::status(202)
                        .with_header(
                            "Location",
                            &format!("/v2/{repo}/blobs/uploads/abc?state=s{n}"),
                        )
                        .with_header("Range", r.header("content-range").unwrap_or(""))
                }
                ("PUT", true) if r.target.contains("state=s4&digest=sha256%3A") => {
                    Reply::status(201)
                        .with_header("Location", &format!("/v2/{repo}/blobs/sha256:b94d27"))
                }
                ("HEAD", false) => Reply::status(200),
                ("PUT", false) => Reply::status(201),
                ("GET", false) if r.header("range") == Some("bytes=6-10") => {
                    Reply::status(206).with_body(b"world".to_vec())
                }
                ("DELETE", false) => Reply::status(202),
                _ => Reply::status(400),
            };
        }
        if p.contains("/good-profiles-docker-v2/") {
            return Reply::json(400, r#"{"errors":[{"code":"UNSUPPORTED"}]}"#);
        }
        if p.contains("/good-profiles-oci-1-1/") {
            return Reply::status(202);
        }
        Reply::status(404)
    })
}

/// The scripted fixtures have no catalog: every ID counts as MUST except HDR-08, a
/// SHOULD here (as in the real catalog).
fn levels() -> Levels {
    let cat: Catalog = serde_json::from_value(serde_json::json!({"requirements": [
        {"id": "HDR-08", "level": "SHOULD NOT"}
    ]}))
    .unwrap();
    Levels::from_catalog(&cat)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_registry_outcomes() {
    let server = serve(handler()).await;
    let fx = suite::loader::load_dir(&fixtures("scripted")).unwrap();
    assert!(fx.errors.is_empty(), "{:?}", fx.errors);
    let ctx = RunContext {
        client: HttpClient::new(ClientConfig {
            base: server.url().parse().unwrap(),
            auth: Auth::None,
            reader: None,
            ca_cert: None,
            request_timeout: Duration::from_secs(2),
            insecure: false,
            retry: RetryPolicy::default(),
        })
        .unwrap(),
        namespace: "t-ns".into(),
        // Deletes stay on, so clean-up runs and can be checked below.
        without: BTreeSet::from(["catalog".to_owned()]),
        without_reasons: Default::default(),
        scenario_timeout: Duration::from_secs(20),
        unreachable: None,
        levels: levels(),
        strict: false,
    };
    let plans = suite::plan::plan(&fx, &Profile::ALL, "t-ns");
    let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
    assert!(
        names.contains(&"good::good.profiles@oci-1.1")
            && names.contains(&"good::good.profiles@docker-v2")
    );
    assert!(names.contains(&"wrong::wrong.status"));
    let reports =
        futures_util::future::join_all(plans.iter().map(|p| run_trial(&ctx, p, None))).await;
    let by: HashMap<&str, &suite::events::ScenarioReport> =
        reports.iter().map(|r| (r.name.as_str(), r)).collect();
    let fail = |name: &str| -> (String, String, Vec<String>) {
        match &by[name].outcome {
            Outcome::Fail {
                summary,
                details,
                requirements,
                ..
            } => (summary.clone(), details.clone(), requirements.clone()),
            other => panic!("{name}: expected a failure, got {other:?}"),
        }
    };

    let (s, d, _) = fail("wrong::wrong.status");
    assert!(
        s.contains("[DISC-01]") && s.contains("status: expected 200, got 404"),
        "{s}"
    );
    assert!(
        d.contains("--- expected\n+++ actual") && d.contains("-200\n+404"),
        "{d}"
    );
    assert!(
        d.contains("request: GET http://")
            && d.contains("< HTTP/1.1 404")
            && d.contains("NAME_UNKNOWN"),
        "{d}"
    );

    let (s, _, _) = fail("wrong::wrong.header");
    assert!(
        s.contains("[BASE-03]")
            && s.contains(
                "header Docker-Distribution-API-Version: expected registry/2.0, got (absent)"
            ),
        "{s}"
    );

    let (s, d, reqs) = fail("wrong::wrong.error-code");
    assert_eq!(
        reqs,
        vec!["ERR-12".to_owned()],
        "the step's own requirements"
    );
    assert!(
        s.contains("[ERR-12]")
            && s.contains("fetch a manifest that does not exist")
            && s.contains("error_code"),
        "{s}"
    );
    assert!(d.contains("NAME_UNKNOWN"), "{d}");

    let (s, _, _) = fail("wrong::wrong.hang");
    assert!(
        s.contains("[BASE-01]") && s.contains("timeout: no complete answer within"),
        "{s}"
    );
    assert!(by["wrong::wrong.hang"].duration < Duration::from_secs(10));

    let (s, _, _) = fail("wrong::wrong.garbage");
    assert!(
        s.contains("[BASE-01]") && s.contains("malformed response: not an HTTP response"),
        "{s}"
    );
    let (s, _, _) = fail("wrong::wrong.reset");
    assert!(s.contains("[BASE-01]") && s.contains("response"), "{s}");

    // A push_blob is preparation: a registry that opens sessions without Location
    // breaks PUSH-01, which the scenario (about PUSH-02) does not check, so the scenario
    // could not be set up; the root cause names PUSH-01.
    match &by["wrong::wrong.no-location"].outcome {
        Outcome::Error {
            summary,
            requirements,
            cause,
            ..
        } => {
            assert!(
                summary.starts_with("could not set up: [PUSH-01]")
                    && summary.contains("header Location: expected present, got absent"),
                "{summary}"
            );
            assert_eq!(requirements, &vec!["PUSH-01".to_owned()]);
            assert_eq!(
                cause.as_deref(),
                Some("[PUSH-01] POST (open session): header Location: expected present")
            );
        }
        o => panic!("wrong.no-location: {o:?}"),
    }

    // SHOULDs warn; an also-entry goes on, a SHOULD step ends the scenario there.
    match &by["wrong::wrong.should"].outcome {
        Outcome::Warn {
            details,
            requirements,
            ..
        } => {
            assert_eq!(requirements, &vec!["HDR-08".to_owned()]);
            assert_eq!(details.matches("warning (a SHOULD").count(), 2, "{details}");
            assert!(!details.contains("599"), "the scenario stopped: {details}");
        }
        o => panic!("wrong.should: {o:?}"),
    }
    let (s, _, reqs) = fail("wrong::wrong.also-must");
    assert_eq!(reqs, vec!["BASE-03".to_owned()]);
    assert!(s.contains("header X-Not-Sent"), "{s}");
    assert!(matches!(
        by["wrong::wrong.level-per-profile@oci-1.1"].outcome,
        Outcome::Warn { .. }
    ));
    let (s, _, _) = fail("wrong::wrong.level-per-profile@docker-v2");
    assert!(s.contains("status: expected 201, got 200"), "{s}");

    let (_, d, _) = fail("wrong::wrong.json");
    assert!(
        d.contains("x]]>y") && d.contains("-    \"a\"\n+    \"b\""),
        "{d}"
    );

    for ok in [
        "good::good.retry-after",
        "good::good.redirect",
        "good::good.abort",
        "good::good.paginate",
        "good::good.push",
        "good::good.profiles@oci-1.1",
        "good::good.profiles@docker-v2",
    ] {
        assert_eq!(by[ok].outcome, Outcome::Pass, "{ok}: {:#?}", by[ok].outcome);
    }
    match &by["good::good.skip"].outcome {
        Outcome::Skip { reason } => assert!(
            reason.contains("does not offer upload cancel") && reason.contains("405"),
            "{reason}"
        ),
        o => panic!("good.skip: {o:?}"),
    }
    match &by["good::good.capability"].outcome {
        Outcome::Skip { reason } => assert!(reason.contains("--without catalog"), "{reason}"),
        o => panic!("good.capability: {o:?}"),
    }

    let seen = server.seen.lock().unwrap().clone();
    let ranges: Vec<&str> = seen
        .iter()
        .filter(|r| r.method == "PATCH" && r.path().contains("good-push"))
        .filter_map(|r| r.header("content-range"))
        .collect();
    assert_eq!(ranges, ["0-2", "3-5", "6-8", "9-10"]);
    let put = seen
        .iter()
        .find(|r| r.method == "PUT" && r.path().contains("good-push/manifests/v1"))
        .expect("manifest PUT");
    assert_eq!(
        put.header("content-type"),
        Some("application/vnd.oci.image.manifest.v1+json")
    );
    let layer_size = String::from_utf8_lossy(&put.body).contains("\"size\":11");
    assert!(
        layer_size,
        "size variables become JSON numbers: {}",
        String::from_utf8_lossy(&put.body)
    );
    // Clean-up: manifest by digest before blobs, in the scenario's repository.
    let deletes: Vec<&str> = seen
        .iter()
        .filter(|r| r.method == "DELETE" && r.path().contains("good-push"))
        .map(|r| r.path())
        .collect();
    assert_eq!(deletes.len(), 2, "{deletes:?}");
    assert!(
        deletes[0].contains("/manifests/sha256:") && deletes[1].contains("/blobs/sha256:"),
        "{deletes:?}"
    );
    // The aborted PATCH reached the server broken; the resumed one was chunked.
    let abort: Vec<&Request> = seen
        .iter()
        .filter(|r| r.method == "PATCH" && r.path().contains("good-abort"))
        .collect();
    assert!(
        abort[0].body_broken,
        "{:?}",
        abort
            .iter()
            .map(|r| (&r.headers, r.body.len(), r.body_broken))
            .collect::<Vec<_>>()
    );
    assert_eq!(abort[1].header("transfer-encoding"), Some("chunked"));
    assert_eq!(abort[1].header("content-length"), None);
}

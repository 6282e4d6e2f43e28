//! Sending a request and reading the answer whole: what the request, paginate and push
//! steps share.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode, Url};

use super::outcome::{StepEnd, fail, fail_as, missing};
use super::state::ScenarioState;
use crate::client::{Body, BodyCheck, OutBody, OutRequest};
use crate::expect::Problem;
use crate::model::Step;
use crate::vars::Vars;

/// A response read in full.
pub(crate) struct Exchange {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub url: Url,
    pub body: Body,
    pub transcript: String,
    /// A registry fault the token flow ran into ([`crate::client::Response::auth_note`]).
    pub auth_note: Option<crate::client::AuthNote>,
}

impl Exchange {
    /// A failure of `step` on this exchange. When the registry answered 401 because of
    /// an authentication fault the token flow ran into (a challenge without scope, a 401
    /// without a challenge), the failure cites that fault's requirement instead: one
    /// broken challenge must read as one root cause, not as every push it blocked.
    pub fn fail(
        self,
        step: &Step,
        requirements: &[String],
        request: Option<String>,
        mut problems: Vec<Problem>,
    ) -> StepEnd {
        match self.auth_note {
            Some(note) if self.status == StatusCode::UNAUTHORIZED => {
                problems.insert(
                    0,
                    Problem::new(
                        "authentication",
                        "a challenge the client can answer",
                        note.message,
                    ),
                );
                fail_as(step, &note.requirements, request, problems, self.transcript)
            }
            _ => fail_as(step, requirements, request, problems, self.transcript),
        }
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }
}

/// `PUT http://...`: how failures name a request.
pub(crate) fn request_line(r: &OutRequest) -> String {
    format!("{} {}", r.method, r.url)
}

/// Sends and reads a whole exchange; a transport error becomes a failure of `step`.
pub(crate) async fn exchange(
    st: &ScenarioState<'_>,
    step: &Step,
    req: &OutRequest,
    check: BodyCheck,
) -> Result<Exchange, StepEnd> {
    match st.client.send(req).await {
        Ok(resp) => {
            let status = resp.status;
            let headers = resp.headers.clone();
            let url = resp.url.clone();
            let auth_note = resp.auth_note.clone();
            let (body, transcript) = resp.read(check).await;
            // The built-in flows judge status and headers; an answer whose body broke off
            // did not come whole, and that is the fault to report.
            if let Some(e) = &body.error {
                return Err(fail(
                    step,
                    Some(request_line(req)),
                    vec![Problem::new(
                        "response body",
                        "a complete body",
                        format!("broken off: {e}"),
                    )],
                    transcript,
                ));
            }
            Ok(Exchange {
                status,
                headers,
                url,
                body,
                transcript,
                auth_note,
            })
        }
        Err(e) => Err(fail(
            step,
            Some(request_line(req)),
            vec![Problem::new("response", "an HTTP response", e.to_string())],
            e.transcript,
        )),
    }
}

/// The client identity of a step's `as`, its templates rendered.
pub(crate) fn identity(
    step: &Step,
    a: &crate::model::AsSpec,
    vars: &Vars,
) -> Result<crate::client::Identity, StepEnd> {
    use crate::client::Identity;
    use crate::model::AsSpec;
    let r = |t: &str| vars.render(t).map_err(|m| missing(step, m));
    Ok(match a {
        AsSpec::Writer => Identity::Writer,
        AsSpec::Reader => Identity::Reader,
        AsSpec::Anonymous => Identity::Anonymous,
        AsSpec::Bearer(t) => Identity::Bearer(r(t)?),
        AsSpec::Basic { username, password } => Identity::Basic {
            username: r(username)?,
            password: r(password)?,
        },
    })
}

/// A simple request for the built-in flows.
pub(crate) fn simple(
    method: Method,
    url: Url,
    headers: Vec<(String, String)>,
    body: OutBody,
) -> OutRequest {
    let follow_redirects = method == Method::GET || method == Method::HEAD;
    OutRequest {
        method,
        url,
        headers,
        body,
        follow_redirects,
        identity: crate::client::Identity::Writer,
        own_url: false,
    }
}

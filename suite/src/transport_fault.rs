//! Names a transport fault in the words an operator looks for: a timeout with the limit it
//! ran into, a connection reset or closed early, a response that is not HTTP, a body
//! shorter than its `Content-Length`. hyper's own text ("client error (SendRequest):
//! connection error: ...") follows in parentheses, since it is what a bug report needs,
//! but it is not what a person scanning a report of 290 scenarios can act on.

use std::time::Duration;

use crate::client::{HttpErrorKind, error_chain};

/// The class of a reqwest error (what the steps decide on: a body broken off on purpose
/// is expected by `aborted` steps).
pub(crate) fn classify(e: &reqwest::Error) -> HttpErrorKind {
    if e.is_timeout() {
        HttpErrorKind::Timeout
    } else if e.is_connect() {
        HttpErrorKind::Connect
    } else if e.is_body() || (e.is_request() && error_chain(e).contains("abort_after")) {
        HttpErrorKind::RequestBody
    } else {
        HttpErrorKind::Response
    }
}

/// The class and a message starting with the fault's name. `timeout` is the request
/// timeout (named in timeout messages, so the reader knows which limit to raise).
pub(crate) fn describe(e: &reqwest::Error, timeout: Duration) -> (HttpErrorKind, String) {
    let kind = classify(e);
    let chain = error_chain(e);
    (kind, name(kind, &chain, timeout))
}

/// The message for an error of `kind` whose cause chain reads `chain`.
pub(crate) fn name(kind: HttpErrorKind, chain: &str, timeout: Duration) -> String {
    let lower = chain.to_ascii_lowercase();
    let what = if kind == HttpErrorKind::Timeout || lower.contains("timed out") {
        format!(
            "timeout: no complete answer within {} s (--request-timeout)",
            timeout.as_secs()
        )
    } else if kind == HttpErrorKind::Connect {
        "cannot connect".to_owned()
    } else if lower.contains("connection reset") {
        "connection reset by the registry before a complete answer".to_owned()
    } else if lower.contains("end of file before message length reached")
        || (lower.contains("incomplete")
            && (lower.contains("body") || lower.contains("decoding response")))
    {
        "body shorter than its Content-Length: the connection closed before every promised \
         byte came"
            .to_owned()
    } else if lower.contains("connection closed before message completed")
        || lower.contains("unexpected eof")
        || lower.contains("connection closed")
    {
        "connection closed by the registry before a complete answer".to_owned()
    } else if lower.contains("invalid http")
        || lower.contains("parse")
        || lower.contains("message head is too large")
        || lower.contains("invalid status")
        || lower.contains("invalid header")
    {
        "malformed response: not an HTTP response".to_owned()
    } else if kind == HttpErrorKind::RequestBody {
        "request body broken off".to_owned()
    } else {
        "bad or broken response".to_owned()
    };
    format!("{what} ({chain})")
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(2);

    #[test]
    fn names_the_usual_hyper_errors() {
        let r = HttpErrorKind::Response;
        assert!(
            name(HttpErrorKind::Timeout, "operation timed out", T)
                .starts_with("timeout: no complete answer within 2 s")
        );
        assert!(
            name(r, "error sending request: client error (SendRequest): connection error: Connection reset by peer (os error 104)", T)
                .starts_with("connection reset by the registry")
        );
        assert!(
            name(r, "error sending request: client error (SendRequest): connection closed before message completed", T)
                .starts_with("connection closed by the registry")
        );
        assert!(
            name(r, "error decoding response body: request or response body error: error reading a body from connection: end of file before message length reached", T)
                .starts_with("body shorter than its Content-Length")
        );
        assert!(
            name(
                r,
                "error sending request: client error (SendRequest): invalid HTTP version parsed",
                T
            )
            .starts_with("malformed response: not an HTTP response")
        );
    }
}

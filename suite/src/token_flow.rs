//! The challenge → credentials → retry flow of the `Writer` and `Reader` identities
//! (AUTH-02, AUTH-03, AUTH-05, AUTH-10, AUTH-14, AUTH-27).
//!
//! A 401 is answered once: a Bearer challenge (preferred when offered with a usable
//! `realm`) by a token from the realm, a Basic one by the identity's user name and
//! password. What worked is remembered per identity and repository and sent
//! preemptively on later requests, so a run does not double every request; a token is
//! asked for the union of the actions already held for the repository and the
//! challenged ones, so tokens do not thrash between pull, push and delete. Nothing loops:
//! a 401 to the retry is the answer.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::SystemTime;

use reqwest::{Method, StatusCode, Url};

use crate::auth::{Auth, split_scopes, union_scopes};
use crate::challenge::{self, Challenge};
use crate::client::{
    AuthHeader, AuthNote, BodyCheck, HttpClient, HttpError, Identity, OutBody, OutRequest,
    Response, origin,
};
use crate::content::Content;
use crate::token::{CacheKey, Token, TokenCache, parse_token_response, refresh_form};

/// What the flow learnt during a run, shared by every trial.
#[derive(Debug, Default)]
pub struct FlowState {
    /// Tokens by identity, realm, service and scopes.
    pub tokens: TokenCache,
    /// Per (identity, resource): the token that last worked and what it was asked for.
    held: Mutex<HashMap<(String, String), (CacheKey, Token)>>,
    /// Identities that met a Basic challenge: they send Basic preemptively from then on.
    basic_seen: Mutex<HashSet<String>>,
}

/// What a request's URL concerns, for preemptive credentials: the repository name of
/// `/v2/<name>/(blobs|manifests|tags|referrers)/...`, else the path itself (`/v2/`,
/// `/v2/_catalog`).
pub fn resource_of(url: &Url) -> String {
    let path = url.path();
    let Some(at) = path.find("/v2/") else {
        return path.to_owned();
    };
    let rest = &path[at + 4..];
    for marker in ["/blobs/", "/manifests/", "/tags/", "/referrers/"] {
        if let Some(i) = rest.rfind(marker)
            && i > 0
        {
            return format!("repository:{}", &rest[..i]);
        }
    }
    path.to_owned()
}

impl FlowState {
    pub(crate) fn preemptive(&self, who: &str, resource: &str, auth: &Auth) -> Option<AuthHeader> {
        let now = SystemTime::now();
        if let Ok(held) = self.held.lock()
            && let Some((_, token)) = held.get(&(who.to_owned(), resource.to_owned()))
            && token.fresh_at(now)
        {
            return Some(AuthHeader::Bearer(token.value.clone()));
        }
        if let Auth::Basic { username, password } = auth
            && self.basic_seen.lock().is_ok_and(|s| s.contains(who))
        {
            return Some(AuthHeader::Basic {
                username: username.clone(),
                password: password.clone(),
            });
        }
        None
    }

    fn held_scopes(&self, who: &str, resource: &str) -> Vec<String> {
        self.held
            .lock()
            .ok()
            .and_then(|h| {
                h.get(&(who.to_owned(), resource.to_owned()))
                    .map(|(k, _)| k.scopes.clone())
            })
            .unwrap_or_default()
    }

    fn remember(&self, who: &str, resource: &str, key: CacheKey, token: Token) {
        if let Ok(mut h) = self.held.lock() {
            h.insert((who.to_owned(), resource.to_owned()), (key, token));
        }
    }
}

/// The challenge to answer: Bearer with a usable realm if offered (anonymous tokens are
/// tokens too), else Basic when the identity has a password.
fn pick<'a>(challenges: &'a [Challenge], auth: &Auth) -> Option<&'a Challenge> {
    let bearer = challenges.iter().find(|c| {
        c.is("bearer")
            && c.param("realm")
                .and_then(|r| Url::parse(r).ok())
                .is_some_and(|u| matches!(u.scheme(), "http" | "https"))
    });
    let basic = challenges
        .iter()
        .find(|c| c.is("basic") && matches!(auth, Auth::Basic { .. }));
    bearer.or(basic)
}

/// The token request URL: the realm with `service` (omitted when the challenge has none,
/// as Google Artifact Registry's) and one `scope=` per scope, the way docker, crane,
/// skopeo and oras ask.
pub fn token_url(realm: &Url, service: Option<&str>, scopes: &[String]) -> Url {
    let mut u = realm.clone();
    {
        let mut q = u.query_pairs_mut();
        if let Some(s) = service {
            q.append_pair("service", s);
        }
        for s in scopes {
            q.append_pair("scope", s);
        }
    }
    if u.query() == Some("") {
        u.set_query(None);
    }
    u
}

impl HttpClient {
    /// The flow for `Writer` / `Reader` on the registry's origin.
    pub(crate) async fn send_with_flow(
        &self,
        req: &OutRequest,
        auth: &Auth,
    ) -> Result<Response, HttpError> {
        let who = req.identity.label();
        let registry = origin(&self.cfg.base);
        let resource = resource_of(&req.url);
        let sent = self.flow.preemptive(who, &resource, auth);
        let resp = self
            .send_raw(req, sent.as_ref(), Some(&registry), who, String::new())
            .await?;
        // A body broken off on purpose cannot be sent again.
        let resendable = !matches!(
            req.body,
            OutBody::Content {
                abort_after: Some(_),
                ..
            }
        );
        if resp.status != StatusCode::UNAUTHORIZED || !resendable {
            return Ok(resp);
        }
        let lines = resp.header_values("www-authenticate");
        if lines.is_empty() {
            let mut resp = resp;
            resp.auth_note = Some(AuthNote {
                requirements: vec!["AUTH-01".to_owned()],
                message: "401 without WWW-Authenticate: nothing says how to authenticate"
                    .to_owned(),
            });
            return Ok(resp);
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let Ok(challenges) = challenge::parse(&refs) else {
            return Ok(resp);
        };
        let Some(ch) = pick(&challenges, auth) else {
            return Ok(resp);
        };
        if ch.is("basic") {
            let Auth::Basic { username, password } = auth else {
                return Ok(resp);
            };
            if matches!(sent, Some(AuthHeader::Basic { .. })) {
                // The password was refused (or the registry always challenges, as ACR and
                // Harbor do): that answer stands.
                return Ok(resp);
            }
            if let Ok(mut s) = self.flow.basic_seen.lock() {
                s.insert(who.to_owned());
            }
            let (_, mut transcript) = resp.read(BodyCheck::default()).await;
            transcript.push_str("(401 with a Basic challenge: sending the credentials)\n\n");
            let basic = AuthHeader::Basic {
                username: username.clone(),
                password: password.clone(),
            };
            return self
                .send_raw(req, Some(&basic), Some(&registry), who, transcript)
                .await;
        }

        // Bearer.
        let realm = ch
            .param("realm")
            .and_then(|r| Url::parse(r).ok())
            .expect("pick checked the realm");
        let service = ch.param("service").map(str::to_owned);
        let challenged = split_scopes(ch.param("scope").unwrap_or(""));
        let scopes = union_scopes(&challenged, &self.flow.held_scopes(who, &resource));
        let key = CacheKey {
            identity: who.to_owned(),
            realm: realm.to_string(),
            service: service.clone(),
            scopes: scopes.clone(),
        };
        let refused = match &sent {
            Some(AuthHeader::Bearer(t)) => Some(t.clone()),
            _ => None,
        };
        let cached = self
            .flow
            .tokens
            .get(&key, SystemTime::now())
            .filter(|t| Some(&t.value) != refused.as_ref());
        if cached.is_none() && refused.is_some() {
            self.flow.tokens.forget(&key);
        }
        let (token, note) = match cached {
            Some(t) => (
                t,
                format!(
                    "(401 with a Bearer challenge: using the cached token for {})\n\n",
                    describe_scopes(&scopes)
                ),
            ),
            None => {
                let mut note = format!(
                    "(401 with a Bearer challenge: fetching a token for {} as {who})\n\n",
                    describe_scopes(&scopes)
                );
                match self
                    .fetch_token(auth, who, &realm, service.as_deref(), &scopes)
                    .await
                {
                    Ok((t, tr)) => {
                        note.push_str(&tr);
                        self.flow.tokens.put(key.clone(), t.clone());
                        (t, note)
                    }
                    Err((why, tr)) => {
                        // The 401 is the answer; its transcript tells why no retry came.
                        let mut resp = resp;
                        resp.transcript.push_str(&note);
                        resp.transcript.push_str(&tr);
                        let _ = writeln!(
                            resp.transcript,
                            "(no token: {why}; the registry's 401 stands, its body follows)"
                        );
                        return Ok(resp);
                    }
                }
            }
        };
        let (_, mut transcript) = resp.read(BodyCheck::default()).await;
        transcript.push_str(&note);
        transcript.push_str("(retrying with the token)\n\n");
        let bearer = AuthHeader::Bearer(token.value.clone());
        let retried = self
            .send_raw(req, Some(&bearer), Some(&registry), who, transcript)
            .await?;
        if retried.status != StatusCode::UNAUTHORIZED {
            self.flow.remember(who, &resource, key, token);
            return Ok(retried);
        }
        let mut retried = retried;
        // `/v2/` itself needs no scope; every other endpoint needs one.
        if challenged.is_empty() && !(resource.ends_with("/v2/") || resource.ends_with("/v2")) {
            // Without a scope the token server cannot know what to grant (AUTH-03).
            retried.auth_note = Some(AuthNote {
                requirements: vec!["AUTH-03".to_owned()],
                message: format!(
                    "the Bearer challenge names no scope for {resource}, so the token fetched \
                     for it grants nothing and the request is refused again"
                ),
            });
        }
        Ok(retried)
    }

    /// Fetches a token: GET with Basic credentials (none at all when anonymous: Quay
    /// refuses an empty Basic header), or with an identity token the OAuth2 POST, falling
    /// back to GET on 404/405 (GitLab). Returns the token and the exchange's transcript;
    /// errors never hold a secret.
    async fn fetch_token(
        &self,
        auth: &Auth,
        who: &str,
        realm: &Url,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<(Token, String), (String, String)> {
        let realm_origin = origin(realm);
        let who_token = format!("{who}, token request");
        let mut transcript = String::new();
        if let Auth::IdentityToken { token, .. } = auth {
            let form = refresh_form(service, token, scopes);
            let shown = refresh_form(service, "<redacted>", scopes);
            let c = Content::Bytes(bytes::Bytes::from(form));
            let req = OutRequest {
                method: Method::POST,
                url: realm.clone(),
                headers: vec![(
                    "Content-Type".to_owned(),
                    "application/x-www-form-urlencoded".to_owned(),
                )],
                body: OutBody::Content {
                    reader: c.reader(0, c.len()),
                    stream: false,
                    abort_after: None,
                    describe: format!("form {shown}"),
                },
                follow_redirects: false,
                identity: Identity::Anonymous,
                own_url: true,
            };
            let resp = self
                .send_raw(&req, None, None, &who_token, transcript)
                .await
                .map_err(|e| (format!("the token request failed: {e}"), e.transcript))?;
            let status = resp.status;
            let (body, tr) = resp.read(BodyCheck::default()).await;
            transcript = tr;
            match status.as_u16() {
                404 | 405 => transcript.push_str("(no OAuth2 endpoint: asking with GET)\n\n"),
                _ => return token_of(status, &body.kept, transcript),
            }
        }
        let req = OutRequest {
            method: Method::GET,
            url: token_url(realm, service, scopes),
            headers: vec![],
            body: OutBody::Empty,
            follow_redirects: true,
            identity: Identity::Anonymous,
            own_url: true,
        };
        let basic = match auth {
            Auth::Basic { username, password } => Some(AuthHeader::Basic {
                username: username.clone(),
                password: password.clone(),
            }),
            _ => None,
        };
        let resp = self
            .send_raw(
                &req,
                basic.as_ref(),
                Some(&realm_origin),
                &who_token,
                transcript,
            )
            .await
            .map_err(|e| (format!("the token request failed: {e}"), e.transcript))?;
        let status = resp.status;
        let (body, tr) = resp.read(BodyCheck::default()).await;
        token_of(status, &body.kept, tr)
    }
}

fn token_of(
    status: StatusCode,
    body: &[u8],
    mut transcript: String,
) -> Result<(Token, String), (String, String)> {
    transcript.push('\n');
    if !status.is_success() {
        return Err((
            format!("the token server answered {}", status.as_u16()),
            transcript,
        ));
    }
    match parse_token_response(body, SystemTime::now()) {
        Ok(t) => Ok((t, transcript)),
        Err(e) => Err((e, transcript)),
    }
}

fn describe_scopes(scopes: &[String]) -> String {
    if scopes.is_empty() {
        "no scope".to_owned()
    } else {
        scopes.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_repositories_or_paths() {
        let r = |s: &str| resource_of(&Url::parse(s).unwrap());
        assert_eq!(r("http://h/v2/ns/a/blobs/sha256:x"), "repository:ns/a");
        assert_eq!(r("http://h/v2/ns/a/manifests/latest"), "repository:ns/a");
        assert_eq!(r("http://h/v2/ns/a/blobs/uploads/u?x=1"), "repository:ns/a");
        assert_eq!(r("http://h/v2/ns/tags/x/tags/list"), "repository:ns/tags/x");
        assert_eq!(r("http://h/prefix/v2/ns/a/tags/list"), "repository:ns/a");
        assert_eq!(r("http://h/v2/"), "/v2/");
        assert_eq!(r("http://h/v2/_catalog?n=1"), "/v2/_catalog");
    }

    #[test]
    fn token_urls_repeat_scope_and_omit_a_missing_service() {
        let realm = Url::parse("http://127.0.0.1:1/token?x=1").unwrap();
        let u = token_url(
            &realm,
            Some("reg"),
            &["repository:a:pull".into(), "repository:b:pull,push".into()],
        );
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:1/token?x=1&service=reg&scope=repository%3Aa%3Apull&scope=repository%3Ab%3Apull%2Cpush"
        );
        let bare = Url::parse("http://127.0.0.1:1/token").unwrap();
        assert_eq!(
            token_url(&bare, None, &[]).as_str(),
            "http://127.0.0.1:1/token"
        );
    }

    #[test]
    fn bearer_is_preferred_and_basic_needs_a_password() {
        let cs = challenge::parse(&[
            r#"Basic realm="r", Bearer realm="http://127.0.0.1:1/token",service="s""#,
        ])
        .unwrap();
        assert!(pick(&cs, &Auth::None).unwrap().is("bearer"));
        let basic_only = challenge::parse(&[r#"Basic realm="r""#]).unwrap();
        assert!(pick(&basic_only, &Auth::None).is_none());
        let pw = Auth::from_parts(Some("u".into()), Some("p".into()));
        assert!(pick(&basic_only, &pw).unwrap().is("basic"));
        // A Bearer challenge without a usable realm cannot be answered.
        let no_realm = challenge::parse(&[r#"Bearer service="s""#]).unwrap();
        assert!(pick(&no_realm, &pw).is_none());
    }
}

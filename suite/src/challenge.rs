//! `WWW-Authenticate` challenges, parsed as RFC 9110 § 11.6.1 (formerly RFC 7235) says.
//!
//! A header (or several field lines, which join with commas) holds one or more challenges:
//! `Bearer realm="https://auth.example/token",service="registry",scope="repository:a:pull"`.
//! Commas separate both the parameters of one challenge and the challenges themselves; a
//! comma followed by `token =` continues the parameters, a comma followed by a bare token
//! starts a new challenge. Quoted strings may hold commas and `\`-escapes. Registries differ
//! (Google's challenge has no `service`; zot sends one even with a 200), so nothing here
//! demands a parameter: callers ask for what they need.

/// One challenge: an auth scheme and its parameters (or a token68).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `Bearer`, `Basic`, ... as sent (compare case-insensitively: [`Challenge::is`]).
    pub scheme: String,
    /// `name=value` parameters, names lower-cased, quoted values unescaped, in order.
    pub params: Vec<(String, String)>,
    /// A token68 instead of parameters (`Negotiate abc==`), if any.
    pub token68: Option<String>,
}

impl Challenge {
    /// Whether the scheme is `scheme` (schemes are case-insensitive).
    pub fn is(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }

    /// A parameter's value (names are case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// One line for messages: `Bearer realm="…", service="…"`.
    pub fn describe(&self) -> String {
        let mut s = self.scheme.clone();
        if let Some(t) = &self.token68 {
            s.push(' ');
            s.push_str(t);
        }
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect();
        if !params.is_empty() {
            s.push(' ');
            s.push_str(&params.join(", "));
        }
        s
    }
}

/// RFC 9110 `tchar`.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// A cursor over the header text.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl Cursor<'_> {
    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    fn skip_ws(&mut self) {
        while self.rest().starts_with([' ', '\t']) {
            self.pos += 1;
        }
    }

    /// Skips whitespace and empty list elements (`a, , b` is allowed by the list rule).
    fn skip_ws_and_commas(&mut self) {
        while self.rest().starts_with([' ', '\t', ',']) {
            self.pos += 1;
        }
    }

    fn token(&mut self) -> Option<String> {
        let len = self
            .rest()
            .find(|c: char| !is_tchar(c))
            .unwrap_or(self.rest().len());
        if len == 0 {
            return None;
        }
        let t = self.rest()[..len].to_owned();
        self.pos += len;
        Some(t)
    }

    /// A token68 (`1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`) that is
    /// not followed by `=` + value (which would make it a parameter name).
    fn token68(&mut self) -> Option<String> {
        let rest = self.rest();
        let body = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || "-._~+/".contains(c)))
            .unwrap_or(rest.len());
        if body == 0 {
            return None;
        }
        let eq = rest[body..].chars().take_while(|c| *c == '=').count();
        let end = body + eq;
        let after = rest[end..].trim_start_matches([' ', '\t']);
        if !(after.is_empty() || after.starts_with(',')) {
            return None;
        }
        let t = rest[..end].to_owned();
        self.pos += end;
        Some(t)
    }

    fn quoted(&mut self) -> Result<String, String> {
        // The opening quote.
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, e)) => out.push(e),
                    None => break,
                },
                c => out.push(c),
            }
        }
        Err(format!("unterminated quoted string in {:?}", self.s))
    }

    /// Whether what follows is `token BWS "="` (a parameter, not a new challenge).
    fn at_param(&self) -> bool {
        let rest = self.rest();
        let len = rest.find(|c: char| !is_tchar(c)).unwrap_or(rest.len());
        len > 0 && rest[len..].trim_start_matches([' ', '\t']).starts_with('=')
    }
}

/// Parses the field lines of `WWW-Authenticate` (all of them: they form one list).
pub fn parse(lines: &[&str]) -> Result<Vec<Challenge>, String> {
    let joined = lines.join(", ");
    let mut c = Cursor { s: &joined, pos: 0 };
    let mut out = Vec::new();
    loop {
        c.skip_ws_and_commas();
        if c.rest().is_empty() {
            break;
        }
        let scheme = c
            .token()
            .ok_or_else(|| format!("expected an auth scheme at {:?}", c.rest()))?;
        let mut ch = Challenge {
            scheme,
            params: Vec::new(),
            token68: None,
        };
        c.skip_ws();
        // `abc==` followed by the end or a comma is a token68, not a parameter `abc`.
        ch.token68 = c.token68();
        if ch.token68.is_none() {
            // auth-params, separated by commas, until a bare token starts a new challenge.
            loop {
                c.skip_ws_and_commas();
                if !c.at_param() {
                    break;
                }
                let name = c.token().unwrap_or_default().to_ascii_lowercase();
                c.skip_ws();
                c.pos += 1; // '='
                c.skip_ws();
                let value = if c.rest().starts_with('"') {
                    c.quoted()?
                } else {
                    c.token()
                        .ok_or_else(|| format!("parameter {name}: no value in {joined:?}"))?
                };
                ch.params.push((name, value));
            }
        }
        out.push(ch);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(h: &str) -> Challenge {
        let mut v = parse(&[h]).unwrap();
        assert_eq!(v.len(), 1, "{v:?}");
        v.remove(0)
    }

    #[test]
    fn docker_hub_style_bearer() {
        let c = one(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push""#,
        );
        assert!(c.is("bearer"));
        assert_eq!(c.param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c.param("Service"), Some("registry.docker.io"));
        assert_eq!(
            c.param("scope"),
            Some("repository:library/alpine:pull,push"),
            "a comma inside quotes belongs to the value"
        );
    }

    #[test]
    fn a_missing_service_and_an_error_parameter() {
        let c = one(r#"Bearer realm="https://gcr.example/v2/token", error="insufficient_scope""#);
        assert_eq!(c.param("service"), None);
        assert_eq!(c.param("error"), Some("insufficient_scope"));
    }

    #[test]
    fn two_scopes_in_one_parameter_and_escapes() {
        let c = one(
            r#"Bearer realm="http://127.0.0.1:5000/token",scope="repository:a:pull repository:b:pull,push",note="say \"hi\"""#,
        );
        assert_eq!(
            c.param("scope"),
            Some("repository:a:pull repository:b:pull,push")
        );
        assert_eq!(c.param("note"), Some("say \"hi\""));
    }

    #[test]
    fn several_challenges_on_one_line_and_on_several_lines() {
        let v = parse(&[r#"Basic realm="x", Bearer realm="y",service=z"#]).unwrap();
        assert_eq!(v.len(), 2);
        assert!(v[0].is("Basic") && v[1].is("Bearer"));
        assert_eq!(v[0].param("realm"), Some("x"));
        assert_eq!(v[1].param("service"), Some("z"));
        let v = parse(&[r#"Basic realm="x""#, r#"Bearer realm="y""#]).unwrap();
        assert_eq!(v.len(), 2);
        let v = parse(&["Negotiate abc==, Basic realm=\"r\""]).unwrap();
        assert_eq!(v[0].token68.as_deref(), Some("abc=="));
        assert_eq!(v[1].param("realm"), Some("r"));
    }

    #[test]
    fn bare_schemes_spaces_and_empty_elements() {
        let v = parse(&["Basic , ,  Bearer  realm = \"r\" ,"]).unwrap();
        assert_eq!(v.len(), 2);
        assert!(v[0].params.is_empty() && v[0].token68.is_none());
        assert_eq!(v[1].param("realm"), Some("r"));
        assert!(parse(&[""]).unwrap().is_empty());
    }

    #[test]
    fn malformed_headers_are_errors_not_panics() {
        assert!(parse(&[r#"Bearer realm="unterminated"#]).is_err());
        assert!(parse(&["Bearer a=b=c"]).is_err());
        // `realm=` alone is a token68 by the grammar, not an empty parameter.
        assert_eq!(one("Bearer realm=").token68.as_deref(), Some("realm="));
        assert!(parse(&["\"quoted\""]).is_err());
    }

    #[test]
    fn describe_round_trips() {
        let c = one(r#"Bearer realm="a\"b",service=s"#);
        assert_eq!(c.describe(), r#"Bearer realm="a\"b", service="s""#);
        assert_eq!(one(&c.describe()), c);
    }
}

//! Secrets out of transcripts and messages: token values in JSON bodies.
//!
//! Token responses carry `token`, `access_token` and `refresh_token`; a transcript shows
//! the exchange (AUTH-10 failures need it) with those values replaced. Every body goes
//! through here, not just token responses: a registry may echo a token anywhere, and a
//! truncated body is no longer valid JSON, so this works on the text.

use std::sync::LazyLock;

use regex::Regex;

/// Field names whose values are secrets, in JSON bodies and in form bodies alike.
const SECRET_FIELDS: &[&str] = &[
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "identitytoken",
    "registrytoken",
    "password",
    "secret",
];

/// Whether a field (JSON key, form name) carries a secret.
pub fn is_secret_field(name: &str) -> bool {
    SECRET_FIELDS.contains(&name)
}

/// `"token": "..."` and its kin, in JSON text (escapes inside the value included).
static SECRET_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r#"("(?:{})"\s*:\s*)"(?:[^"\\]|\\.)*("|$)"#,
        SECRET_FIELDS.join("|")
    ))
    .expect("static regex")
});

/// The text with every secret-bearing JSON string field's value replaced by `<redacted>`.
/// A value cut off by truncation is redacted to the end of the text.
pub fn redact_json_secrets(text: &str) -> String {
    SECRET_FIELD
        .replace_all(text, |c: &regex::Captures<'_>| {
            format!("{}\"<redacted>\"", &c[1])
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_fields_are_redacted_and_the_rest_kept() {
        let body = r#"{"token":"eyJ.abc.def","access_token": "a\"b","expires_in":300,"refresh_token":"r","issued_at":"2026-01-01T00:00:00Z"}"#;
        let got = redact_json_secrets(body);
        assert_eq!(
            got,
            r#"{"token":"<redacted>","access_token": "<redacted>","expires_in":300,"refresh_token":"<redacted>","issued_at":"2026-01-01T00:00:00Z"}"#
        );
        // Nested, pretty-printed and truncated bodies too.
        let nested = "{\n  \"data\": {\n    \"token\" : \"zzz\"\n  }\n}";
        assert!(!redact_json_secrets(nested).contains("zzz"));
        let cut = r#"{"token":"abcdefgh"#;
        assert_eq!(redact_json_secrets(cut), r#"{"token":"<redacted>""#);
        // Other fields named like a token are left alone.
        assert_eq!(
            redact_json_secrets(r#"{"tokens":["x"],"token_type":"Bearer"}"#),
            r#"{"tokens":["x"],"token_type":"Bearer"}"#
        );
    }
}

//! `alter_token`: a copy of a captured token, altered the way a forger would, for the
//! scenarios that check the registry refuses it (AUTH-22). No network.
//!
//! Opaque tokens are allowed by the token spec, so the JWT-only alterations skip the
//! scenario rather than fail it; a flipped character works on any token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::common::Common;
use super::jwt::{NOT_JWT, decode_object, split_jwt};
use super::outcome::{StepEnd, missing};
use crate::error::LoadError;
use crate::fields::raw_fields;
use crate::model::{AlterHow, AlterTokenSpec, Step, StepKind};
use crate::validate::{Scope, StepContext, usable_capture_name};
use crate::vars::Vars;

/// The key that makes a step an `alter_token` step.
pub const KEY: &str = "alter_token";

/// The fields besides its own that an `alter_token` step takes: none.
pub const ACCEPTS: &[&str] = &[];

raw_fields! {
    /// An `alter_token` step's own field.
    pub struct Raw {
        /// Which token, into which variable, altered how.
        "alter_token" => alter_token: Option<AlterTokenSpec>,
    }
}

impl Raw {
    /// `from` must be defined before the step; `into` becomes defined after it.
    pub fn check(
        &self,
        _common: &Common,
        cx: &StepContext<'_>,
        scope: &mut Scope,
    ) -> Result<StepKind, LoadError> {
        let Some(a) = self.alter_token.clone() else {
            return Err(cx.err("alter_token: missing"));
        };
        if !cx.cx.defined(&a.from, scope) {
            return Err(cx.err(format!(
                "alter_token.from: {:?} is no variable defined before this step",
                a.from
            )));
        }
        if !usable_capture_name(&a.into) {
            return Err(cx.err(format!(
                "alter_token.into: {:?} is not a usable variable name",
                a.into
            )));
        }
        scope.define(a.into.clone());
        Ok(StepKind::AlterToken(a))
    }
}

/// Sets `into` to an altered copy of the token in `from`; skips the scenario when the
/// alteration needs a JWT and the token is opaque.
pub(super) fn run(step: &Step, spec: &AlterTokenSpec, vars: &mut Vars) -> Result<(), StepEnd> {
    let token = vars
        .get(&spec.from)
        .ok_or_else(|| missing(step, crate::vars::Missing(spec.from.clone())))?;
    let altered = alter(&token, spec.how).map_err(|()| StepEnd::Skip(NOT_JWT.to_owned()))?;
    vars.set(spec.into.clone(), altered);
    Ok(())
}

/// The altered token; `Err` when `how` needs a JWT and the token is not one.
pub fn alter(token: &str, how: AlterHow) -> Result<String, ()> {
    let jwt = split_jwt(token);
    match (how, jwt) {
        (AlterHow::Signature, Some((h, p, s))) if !s.is_empty() => {
            Ok(format!("{h}.{p}.{}", flip_middle(s)))
        }
        (AlterHow::Signature, _) => Ok(flip_middle(token)),
        (AlterHow::AlgNone, Some((_, p, _))) => {
            let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
            Ok(format!("{header}.{p}."))
        }
        (AlterHow::Claims, Some((h, p, s))) => {
            let mut claims = decode_object(p).ok_or(())?;
            widen(&mut claims);
            let payload = serde_json::to_vec(&Value::Object(claims)).map_err(|_| ())?;
            Ok(format!("{h}.{}.{s}", URL_SAFE_NO_PAD.encode(payload)))
        }
        _ => Err(()),
    }
}

/// The character in the middle replaced by another base64url character (`A` ↔ `B`), so
/// the token keeps its shape but not its bytes. The middle is never the last character,
/// whose low bits may be unused padding bits that a decoder ignores.
fn flip_middle(s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return "A".to_owned();
    }
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

/// `push` and `delete` added to every `access` entry's actions; `jti` changed.
fn widen(claims: &mut Map<String, Value>) {
    if let Some(Value::Array(entries)) = claims.get_mut("access") {
        for e in entries {
            if let Some(Value::Array(actions)) = e.get_mut("actions") {
                for a in ["push", "delete"] {
                    if !actions.iter().any(|x| x == a) {
                        actions.push(Value::String(a.to_owned()));
                    }
                }
            }
        }
    }
    let jti = match claims.get("jti") {
        Some(Value::String(j)) => format!("{j}-altered"),
        _ => "registry-conformance-altered".to_owned(),
    };
    claims.insert("jti".to_owned(), Value::String(jti));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(v: &str) -> String {
        URL_SAFE_NO_PAD.encode(v.as_bytes())
    }

    fn jwt() -> String {
        format!(
            "{}.{}.{}",
            b64(r#"{"alg":"ES256","typ":"JWT","kid":"k"}"#),
            b64(
                r#"{"iss":"i","aud":"reg","jti":"j1","access":[{"type":"repository","name":"ns/a","actions":["pull"]}]}"#
            ),
            "c2lnbmF0dXJlLWJ5dGVzLWhlcmUtYW5kLXRoZXJl"
        )
    }

    #[test]
    fn signature_flips_one_character_of_the_signature() {
        let t = jwt();
        let a = alter(&t, AlterHow::Signature).unwrap();
        let (th, tp, ts) = split_jwt(&t).unwrap();
        let (ah, ap, asig) = split_jwt(&a).unwrap();
        assert_eq!((th, tp), (ah, ap));
        assert_eq!(ts.len(), asig.len());
        assert_eq!(
            ts.chars().zip(asig.chars()).filter(|(x, y)| x != y).count(),
            1
        );
        assert!(URL_SAFE_NO_PAD.decode(asig).is_ok(), "still base64url");
        // Opaque tokens too.
        let o = alter("opaque-token-AAAA", AlterHow::Signature).unwrap();
        assert_ne!(o, "opaque-token-AAAA");
        assert_eq!(o.len(), "opaque-token-AAAA".len());
    }

    #[test]
    fn alg_none_keeps_the_claims_and_drops_the_signature() {
        let t = jwt();
        let a = alter(&t, AlterHow::AlgNone).unwrap();
        assert!(a.ends_with('.'));
        let parts: Vec<&str> = a.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(
            decode_object(parts[0]).unwrap()["alg"],
            Value::String("none".into())
        );
        assert_eq!(parts[1], t.split('.').nth(1).unwrap());
    }

    #[test]
    fn claims_widen_access_and_change_jti_keeping_the_signature() {
        let t = jwt();
        let a = alter(&t, AlterHow::Claims).unwrap();
        let (h, p, s) = split_jwt(&a).unwrap();
        assert_eq!(h, t.split('.').next().unwrap());
        assert_eq!(s, t.split('.').nth(2).unwrap());
        let c = decode_object(p).unwrap();
        assert_eq!(
            c["access"][0]["actions"],
            serde_json::json!(["pull", "push", "delete"])
        );
        assert_eq!(c["jti"], "j1-altered");
        assert_eq!(c["aud"], "reg");
    }

    #[test]
    fn opaque_tokens_cannot_be_altered_as_jwts() {
        for t in [
            "opaque",
            "a.b.c",
            &format!("{}.{}.x", b64(r#"{"typ":"JWT"}"#), b64("{}")),
            &format!("{}.{}", b64(r#"{"alg":"ES256"}"#), b64("{}")),
        ] {
            assert!(alter(t, AlterHow::AlgNone).is_err(), "{t}");
            assert!(alter(t, AlterHow::Claims).is_err(), "{t}");
            assert!(alter(t, AlterHow::Signature).is_ok(), "{t}");
        }
    }
}

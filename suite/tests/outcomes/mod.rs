//! Runs the real binary against the embedded reference registry and reads each test's
//! outcome back from the JUnit file's `outcome` properties (what CI dashboards read).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// Runs `registry-conformance ARGS --junit JUNIT` with no `--url` and none of the
/// `REGISTRY_*` variables that could change what runs.
pub fn run_embedded(args: &[&str], junit: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_registry-conformance"))
        .args(args)
        .args(["--color", "never"])
        .arg("--junit")
        .arg(junit)
        .env_remove("REGISTRY_URL")
        .env_remove("REGISTRY_WITHOUT")
        .env_remove("REGISTRY_PROFILE")
        .env_remove("REGISTRY_BASELINE")
        .env_remove("REGISTRY_STRICT")
        .env_remove("REGISTRY_FIXTURES")
        .output()
        .expect("run registry-conformance")
}

fn attr(e: &BytesStart, k: &str) -> String {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == k.as_bytes())
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Explicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
        .unwrap_or_default()
}

/// One testcase's `outcome` and `cause` properties (the cause is empty when it passed).
#[derive(Debug, Clone, Default)]
pub struct Case {
    pub outcome: String,
    pub cause: String,
}

/// Test name (`area::case`) → its outcome and cause, from the JUnit properties.
pub fn cases(junit: &Path) -> BTreeMap<String, Case> {
    let xml = std::fs::read_to_string(junit).unwrap_or_default();
    let mut reader = Reader::from_str(&xml);
    let mut out: BTreeMap<String, Case> = BTreeMap::new();
    let mut name = String::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) if e.name().as_ref() == b"testcase" => {
                name = format!("{}::{}", attr(&e, "classname"), attr(&e, "name"));
            }
            Ok(Event::Empty(e)) if e.name().as_ref() == b"property" => {
                let case = out.entry(name.clone()).or_default();
                match attr(&e, "name").as_str() {
                    "outcome" => case.outcome = attr(&e, "value"),
                    "cause" => case.cause = attr(&e, "value"),
                    _ => {}
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    out
}

/// Test name (`area::case`) → outcome (`pass`, `warn`, `fail`, `skip`, `error`).
pub fn outcomes(junit: &Path) -> BTreeMap<String, String> {
    cases(junit)
        .into_iter()
        .map(|(name, c)| (name, c.outcome))
        .collect()
}

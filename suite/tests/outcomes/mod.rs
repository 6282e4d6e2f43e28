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
        .filter_map(Result::ok)
        .find(|a| a.key.as_ref() == k.as_bytes())
        .map(|a| String::from_utf8_lossy(&a.value).into_owned())
        .unwrap_or_default()
}

/// Test name (`area::case`) → outcome (`pass`, `warn`, `fail`, `skip`, `error`).
pub fn outcomes(junit: &Path) -> BTreeMap<String, String> {
    let xml = std::fs::read_to_string(junit).unwrap_or_default();
    let mut reader = Reader::from_str(&xml);
    let mut out = BTreeMap::new();
    let mut case = String::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) if e.name().as_ref() == b"testcase" => {
                case = format!("{}::{}", attr(&e, "classname"), attr(&e, "name"));
            }
            Event::Empty(e)
                if e.name().as_ref() == b"property" && attr(&e, "name") == "outcome" =>
            {
                out.insert(case.clone(), attr(&e, "value"));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

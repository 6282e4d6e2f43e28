//! JUnit XML: one `<testsuite>` per area, a `<testcase>` per trial (name = scenario id,
//! classname = area), in the shape Jenkins, GitLab and GitHub reporters read.
//!
//! Written with quick-xml's writer (escaping and CDATA) rather than junit-report, which
//! has no `<properties>`: each testcase carries `<property name="outcome">` (so a `warn`,
//! which JUnit has no element for, shows as a passing case with that property), its
//! requirement IDs and profile, and the details in `<system-out>`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use quick_xml::Writer;
use quick_xml::events::{BytesCData, BytesDecl, Event};

use super::{one_line, xml_safe};
use crate::events::{Outcome, ScenarioReport};
use crate::report::summary::Counts;

type W<'a> = Writer<&'a mut dyn Write>;

/// Writes the report, creating the parent directory.
pub fn write(path: &Path, reports: &[ScenarioReport]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    render(&mut file, reports)?;
    file.flush()
}

/// Renders the XML into `out`.
pub fn render(out: &mut dyn Write, reports: &[ScenarioReport]) -> std::io::Result<()> {
    let mut areas: BTreeMap<&str, Vec<&ScenarioReport>> = BTreeMap::new();
    for r in reports {
        areas.entry(&r.area).or_default().push(r);
    }
    let mut w: W = Writer::new_with_indent(out, b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    let total = Counts::of(reports);
    let time: f64 = reports.iter().map(|r| r.duration.as_secs_f64()).sum();
    w.create_element("testsuites")
        .with_attribute(("name", "registry-conformance"))
        .with_attribute(("tests", reports.len().to_string().as_str()))
        .with_attribute(("failures", total.fail.to_string().as_str()))
        .with_attribute(("errors", total.error.to_string().as_str()))
        .with_attribute(("skipped", total.skip.to_string().as_str()))
        .with_attribute(("time", format!("{time:.3}").as_str()))
        .write_inner_content(|w| {
            for (area, list) in &areas {
                suite(w, area, list)?;
            }
            Ok(())
        })?;
    Ok(())
}

fn suite(w: &mut W, area: &str, list: &[&ScenarioReport]) -> std::io::Result<()> {
    let mut c = Counts::default();
    let mut time = 0.0;
    let mut out = String::from("requirements per testcase:\n");
    for r in list {
        c.add(&r.outcome);
        time += r.duration.as_secs_f64();
        out.push_str(&format!("{}: {}\n", r.case, r.requirements.join(", ")));
    }
    w.create_element("testsuite")
        .with_attribute(("name", xml_safe(area).as_str()))
        .with_attribute(("tests", list.len().to_string().as_str()))
        .with_attribute(("failures", c.fail.to_string().as_str()))
        .with_attribute(("errors", c.error.to_string().as_str()))
        .with_attribute(("skipped", c.skip.to_string().as_str()))
        .with_attribute(("warnings", c.warn.to_string().as_str()))
        .with_attribute(("time", format!("{time:.3}").as_str()))
        .write_inner_content(|w| {
            for r in list {
                case(w, r)?;
            }
            cdata(w, "system-out", &out)
        })?;
    Ok(())
}

fn cdata(w: &mut W, name: &str, text: &str) -> std::io::Result<()> {
    w.create_element(name)
        .write_inner_content(|w| cdata_events(w, text))?;
    Ok(())
}

/// `text` as CDATA. A section cannot hold `]]>`, so it is split across two sections and a
/// parser reads back exactly the original text.
fn cdata_events(w: &mut W, text: &str) -> std::io::Result<()> {
    let safe = xml_safe(text);
    let mut rest = safe.as_str();
    while let Some(i) = rest.find("]]>") {
        w.write_event(Event::CData(BytesCData::new(&rest[..i + 2])))?;
        rest = &rest[i + 2..];
    }
    w.write_event(Event::CData(BytesCData::new(rest)))
}

fn case(w: &mut W, r: &ScenarioReport) -> std::io::Result<()> {
    let time = format!("{:.3}", r.duration.as_secs_f64());
    let file = r.file.display().to_string();
    let mut props: Vec<(&str, String)> = vec![
        ("outcome", r.outcome.label().to_owned()),
        ("requirements", r.requirements.join(", ")),
    ];
    if let Some(p) = r.profile {
        props.push(("profile", p.to_string()));
    }
    if let Some(cause) = r.outcome.cause() {
        props.push(("cause", one_line(cause)));
    }
    let mut out = format!("requirements: {}\n", r.requirements.join(", "));
    if !r.title.is_empty() {
        out.push_str(&format!("title: {}\n", r.title));
    }
    if let Some(p) = r.profile {
        out.push_str(&format!("profile: {p}\n"));
    }
    match &r.outcome {
        Outcome::Skip { reason } => out.push_str(&format!("skipped: {reason}\n")),
        Outcome::Warn { details, .. } => {
            out.push_str("outcome: warn (every MUST held; a SHOULD or weaker did not)\n");
            out.push_str(details);
            out.push('\n');
        }
        _ => {}
    }
    w.create_element("testcase")
        .with_attribute(("name", xml_safe(&r.case).as_str()))
        .with_attribute(("classname", xml_safe(&r.area).as_str()))
        .with_attribute(("file", xml_safe(&file).as_str()))
        .with_attribute(("time", time.as_str()))
        .write_inner_content(|w| {
            w.create_element("properties").write_inner_content(|w| {
                for (k, v) in &props {
                    w.create_element("property")
                        .with_attribute(("name", *k))
                        .with_attribute(("value", xml_safe(v).as_str()))
                        .write_empty()?;
                }
                Ok(())
            })?;
            match &r.outcome {
                Outcome::Pass | Outcome::Warn { .. } => {}
                Outcome::Fail {
                    summary, details, ..
                } => {
                    w.create_element("failure")
                        .with_attribute(("type", "registry"))
                        .with_attribute(("message", one_line(summary).as_str()))
                        .write_inner_content(|w| cdata_events(w, details))?;
                }
                Outcome::Error {
                    summary, details, ..
                } => {
                    let kind = if summary.starts_with("could not set up") {
                        "setup"
                    } else {
                        "harness"
                    };
                    w.create_element("error")
                        .with_attribute(("type", kind))
                        .with_attribute(("message", one_line(summary).as_str()))
                        .write_inner_content(|w| cdata_events(w, details))?;
                }
                Outcome::Skip { reason } => {
                    w.create_element("skipped")
                        .with_attribute(("message", one_line(reason).as_str()))
                        .write_empty()?;
                }
            }
            cdata(w, "system-out", &out)
        })?;
    Ok(())
}

//! JUnit XML through `junit-report`: one `<testsuite>` per area, a `<testcase>` per trial
//! (name = scenario id, classname = area).
//!
//! junit-report has no `<properties>`, so the requirement IDs go to each testcase's
//! `<system-out>` (`requirements: PUSH-01, PUSH-08`) and, for the whole area, to the
//! testsuite's `<system-out>` (one `<case>: <IDs>` line per testcase).

use std::collections::BTreeMap;
use std::path::Path;

use junit_report::{Duration, ReportBuilder, TestCaseBuilder, TestSuiteBuilder};

use super::{cdata_safe, one_line};
use crate::events::{Outcome, ScenarioReport};

/// Writes the report, creating the parent directory.
pub fn write(path: &Path, reports: &[ScenarioReport]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut areas: BTreeMap<&str, Vec<&ScenarioReport>> = BTreeMap::new();
    for r in reports {
        areas.entry(&r.area).or_default().push(r);
    }
    let mut report = ReportBuilder::new();
    for (area, list) in areas {
        let mut suite = TestSuiteBuilder::new(area);
        let mut suite_out = String::from("requirements per testcase:\n");
        for r in list {
            suite_out.push_str(&format!("{}: {}\n", r.case, r.requirements.join(", ")));
            suite.add_testcase(case(r));
        }
        suite.set_system_out(&cdata_safe(&suite_out));
        report.add_testsuite(suite.build());
    }
    let file = std::fs::File::create(path)?;
    report
        .build()
        .write_xml(std::io::BufWriter::new(file))
        .map_err(std::io::Error::other)
}

fn case(r: &ScenarioReport) -> junit_report::TestCase {
    let time = Duration::seconds_f64(r.duration.as_secs_f64());
    let mut b = match &r.outcome {
        Outcome::Pass => TestCaseBuilder::success(&r.case, time),
        Outcome::Fail {
            summary, details, ..
        } => {
            let mut b = TestCaseBuilder::failure(&r.case, time, "registry", &one_line(summary));
            b.set_trace(&cdata_safe(details));
            b
        }
        Outcome::Error { summary, details } => {
            let mut b = TestCaseBuilder::error(&r.case, time, "harness", &one_line(summary));
            b.set_trace(&cdata_safe(details));
            b
        }
        Outcome::Skip { reason } => {
            TestCaseBuilder::skipped_with_cause(&r.case, "skipped", &one_line(reason))
        }
    };
    b.set_classname(&r.area);
    b.set_filepath(&r.file.display().to_string());
    let mut out = format!("requirements: {}\n", r.requirements.join(", "));
    if !r.title.is_empty() {
        out.push_str(&format!("title: {}\n", r.title));
    }
    if let Some(p) = r.profile {
        out.push_str(&format!("profile: {p}\n"));
    }
    if let Outcome::Skip { reason } = &r.outcome {
        out.push_str(&format!("skipped: {reason}\n"));
    }
    b.set_system_out(&cdata_safe(&out));
    b.build()
}

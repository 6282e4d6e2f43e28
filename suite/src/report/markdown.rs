//! `summary.md`: the run in a few lines of Markdown for a pull-request comment or a GitHub
//! job summary (`$GITHUB_STEP_SUMMARY` gets the same text appended).
//!
//! Only what renders the same on GitHub and GitLab: headings, a pipe table, lists and code
//! spans; no links (the comment outlives the CI run its artifacts belong to) and no raw
//! HTML. Text from the registry is escaped, flattened to one line and cut short, and every
//! list stops after [`ROWS`] entries: a comment has a size limit (65 536 characters on
//! GitHub) and the full story is in `report.html` and `junit.xml`.

use std::fmt::Write as _;

use super::summary::Counts;
use super::{RunInfo, clean, one_line, verdict};
use crate::events::{Outcome, ScenarioReport};

/// Entries listed per section before "and N more".
pub const ROWS: usize = 50;
/// Characters of a message kept in a table cell.
const CELL: usize = 200;

/// Markdown-escapes one line of text for a table cell or list item: backslash-escapes the
/// characters that start emphasis, code, links or cells, and writes `<`/`>` as entities so
/// nothing becomes HTML.
fn esc(s: &str) -> String {
    let line = one_line(&clean(s));
    let mut out = String::with_capacity(line.len());
    for (i, c) in line.chars().enumerate() {
        if i == CELL {
            out.push('…');
            break;
        }
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            _ => out.push(c),
        }
    }
    out
}

/// A code span that cannot be broken out of (names have no backticks, but be sure).
fn code(s: &str) -> String {
    format!("`{}`", one_line(s).replace('`', "'"))
}

fn ids(list: &[String]) -> String {
    if list.is_empty() {
        "-".to_owned()
    } else {
        esc(&list.join(", "))
    }
}

/// The Markdown text.
pub fn render(info: &RunInfo, reports: &[ScenarioReport]) -> String {
    let c = Counts::of(reports);
    let mut s = String::new();
    let headline = match verdict(&c) {
        "fail" => format!("❌ FAIL: {} failed, {} could not run", c.fail, c.error),
        "warn" => format!("⚠️ PASS with {} warning(s)", c.warn),
        _ => "✅ PASS".to_owned(),
    };
    let _ = writeln!(s, "### registry-conformance: {headline}\n");
    let note = if info.registry_note.is_empty() {
        String::new()
    } else {
        format!(" ({})", esc(&info.registry_note))
    };
    let _ = writeln!(
        s,
        "{} scenarios against {}{note}, profile {}, namespace {}, {}, suite {}{}\n",
        reports.len(),
        code(&info.registry),
        code(&info.profile),
        code(&info.namespace),
        esc(&info.date),
        esc(&info.suite_version),
        if info.strict { ", --strict" } else { "" }
    );
    let _ = writeln!(s, "| outcome | scenarios |\n|:--|--:|");
    for (label, n) in [
        ("pass", c.pass),
        ("warn", c.warn),
        ("fail", c.fail),
        ("skip", c.skip),
        ("error", c.error),
    ] {
        let _ = writeln!(s, "| {label} | {n} |");
    }
    let _ = writeln!(s, "| **total** | **{}** |", reports.len());

    let failed: Vec<&ScenarioReport> = reports
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Fail { .. }))
        .collect();
    let errored: Vec<&ScenarioReport> = reports
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Error { .. }))
        .collect();
    let warned: Vec<&ScenarioReport> = reports
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Warn { .. }))
        .collect();
    table(&mut s, "Failed", &failed);
    table(
        &mut s,
        "Could not run (setup refused or harness error)",
        &errored,
    );
    if !warned.is_empty() {
        let _ = writeln!(
            s,
            "\n#### Warnings ({}): a SHOULD or weaker not met, not failures\n",
            warned.len()
        );
        for r in warned.iter().take(ROWS) {
            let broken = match &r.outcome {
                Outcome::Warn { requirements, .. } => ids(requirements),
                _ => String::new(),
            };
            let _ = writeln!(s, "- {} ({broken})", code(&r.name));
        }
        more(&mut s, warned.len());
    }
    let _ = writeln!(
        s,
        "\nDetails (requests, expected vs actual, exchanges): report.html, results.json and junit.xml in the run's reports."
    );
    s
}

fn table(s: &mut String, title: &str, list: &[&ScenarioReport]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\n#### {title} ({})\n\n| scenario | requirements | problem |\n|:--|:--|:--|",
        list.len()
    );
    for r in list.iter().take(ROWS) {
        let (summary, broken) = match &r.outcome {
            Outcome::Fail {
                summary,
                requirements,
                ..
            }
            | Outcome::Error {
                summary,
                requirements,
                ..
            } => (summary.as_str(), requirements),
            _ => continue,
        };
        // A harness error names no requirement; the scenario's own IDs say what it checks.
        let broken = if broken.is_empty() {
            &r.requirements
        } else {
            broken
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} |",
            code(&r.name),
            ids(broken),
            esc(summary)
        );
    }
    more(s, list.len());
}

fn more(s: &mut String, n: usize) {
    if n > ROWS {
        let _ = writeln!(s, "\n…and {} more.", n - ROWS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::sample_report;
    use crate::report::sample_info;

    fn fail(name: &str, summary: &str) -> ScenarioReport {
        sample_report(
            name,
            &["PUSH-01", "PUSH-08"],
            Outcome::Fail {
                summary: summary.into(),
                details: "> POST ...".into(),
                requirements: vec!["PUSH-08".into()],
                cause: "c".into(),
            },
        )
    }

    #[test]
    fn verdict_counts_failures_and_warnings() {
        let reports = vec![
            fail(
                "push::a",
                "[PUSH-08] header | Location <b>: *expected* present\nmore",
            ),
            sample_report("a::ok", &[], Outcome::Pass),
            sample_report(
                "a::w",
                &["HDR-08"],
                Outcome::Warn {
                    summary: "w".into(),
                    details: String::new(),
                    requirements: vec!["HDR-08".into()],
                    cause: "c".into(),
                },
            ),
        ];
        let md = render(&sample_info(), &reports);
        assert!(
            md.starts_with("### registry-conformance: ❌ FAIL: 1 failed, 0 could not run\n"),
            "{md}"
        );
        assert!(
            md.contains("3 scenarios against `http://127.0.0.1:5000`"),
            "{md}"
        );
        assert!(md.contains("| pass | 1 |\n| warn | 1 |\n| fail | 1 |\n| skip | 0 |\n| error | 0 |\n| **total** | **3** |"), "{md}");
        assert!(
            md.contains(
                "| `push::a` | PUSH-08 | \\[PUSH-08\\] header \\| Location &lt;b&gt;: \\*expected\\* present |"
            ),
            "{md}"
        );
        assert!(md.contains("#### Warnings (1)"), "{md}");
        assert!(md.contains("- `a::w` (HDR-08)"), "{md}");
        assert!(!md.contains("]("), "no links: {md}");
        assert!(!md.contains("Could not run"), "empty sections are left out");
    }

    #[test]
    fn pass_and_long_lists() {
        let ok = render(
            &sample_info(),
            &[sample_report("a::ok", &[], Outcome::Pass)],
        );
        assert!(
            ok.starts_with("### registry-conformance: ✅ PASS\n"),
            "{ok}"
        );
        let many: Vec<ScenarioReport> = (0..ROWS + 7)
            .map(|i| fail(&format!("a::{i:03}"), "x"))
            .collect();
        let md = render(&sample_info(), &many);
        assert_eq!(md.matches("| `a::").count(), ROWS);
        assert!(md.contains("…and 7 more."), "{md}");
    }
}

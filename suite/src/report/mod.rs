//! Sinks of the event stream: JUnit XML, the console/text summary, the coverage matrix,
//! the baseline comparison, and the files written beside the JUnit file: `results.json`
//! (machine-readable, versioned schema), `summary.md` (a pull-request comment) and
//! `report.html` (one self-contained page).

pub mod baseline;
pub mod coverage;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod results_json;
pub mod summary;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::events::ScenarioReport;
use crate::loader::{Catalog, Scenario};

/// What the reports say about the run besides the outcomes. Never credentials: where they
/// came from is in the text summary's header, not here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunInfo {
    /// `CARGO_PKG_VERSION` of the suite.
    pub suite_version: String,
    /// The registry's base URL.
    pub registry: String,
    /// `(embedded reference registry)` and the like, or empty for `--url`.
    pub registry_note: String,
    /// `oci-1.1`, `docker-v2` or `all`.
    pub profile: String,
    /// The repository prefix of the run.
    pub namespace: String,
    /// When the run ended, RFC 3339 in UTC (`2026-12-01T05:30:00Z`).
    pub date: String,
    /// `--strict`: warnings counted as failures.
    pub strict: bool,
}

/// The requirement data the HTML report shows beside the outcomes.
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    /// `fixtures/requirements.json`, if the fixtures have one.
    pub catalog: Option<&'a Catalog>,
    /// The loaded scenarios (for the requirement matrix's "scenarios citing it").
    pub scenarios: &'a [Arc<Scenario>],
}

/// Writes `results.json`, `summary.md` and `report.html` into `dir` (the JUnit file's
/// folder), and appends `summary.md` to `step_summary` (`$GITHUB_STEP_SUMMARY`) if given.
/// Returns the paths written; the first error stops it.
pub fn write_extra(
    dir: &Path,
    info: &RunInfo,
    reports: &[ScenarioReport],
    sources: Sources<'_>,
    step_summary: Option<&Path>,
) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let json = dir.join("results.json");
    std::fs::write(&json, results_json::render(info, reports))?;
    written.push(json);
    let md_text = markdown::render(info, reports);
    let md = dir.join("summary.md");
    std::fs::write(&md, &md_text)?;
    written.push(md);
    if let Some(path) = step_summary {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        f.write_all(md_text.as_bytes())?;
        f.write_all(b"\n")?;
        written.push(path.to_owned());
    }
    let html = dir.join("report.html");
    std::fs::write(&html, html::render(info, reports, sources))?;
    written.push(html);
    Ok(written)
}

/// A registry URL fit for a report: user name and password (`https://u:p@host`) removed.
/// Text that is no URL with a host keeps only what follows its last `@`.
pub fn url_without_userinfo(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.has_host() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.as_str().trim_end_matches('/').to_owned()
        }
        _ => url.rsplit('@').next().unwrap_or(url).to_owned(),
    }
}

/// `time` as RFC 3339 in UTC, to the second (no date crate for one timestamp).
pub fn rfc3339(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The run's verdict: `fail` when a scenario failed or errored, `warn` when only SHOULDs
/// were missed, else `pass` (what the exit code says, warnings aside).
pub fn verdict(c: &summary::Counts) -> &'static str {
    if c.fail + c.error > 0 {
        "fail"
    } else if c.warn > 0 {
        "warn"
    } else {
        "pass"
    }
}

/// Text of a message as it may appear in a report: secrets in JSON fields redacted (the
/// transcripts are already redacted where they are made, [`crate::client`]; this is the
/// second line of defence for text a registry echoed elsewhere) and control characters
/// other than newline and tab dropped.
pub fn clean(s: &str) -> String {
    xml_safe(&crate::redact::redact_json_secrets(s))
}

/// Makes text safe for XML 1.0: drops ANSI colour sequences and control characters other
/// than newline and tab, which no XML parser accepts even escaped.
pub fn xml_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ params final-byte(0x40..=0x7e)
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&d) {
                        break;
                    }
                }
            }
            continue;
        }
        if c == '\n' || c == '\t' || !(c.is_control() || c == '\u{fffe}' || c == '\u{ffff}') {
            out.push(c);
        }
    }
    out
}

/// XML-safe single line for attributes (parsers fold newlines in attributes to spaces).
pub fn one_line(s: &str) -> String {
    xml_safe(s).lines().next().unwrap_or("").to_owned()
}

/// Run metadata for the sinks' unit tests.
#[cfg(test)]
pub(crate) fn sample_info() -> RunInfo {
    RunInfo {
        suite_version: "0.1.0".into(),
        registry: "http://127.0.0.1:5000".into(),
        registry_note: "embedded reference registry".into(),
        profile: "all".into(),
        namespace: "conformance-x".into(),
        date: "2026-12-01T05:30:00Z".into(),
        strict: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_ansi_and_controls() {
        assert_eq!(xml_safe("\u{1b}[31mred\u{1b}[0m\u{7}\r\nx\ty"), "red\nx\ty");
        assert_eq!(one_line("first\nsecond"), "first");
    }

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(
            url_without_userinfo("https://me:s3cr3t@registry.example:5000/"),
            "https://registry.example:5000"
        );
        assert_eq!(
            url_without_userinfo("http://127.0.0.1:5000"),
            "http://127.0.0.1:5000"
        );
        assert_eq!(url_without_userinfo("me:s3cr3t@host"), "host");
    }

    #[test]
    fn rfc3339_dates() {
        let t = |s| rfc3339(UNIX_EPOCH + std::time::Duration::from_secs(s));
        assert_eq!(t(0), "1970-01-01T00:00:00Z");
        assert_eq!(t(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(t(1_796_103_045), "2026-12-01T05:30:45Z");
    }
}

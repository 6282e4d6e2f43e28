//! `report.html`: the run as one self-contained page, for people who open a CI artifact
//! rather than read XML.
//!
//! Self-contained on purpose: the file is opened from an artifact store or a mail, often
//! offline or behind a CSP, so every style is inline and nothing is fetched (no script,
//! style, font or image from elsewhere; the only external URLs are the links to the spec
//! text of each requirement). It reads fully without JavaScript: a few lines of inline
//! script only add the outcome and area filters, which are hidden until the script shows
//! them.
//!
//! Order: the summary (verdict, run metadata, counts, a bar per area), the problems
//! (failures, setup errors, warnings) with their requirements and the full details, every
//! scenario, the requirement matrix, and the skipped scenarios with their reasons.
//! Built into one `String`, every piece of text escaped once on the way in.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use super::summary::Counts;
use super::{RunInfo, Sources, clean, coverage, verdict};
use crate::events::{Outcome, ScenarioReport};
use crate::loader::Requirement;
use crate::model::Profile;

const OUTCOMES: [&str; 5] = ["pass", "warn", "fail", "skip", "error"];

const STYLE: &str = "\
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;max-width:1200px;padding:16px 24px;color:#1f2328;background:#fff}
h1{font-size:24px;margin:8px 0}h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.verdict{padding:10px 14px;border-radius:6px;color:#fff}.v-pass{background:#1a7f37}.v-warn{background:#9a6700}.v-fail{background:#cf222e}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:12px 0}dl.meta dt{font-weight:600}dl.meta dd{margin:0}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f6f8fa}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.o{display:inline-block;min-width:3.2em;text-align:center;border-radius:4px;color:#fff;font-size:12px;font-weight:600;padding:0 4px}
.o-pass{background:#1a7f37}.o-warn{background:#bf8700}.o-fail{background:#cf222e}.o-skip{background:#6e7781}.o-error{background:#8250df}.o-excused,.o-not-run{background:#afb8c1;color:#1f2328}
.bars{display:grid;grid-template-columns:max-content 1fr max-content;gap:4px 10px;align-items:center}
.bar{display:flex;height:14px;background:#eaeef2;border-radius:3px;overflow:hidden}.bar span{display:block;height:100%}
.b-pass{background:#2da44e}.b-warn{background:#d4a72c}.b-fail{background:#cf222e}.b-skip{background:#8c959f}.b-error{background:#8250df}
.problem{border:1px solid #d0d7de;border-left-width:5px;border-radius:4px;margin:10px 0;padding:4px 10px}
.problem.fail{border-left-color:#cf222e}.problem.error{border-left-color:#8250df}.problem.warn{border-left-color:#d4a72c}
.problem summary{cursor:pointer;font-weight:600}.problem ul{margin:6px 0;padding-left:20px}
pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:4px;padding:8px;overflow:auto;max-height:600px;font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap;word-break:break-all}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}.small{font-size:12px;color:#59636e}
#filters{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:6px 10px;margin:12px 0}#filters label{margin-right:10px}
.nw{white-space:nowrap}.hide{display:none!important}
";

/// Filters: outcome checkboxes and an area select toggle `hide` on every element with a
/// `data-outcome` (and, when it has one, `data-area`). Only this script shows them.
const SCRIPT: &str = "\
(function(){var f=document.getElementById('filters');if(!f)return;f.hidden=false;
function apply(){var off={};f.querySelectorAll('input[type=checkbox]').forEach(function(c){if(!c.checked)off[c.value]=1;});
var a=f.querySelector('select').value;document.querySelectorAll('[data-outcome]').forEach(function(e){
var h=off[e.getAttribute('data-outcome')]||(a&&e.hasAttribute('data-area')&&e.getAttribute('data-area')!==a);e.classList.toggle('hide',!!h);});}
f.addEventListener('change',apply);})();
";

/// Appends `s` HTML-escaped (text and attribute values alike).
fn esc(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

/// `<span class="o o-fail">fail</span>`.
fn badge(out: &mut String, label: &str) {
    let class = label.replace(' ', "-");
    let _ = write!(out, "<span class=\"o o-{class}\">{label}</span>");
}

/// A requirement ID, linked to its spec text when the catalog has a URL (only http(s)):
/// the Docker API's section for a scenario run under `docker-v2` when there is one, else
/// the OCI text.
fn req_link(out: &mut String, id: &str, req: Option<&&Requirement>, profile: Option<Profile>) {
    let docker = req
        .and_then(|r| r.docker_url.as_deref())
        .filter(|_| profile == Some(Profile::DockerV2));
    match docker.or_else(|| req.and_then(|r| r.url.as_deref())) {
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
            out.push_str("<a href=\"");
            esc(out, url);
            out.push_str("\">");
            esc(out, id);
            out.push_str("</a>");
        }
        _ => esc(out, id),
    }
}

/// The page.
pub fn render(info: &RunInfo, reports: &[ScenarioReport], sources: Sources<'_>) -> String {
    let reqs: HashMap<&str, &Requirement> = sources
        .catalog
        .map(|c| c.requirements.iter().map(|r| (r.id.as_str(), r)).collect())
        .unwrap_or_default();
    let c = Counts::of(reports);
    let count = |o: &str| match o {
        "pass" => c.pass,
        "warn" => c.warn,
        "fail" => c.fail,
        "skip" => c.skip,
        _ => c.error,
    };
    let mut areas: BTreeMap<&str, Counts> = BTreeMap::new();
    for r in reports {
        areas.entry(&r.area).or_default().add(&r.outcome);
    }
    // Details dominate the size; reserve roughly what they need.
    let mut h = String::with_capacity(
        16 * 1024
            + reports.len() * 600
            + reports
                .iter()
                .map(|r| match &r.outcome {
                    Outcome::Fail { details, .. }
                    | Outcome::Warn { details, .. }
                    | Outcome::Error { details, .. } => details.len() + details.len() / 8,
                    _ => 0,
                })
                .sum::<usize>(),
    );
    let v = verdict(&c);
    let headline = match v {
        "fail" => format!("FAIL: {} failed, {} could not run", c.fail, c.error),
        "warn" => format!("PASS with {} warning(s)", c.warn),
        _ => "PASS".to_owned(),
    };
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n<title>registry-conformance: ");
    esc(&mut h, &headline);
    h.push_str("</title>\n<style>\n");
    h.push_str(STYLE);
    h.push_str("</style></head><body>\n");

    // --- Summary.
    let _ = write!(
        h,
        "<h1 id=\"verdict\" class=\"verdict v-{v}\">registry-conformance: {headline}</h1>\n<dl class=\"meta\">"
    );
    let meta = |h: &mut String, k: &str, val: &str| {
        let _ = write!(h, "<dt>{k}</dt><dd>");
        esc(h, val);
        h.push_str("</dd>");
    };
    let registry = if info.registry_note.is_empty() {
        info.registry.clone()
    } else {
        format!("{} ({})", info.registry, info.registry_note)
    };
    meta(&mut h, "Registry", &registry);
    meta(
        &mut h,
        "Profile",
        &format!(
            "{}{}",
            info.profile,
            if info.strict { ", --strict" } else { "" }
        ),
    );
    meta(&mut h, "Namespace", &info.namespace);
    meta(&mut h, "Date", &info.date);
    meta(&mut h, "Suite version", &info.suite_version);
    h.push_str("</dl>\n<table id=\"counts\"><tr>");
    for o in OUTCOMES {
        let _ = write!(h, "<th>{o}</th>");
    }
    h.push_str("<th>total</th></tr><tr>");
    for o in OUTCOMES {
        let _ = write!(h, "<td class=\"n\" id=\"count-{o}\">{}</td>", count(o));
    }
    let _ = writeln!(
        h,
        "<td class=\"n\" id=\"count-total\">{}</td></tr></table>",
        reports.len()
    );

    h.push_str("<h2>Areas</h2>\n<div class=\"bars\">\n");
    for (area, ac) in &areas {
        let total = ac.pass + ac.warn + ac.fail + ac.skip + ac.error;
        h.push_str("<span>");
        esc(&mut h, area);
        h.push_str("</span><div class=\"bar\">");
        for (o, n) in [
            ("pass", ac.pass),
            ("warn", ac.warn),
            ("fail", ac.fail),
            ("skip", ac.skip),
            ("error", ac.error),
        ] {
            if n > 0 {
                let pct = n as f64 * 100.0 / total.max(1) as f64;
                let _ = write!(
                    h,
                    "<span class=\"b-{o}\" style=\"width:{pct:.2}%\" title=\"{n} {o}\"></span>"
                );
            }
        }
        let _ = writeln!(
            h,
            "</div><span class=\"small\">{} pass, {} warn, {} fail, {} skip, {} error</span>",
            ac.pass, ac.warn, ac.fail, ac.skip, ac.error
        );
    }
    h.push_str("</div>\n");

    // --- Filters (shown by the script only).
    h.push_str("<form id=\"filters\" hidden>Show: ");
    for o in OUTCOMES {
        let _ = write!(
            h,
            "<label><input type=\"checkbox\" value=\"{o}\" checked> {o}</label>"
        );
    }
    h.push_str(" Area: <select><option value=\"\">all</option>");
    for area in areas.keys() {
        h.push_str("<option value=\"");
        esc(&mut h, area);
        h.push_str("\">");
        esc(&mut h, area);
        h.push_str("</option>");
    }
    h.push_str("</select></form>\n");

    // --- Problems.
    let problems: Vec<&ScenarioReport> = reports
        .iter()
        .filter(|r| {
            matches!(
                r.outcome,
                Outcome::Fail { .. } | Outcome::Error { .. } | Outcome::Warn { .. }
            )
        })
        .collect();
    let _ = writeln!(
        h,
        "<h2 id=\"problems\">Failures, errors and warnings ({})</h2>",
        problems.len()
    );
    if problems.is_empty() {
        h.push_str("<p>None: every scenario that ran passed.</p>\n");
    }
    // Failures first, then setup/harness errors, then warnings.
    let rank = |r: &&ScenarioReport| match r.outcome {
        Outcome::Fail { .. } => 0,
        Outcome::Error { .. } => 1,
        _ => 2,
    };
    let mut problems = problems;
    problems.sort_by_key(rank);
    for r in problems {
        let Some((summary, details, broken)) = r.outcome.problem() else {
            continue;
        };
        let label = r.outcome.label();
        let open = if label == "warn" { "" } else { " open" };
        let _ = write!(
            h,
            "<details class=\"problem {label}\" data-outcome=\"{label}\" data-area=\""
        );
        esc(&mut h, &r.area);
        let _ = write!(h, "\"{open}><summary>");
        badge(&mut h, label);
        h.push_str(" <code>");
        esc(&mut h, &r.name);
        h.push_str("</code>: ");
        esc(&mut h, &clean(summary).replace('\n', " "));
        h.push_str("</summary>\n");
        if !r.title.is_empty() {
            h.push_str("<p>");
            esc(&mut h, &r.title);
            h.push_str("</p>");
        }
        // The requirements the failing step breaks, then the rest the scenario cites.
        let mut ids: Vec<&String> = broken.iter().collect();
        ids.extend(r.requirements.iter().filter(|i| !broken.contains(i)));
        if !ids.is_empty() {
            h.push_str("<ul class=\"reqs\">");
            for id in ids {
                let req = reqs.get(id.as_str());
                h.push_str("<li>");
                req_link(&mut h, id, req, r.profile);
                if let Some(req) = req {
                    h.push_str(" <span class=\"small\">");
                    esc(&mut h, &req.level);
                    h.push_str("</span> ");
                    esc(&mut h, &req.summary);
                }
                if broken.contains(id) {
                    h.push_str(" <strong>(broken)</strong>");
                }
                h.push_str("</li>");
            }
            h.push_str("</ul>\n");
        }
        if !details.is_empty() {
            h.push_str("<pre>");
            esc(&mut h, &clean(details));
            h.push_str("</pre>\n");
        }
        h.push_str("</details>\n");
    }

    // --- Every scenario.
    let _ = writeln!(
        h,
        "<h2 id=\"scenarios\">Scenarios ({})</h2>\n<table><tr><th>scenario</th><th>outcome</th><th>requirements</th><th>time (s)</th></tr>",
        reports.len()
    );
    for r in reports {
        let label = r.outcome.label();
        let _ = write!(h, "<tr data-outcome=\"{label}\" data-area=\"");
        esc(&mut h, &r.area);
        h.push_str("\"><td><code>");
        esc(&mut h, &r.name);
        h.push_str("</code></td><td>");
        badge(&mut h, label);
        h.push_str("</td><td class=\"small\">");
        esc(&mut h, &r.requirements.join(", "));
        let _ = writeln!(
            h,
            "</td><td class=\"n\">{:.3}</td></tr>",
            r.duration.as_secs_f64()
        );
    }
    h.push_str("</table>\n");

    // --- Requirement matrix.
    if let Some(cat) = sources.catalog {
        let (rows, t) = coverage::matrix(cat, sources.scenarios, reports);
        let _ = writeln!(
            h,
            "<h2 id=\"matrix\">Requirements</h2>\n<p>{} of {} testable requirements covered by a scenario, {} passed in this run; {} excused.</p>\n<table><tr><th>ID</th><th>level</th><th>requirement</th><th>scenarios</th><th>outcome</th></tr>",
            t.covered, t.testable, t.passed, t.excused
        );
        for row in &rows {
            let req = reqs.get(row.id.as_str());
            let _ = write!(h, "<tr data-outcome=\"{}\"><td class=\"nw\">", row.outcome);
            req_link(&mut h, &row.id, req, None);
            h.push_str("</td><td>");
            esc(&mut h, &row.level);
            h.push_str("</td><td>");
            if let Some(req) = req {
                esc(&mut h, &req.summary);
            }
            if let Some(why) = &row.excused {
                h.push_str(" <span class=\"small\">(excused: ");
                esc(&mut h, why);
                h.push_str(")</span>");
            }
            h.push_str("</td><td class=\"small\">");
            esc(&mut h, &row.scenarios.join(", "));
            h.push_str("</td><td>");
            badge(&mut h, &row.outcome);
            h.push_str("</td></tr>\n");
        }
        h.push_str("</table>\n");
    }

    // --- Skipped.
    let skipped: Vec<(&ScenarioReport, &String)> = reports
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Skip { reason } => Some((r, reason)),
            _ => None,
        })
        .collect();
    let _ = writeln!(h, "<h2 id=\"skipped\">Skipped ({})</h2>", skipped.len());
    if !skipped.is_empty() {
        h.push_str("<table><tr><th>scenario</th><th>reason</th></tr>\n");
        for (r, reason) in skipped {
            h.push_str("<tr data-outcome=\"skip\" data-area=\"");
            esc(&mut h, &r.area);
            h.push_str("\"><td><code>");
            esc(&mut h, &r.name);
            h.push_str("</code></td><td>");
            esc(&mut h, &clean(reason));
            h.push_str("</td></tr>\n");
        }
        h.push_str("</table>\n");
    }
    h.push_str("<script>\n");
    h.push_str(SCRIPT);
    h.push_str("</script>\n</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::sample_report;
    use crate::loader::Catalog;
    use crate::report::sample_info;

    fn req(id: &str, url: &str) -> Requirement {
        Requirement {
            id: id.into(),
            level: "MUST".into(),
            spec: String::new(),
            source: String::new(),
            summary: format!("summary of {id} <&>"),
            excused: None,
            check: None,
            url: Some(url.into()),
            docker_url: Some(format!("https://docs.docker.example/{id}")),
        }
    }

    fn sample() -> (Catalog, Vec<ScenarioReport>) {
        let cat = Catalog {
            requirements: vec![
                req(
                    "PUSH-08",
                    "https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#push",
                ),
                req(
                    "BASE-01",
                    "https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#determining-support",
                ),
            ],
        };
        let mut fail = sample_report(
            "push::blob-upload",
            &["BASE-01", "PUSH-08"],
            Outcome::Fail {
                summary: "[PUSH-08] header Location: expected present".into(),
                details: "> POST /v2/x/blobs/uploads/\n< 202 <script>alert(1)</script>\n< {\"token\":\"s3cr3t\"}".into(),
                requirements: vec!["PUSH-08".into()],
                cause: "[PUSH-08] header Location".into(),
            },
        );
        fail.area = "push".into();
        let mut docker = fail.clone();
        docker.name = "push::blob-upload@docker-v2".into();
        docker.profile = Some(Profile::DockerV2);
        let reports = vec![
            sample_report("a::ok", &["BASE-01"], Outcome::Pass),
            sample_report(
                "a::skipped",
                &[],
                Outcome::Skip {
                    reason: "capability delete is off".into(),
                },
            ),
            fail,
            docker,
        ];
        (cat, reports)
    }

    #[test]
    fn summary_failures_matrix_and_skips() {
        let (cat, reports) = sample();
        let html = render(
            &sample_info(),
            &reports,
            Sources {
                catalog: Some(&cat),
                scenarios: &[],
            },
        );
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(
            html.contains("<h1 id=\"verdict\" class=\"verdict v-fail\">registry-conformance: FAIL: 2 failed, 0 could not run</h1>"),
            "{html}"
        );
        for (o, n) in [
            ("pass", 1),
            ("warn", 0),
            ("fail", 2),
            ("skip", 1),
            ("error", 0),
            ("total", 4),
        ] {
            assert!(html.contains(&format!("id=\"count-{o}\">{n}</td>")), "{o}");
        }
        assert!(html.contains("<dd>http://127.0.0.1:5000 (embedded reference registry)</dd>"));
        assert!(html.contains("<dd>2026-12-01T05:30:00Z</dd>") && html.contains("<dd>0.1.0</dd>"));
        // Area bars: widths in CSS.
        assert!(
            html.contains("<span class=\"b-pass\" style=\"width:50.00%\""),
            "{html}"
        );
        // The failure: requirement with its summary (escaped) and spec link, the details.
        assert!(html.contains(
            "<details class=\"problem fail\" data-outcome=\"fail\" data-area=\"push\" open>"
        ));
        assert!(html.contains(
            "<a href=\"https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#push\">PUSH-08</a> <span class=\"small\">MUST</span> summary of PUSH-08 &lt;&amp;&gt; <strong>(broken)</strong>"
        ), "{html}");
        // Under docker-v2 the Docker API's section.
        assert!(html.contains("<a href=\"https://docs.docker.example/PUSH-08\">PUSH-08</a>"));
        assert!(html.contains("&lt; 202 &lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("s3cr3t"), "secrets are redacted");
        // Matrix and skips.
        assert!(html.contains("<h2 id=\"matrix\">Requirements</h2>"));
        assert!(html.contains("<td>capability delete is off</td>"));
        // Exactly one script: ours.
        assert_eq!(html.matches("<script").count(), 1);
    }

    #[test]
    fn self_contained() {
        let (cat, reports) = sample();
        let html = render(
            &sample_info(),
            &reports,
            Sources {
                catalog: Some(&cat),
                scenarios: &[],
            },
        );
        let lower = html.to_ascii_lowercase();
        for banned in [
            " src=", "<link", "@import", "url(", "<img", "<iframe", "<object",
        ] {
            assert!(!lower.contains(banned), "{banned} in the page");
        }
        // Every href is a spec link from the catalog.
        for part in html.split("href=\"").skip(1) {
            let url = &part[..part.find('"').unwrap()];
            assert!(
                cat.requirements
                    .iter()
                    .any(|r| r.url.as_deref() == Some(url) || r.docker_url.as_deref() == Some(url)),
                "external link {url}"
            );
        }
    }

    #[test]
    fn no_catalog_no_problems() {
        let reports = vec![sample_report("a::ok", &["X-1"], Outcome::Pass)];
        let html = render(
            &sample_info(),
            &reports,
            Sources {
                catalog: None,
                scenarios: &[],
            },
        );
        assert!(html.contains("class=\"verdict v-pass\">registry-conformance: PASS</h1>"));
        assert!(html.contains("<p>None: every scenario that ran passed.</p>"));
        assert!(!html.contains("id=\"matrix\""));
    }
}

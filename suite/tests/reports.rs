//! The reports beside the JUnit file, end to end: the real binary against the embedded
//! registry with one deliberate defect (so there are failures to show), `--report-dir` in a
//! temporary folder. All four files must be there and agree with JUnit's counts, the
//! Markdown must also land in `$GITHUB_STEP_SUMMARY`, and `report.html` must render in
//! headless Chromium with the counts and a failure in the DOM.
//!
//! Without Chromium (`chromium`, `chromium-browser` or `google-chrome` on PATH, or
//! `$CHROMIUM`) the render test prints why and passes, unless `REPORTS_REQUIRE_CHROMIUM` is
//! set (CI sets it after installing Debian's `chromium`). It leaves a screenshot in the
//! workspace's `reports/report.png`, kept by CI as an artifact.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

/// A requirement this defect breaks shows up as a failure (reference-server/src/defects.rs).
const DEFECT: &str = "blob-head-no-content-length";

struct Run {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    step_summary: PathBuf,
    exit: Option<i32>,
    stderr: String,
}

/// One suite run shared by the tests of this file (a full run takes a while).
fn run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        let step_summary = tmp.path().join("step-summary.md");
        std::fs::write(&step_summary, "earlier step\n").unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_registry-conformance"))
            .arg("--report-dir")
            .arg(&dir)
            .args(["--reference-defect", DEFECT, "--color", "never"])
            .env("GITHUB_STEP_SUMMARY", &step_summary)
            .env_remove("REGISTRY_URL")
            .env_remove("REGISTRY_WITHOUT")
            .env_remove("REGISTRY_PROFILE")
            .env_remove("REGISTRY_BASELINE")
            .env_remove("REGISTRY_STRICT")
            .env_remove("REGISTRY_FIXTURES")
            .env_remove("REGISTRY_JUNIT")
            .env_remove("REGISTRY_REPORT_DIR")
            .current_dir(tmp.path())
            .output()
            .expect("run registry-conformance");
        Run {
            dir,
            step_summary,
            exit: out.status.code(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            _tmp: tmp,
        }
    })
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name))
        .unwrap_or_else(|e| panic!("{name} in {}: {e}", dir.display()))
}

/// Outcome counts from the JUnit file's `outcome` properties (pass, warn, fail, skip, error).
fn junit_counts(xml: &str) -> [usize; 5] {
    ["pass", "warn", "fail", "skip", "error"].map(|o| {
        xml.matches(&format!("name=\"outcome\" value=\"{o}\""))
            .count()
    })
}

#[test]
fn report_dir_holds_four_reports_that_agree_with_junit() {
    let run = run();
    assert_eq!(
        run.exit,
        Some(101),
        "a defect must fail the run: {}",
        run.stderr
    );
    let junit = read(&run.dir, "junit.xml");
    let [pass, warn, fail, skip, error] = junit_counts(&junit);
    let total = pass + warn + fail + skip + error;
    assert!(
        fail > 0 && total > 50,
        "{pass} {warn} {fail} {skip} {error}"
    );
    assert!(run.dir.join("summary.txt").is_file());

    let json: serde_json::Value = serde_json::from_str(&read(&run.dir, "results.json")).unwrap();
    assert_eq!(json["schema"], "registry-conformance/results/v1");
    assert_eq!(
        json["counts"],
        serde_json::json!({"total": total, "pass": pass, "warn": warn, "fail": fail, "skip": skip, "error": error})
    );
    assert_eq!(json["tests"].as_array().unwrap().len(), total);
    assert_eq!(json["verdict"], "fail");
    assert_eq!(json["run"]["registry_note"], "embedded reference registry");
    assert!(
        json["run"]["registry"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    assert_eq!(json["run"]["profile"], "all");
    let failed: Vec<&serde_json::Value> = json["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["outcome"] == "fail")
        .collect();
    assert!(failed.iter().any(|t| {
        t["broken_requirements"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "PULL-21")
    }));

    let md = read(&run.dir, "summary.md");
    for (o, n) in [
        ("pass", pass),
        ("warn", warn),
        ("fail", fail),
        ("skip", skip),
        ("error", error),
    ] {
        assert!(md.contains(&format!("| {o} | {n} |")), "{o} {n}:\n{md}");
    }
    assert!(md.contains(&format!("| **total** | **{total}** |")), "{md}");
    assert!(md.contains("PULL-21"), "{md}");
    let step = std::fs::read_to_string(&run.step_summary).unwrap();
    assert_eq!(
        step,
        format!("earlier step\n{md}\n"),
        "appended, not replaced"
    );

    let html = read(&run.dir, "report.html");
    for (o, n) in [
        ("pass", pass),
        ("warn", warn),
        ("fail", fail),
        ("skip", skip),
        ("error", error),
        ("total", total),
    ] {
        assert!(
            html.contains(&format!("id=\"count-{o}\">{n}</td>")),
            "{o} {n}"
        );
    }
    assert!(html.contains("<details class=\"problem fail\""));
    // Without JavaScript everything is shown (nothing starts hidden) and the filters, which
    // need it, stay hidden. (Chromium's --dump-dom prints nothing with scripts disabled, so
    // this is checked on the file.)
    assert!(html.contains("<form id=\"filters\" hidden>"));
    assert!(!html.contains("class=\"hide"));
    let lower = html.to_ascii_lowercase();
    for banned in [" src=", "<link", "@import", "url("] {
        assert!(!lower.contains(banned), "{banned} in report.html");
    }
    for part in html.split("href=\"").skip(1) {
        assert!(
            part.starts_with("https://"),
            "non-spec link: {}",
            &part[..40.min(part.len())]
        );
    }
    eprintln!(
        "sizes: report.html {} B, results.json {} B, summary.md {} B, junit.xml {} B",
        html.len(),
        read(&run.dir, "results.json").len(),
        md.len(),
        junit.len()
    );
}

/// Chromium's binary: `$CHROMIUM`, else the first of the usual names on PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|n| std::env::split_paths(&path).map(move |d| d.join(n)))
        .find(|p| p.is_file())
}

#[test]
fn report_html_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("REPORTS_REQUIRE_CHROMIUM").is_none(),
            "REPORTS_REQUIRE_CHROMIUM is set but no chromium is installed"
        );
        eprintln!(
            "SKIPPED report_html_renders_in_headless_chromium: no chromium on PATH \
             (apt-get install chromium, or set CHROMIUM=/path/to/chrome); CI installs it"
        );
        return;
    };
    let run = run();
    let page = run.dir.join("report.html");
    let url = format!("file://{}", page.display());
    let profile = tempfile::tempdir().unwrap();
    let headless = |extra: &[&str]| {
        Command::new(&browser)
            .args([
                "--headless",
                "--disable-gpu",
                "--no-sandbox",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(&url)
            .output()
            .expect("run chromium")
    };
    let started = Instant::now();
    let dom = headless(&["--dump-dom"]);
    let took = started.elapsed();
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    eprintln!("chromium --dump-dom of report.html: {took:.2?}");
    let json: serde_json::Value = serde_json::from_str(&read(&run.dir, "results.json")).unwrap();
    for o in ["pass", "warn", "fail", "skip", "error", "total"] {
        let n = &json["counts"][o];
        assert!(
            dom.contains(&format!("id=\"count-{o}\">{n}</td>")),
            "{o} {n}"
        );
    }
    let first_fail = json["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["outcome"] == "fail")
        .unwrap();
    assert!(dom.contains(&format!(
        "<code>{}</code>",
        first_fail["name"].as_str().unwrap()
    )));
    assert!(dom.contains("class=\"verdict v-fail\""));
    // The script ran: the filter form is shown (without JavaScript it stays hidden).
    assert!(
        dom.contains("<form id=\"filters\">"),
        "filters still hidden"
    );

    // The filters: a copy of the page whose extra script unchecks "pass" and picks the area
    // of the first failure leaves only that area's non-passing scenario rows visible.
    let area = first_fail["area"].as_str().unwrap();
    let filtered = run.dir.join("filtered.html");
    let html = read(&run.dir, "report.html");
    let click = format!(
        "<script>var f=document.getElementById('filters');\
         f.querySelector('input[value=pass]').checked=false;\
         f.querySelector('select').value='{area}';\
         f.dispatchEvent(new Event('change'));</script></body>"
    );
    std::fs::write(&filtered, html.replace("</body>", &click)).unwrap();
    let out = Command::new(&browser)
        .args(["--headless", "--disable-gpu", "--no-sandbox", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", filtered.display()))
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    let visible: Vec<&str> = dom
        .split("<tr data-outcome=\"")
        .skip(1)
        .map(|row| &row[..row.find('>').unwrap()])
        .filter(|row| row.contains("data-area=") && !row.contains("hide"))
        .collect();
    assert!(!visible.is_empty(), "the filter hid everything");
    for row in &visible {
        assert!(
            !row.starts_with("pass") && row.contains(&format!("data-area=\"{area}\"")),
            "still shown: {row}"
        );
    }

    // The screenshot CI keeps (reports/ is not committed).
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../reports");
    std::fs::create_dir_all(&shots).unwrap();
    let png = shots.join("report.png");
    let shot = headless(&[
        &format!("--screenshot={}", png.display()),
        "--window-size=1280,1600",
    ]);
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG"),
        "not a PNG: {}",
        png.display()
    );
}

//! What a bench run shows: a progress bar on a terminal (indicatif, on stderr) or one line
//! per measurement otherwise, a plain table on stdout at the end, and `--json FILE`.
//!
//! # JSON (`--json FILE`), schema `registry-conformance-bench/1`
//!
//! ```text
//! {
//!   "schema": "registry-conformance-bench/1",
//!   "suite_version": "0.1.0", "date": "2026-12-01T10:00:00Z",
//!   "seed": 1, "concurrency": 4, "duration_s": 3.0, "repeat": 3,
//!   "sizes": [1048576, 67108864], "chunk_size": 8388608,
//!   "registries": [{"label": "A", "url": "...", "note": "embedded reference registry",
//!                   "credentials": "none", "namespace": "bench-abcd1234"}, ...],
//!   "client_ceiling": {                      // null with --no-ceiling
//!     "sha256_mib_s": 1790.0, "sha_extensions": true,
//!     "generate_mib_s": 9000.0, "generate_and_hash_mib_s": 1700.0,
//!     "push_mib_s": [[size, MiB/s], ...], "pull_mib_s": [[size, MiB/s], ...],
//!     "small_push_req_s": 5000.0, "get_req_s": 20000.0 },
//!   "results": [{
//!     "workload": "push-monolithic",         // see Workload::name
//!     "size": 67108864,                      // bytes; null for request-rate workloads
//!     "concurrency": 1, "registry": "A",
//!     "unit": "MiB/s",                       // or "req/s"
//!     "value": 812.3,                        // median of "runs"; null if not measured
//!     "runs": [810.0, 812.3, 820.1],         // one figure per repetition
//!     "latency_ms": {"count": 4000, "p50": 0.6, "p90": 0.8, "p99": 1.9, "max": 7.0},
//!                                            // request-rate workloads only, else null
//!     "operations": 3, "supported": true,
//!     "note": null,                          // e.g. "not supported: ..."
//!     "error": null }, ...],                 // the error that stopped it
//!   "ratios": [{"workload": "...", "size": 67108864, "a_over_b": 1.27}, ...],
//!                                            // A/B in speed terms (>1: A faster)
//!   "cleanup": [{"registry": "A",
//!                "deleted": 120,                // over the run: after each workload, and at the end
//!                "left": 0,                     // still there after the final pass
//!                "sessions_cancelled": 0,       // upload sessions of failed pushes cancelled
//!                "sessions_left": 0,            // ... that could not be
//!                "note": null}, ...]
//! }
//! ```

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::{CaseResult, Report, format_size};

/// The JSON schema name (bumped on incompatible changes).
pub const SCHEMA: &str = "registry-conformance-bench/1";

/// Progress: a bar on a terminal, else a line per measurement on stderr.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar of `total` measurements when `bar`, else plain lines.
    pub fn new(bar: bool, total: u64) -> Progress {
        let bar = bar.then(|| {
            let pb = ProgressBar::new(total);
            pb.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            pb.enable_steady_tick(Duration::from_millis(200));
            pb
        });
        Progress { bar }
    }

    /// A setup step.
    pub fn status(&mut self, msg: &str) {
        match &self.bar {
            Some(b) => b.set_message(msg.to_owned()),
            None => eprintln!("bench: {msg}"),
        }
    }

    /// A measurement starts.
    pub fn start(&mut self, what: &str) {
        if let Some(b) = &self.bar {
            b.set_message(what.to_owned());
        }
    }

    /// A measurement ended with `result`.
    pub fn done(&mut self, what: &str, result: &str) {
        match &self.bar {
            Some(b) => {
                b.inc(1);
                if result.starts_with("error") {
                    b.println(format!("{what}: {result}"));
                }
            }
            None => eprintln!("bench: {what}: {result}"),
        }
    }

    /// Removes the bar.
    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

fn cell(r: &CaseResult) -> String {
    match (r.value, &r.error, r.supported) {
        (_, Some(_), _) => "error".to_owned(),
        (_, None, false) => "not supported".to_owned(),
        (Some(v), None, true) if r.unit == "MiB/s" => format!("{v:.1} MiB/s"),
        (Some(v), None, true) => format!("{v:.0} req/s"),
        (None, None, true) => "-".to_owned(),
    }
}

/// Lines of columns, left-aligned, two spaces apart.
fn columns(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            let _ = write!(line, "{c:<w$}  ", w = widths[i]);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The plain-text report.
pub fn table(rep: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "registry-conformance bench: seed {}, concurrency {}, {} repetition(s), {} s per request-rate run",
        rep.seed, rep.concurrency, rep.repeat, rep.duration_s
    );
    for r in &rep.registries {
        let _ = writeln!(
            out,
            "  {}: {}{}  (credentials: {}, namespace {})",
            r.label,
            r.url,
            if r.note.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.note)
            },
            r.credentials,
            r.namespace
        );
    }
    out.push('\n');
    let labels: Vec<&str> = rep.registries.iter().map(|r| r.label.as_str()).collect();
    let compare = labels.len() == 2;
    let mut header = vec!["workload".to_owned(), "size".to_owned(), "conc".to_owned()];
    header.extend(labels.iter().map(|l| (*l).to_owned()));
    if compare {
        header.push("A/B".to_owned());
    }
    let mut rows = vec![header];
    let mut lat_rows = vec![{
        let mut h = vec!["latency ms p50 / p90 / p99".to_owned(), "conc".to_owned()];
        h.extend(labels.iter().map(|l| (*l).to_owned()));
        h
    }];
    let mut errors = Vec::new();
    let firsts = rep.results.iter().filter(|r| r.registry == labels[0]);
    for first in firsts {
        let same: Vec<&CaseResult> = labels
            .iter()
            .filter_map(|l| {
                rep.results.iter().find(|r| {
                    r.registry == *l && r.workload == first.workload && r.size == first.size
                })
            })
            .collect();
        let mut row = vec![
            first.workload.clone(),
            first
                .size
                .map(format_size)
                .unwrap_or_else(|| "-".to_owned()),
            first.concurrency.to_string(),
        ];
        row.extend(same.iter().map(|r| cell(r)));
        if compare {
            let ratio = rep
                .ratios
                .iter()
                .find(|x| x.workload == first.workload && x.size == first.size)
                .and_then(|x| x.a_over_b);
            row.push(ratio.map_or("-".to_owned(), |v| format!("{v:.2}")));
        }
        rows.push(row);
        if first.latency_ms.is_some() {
            let mut lrow = vec![first.workload.clone(), first.concurrency.to_string()];
            lrow.extend(same.iter().map(|r| {
                r.latency_ms.map_or("-".to_owned(), |l| {
                    format!("{:.2} / {:.2} / {:.2}", l.p50, l.p90, l.p99)
                })
            }));
            lat_rows.push(lrow);
        }
        for r in &same {
            if let Some(e) = &r.error {
                errors.push(format!(
                    "  {}{} on {}: {e}",
                    r.workload,
                    r.size
                        .map(|s| format!(" {}", format_size(s)))
                        .unwrap_or_default(),
                    r.registry
                ));
            } else if let Some(n) = &r.note {
                let line = format!("  {} on {}: {n}", r.workload, r.registry);
                if !errors.contains(&line) {
                    errors.push(line);
                }
            }
        }
    }
    out.push_str(&columns(&rows));
    if lat_rows.len() > 1 {
        out.push('\n');
        out.push_str(&columns(&lat_rows));
    }
    if compare {
        out.push_str(
            "\nA/B = A's figure divided by B's, in speed terms (MiB/s or req/s): above 1, A \
             (--url) is faster; below 1, B (--compare-url) is.\n",
        );
    }
    out.push_str(
        "Figures are medians over the repetitions; pushes are timed from the POST to the \
         201 of the closing request.\n",
    );
    if let Some(c) = &rep.client_ceiling {
        let _ = writeln!(
            out,
            "\nclient ceiling (this client against a null sink on loopback; a registry figure \
             near these means the client, not the registry, set it):"
        );
        let _ = writeln!(
            out,
            "  sha256 alone {:.0} MiB/s (CPU SHA extensions: {}), generate {:.0} MiB/s, \
             generate+hash {:.0} MiB/s",
            c.sha256_mib_s,
            match c.sha_extensions {
                Some(true) => "yes",
                Some(false) => "no",
                None => "unknown",
            },
            c.generate_mib_s,
            c.generate_and_hash_mib_s
        );
        let list = |v: &[(u64, f64)]| {
            v.iter()
                .map(|(s, r)| format!("{} {r:.0} MiB/s", format_size(*s)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !c.push_mib_s.is_empty() {
            let _ = writeln!(out, "  push (POST + PUT): {}", list(&c.push_mib_s));
            let _ = writeln!(out, "  pull (GET): {}", list(&c.pull_mib_s));
        }
        let _ = writeln!(
            out,
            "  small pushes {:.0} req/s (one connection), GETs {:.0} req/s (concurrency {})",
            c.small_push_req_s, c.get_req_s, rep.concurrency
        );
    }
    if !errors.is_empty() {
        out.push_str("\nerrors and notes:\n");
        out.push_str(&errors.join("\n"));
        out.push('\n');
    }
    out.push_str("\ncleanup:");
    for c in &rep.cleanup {
        let _ = write!(
            out,
            " {}: {} deleted, {} left",
            c.registry, c.deleted, c.left
        );
        if let Some(n) = &c.note {
            let _ = write!(out, " ({n})");
        }
        out.push(';');
    }
    out.pop();
    out.push('\n');
    out
}

/// Writes the report as JSON (pretty, one file).
pub fn write_json(path: &Path, rep: &Report) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(rep).map_err(std::io::Error::other)?;
    std::fs::write(path, text + "\n")
}

//! How a run shows itself while it goes: one updating progress line on a terminal, the
//! libtest lines (one per trial) in logs and pipes, or nothing but the final summary.
//!
//! Why: a run has a few hundred trials; on a terminal their lines scroll the summary's
//! context away, while CI logs want every line. The progress line is drawn on stderr from
//! the harness's own event stream ([`crate::events`]), so it knows the current area and
//! the failures so far; libtest-mimic's own lines then go to a log file beside the JUnit
//! file (its `--logfile`), so nothing is lost.

use std::io::{IsTerminal, Write};
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;

use crate::events::{Event, ScenarioReport};

/// The run's console output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Display {
    /// libtest-mimic's lines (`--format libtest|pretty|terse|json`); the default when
    /// stdout or stderr is not a terminal.
    #[default]
    Libtest,
    /// One updating line on stderr (`--format progress`); the default on a terminal.
    Progress,
    /// Only the final summary (`--quiet`).
    Quiet,
}

impl Display {
    /// The default display: a progress line when both stdout and stderr are terminals.
    pub fn default_for_console() -> Display {
        if std::io::stdout().is_terminal() && std::io::stderr().is_terminal() {
            Display::Progress
        } else {
            Display::Libtest
        }
    }

    /// Whether libtest-mimic's own lines go to a log file instead of stdout.
    pub fn hides_libtest(self) -> bool {
        self != Display::Libtest
    }
}

/// The trials libtest-mimic will run for `filter`, `skip` and `exact` (its own rules: a
/// filter or skip matches a name containing it, or equal to it with `--exact`), so the
/// progress line knows its total.
pub fn selected(names: &[String], args: &libtest_mimic::Arguments) -> usize {
    let hit = |name: &str, pat: &str| {
        if args.exact {
            name == pat
        } else {
            name.contains(pat)
        }
    };
    names
        .iter()
        .filter(|n| args.filter.as_deref().is_none_or(|f| hit(n, f)))
        .filter(|n| !args.skip.iter().any(|s| hit(n, s)))
        .count()
}

/// The events of a run being consumed on a thread of their own.
pub struct Watcher {
    handle: JoinHandle<Vec<ScenarioReport>>,
}

impl Watcher {
    /// Consumes `rx` until every sender is gone, drawing the progress line when `display`
    /// is [`Display::Progress`].
    pub fn spawn(rx: Receiver<Event>, total: usize, display: Display) -> Watcher {
        let handle = std::thread::spawn(move || {
            let mut line = Line::new(total, display == Display::Progress);
            let mut out = Vec::new();
            for e in rx {
                match e {
                    Event::Started { name } => line.started(&name),
                    Event::Finished(r) => {
                        line.finished(&r);
                        out.push(*r);
                    }
                }
            }
            line.clear();
            out.sort_by(|a, b| a.name.cmp(&b.name));
            out
        });
        Watcher { handle }
    }

    /// The reports, sorted by name (as [`crate::events::collect`] gives them).
    pub fn finish(self) -> Vec<ScenarioReport> {
        self.handle.join().unwrap_or_default()
    }
}

/// The progress line's state.
struct Line {
    total: usize,
    done: usize,
    failed: usize,
    area: String,
    draw: bool,
}

impl Line {
    fn new(total: usize, draw: bool) -> Line {
        Line {
            total,
            done: 0,
            failed: 0,
            area: String::new(),
            draw,
        }
    }

    fn started(&mut self, name: &str) {
        self.area = name.split("::").next().unwrap_or(name).to_owned();
        self.show();
    }

    fn finished(&mut self, r: &ScenarioReport) {
        self.done += 1;
        if r.outcome.is_failure() {
            self.failed += 1;
        }
        self.show();
    }

    fn text(&self) -> String {
        format!(
            "{}/{} done, {} failed, area {}",
            self.done, self.total, self.failed, self.area
        )
    }

    fn show(&self) {
        if self.draw {
            // \r and clear-to-end-of-line: the line is redrawn in place.
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[K{}", self.text());
            let _ = e.flush();
        }
    }

    fn clear(&self) {
        if self.draw {
            let mut e = std::io::stderr().lock();
            let _ = writeln!(e, "\r\x1b[K{}", self.text());
            let _ = e.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Outcome, sample_report};

    #[test]
    fn counts_selected_trials() {
        let names: Vec<String> = ["a::x", "a::y", "b::x"].map(String::from).to_vec();
        let mut args = libtest_mimic::Arguments::default();
        assert_eq!(selected(&names, &args), 3);
        args.filter = Some("x".into());
        assert_eq!(selected(&names, &args), 2);
        args.skip = vec!["b::".into()];
        assert_eq!(selected(&names, &args), 1);
        args.exact = true;
        args.filter = Some("a::y".into());
        assert_eq!(selected(&names, &args), 1);
    }

    #[test]
    fn line_counts_failures_and_area() {
        let mut l = Line::new(2, false);
        l.started("pull::p.one");
        l.finished(&sample_report("pull::p.one", &[], Outcome::Pass));
        l.started("push::p.two");
        l.finished(&sample_report(
            "push::p.two",
            &[],
            Outcome::Skip { reason: "r".into() },
        ));
        assert_eq!(l.text(), "2/2 done, 0 failed, area push");
    }
}

//! The circuit breaker: after a number of requests in a row that got no complete answer
//! (a timeout, a reset, garbage, a body broken off, a redirect loop), the registry is taken
//! to have stopped answering, and the rest of the run sends nothing more.
//!
//! Why: every scenario already ends within `--scenario-timeout`, but a registry that died
//! half-way through a run would otherwise cost every remaining scenario its own timeouts
//! (about 290 scenarios × a few requests × `--request-timeout`: hours with the defaults).
//! An operator wants to hear "it stopped answering" at once, with the error that said so,
//! and every scenario still gets an outcome (an `error` naming the reason) in the reports.
//!
//! Only an exchange that went wrong on the wire counts; any complete answer, whatever its
//! status, resets the count: a registry answering `500` to everything is answering, and
//! its scenarios fail one by one with what it said. A request body the suite itself broke
//! off on purpose (`abort_after`) is not counted either.

use std::sync::Mutex;
use std::sync::OnceLock;

/// What every message about the tripped breaker starts with.
pub const STOPPED: &str = "registry stopped answering";

/// Default for `--max-transport-failures`.
pub const DEFAULT_LIMIT: usize = 10;

/// Counts transport failures in a row across the whole run (every trial shares it).
#[derive(Debug, Default)]
pub struct Breaker {
    /// Failures in a row that trip it; 0: never.
    limit: usize,
    /// Failures in a row so far.
    count: Mutex<usize>,
    /// Set once, when it trips: the message every later request and scenario carries.
    tripped: OnceLock<String>,
}

impl Breaker {
    /// A breaker tripping after `limit` failures in a row (0: never).
    pub fn new(limit: usize) -> Breaker {
        Breaker {
            limit,
            ..Breaker::default()
        }
    }

    /// A complete answer arrived: the registry is alive.
    pub fn success(&self) {
        if let Ok(mut c) = self.count.lock() {
            *c = 0;
        }
    }

    /// A request got no complete answer (`what`: the client's description of the fault).
    pub fn failure(&self, what: &str) {
        if self.limit == 0 || self.tripped.get().is_some() {
            return;
        }
        let Ok(mut c) = self.count.lock() else {
            return;
        };
        *c += 1;
        if *c >= self.limit {
            let message = format!(
                "{STOPPED}: {} requests in a row got no complete answer (the last: {}); \
                 the scenarios after that were not run (--max-transport-failures {} sets \
                 how many failures in a row give up, 0 never)",
                self.limit,
                first_line(what),
                self.limit
            );
            if self.tripped.set(message.clone()).is_ok() {
                eprintln!("registry-conformance: {message}");
            }
        }
    }

    /// The message, once it has tripped.
    pub fn tripped(&self) -> Option<&str> {
        self.tripped.get().map(String::as_str)
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_after_the_limit_in_a_row_only() {
        let b = Breaker::new(3);
        b.failure("timeout");
        b.failure("timeout");
        b.success();
        b.failure("reset");
        b.failure("reset");
        assert!(b.tripped().is_none());
        b.failure("connection reset by the registry");
        let m = b.tripped().unwrap();
        assert!(m.starts_with(STOPPED) && m.contains("connection reset by the registry"));
    }

    #[test]
    fn zero_never_trips() {
        let b = Breaker::new(0);
        for _ in 0..100 {
            b.failure("timeout");
        }
        assert!(b.tripped().is_none());
    }
}

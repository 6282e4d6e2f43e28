//! Two registries in one run: alternation and ratios.
//!
//! On a shared machine the speed available drifts (other builds, the kernel writing back
//! what the previous push left in the page cache). Running all of A and then all of B
//! would charge that drift to one of them. So every repetition of every workload runs on
//! both, back to back, and the order flips each repetition (A B, B A, A B, ...): drift
//! within a pair hits both, and whatever going second costs (or gains) is shared evenly.
//!
//! Ratios are always **A / B in speed terms** (MiB/s or requests/s of `--url` divided by
//! those of `--compare-url`): above 1 means A (`--url`) was faster, below 1 slower.

use serde::Serialize;

use super::CaseResult;

/// The order targets run in for repetition `rep` (indices into the target list).
pub fn order(rep: usize, targets: usize) -> Vec<usize> {
    let mut o: Vec<usize> = (0..targets).collect();
    if rep % 2 == 1 {
        o.reverse();
    }
    o
}

/// A / B of one workload (and size).
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    /// Workload name.
    pub workload: String,
    /// Blob size in bytes, for sized workloads.
    pub size: Option<u64>,
    /// A's figure divided by B's (speed: above 1, A is faster); `None` when either is
    /// missing (error, not supported).
    pub a_over_b: Option<f64>,
}

/// The ratio for each case present for both `a` and `b`.
pub fn ratios(results: &[CaseResult], a: &str, b: &str) -> Vec<Ratio> {
    results
        .iter()
        .filter(|r| r.registry == a)
        .map(|ra| {
            let rb = results
                .iter()
                .find(|r| r.registry == b && r.workload == ra.workload && r.size == ra.size);
            let a_over_b = match (ra.value, rb.and_then(|r| r.value)) {
                (Some(x), Some(y)) if y > 0.0 => Some(x / y),
                _ => None,
            };
            Ratio {
                workload: ra.workload.clone(),
                size: ra.size,
                a_over_b,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_flips_every_repetition() {
        assert_eq!(order(0, 2), vec![0, 1]);
        assert_eq!(order(1, 2), vec![1, 0]);
        assert_eq!(order(2, 2), vec![0, 1]);
        assert_eq!(order(1, 1), vec![0]);
    }

    #[test]
    fn ratios_are_a_over_b() {
        let mk = |reg: &str, v: Option<f64>| CaseResult {
            workload: "pull".into(),
            size: Some(1),
            registry: reg.into(),
            value: v,
            ..CaseResult::default()
        };
        let r = ratios(&[mk("A", Some(300.0)), mk("B", Some(100.0))], "A", "B");
        assert_eq!(r.len(), 1);
        assert!((r[0].a_over_b.unwrap() - 3.0).abs() < 1e-9);
        let r = ratios(&[mk("A", Some(300.0)), mk("B", None)], "A", "B");
        assert_eq!(r[0].a_over_b, None);
    }
}

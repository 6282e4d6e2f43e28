//! Percentiles, medians and the request-rate driver.
//!
//! Percentiles are nearest-rank (the smallest sample with at least p % of the samples at
//! or below it): no interpolation, so a reported p99 is a latency that really happened.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

/// The nearest-rank `p`-th percentile (0 < p ≤ 100) of ascending `sorted`; `None` when
/// empty.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The median (mean of the two middle values for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    /// Samples.
    pub count: usize,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

impl Latency {
    /// From samples (any order); `None` when there are none.
    pub fn of(samples: &[Duration]) -> Option<Latency> {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        Some(Latency {
            count: ms.len(),
            p50: percentile(&ms, 50.0)?,
            p90: percentile(&ms, 90.0)?,
            p99: percentile(&ms, 99.0)?,
            max: *ms.last()?,
        })
    }
}

/// What a request-rate run did.
#[derive(Debug, Clone, Default)]
pub struct RateRun {
    /// Operations completed.
    pub ops: u64,
    /// Wall time from start to the last worker's end.
    pub elapsed: Duration,
    /// One latency per operation.
    pub latencies: Vec<Duration>,
}

impl RateRun {
    /// Operations per second.
    pub fn rate(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs `op` in a loop on `concurrency` tasks for `duration` (an operation started before
/// the deadline finishes and counts). The first error stops every task and is returned.
pub async fn drive<F, Fut>(concurrency: usize, duration: Duration, op: F) -> anyhow::Result<RateRun>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for worker in 0..concurrency.max(1) {
        let op = op.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                if let Err(e) = op(worker).await {
                    stop.store(true, Ordering::Relaxed);
                    return Err(e);
                }
                lat.push(t.elapsed());
            }
            Ok(lat)
        }));
    }
    let mut run = RateRun::default();
    let mut first_err = None;
    for t in tasks {
        match t.await {
            Ok(Ok(lat)) => run.latencies.extend(lat),
            Ok(Err(e)) => {
                first_err.get_or_insert(e);
            }
            Err(e) => {
                first_err.get_or_insert(anyhow::anyhow!("a bench task panicked: {e}"));
            }
        }
    }
    run.elapsed = start.elapsed();
    run.ops = run.latencies.len() as u64;
    match first_err {
        Some(e) => Err(e),
        None => Ok(run),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 90.0), Some(90.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&v, 100.0), Some(100.0));
        assert_eq!(percentile(&v, 0.1), Some(1.0));
        let few = [1.0, 2.0, 3.0];
        assert_eq!(percentile(&few, 50.0), Some(2.0));
        assert_eq!(percentile(&few, 99.0), Some(3.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn latency_from_unsorted_samples() {
        let samples: Vec<Duration> = [5u64, 1, 4, 2, 3, 10, 9, 8, 7, 6]
            .iter()
            .map(|ms| Duration::from_millis(*ms))
            .collect();
        let l = Latency::of(&samples).unwrap();
        assert_eq!(l.count, 10);
        assert!((l.p50 - 5.0).abs() < 1e-9);
        assert!((l.p90 - 9.0).abs() < 1e-9);
        assert!((l.p99 - 10.0).abs() < 1e-9);
        assert!((l.max - 10.0).abs() < 1e-9);
        assert!(Latency::of(&[]).is_none());
    }

    #[test]
    fn drive_counts_operations_and_stops_on_error() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let run = rt
            .block_on(drive(2, Duration::from_millis(30), |_| async {
                tokio::task::yield_now().await;
                Ok(())
            }))
            .unwrap();
        assert!(run.ops > 0);
        assert_eq!(run.ops as usize, run.latencies.len());
        let err = rt.block_on(drive(2, Duration::from_secs(30), |w| async move {
            if w == 1 {
                anyhow::bail!("boom")
            }
            tokio::task::yield_now().await;
            Ok(())
        }));
        assert_eq!(err.unwrap_err().to_string(), "boom");
    }
}

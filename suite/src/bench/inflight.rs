//! The bound on requests in flight against one registry: `--concurrency`, whatever runs.
//!
//! The concurrent workloads start exactly `--concurrency` tasks, but that alone would not
//! bound what the registry sees: a clean-up wave, a session cancelled after a failure or a
//! re-primed token could add to it. So every request to a registry takes one of its
//! [`Slots`] first and gives it back only when the response has been read to the end or
//! dropped — a request is in flight until its body is consumed, not just until the
//! headers came. Sequential work holds one slot at a time; nothing waits for a slot it
//! already holds (a request does not send another while it holds one), so the bound
//! cannot deadlock.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// One registry's slots: at most this many requests in flight.
#[derive(Debug, Clone)]
pub struct Slots {
    sem: Arc<Semaphore>,
}

/// A held slot, given back on drop.
pub type Slot = OwnedSemaphorePermit;

impl Slots {
    /// `n` slots (at least one).
    pub fn new(n: usize) -> Slots {
        Slots {
            sem: Arc::new(Semaphore::new(n.max(1))),
        }
    }

    /// Waits for a free slot.
    pub async fn take(&self) -> Slot {
        self.sem
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed")
    }
}

/// `resp`, with `slot` held until its body has been read to the end or dropped.
pub fn hold(resp: reqwest::Response, slot: Slot) -> reqwest::Response {
    let resp: hyper::Response<reqwest::Body> = resp.into();
    resp.map(|inner| {
        reqwest::Body::wrap(Held {
            inner,
            slot: Some(slot),
        })
    })
    .into()
}

/// A response body that owns the slot its request took.
struct Held {
    inner: reqwest::Body,
    slot: Option<Slot>,
}

impl Body for Held {
    type Data = Bytes;
    type Error = reqwest::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, reqwest::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        // The end of the body (or an error, which ends it) frees the slot at once, so a
        // caller that keeps the response around does not keep the slot.
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            self.slot = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use http_body_util::Full;

    use super::super::session::{Endpoint, Target};
    use super::*;

    /// A loopback server counting the requests in flight (from a request's head arriving
    /// until its answer is handed back) and the peak. It holds every request until all
    /// `total` have arrived, or until `gate` are in flight and none arrived for 300 ms (or
    /// none for 5 s): a client that allows more than `gate` at once has them all pile up
    /// here, one that allows `gate` reaches it.
    async fn counting_server(gate: usize, total: usize) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let arrivals = Arc::new(AtomicUsize::new(0));
        let last = Arc::new(std::sync::Mutex::new(tokio::time::Instant::now()));
        let p2 = peak.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (now, peak, arrivals, last) =
                    (now.clone(), p2.clone(), arrivals.clone(), last.clone());
                let svc = hyper::service::service_fn(move |_req| {
                    let (now, peak, arrivals, last) =
                        (now.clone(), peak.clone(), arrivals.clone(), last.clone());
                    async move {
                        peak.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                        arrivals.fetch_add(1, Ordering::SeqCst);
                        *last.lock().unwrap() = tokio::time::Instant::now();
                        loop {
                            let idle = last.lock().unwrap().elapsed();
                            let held = now.load(Ordering::SeqCst);
                            if arrivals.load(Ordering::SeqCst) >= total
                                || (held >= gate && idle >= Duration::from_millis(300))
                                || idle >= Duration::from_secs(5)
                            {
                                break;
                            }
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                        now.fetch_sub(1, Ordering::SeqCst);
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(
                            vec![7u8; 64 << 10],
                        ))))
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(sock), svc),
                );
            }
        });
        (url, peak)
    }

    /// Eight requests at once through a target of two slots: the server never sees more
    /// than two in flight, and does see two.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_target_never_has_more_requests_in_flight_than_its_slots() {
        let (url, peak) = counting_server(2, 8).await;
        let ep = Endpoint {
            base: reqwest::Url::parse(&url).unwrap(),
            auth: crate::auth::Auth::None,
            auth_source: "none".to_owned(),
            ca_cert: None,
            insecure: false,
            request_timeout: Duration::from_secs(30),
        };
        let t = Arc::new(Target::new("A", url.clone(), &ep, "bench-t", 2).unwrap());
        // No credentials: nothing to prime.
        t.refresh("bench-t/r").await;
        let sends = (0..8).map(|_| {
            let t = t.clone();
            let u = t.api("/v2/bench-t/r/blobs/sha256:00");
            tokio::spawn(async move {
                let resp = t.send("bench-t/r", |c| c.get(u.clone())).await.unwrap();
                super::super::session::drain(resp).await.unwrap()
            })
        });
        for s in futures_util::future::join_all(sends).await {
            assert_eq!(s.unwrap(), 64 << 10);
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn slots_bound_and_come_back() {
        let s = Slots::new(2);
        let a = s.take().await;
        let _b = s.take().await;
        assert_eq!(s.sem.available_permits(), 0);
        drop(a);
        let _c = s.take().await;
        assert_eq!(Slots::new(0).sem.available_permits(), 1);
    }
}

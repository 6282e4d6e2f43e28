//! Closing connections that make no progress (`Config::idle_timeout`).
//!
//! A connection is cut when, for the idle timeout, it moved no byte in a direction that is
//! the client's to move: no answer byte accepted by the client while we have some to send,
//! and, while no request is being handled, no byte received. That covers a client that
//! opens a connection and says nothing, one that stops halfway through a request head (on
//! top of hyper's header timeout, which doesn't cover the very first bytes the HTTP/1-or-2
//! detection reads), a keep-alive or HTTP/2 connection left idle, and one that stops
//! reading a download. A body trickling in during a request is the business of
//! `limits::with_idle_timeout`, which can still answer 408.
//!
//! Reads are not timed while a request is in flight because hyper keeps a read pending
//! then (to notice a client hanging up), and the server may legitimately be busy for longer
//! than the timeout (hashing a large blob, waiting for a session lock); time the server
//! spends must never be held against the client. Hence a wrapper of our own rather than a
//! crate like `tokio-io-timeout`, whose read and write timeouts count every pending read.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// What a connection's requests are doing, shared by its service and its IO.
#[derive(Debug)]
pub struct Activity {
    in_flight: AtomicUsize,
    /// When a request last started or ended: idleness is counted from there at the earliest.
    changed: Mutex<Instant>,
}

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            changed: Mutex::new(Instant::now()),
        })
    }

    /// Marks a request in flight until the guard is dropped.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.touch();
        InFlight(self.clone())
    }

    fn touch(&self) {
        *self.changed.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    fn busy(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) > 0
    }

    fn changed(&self) -> Instant {
        *self.changed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A request in flight (see [`Activity::begin`]).
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An IO stream that fails with `TimedOut` once it made no progress for the idle timeout
/// (see the module comment for what counts).
pub struct IdleIo<S> {
    inner: S,
    idle: Duration,
    /// Due at the last progress plus `idle`; only polled while we are waiting for the client.
    deadline: Pin<Box<Sleep>>,
    activity: Arc<Activity>,
}

impl<S> IdleIo<S> {
    /// `idle` zero: never times out.
    pub fn new(inner: S, idle: Duration, activity: Arc<Activity>) -> Self {
        // Beyond a year is "never" in practice, and keeps `Instant + idle` from overflowing.
        let idle = idle.min(Duration::from_secs(365 * 24 * 3600));
        IdleIo {
            inner,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
            activity,
        }
    }

    fn progress(&mut self) {
        if !self.idle.is_zero() {
            self.deadline.as_mut().reset(Instant::now() + self.idle);
        }
    }

    /// Whether the client has been idle too long; registers for a wake-up otherwise.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        if self.idle.is_zero() {
            return false;
        }
        let earliest = self.activity.changed() + self.idle;
        if self.deadline.deadline() < earliest {
            self.deadline.as_mut().reset(earliest);
        }
        self.deadline.as_mut().poll(cx).is_ready()
    }

    fn timed_out(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "connection idle for {} s (the idle timeout)",
                self.idle.as_secs_f64()
            ),
        )
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.progress();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending if !self.activity.busy() && self.expired(cx) => {
                tracing::debug!("closing a connection idle for the idle timeout");
                Poll::Ready(Err(self.timed_out()))
            }
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.progress();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending if self.expired(cx) => {
                tracing::debug!("closing a connection whose client stopped reading");
                Poll::Ready(Err(self.timed_out()))
            }
            other => other,
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.progress();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(self.timed_out())),
            other => other,
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(self.timed_out())),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

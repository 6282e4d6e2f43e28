//! Binding, serving and graceful shutdown, and the connection-level limits.
//!
//! Plain HTTP and HTTPS share one accept loop around hyper-util's auto builder (HTTP/1.1,
//! and HTTP/2 by ALPN or prior knowledge), configured from [`Config`]: request heads of at
//! most `max_header_bytes` (431), `header_timeout` to send one, `idle_timeout` without
//! progress (`crate::idle`), at most `max_connections` at once. `warp::serve` gives no access
//! to those settings, so it isn't used.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::idle::{Activity, IdleIo};
use crate::routes;
use crate::state::Registry;

/// A registry serving on a bound address until [`RunningRegistry::shutdown`] or drop.
///
/// Dropping it also starts a graceful shutdown, but doesn't wait for it.
pub struct RunningRegistry {
    addr: SocketAddr,
    tls: bool,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    grace: Duration,
}

impl RunningRegistry {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://addr` or `https://addr` (with TLS).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Stops accepting connections, lets in-flight requests finish (up to the configured
    /// grace period, then they are cut), and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(self.grace, &mut task).await.is_err()
        {
            tracing::warn!("grace period over, closing remaining connections");
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for RunningRegistry {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Binds `addr` (port 0 allowed) and serves the registry on the current tokio runtime,
/// over HTTPS when `config.tls` is set.
pub async fn start(config: Config, addr: SocketAddr) -> io::Result<RunningRegistry> {
    let grace = config.shutdown_grace;
    let tls = config.tls.clone();
    let limits = ConnLimits::from(&config);
    let registry = Arc::new(Registry::open(config)?);
    crate::maintenance::spawn(&registry);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let acceptor = tls
        .as_ref()
        .map(|t| tokio_rustls::TlsAcceptor::from(t.server.clone()));
    let task = tokio::spawn(serve(listener, acceptor, registry, limits, stopped));
    tracing::info!(%addr, tls = tls.is_some(), "registry listening");
    Ok(RunningRegistry {
        addr,
        tls: tls.is_some(),
        stop: Some(stop),
        task: Some(task),
        grace,
    })
}

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// hyper's smallest HTTP/1 read buffer; `max_buf_size` panics below it.
const MIN_HEADER_BYTES: usize = 8192;

/// The connection-level limits of [`Config`].
#[derive(Clone, Copy)]
struct ConnLimits {
    max_header_bytes: usize,
    header_timeout: Duration,
    idle_timeout: Duration,
    max_connections: usize,
}

impl From<&Config> for ConnLimits {
    fn from(c: &Config) -> Self {
        ConnLimits {
            max_header_bytes: c.max_header_bytes.max(MIN_HEADER_BYTES),
            header_timeout: c.header_timeout,
            idle_timeout: c.idle_timeout,
            max_connections: c.max_connections,
        }
    }
}

impl ConnLimits {
    /// The HTTP settings every connection is served with.
    ///
    /// - HTTP/1: the read buffer is capped at `max_header_bytes`, and a head that doesn't
    ///   fit gets hyper's automatic `431 Request Header Fields Too Large` (no body) and the
    ///   connection is closed; so does a head with more than 100 header fields (hyper's
    ///   `max_headers`, kept). The buffer also bounds how much of a body is read from the
    ///   socket at once (64 KiB instead of hyper's ~400 KiB: more, smaller reads, while the
    ///   disk still gets 1 MiB writes, see `routes::uploads`). A head not complete
    ///   within `header_timeout` closes the connection without an answer (hyper sends none).
    /// - HTTP/2: `SETTINGS_MAX_HEADER_LIST_SIZE` is `max_header_bytes`; a bigger header block
    ///   gets a 431 on that stream (h2 answers it and resets the stream), the connection
    ///   lives on. No keep-alive pings: a client that answers them would keep an idle
    ///   connection open forever; the idle timeout closes idle connections instead.
    fn builder(&self) -> Builder<TokioExecutor> {
        let mut b = Builder::new(TokioExecutor::new());
        b.http1()
            .timer(TokioTimer::new())
            .max_buf_size(self.max_header_bytes)
            .header_read_timeout((!self.header_timeout.is_zero()).then_some(self.header_timeout));
        b.http2()
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(self.max_header_bytes).unwrap_or(u32::MAX));
        b
    }
}

/// The accept loop, for plain TCP and TLS alike: one task per connection, so a failed
/// handshake or a broken connection never stops the loop; past `max_connections`, new
/// connections wait in the listen backlog. On stop, listening ends and open connections
/// are shut down gracefully (in-flight requests finish; `RunningRegistry::shutdown` cuts
/// them after the grace period).
async fn serve(
    listener: tokio::net::TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    registry: Arc<Registry>,
    limits: ConnLimits,
    stopped: oneshot::Receiver<()>,
) {
    let filter = routes::filter(registry);
    let builder = Arc::new(limits.builder());
    let slots =
        (limits.max_connections > 0).then(|| Arc::new(Semaphore::new(limits.max_connections)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(stopped);
    loop {
        let slot = match &slots {
            Some(s) => tokio::select! {
                permit = s.clone().acquire_owned() => match permit {
                    Ok(p) => Some(p),
                    Err(_) => break,
                },
                _ = &mut stopped => break,
            },
            None => None,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stopped => break,
        };
        let _ = tcp.set_nodelay(true);
        let activity = Activity::new();
        let io = IdleIo::new(tcp, limits.idle_timeout, activity.clone());
        let service = InFlightService {
            inner: TowerToHyperService::new(warp::service(filter.clone())),
            activity,
        };
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        let builder = builder.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let result = match acceptor {
                None => {
                    let conn = builder.serve_connection(TokioIo::new(io), service);
                    watcher.watch(conn).await
                }
                Some(acceptor) => {
                    let stream =
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(io)).await {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "TLS handshake timed out");
                                return;
                            }
                        };
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(conn).await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// The routes, telling the connection's [`Activity`] when a request is being handled (see
/// `crate::idle`).
#[derive(Clone)]
struct InFlightService<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S, R> hyper::service::Service<R> for InFlightService<S>
where
    S: hyper::service::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn call(&self, req: R) -> Self::Future {
        let guard = self.activity.begin();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let result = fut.await;
            drop(guard);
            result
        })
    }
}

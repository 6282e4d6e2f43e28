//! Binding, serving and graceful shutdown.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Config;
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
    let registry = Arc::new(Registry::open(config)?);
    crate::maintenance::spawn(&registry);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = match &tls {
        None => {
            let server = warp::serve(routes::filter(registry))
                .incoming(listener)
                .graceful(async move {
                    // A dropped sender also means "stop".
                    let _ = stopped.await;
                });
            tokio::spawn(server.run())
        }
        Some(tls) => tokio::spawn(serve_tls(listener, tls.server.clone(), registry, stopped)),
    };
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

/// The HTTPS accept loop (see `crate::tls`): one task per connection, so a failed
/// handshake or a broken connection never stops the loop; on stop, listening ends and
/// open connections are shut down gracefully (in-flight requests finish).
async fn serve_tls(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    registry: Arc<Registry>,
    stopped: oneshot::Receiver<()>,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let filter = routes::filter(registry);
    let graceful = GracefulShutdown::new();
    tokio::pin!(stopped);
    loop {
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
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(warp::service(filter.clone()));
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
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
            let builder = Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

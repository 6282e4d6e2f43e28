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
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    grace: Duration,
}

impl RunningRegistry {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
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

/// Binds `addr` (port 0 allowed) and serves the registry on the current tokio runtime.
pub async fn start(config: Config, addr: SocketAddr) -> io::Result<RunningRegistry> {
    let grace = config.shutdown_grace;
    let registry = Arc::new(Registry::open(config)?);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let server = warp::serve(routes::filter(registry))
        .incoming(listener)
        .graceful(async move {
            // A dropped sender also means "stop".
            let _ = stopped.await;
        });
    let task = tokio::spawn(server.run());
    tracing::info!(%addr, "registry listening");
    Ok(RunningRegistry {
        addr,
        stop: Some(stop),
        task: Some(task),
        grace,
    })
}

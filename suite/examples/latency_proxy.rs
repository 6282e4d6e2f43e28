//! A TCP proxy that puts a fixed one-way delay in each direction: a distant registry on
//! loopback, for measuring the suite at a given round-trip time (issue 13;
//! `reference-server/bench/distant.sh` runs it).
//!
//! ```sh
//! cargo run --release -p suite --example latency-proxy -- \
//!     --listen 127.0.0.1:5081 --upstream 127.0.0.1:5080 --delay-ms 25
//! ```
//!
//! A delay line, not a queue of sleeps: every chunk read is stamped on arrival and written
//! out at arrival + delay, while the reader goes on reading. So a 1 MiB body costs one
//! delay plus its transfer time, not one delay per chunk, and many requests on one
//! connection (HTTP/2) overlap as they would on a real link. Bandwidth is not limited.
//!
//! The TCP handshake costs a round trip as on a real link: the kernel completes it on
//! loopback at once, so the first bytes a client sends on a new connection are forwarded
//! no earlier than 3 × delay after it connected (SYN, SYN-ACK, then the data's own way).
//! A client that opens a connection per request pays for it, as it would across a network.
//!
//! Only loopback addresses are accepted, on both sides: this is a benchmark tool, never a
//! relay. Options: `--listen ADDR`, `--upstream ADDR`, `--delay-ms N` (one way, default 25),
//! `--quiet` (no per-connection lines on stderr).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Bytes read at once.
const READ_CHUNK: usize = 64 * 1024;
/// Chunks in flight per direction (at most 64 MiB): the reader waits when the writer is
/// this far behind, which only happens when the far side does not read.
const IN_FLIGHT: usize = 1024;

struct Options {
    listen: SocketAddr,
    upstream: SocketAddr,
    delay: Duration,
    quiet: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: latency-proxy --listen 127.0.0.1:PORT --upstream 127.0.0.1:PORT \
         [--delay-ms N (one way, default 25)] [--quiet]"
    );
    std::process::exit(2)
}

fn parse_args() -> Options {
    let mut listen = None;
    let mut upstream = None;
    let mut delay_ms = 25u64;
    let mut quiet = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--listen" => listen = Some(value()),
            "--upstream" => upstream = Some(value()),
            "--delay-ms" => delay_ms = value().parse().unwrap_or_else(|_| usage()),
            "--quiet" => quiet = true,
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    let addr = |what: &str, v: Option<String>| -> SocketAddr {
        let Some(v) = v else { usage() };
        let a: SocketAddr = v.parse().unwrap_or_else(|e| {
            eprintln!("latency-proxy: {what} {v}: {e}");
            std::process::exit(2)
        });
        if !a.ip().is_loopback() {
            eprintln!("latency-proxy: {what} {a}: only loopback addresses are allowed");
            std::process::exit(2)
        }
        a
    };
    Options {
        listen: addr("--listen", listen),
        upstream: addr("--upstream", upstream),
        delay: Duration::from_millis(delay_ms),
        quiet,
    }
}

#[tokio::main]
async fn main() {
    let opts = Arc::new(parse_args());
    let listener = match TcpListener::bind(opts.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("latency-proxy: cannot listen on {}: {e}", opts.listen);
            std::process::exit(1)
        }
    };
    eprintln!(
        "latency-proxy: {} -> {}, {} ms each way ({} ms round trip)",
        opts.listen,
        opts.upstream,
        opts.delay.as_millis(),
        2 * opts.delay.as_millis()
    );
    let connections = Arc::new(AtomicU64::new(0));
    loop {
        let (client, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("latency-proxy: accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let accepted = Instant::now();
        let n = connections.fetch_add(1, Ordering::Relaxed) + 1;
        let opts = opts.clone();
        tokio::spawn(async move {
            if let Err(e) = serve(client, accepted, &opts).await
                && !opts.quiet
            {
                eprintln!("latency-proxy: connection {n} from {peer}: {e}");
            }
            if !opts.quiet {
                eprintln!("latency-proxy: connection {n} from {peer} closed");
            }
        });
    }
}

async fn serve(client: TcpStream, accepted: Instant, opts: &Options) -> std::io::Result<()> {
    let upstream = TcpStream::connect(opts.upstream).await?;
    client.set_nodelay(true)?;
    upstream.set_nodelay(true)?;
    let (cr, cw) = client.into_split();
    let (ur, uw) = upstream.into_split();
    // Client → upstream: nothing before the handshake's round trip plus the way there.
    let up = delay_line(cr, uw, opts.delay, Some(accepted + 3 * opts.delay));
    let down = delay_line(ur, cw, opts.delay, None);
    let (a, b) = tokio::join!(up, down);
    a.and(b)
}

/// Copies `from` to `to`, each chunk written `delay` after it was read (and not before
/// `not_before`); the end of the stream (FIN) travels with the same delay.
async fn delay_line(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    delay: Duration,
    not_before: Option<Instant>,
) -> std::io::Result<()> {
    let (tx, mut rx) = mpsc::channel::<(Instant, Option<Vec<u8>>)>(IN_FLIGHT);
    let reader = async move {
        loop {
            let mut buf = vec![0u8; READ_CHUNK];
            // A reset is passed on as an end of stream.
            let n: usize = from.read(&mut buf).await.unwrap_or_default();
            let mut due = Instant::now() + delay;
            if let Some(nb) = not_before {
                due = due.max(nb);
            }
            buf.truncate(n);
            let chunk = (n > 0).then_some(buf);
            let end = chunk.is_none();
            if tx.send((due, chunk)).await.is_err() || end {
                return;
            }
        }
    };
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            match chunk {
                Some(bytes) => to.write_all(&bytes).await?,
                None => {
                    let _ = to.shutdown().await;
                    return Ok(());
                }
            }
        }
        Ok::<(), std::io::Error>(())
    };
    let ((), w) = tokio::join!(reader, writer);
    w
}

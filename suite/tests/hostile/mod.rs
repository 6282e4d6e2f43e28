//! A hostile registry: a raw tokio listener on a loopback port that answers `GET /v2/`
//! properly (or hangs on it) and meets every other request with a transport fault.
//!
//! Written on a bare `TcpListener` rather than the scripted server of `tests/common`,
//! because these faults live below HTTP (half-sent heads, resets with `SO_LINGER 0`,
//! bytes that are not HTTP at all) where no server library would follow.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One way of not answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    /// Reads the request, never answers.
    Hang,
    /// Sends a status line and headers (`Content-Length: 100`), then nothing.
    HangAfterHead,
    /// Closes the connection right after reading the request (FIN).
    Close,
    /// Resets the connection right after reading the request (`SO_LINGER 0`: RST).
    Reset,
    /// Writes bytes that are not HTTP, then closes.
    Garbage,
    /// Promises `Content-Length: 1000`, sends 10 bytes, closes.
    ShortBody,
    /// Promises `Content-Length: 1000`, sends 10 bytes, then nothing.
    ShortBodyThenHang,
    /// `307` to the very URL asked for, forever.
    RedirectSelf,
    /// `307` from A to B and back (`/__bounce/a` ↔ `/__bounce/b`).
    RedirectPingPong,
    /// `307` to another loopback port where nobody ever answers.
    RedirectToHangingPort,
    /// A valid little response, one byte per second.
    Slow,
    /// `200` with a chunked body that never ends, as fast as the socket takes it.
    Endless,
}

impl Mode {
    /// Every mode, for a run that meets them all.
    pub const ALL: [Mode; 12] = [
        Mode::Hang,
        Mode::HangAfterHead,
        Mode::Close,
        Mode::Reset,
        Mode::Garbage,
        Mode::ShortBody,
        Mode::ShortBodyThenHang,
        Mode::RedirectSelf,
        Mode::RedirectPingPong,
        Mode::RedirectToHangingPort,
        Mode::Slow,
        Mode::Endless,
    ];
}

/// How the non-`/v2/` requests are met.
#[derive(Debug, Clone)]
pub enum Faults {
    /// Every request the same way.
    Always(Mode),
    /// Request n (counting from 0) gets `modes[n % len]`: one run meets all of them.
    Rotate(Vec<Mode>),
}

/// A running hostile registry.
pub struct Hostile {
    pub addr: SocketAddr,
    /// How many requests met each mode (redirect follow-ups included).
    pub met: Arc<Mutex<BTreeMap<Mode, usize>>>,
    /// Requests for `/v2/` answered (or hung on).
    pub v2_requests: Arc<AtomicUsize>,
}

impl Hostile {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

struct Shared {
    faults: Faults,
    v2_hangs: bool,
    counter: AtomicUsize,
    met: Arc<Mutex<BTreeMap<Mode, usize>>>,
    v2_requests: Arc<AtomicUsize>,
    hanging_port: SocketAddr,
}

/// Starts the registry on the current runtime. `v2_hangs`: `GET /v2/` hangs too (the
/// preflight case); otherwise it answers `200 {}` so the run gets past the preflight.
pub async fn start(faults: Faults, v2_hangs: bool) -> Hostile {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // The other port of `RedirectToHangingPort`: accepts, reads, never answers.
    let hanging = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hanging_port = hanging.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((sock, _)) = hanging.accept().await {
            tokio::spawn(async move {
                let mut sock = sock;
                let _ = read_head(&mut sock).await;
                hang(sock).await;
            });
        }
    });
    let met = Arc::new(Mutex::new(BTreeMap::new()));
    let v2_requests = Arc::new(AtomicUsize::new(0));
    let shared = Arc::new(Shared {
        faults,
        v2_hangs,
        counter: AtomicUsize::new(0),
        met: met.clone(),
        v2_requests: v2_requests.clone(),
        hanging_port,
    });
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let shared = shared.clone();
            tokio::spawn(async move {
                let _ = connection(sock, shared).await;
            });
        }
    });
    Hostile {
        addr,
        met,
        v2_requests,
    }
}

/// Holds the connection open without a word, for longer than any test runs.
async fn hang(sock: TcpStream) {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    drop(sock);
}

/// Reads up to the end of the request head; returns the request target. The body, if
/// any, is left unread (a reset with unread data is an RST anyway, and a hang need not
/// read it).
async fn read_head(sock: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = sock.read(&mut byte).await.ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let line = head.lines().next()?;
    line.split_whitespace().nth(1).map(str::to_owned)
}

async fn connection(mut sock: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    loop {
        let Some(target) = read_head(&mut sock).await else {
            return Ok(());
        };
        let path = target.split('?').next().unwrap_or("").to_owned();
        if path == "/v2/" || path == "/v2" {
            shared.v2_requests.fetch_add(1, Ordering::SeqCst);
            if shared.v2_hangs {
                hang(sock).await;
                return Ok(());
            }
            let ok = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                      Docker-Distribution-API-Version: registry/2.0\r\nContent-Length: 2\r\n\r\n{}";
            sock.write_all(ok.as_bytes()).await?;
            continue;
        }
        // A redirect chain stays in its mode; a fresh request takes the next one.
        let mode = if path.starts_with("/__bounce/") {
            Mode::RedirectPingPong
        } else if path.starts_with("/__self/") {
            Mode::RedirectSelf
        } else {
            match &shared.faults {
                Faults::Always(m) => *m,
                Faults::Rotate(ms) => ms[shared.counter.fetch_add(1, Ordering::SeqCst) % ms.len()],
            }
        };
        *shared.met.lock().unwrap().entry(mode).or_default() += 1;
        return fault(sock, mode, &target, shared.hanging_port).await;
    }
}

fn redirect(location: &str) -> String {
    format!(
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n"
    )
}

async fn fault(
    mut sock: TcpStream,
    mode: Mode,
    target: &str,
    hanging_port: SocketAddr,
) -> std::io::Result<()> {
    const PROMISE: &str = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                           Content-Length: 1000\r\n\r\n0123456789";
    match mode {
        Mode::Hang => hang(sock).await,
        Mode::HangAfterHead => {
            sock.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n",
            )
            .await?;
            hang(sock).await;
        }
        Mode::Close => drop(sock),
        Mode::Reset => {
            sock.set_zero_linger()?;
            drop(sock);
        }
        Mode::Garbage => {
            // Deterministic noise (xorshift), with no chance of looking like HTTP.
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            let mut noise = vec![0u8; 512];
            for b in &mut noise {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = (x >> 24) as u8;
            }
            noise[0] = 0;
            sock.write_all(&noise).await?;
            sock.write_all(b"\r\n\r\nnot HTTP at all\r\n\r\n").await?;
        }
        Mode::ShortBody => sock.write_all(PROMISE.as_bytes()).await?,
        Mode::ShortBodyThenHang => {
            sock.write_all(PROMISE.as_bytes()).await?;
            hang(sock).await;
        }
        Mode::RedirectSelf => {
            let path = target.strip_prefix("/__self").unwrap_or(target);
            sock.write_all(redirect(&format!("/__self{path}")).as_bytes())
                .await?;
        }
        Mode::RedirectPingPong => {
            let next = if target.starts_with("/__bounce/a") {
                "/__bounce/b"
            } else {
                "/__bounce/a"
            };
            sock.write_all(redirect(next).as_bytes()).await?;
        }
        Mode::RedirectToHangingPort => {
            let to = format!("http://{hanging_port}{target}");
            sock.write_all(redirect(&to).as_bytes()).await?;
        }
        Mode::Slow => {
            let answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                           Content-Length: 2\r\n\r\n{}";
            for b in answer {
                sock.write_all(&[*b]).await?;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        Mode::Endless => {
            sock.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                  Transfer-Encoding: chunked\r\n\r\n",
            )
            .await?;
            let mut chunk = b"10000\r\n".to_vec();
            chunk.extend(std::iter::repeat_n(b'x', 0x10000));
            chunk.extend_from_slice(b"\r\n");
            loop {
                sock.write_all(&chunk).await?;
            }
        }
    }
    Ok(())
}

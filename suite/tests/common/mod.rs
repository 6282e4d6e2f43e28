//! A tiny, deliberately scriptable HTTP/1.1 server on an ephemeral loopback port: each
//! test decides per request whether to answer correctly, wrongly, never, or with garbage.
//! Written by hand (tokio TcpListener) so it can misbehave in ways a real server library
//! would not allow.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body ended early (client broke the connection).
    pub body_broken: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// What to do with a request.
pub enum Reply {
    /// A normal response.
    Http {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Never answer (keep the connection open).
    Hang,
    /// Write these bytes and close.
    Raw(Vec<u8>),
    /// Close without a word.
    Close,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply::Http {
            status,
            headers: vec![],
            body: vec![],
        }
    }
    pub fn json(status: u16, body: &str) -> Reply {
        Reply::Http {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }
    }
    pub fn with_header(mut self, k: &str, v: &str) -> Reply {
        if let Reply::Http { headers, .. } = &mut self {
            headers.push((k.to_owned(), v.to_owned()));
        }
        self
    }
    pub fn with_body(mut self, b: Vec<u8>) -> Reply {
        if let Reply::Http { body, .. } = &mut self {
            *body = b;
        }
        self
    }
}

pub type Handler = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

/// A running test server; every request it saw is recorded.
pub struct TestServer {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Request>>>,
}

impl TestServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Starts the server on the current runtime.
pub async fn serve(handler: Handler) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let handler = handler.clone();
            let seen = seen2.clone();
            tokio::spawn(async move {
                let _ = connection(sock, handler, seen).await;
            });
        }
    });
    TestServer { addr, seen }
}

async fn connection(
    sock: tokio::net::TcpStream,
    handler: Handler,
    seen: Arc<Mutex<Vec<Request>>>,
) -> std::io::Result<()> {
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let target = parts.next().unwrap_or("").to_owned();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).await? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        let mut req = Request {
            method,
            target,
            headers,
            body: vec![],
            body_broken: false,
        };
        if let Some(n) = req
            .header("content-length")
            .and_then(|v| v.parse::<usize>().ok())
        {
            let mut body = vec![0; n];
            if r.read_exact(&mut body).await.is_err() {
                req.body_broken = true;
            }
            req.body = body;
        } else if req
            .header("transfer-encoding")
            .is_some_and(|v| v.contains("chunked"))
        {
            loop {
                let mut size = String::new();
                if r.read_line(&mut size).await? == 0 {
                    req.body_broken = true;
                    break;
                }
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; n + 2];
                if r.read_exact(&mut chunk).await.is_err() {
                    req.body_broken = true;
                    break;
                }
                if n == 0 {
                    break;
                }
                req.body.extend_from_slice(&chunk[..n]);
            }
        }
        let reply = handler(&req);
        let broken = req.body_broken;
        let head = req.method == "HEAD";
        seen.lock().unwrap().push(req);
        if broken {
            return Ok(());
        }
        match reply {
            Reply::Http {
                status,
                headers,
                body,
            } => {
                let mut out = format!("HTTP/1.1 {status} X\r\n");
                let mut has_len = false;
                for (k, v) in &headers {
                    has_len |= k.eq_ignore_ascii_case("content-length");
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                if !has_len {
                    out.push_str(&format!("Content-Length: {}\r\n", body.len()));
                }
                out.push_str("\r\n");
                w.write_all(out.as_bytes()).await?;
                if !head {
                    w.write_all(&body).await?;
                }
                w.flush().await?;
            }
            Reply::Hang => {
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                return Ok(());
            }
            Reply::Raw(bytes) => {
                w.write_all(&bytes).await?;
                w.flush().await?;
                return Ok(());
            }
            Reply::Close => return Ok(()),
        }
    }
}

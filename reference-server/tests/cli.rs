//! The `reference-registry` binary: `defects` lists the switchboard and `serve` wires its
//! policy flags into the configuration.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::*;
use reqwest::StatusCode;

const BIN: &str = env!("CARGO_BIN_EXE_reference-registry");

#[test]
fn defects_lists_blob_delete_global() {
    let out = Command::new(BIN).arg("defects").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("blob-delete-global "))
        .unwrap_or_else(|| panic!("blob-delete-global not listed:\n{text}"));
    assert!(
        line.contains("PULL-16") && line.contains("PULL-19"),
        "{line}"
    );
}

/// A `serve` child process on a free port; killed (by its own handle) on drop.
struct Served {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(flags: &[&str]) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--addr", "127.0.0.1:0", "--root"])
        .arg(dir.path())
        .args(flags)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("serve exited before listening")
            .unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Served {
        child,
        base,
        _dir: dir,
    }
}

/// PUTs an image manifest whose only layer was never pushed; returns the status.
async fn put_sparse(base: &str) -> StatusCode {
    let client = reqwest::Client::new();
    let config = b"{}".to_vec();
    let cd = sha256(&config);
    let r = client
        .post(format!("{base}/v2/r/blobs/uploads/?digest={cd}"))
        .body(config.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let m = image_manifest(&(cd, 2), &[(sha256(b"never pushed"), 12)], None);
    client
        .put(format!("{base}/v2/r/manifests/v1"))
        .header("content-type", OCI_MANIFEST)
        .body(m)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn serve_allow_sparse_manifests_flag() {
    let strict = serve(&[]);
    assert_eq!(put_sparse(&strict.base).await, StatusCode::BAD_REQUEST);
    let sparse = serve(&["--allow-sparse-manifests"]);
    assert_eq!(put_sparse(&sparse.base).await, StatusCode::CREATED);
}

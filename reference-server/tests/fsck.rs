//! `reference-registry fsck`: a clean root passes; a corrupted byte, debris of every kind
//! and broken pointers are found; `--repair` removes what is safe and never content.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use reqwest::StatusCode;

fn fsck(root: &Path, extra: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_reference-registry"))
        .args(["fsck", "--root"])
        .arg(root)
        .args(extra)
        .output()
        .expect("run fsck");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn blob_file(root: &Path, digest: &str) -> std::path::PathBuf {
    let hex = digest.strip_prefix("sha256:").unwrap();
    root.join("blobs/sha256").join(&hex[..2]).join(hex)
}

#[tokio::test]
async fn a_corrupted_byte_is_found_and_named() {
    let mut t = start().await;
    let (_, _) = t.push_image("app", "v1", 3).await;
    let layer = content(1003, 3);
    let d = sha256(&layer);
    t.stop().await;

    let (code, out) = fsck(&t.root, &[]);
    assert_eq!(code, 0, "a clean root passes:\n{out}");
    assert!(out.contains("0 violations"), "{out}");

    let path = blob_file(&t.root, &d);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[500] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    let (code, out) = fsck(&t.root, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("corrupt-blob"), "{out}");
    assert!(out.contains(&d), "names the blob:\n{out}");
    // --repair never removes content, corrupt or not.
    let (code, out) = fsck(&t.root, &["--repair"]);
    assert_eq!(code, 1, "{out}");
    assert!(path.exists());
}

#[tokio::test]
async fn debris_and_dangling_pointers_are_repaired_content_is_not() {
    let mut t = start().await;
    let (_, m) = t.push_image("app", "v1", 4).await;
    let loc = t.open_session("app").await;
    t.stop().await;
    let root = t.root.clone();

    // A temporary file, a session without data, a dangling link and tag, a dangling
    // revision (bytes gone) and a referrer entry of a manifest the repository lacks.
    std::fs::write(root.join("tmp/.tmp-leftover"), b"x").unwrap();
    let id = loc
        .split("/uploads/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap();
    std::fs::remove_file(root.join("uploads").join(id).join("data")).unwrap();
    let ghost = sha256(b"never pushed");
    let ghost_hex = ghost.strip_prefix("sha256:").unwrap();
    let repo = root.join("repositories/app");
    std::fs::write(repo.join("_layers/sha256").join(ghost_hex), &ghost).unwrap();
    std::fs::write(repo.join("_manifests/tags/ghost"), &ghost).unwrap();
    std::fs::create_dir_all(repo.join("_manifests/revisions/sha256")).unwrap();
    std::fs::write(
        repo.join("_manifests/revisions/sha256").join(ghost_hex),
        br#"{"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#,
    )
    .unwrap();
    let m_hex = m.strip_prefix("sha256:").unwrap();
    let refdir = repo.join("_referrers/sha256").join(m_hex);
    std::fs::create_dir_all(&refdir).unwrap();
    std::fs::write(
        refdir.join(format!("sha256-{ghost_hex}")),
        format!(r#"{{"digest":"{ghost}"}}"#),
    )
    .unwrap();

    let (code, out) = fsck(&root, &[]);
    assert_eq!(code, 1, "{out}");
    for kind in [
        "temp-file",
        "broken-session",
        "dangling-link",
        "dangling-tag",
        "dangling-revision",
        "dangling-referrer",
    ] {
        assert!(out.contains(kind), "{kind} missing:\n{out}");
    }
    assert!(out.contains(id), "names the session:\n{out}");

    let (code, out) = fsck(&root, &["--repair"]);
    assert_eq!(code, 0, "everything here is repairable:\n{out}");
    assert!(out.contains("repaired"), "{out}");
    let (code, out) = fsck(&root, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 violations"), "{out}");

    // The content is all still there and served.
    let t = start_on(&root, |_| {}).await;
    assert_eq!(t.get("/v2/app/manifests/v1").await.status(), StatusCode::OK);
    assert_eq!(t.get(&loc).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn repair_is_refused_while_a_registry_serves_the_root() {
    let t = start().await;
    t.push_image("app", "v1", 5).await;
    let (code, out) = fsck(&t.root, &["--repair"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("in use by a running registry"), "{out}");
    // A plain check works and says what it skipped.
    let (code, out) = fsck(&t.root, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("temporary files were not checked"), "{out}");
    // So is the offline collector.
    let out = Command::new(env!("CARGO_BIN_EXE_reference-registry"))
        .args(["gc", "--root"])
        .arg(&t.root)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use by a running registry"));
}

/// The bug this issue started from: a session whose `info.json` exists but whose `data`
/// does not answered 500. Now it is 404 while running, and removed at start-up.
#[tokio::test]
async fn a_session_without_data_is_404_and_removed_at_start_up() {
    let mut t = start().await;
    let loc = t.open_session("app").await;
    let id = loc
        .split("/uploads/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let data = t.root.join("uploads").join(&id).join("data");
    std::fs::remove_file(&data).unwrap();
    assert_eq!(t.get(&loc).await.status(), StatusCode::NOT_FOUND);
    let r = t
        .req(reqwest::Method::PATCH, &loc)
        .body(b"abc".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(codes(r).await, vec!["BLOB_UPLOAD_UNKNOWN"]);
    t.stop().await;
    assert!(t.root.join("uploads").join(&id).exists());
    let t = start_on(&t.root, |_| {}).await;
    assert!(
        !t.root.join("uploads").join(&id).exists(),
        "removed at start-up"
    );
    assert_eq!(t.get(&loc).await.status(), StatusCode::NOT_FOUND);
}

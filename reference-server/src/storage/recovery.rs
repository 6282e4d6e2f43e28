//! Start-up recovery: what a crash can leave behind, removed before the first request.
//!
//! Every write publishes by renaming a complete file or directory out of `tmp/`, and every
//! removal of a session renames it into `tmp/` first, so after `kill -9` the only debris is
//! under `tmp/` (temporary files, staged or detached sessions). None of it is visible and
//! none of it was acknowledged. Removing it needs the root to ourselves (no other registry
//! writing there), which [`super::lock::RootLock::exclusive`] tells.
//!
//! Sessions under `uploads/` are checked too: one without readable `info.json` or `data`
//! cannot come from this version's writes, but an older version (or a hand edit) could
//! leave one, and it must answer 404, not 500; it is moved out and removed.

use std::io;
use std::path::Path;

use super::uploads::session_problem;

/// What recovery removed.
#[derive(Debug, Default)]
pub struct Recovered {
    pub temp_entries: usize,
    pub broken_sessions: Vec<(String, String)>,
}

/// Removes crash debris under `root`. The caller holds the root exclusively.
pub fn recover(root: &Path) -> io::Result<Recovered> {
    let mut out = Recovered::default();
    let tmp = root.join("tmp");
    for entry in std::fs::read_dir(&tmp)? {
        let entry = entry?;
        remove_any(&entry.path())?;
        out.temp_entries += 1;
    }
    let uploads = root.join("uploads");
    for entry in std::fs::read_dir(&uploads)? {
        let entry = entry?;
        let id = entry.file_name().to_string_lossy().into_owned();
        if let Some(problem) = session_problem(&uploads, &id) {
            let aside = tmp.join(format!("broken-{}", uuid::Uuid::new_v4()));
            std::fs::rename(entry.path(), &aside)?;
            remove_any(&aside)?;
            out.broken_sessions.push((id, problem));
        }
    }
    Ok(out)
}

pub(crate) fn remove_any(p: &Path) -> io::Result<()> {
    let r = match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p),
        Ok(_) => std::fs::remove_file(p),
        Err(e) => Err(e),
    };
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

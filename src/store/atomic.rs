//! Atomic file writes: every stored file (checkpoints, soft-label parts, tables, run state, split
//! locks) is written to a uniquely named temporary sibling, synced, and renamed over its path, so
//! readers see the old file or the new one, never half of one; a failed write leaves nothing.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Writes `bytes` to `path` atomically (creating the folder), and syncs the folder so the rename
/// survives a crash.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = path.file_name().ok_or_else(|| Error::File { path: path.to_path_buf(), message: "not a file path".into() })?;
    let tmp = dir.join(format!(".{}.tmp-{}-{}", name.to_string_lossy(), std::process::id(), unique()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })?;
    sync_dir(dir)
}

/// A number no other call in this process returns (temporary and part file names).
pub fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Makes a rename inside `dir` durable (Linux needs the folder synced; other systems may refuse
/// to open a folder, so only Unix does it).
pub fn sync_dir(dir: &Path) -> Result<()> {
    if cfg!(unix) {
        std::fs::File::open(dir).and_then(|f| f.sync_all()).map_err(|e| Error::io(dir, e))?;
    }
    Ok(())
}

//! Atomic file writes and append-only folders of checksummed part files: the layout of the
//! per-sample caches (soft labels keyed by a teacher, predictions keyed by a model).
//!
//! A part is one immutable file (an Arrow IPC file for both caches) beside a `<part>.blake3`
//! sidecar holding the blake3 hex digest of its bytes. Appending never rewrites a part: a run
//! adds new parts, so several runs and pipelines sharing a folder only ever add files. The
//! sidecar is renamed into place before its part, so a visible part always has its checksum;
//! a part whose checksum is missing or wrong is reported and dropped, never silently used.

use std::path::{Path, PathBuf};
use super::atomic::{unique, write_atomically};

use crate::error::{Error, Result};

/// File name suffix of a part.
pub const PART_SUFFIX: &str = ".arrow";
/// Suffix added to a part's name for its checksum sidecar.
pub const CHECKSUM_SUFFIX: &str = ".blake3";



/// One part as read back: its bytes when the checksum matched, else why it is unusable.
pub struct StoredPart {
    pub path: PathBuf,
    pub bytes: std::result::Result<Vec<u8>, String>,
}

/// An append-only folder of checksummed parts.
#[derive(Debug, Clone)]
pub struct PartFolder {
    dir: PathBuf,
}

impl PartFolder {
    /// The folder at `dir` (created on the first append).
    pub fn new(dir: impl Into<PathBuf>) -> PartFolder {
        PartFolder { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every part in name order (oldest first), verified against its sidecar. A missing folder
    /// has no parts.
    pub fn parts(&self) -> Result<Vec<StoredPart>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&self.dir, e)),
        };
        let mut paths = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| Error::io(&self.dir, e))?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if name.starts_with("part-") && name.ends_with(PART_SUFFIX) {
                paths.push(path);
            }
        }
        paths.sort();
        Ok(paths.into_iter().map(|path| StoredPart { bytes: verified(&path), path }).collect())
    }

    /// Removes a part and its sidecar (after it was found unusable).
    pub fn discard(&self, part: &Path) -> Result<()> {
        for path in [part.to_path_buf(), sidecar(part)] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        Ok(())
    }

    /// Adds `bytes` as a new part (sidecar first, then the part, each written atomically).
    pub fn append(&self, bytes: &[u8]) -> Result<PathBuf> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let path = self.dir.join(format!("part-{nanos:024}-{}-{:04}{PART_SUFFIX}", std::process::id(), unique()));
        write_atomically(&sidecar(&path), blake3::hash(bytes).to_hex().as_bytes())?;
        write_atomically(&path, bytes)?;
        Ok(path)
    }
}

fn sidecar(part: &Path) -> PathBuf {
    let mut name = part.file_name().unwrap_or_default().to_os_string();
    name.push(CHECKSUM_SUFFIX);
    part.with_file_name(name)
}

fn verified(path: &Path) -> std::result::Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    let want = std::fs::read_to_string(sidecar(path)).map_err(|e| format!("its checksum file {} cannot be read: {e}", sidecar(path).display()))?;
    let got = blake3::hash(&bytes).to_hex();
    if got.as_str() != want.trim() {
        return Err(format!("checksum mismatch (blake3 {} recorded, {} found)", want.trim(), got));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ssdlt-checksummed-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn appended_parts_read_back_in_order_and_a_flipped_byte_is_caught() {
        let dir = temp_dir("parts");
        let folder = PartFolder::new(&dir);
        assert!(folder.parts().unwrap().is_empty());
        let a = folder.append(b"first").unwrap();
        folder.append(b"second").unwrap();
        let parts = folder.parts().unwrap();
        assert_eq!(parts.iter().map(|p| p.bytes.clone().unwrap()).collect::<Vec<_>>(), vec![b"first".to_vec(), b"second".to_vec()]);
        std::fs::write(&a, b"firsT").unwrap();
        let parts = folder.parts().unwrap();
        assert!(parts[0].bytes.as_ref().unwrap_err().contains("checksum mismatch"));
        folder.discard(&a).unwrap();
        assert_eq!(folder.parts().unwrap().len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

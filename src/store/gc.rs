//! Garbage in a store: what no pipeline needs any more, found and removed.
//!
//! The store only grows on its own: every edited stage leaves its older output in `stages/`,
//! its caches in `cache/<kind>/<fingerprint>/` and, when it was interrupted, a `resume/` folder.
//! [`find_garbage`] lists every entry whose fingerprint is not in a set of live fingerprints
//! (what [`live_fingerprints`] reads from the pipelines' last runs, plus what the caller adds),
//! and every leftover under `tmp/`; the caller holds the store's run lock, so no run is writing.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::layout::Store;
use super::runs::{PipelineState, STATE_FORMAT};
use crate::error::{Error, Result};

/// Which part of the store an entry is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum GarbageKind {
    /// `stages/<fingerprint>/`: a finished stage's output.
    StageOutput,
    /// `resume/<fingerprint>/`: epoch checkpoints of a stage that never finished.
    ResumeCheckpoints,
    /// `cache/<kind>/<fingerprint>/`: soft labels or predictions of a model.
    Cache,
    /// `tmp/<entry>`: what a killed run was writing.
    Temporary,
}

impl GarbageKind {
    /// What one entry of this kind is called (`stage output`, ...).
    pub fn label(self) -> &'static str {
        match self {
            GarbageKind::StageOutput => "stage output",
            GarbageKind::ResumeCheckpoints => "resume folder",
            GarbageKind::Cache => "cache folder",
            GarbageKind::Temporary => "temporary folder",
        }
    }
}

/// One entry that nothing needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Garbage {
    pub kind: GarbageKind,
    pub path: PathBuf,
    /// Bytes of every file under it.
    pub bytes: u64,
}

/// The fingerprint of every stage of every pipeline's last run recorded in the store
/// (`pipelines/*/state.json`). An unreadable state file is an error: guessing would delete
/// outputs a pipeline still uses.
pub fn live_fingerprints(store: &Store) -> Result<BTreeSet<String>> {
    let mut live = BTreeSet::new();
    let pipelines = store.root().join("pipelines");
    for dir in sorted_entries(&pipelines)? {
        let path = dir.join("state.json");
        if !path.exists() {
            continue;
        }
        let bytes = fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let state: PipelineState = serde_json::from_slice(&bytes)
            .ok()
            .filter(|s: &PipelineState| s.format == STATE_FORMAT)
            .ok_or_else(|| Error::Store {
                path: path.clone(),
                message: "this pipeline state is unreadable, so what its stages use is unknown".into(),
                fix: format!("run the pipeline once to rewrite it, or delete {} to forget that pipeline", dir.display()),
            })?;
        live.extend(state.stages.into_values().map(|s| s.fingerprint));
    }
    Ok(live)
}

/// Every entry of `store` that `live` does not name, sorted by kind then path. Entries whose
/// names are not fingerprints (64 hex digits) are left alone, except under `tmp/`.
pub fn find_garbage(store: &Store, live: &BTreeSet<String>) -> Result<Vec<Garbage>> {
    let root = store.root();
    let mut found = Vec::new();
    let mut dead = |kind, parent: &Path| -> Result<()> {
        for path in sorted_entries(parent)? {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if is_fingerprint(&name) && !live.contains(&name) {
                found.push(Garbage { kind, bytes: size_of(&path)?, path });
            }
        }
        Ok(())
    };
    dead(GarbageKind::StageOutput, &root.join("stages"))?;
    dead(GarbageKind::ResumeCheckpoints, &root.join("resume"))?;
    for cache_kind in sorted_entries(&store.cache_dir())? {
        if cache_kind.is_dir() {
            dead(GarbageKind::Cache, &cache_kind)?;
        }
    }
    for path in sorted_entries(&root.join("tmp"))? {
        found.push(Garbage { kind: GarbageKind::Temporary, bytes: size_of(&path)?, path });
    }
    Ok(found)
}

/// Deletes what [`find_garbage`] listed.
pub fn remove(garbage: &[Garbage]) -> Result<()> {
    for g in garbage {
        let removed = if g.path.is_dir() { fs::remove_dir_all(&g.path) } else { fs::remove_file(&g.path) };
        match removed {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&g.path, e)),
        }
    }
    Ok(())
}

fn is_fingerprint(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The entries of `dir` sorted by name; none when it does not exist.
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        out.push(entry.map_err(|e| Error::io(dir, e))?.path());
    }
    out.sort();
    Ok(out)
}

/// Bytes of every regular file at or under `path` (links are not followed).
fn size_of(path: &Path) -> Result<u64> {
    let meta = fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_dir() {
        return Ok(if meta.is_file() { meta.len() } else { 0 });
    }
    let mut total = 0;
    for entry in sorted_entries(path)? {
        total += size_of(&entry)?;
    }
    Ok(total)
}

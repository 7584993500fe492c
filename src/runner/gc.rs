//! `ssdlt gc`: removes from a store what neither the named pipeline files nor any pipeline's
//! last run needs (older outputs of edited stages, their caches and resume checkpoints, and what
//! killed runs left in `tmp/`).
//!
//! Live, and kept: every fingerprint in every `pipelines/*/state.json` of the store (so other
//! pipelines sharing the folder keep their last run, and `export`, `report`, `compare` and the
//! next incremental run find what they read), and every stage fingerprint each named file has
//! now (so the checkpoints of a stage an interrupted run left half-trained survive).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{prepare, PipelineData, RunOptions, SilentReporter};
use crate::error::Result;
use crate::store::gc::{find_garbage, live_fingerprints, remove, Garbage};
use crate::store::layout::Store;

/// What one store held and what was (or, on a dry run, would be) removed.
#[derive(Debug)]
pub struct StoreSweep {
    /// The `.ssdlt/v1` folder.
    pub root: PathBuf,
    /// The pipeline files that named this store.
    pub files: Vec<PathBuf>,
    /// False when there is no store beside the files (nothing ever ran there).
    pub exists: bool,
    /// Finished stage outputs kept (`stages/` entries something needs).
    pub kept_stages: usize,
    pub garbage: Vec<Garbage>,
}

impl StoreSweep {
    pub fn bytes(&self) -> u64 {
        self.garbage.iter().map(|g| g.bytes).sum()
    }
}

/// Sweeps the store beside each of `files` (files sharing a folder share one sweep); removes
/// the garbage unless `dry_run`. A file that does not parse or whose data does not load stops
/// everything before anything is removed: what it needs would be unknown.
pub fn collect_garbage(files: &[PathBuf], data: &dyn PipelineData, dry_run: bool) -> Result<Vec<StoreSweep>> {
    let mut by_store: Vec<(Store, Vec<PathBuf>)> = Vec::new();
    for file in files {
        let store = Store::beside(file);
        match by_store.iter_mut().find(|(s, _)| same_folder(s.root(), store.root())) {
            Some((_, group)) => group.push(file.clone()),
            None => by_store.push((store, vec![file.clone()])),
        }
    }
    let mut sweeps = Vec::new();
    for (store, files) in by_store {
        let mut sweep = StoreSweep { root: store.root().to_path_buf(), files: files.clone(), exists: store.root().is_dir(), kept_stages: 0, garbage: Vec::new() };
        if !sweep.exists {
            // Still check the files, so a typo is reported rather than "nothing stored".
            for file in &files {
                crate::spec::pipeline::parse_file(file)?;
            }
            sweeps.push(sweep);
            continue;
        }
        let _lock = store.lock()?;
        let mut live: BTreeSet<String> = live_fingerprints(&store)?;
        for file in &files {
            let prepared = prepare(file, &RunOptions::default(), data, &SilentReporter)?;
            live.extend(prepared.stages.into_iter().map(|s| s.fingerprint));
        }
        sweep.garbage = find_garbage(&store, &live)?;
        let stored = live.iter().filter(|fp| store.stage_dir(fp).is_dir()).count();
        sweep.kept_stages = stored;
        if !dry_run {
            remove(&sweep.garbage)?;
        }
        sweeps.push(sweep);
    }
    Ok(sweeps)
}

fn same_folder(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

//! What the store remembers between runs: each pipeline's last state (which fingerprint every
//! stage had, and the manifests it ran on, for diffing) and one record per `ssdlt run`.
//!
//! - `pipelines/<name>/state.json`: [`PipelineState`].
//! - `pipelines/<name>/train.manifest.json`, `test.manifest.json`: the manifests of the last run
//!   (read only when a data fingerprint changed, to say what changed and to feed the deltas).
//! - `runs/<UTC timestamp>-<pid>-<n>.json`: [`RunRecord`], for the export and report commands.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::atomic::write_atomically;
use super::layout::Store;
use crate::data::Manifest;
use crate::error::{Error, Result};
use crate::stages::StageReport;

/// Version of `state.json` and of run records.
pub const STATE_FORMAT: u32 = 1;

/// A stage's entry in the pipeline state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageState {
    pub kind: String,
    pub fingerprint: String,
}

/// The fingerprint and size of a manifest the last run used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestState {
    pub fingerprint: String,
    pub samples: usize,
}

/// `state.json`: the last run of one pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineState {
    pub format: u32,
    pub pipeline: String,
    /// Stage name -> the fingerprint of its last stored output.
    pub stages: IndexMap<String, StageState>,
    pub train: Option<ManifestState>,
    pub test: Option<ManifestState>,
}

impl PipelineState {
    pub fn empty(pipeline: &str) -> PipelineState {
        PipelineState { format: STATE_FORMAT, pipeline: pipeline.to_string(), stages: IndexMap::new(), train: None, test: None }
    }
}

fn state_path(store: &Store, pipeline: &str) -> PathBuf {
    store.pipeline_dir(pipeline).join("state.json")
}

fn manifest_path(store: &Store, pipeline: &str, split: &str) -> PathBuf {
    store.pipeline_dir(pipeline).join(format!("{split}.manifest.json"))
}

/// The last state of `pipeline`; an empty one when it never ran. An unreadable state file is
/// treated as absent (every stage is then looked up by fingerprint, which is what matters).
pub fn read_state(store: &Store, pipeline: &str) -> PipelineState {
    let path = state_path(store, pipeline);
    std::fs::read(&path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<PipelineState>(&bytes).ok())
        .filter(|s| s.format == STATE_FORMAT)
        .unwrap_or_else(|| PipelineState::empty(pipeline))
}

pub fn write_state(store: &Store, state: &PipelineState) -> Result<()> {
    let json = serde_json::to_vec_pretty(state).expect("a pipeline state always serializes");
    write_atomically(&state_path(store, &state.pipeline), &json)
}

/// The `split` (`train` or `test`) manifest stored by the last run, when there is one.
pub fn read_manifest(store: &Store, pipeline: &str, split: &str) -> Option<Manifest> {
    Manifest::read(&manifest_path(store, pipeline, split)).ok()
}

pub fn write_manifest(store: &Store, pipeline: &str, split: &str, manifest: &Manifest) -> Result<()> {
    let json = serde_json::to_vec(manifest).expect("a manifest always serializes");
    write_atomically(&manifest_path(store, pipeline, split), &json)
}

/// What happened to one stage in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageAction {
    /// Its stored output was verified and reused.
    Cached,
    /// It ran (why: the reasons `plan` gives).
    Ran,
    /// It ran and failed.
    Failed,
}

/// One stage's line in a run record.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageRun {
    pub stage: String,
    pub kind: String,
    pub fingerprint: String,
    pub action: StageAction,
    /// Why it ran (empty when cached).
    pub reasons: Vec<String>,
    pub params: serde_json::Value,
    pub wall_s: f64,
    pub images_per_s: Option<f64>,
    pub report: Option<StageReport>,
    pub error: Option<String>,
}

/// `runs/<timestamp>.json`: one `ssdlt run`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    pub format: u32,
    pub pipeline: String,
    pub pipeline_file: PathBuf,
    /// Unix seconds.
    pub started_at: u64,
    pub finished_at: u64,
    /// The device name, when a stage needed one.
    pub device: Option<String>,
    pub ssdlt_version: String,
    pub stages: Vec<StageRun>,
}

/// Writes `record` as `runs/<UTC timestamp>-<pid>-<n>.json` (`n` counts records of one process
/// within a second) and returns its path.
pub fn write_run_record(store: &Store, record: &RunRecord) -> Result<PathBuf> {
    let stem = format!("{}-{}", utc_stamp(record.started_at), std::process::id());
    let path = (0..)
        .map(|n| store.runs_dir().join(format!("{stem}-{n:03}.json")))
        .find(|p| !p.exists())
        .expect("some file name is free");
    let json = serde_json::to_vec_pretty(record).expect("a run record always serializes");
    write_atomically(&path, &json)?;
    Ok(path)
}

/// Every run record in the store, oldest first.
pub fn read_run_records(store: &Store) -> Result<Vec<RunRecord>> {
    let dir = store.runs_dir();
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| Error::io(&dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths.iter().map(|p| read_run_record(p)).collect()
}

pub fn read_run_record(path: &Path) -> Result<RunRecord> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::File {
        path: path.to_path_buf(),
        message: format!("line {}: not a run record ({e}); it was written by another ssdlt version or edited", e.line()),
    })
}

/// `20261201T072801Z` for Unix seconds `t` (UTC, sortable, no colons so it is a valid file name
/// everywhere).
pub fn utc_stamp(t: u64) -> String {
    let days = (t / 86_400) as i64;
    let secs = t % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_stamps_match_known_dates() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        assert_eq!(utc_stamp(951_782_400), "20000229T000000Z");
        assert_eq!(utc_stamp(1_796_110_081), "20261201T072801Z");
    }
}

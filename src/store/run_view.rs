//! The one place `ssdlt export`, `report` and `compare` learn what a pipeline's last run stored.
//!
//! [`last_run`] expects the runner's store beside the pipeline file (`crate::store::layout`):
//!
//! ```text
//! <pipeline folder>/.ssdlt/v1/
//!   pipelines/<pipeline name>/state.json   {"stages": {"<stage>": {"kind": .., "fingerprint": ..}, ..}, ..}
//!   stages/<fingerprint>/                  the stage's files + outputs.json
//!                                          {"ingredients": {"params": ..}, "report": StageReport, "wall_s": ..}
//!   runs/<timestamp>.json                  {"started_at": .., "stages": [{"stage", "kind", "fingerprint",
//!                                           "params", "wall_s", "images_per_s", ..}], ..}
//! ```
//!
//! Only the fields named above are read (unknown ones are ignored), so the record formats may
//! grow without breaking these commands. `<pipeline name>` is the file's `pipeline:` key with
//! every character outside `[A-Za-z0-9._-]` replaced by `_`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::stages::StageReport;

/// The store layout version folder under `.ssdlt/`.
const STORE_VERSION: &str = "v1";

/// A stage of the last run and its stored output.
#[derive(Debug, Clone)]
pub struct StageView {
    pub name: String,
    pub kind: String,
    pub fingerprint: String,
    /// Its stored output folder.
    pub dir: PathBuf,
    /// From its `outputs.json`, when readable.
    pub report: Option<StageReport>,
    pub params: Option<serde_json::Value>,
    pub wall_s: Option<f64>,
}

/// One stage line of a run record.
#[derive(Debug, Clone, Deserialize)]
pub struct RunStage {
    pub stage: String,
    pub kind: String,
    pub fingerprint: String,
    #[serde(default)]
    pub params: serde_json::Value,
    #[serde(default)]
    pub wall_s: Option<f64>,
    #[serde(default)]
    pub images_per_s: Option<f64>,
}

/// One `ssdlt run` record.
#[derive(Debug, Clone, Deserialize)]
pub struct RunRecordView {
    #[serde(default)]
    pub started_at: u64,
    #[serde(default)]
    pub stages: Vec<RunStage>,
}

/// What the last run of a pipeline file left in the store.
#[derive(Debug, Clone)]
pub struct RunView {
    pub pipeline: String,
    pub pipeline_file: PathBuf,
    /// The folder holding the pipeline file.
    pub pipeline_dir: PathBuf,
    /// Stages in the state file's order (the run order).
    pub stages: Vec<StageView>,
    /// Run records of this pipeline, oldest first.
    pub runs: Vec<RunRecordView>,
}

impl RunView {
    pub fn stage(&self, name: &str) -> Option<&StageView> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// Stages of `kind`, in run order.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a StageView> + 'a {
        self.stages.iter().filter(move |s| s.kind == kind)
    }
}

#[derive(Deserialize)]
struct StateFile {
    stages: indexmap::IndexMap<String, StateStage>,
}

#[derive(Deserialize)]
struct StateStage {
    kind: String,
    fingerprint: String,
}

#[derive(Deserialize)]
struct OutputsFile {
    #[serde(default)]
    ingredients: Option<IngredientsView>,
    #[serde(default)]
    report: Option<StageReport>,
    #[serde(default)]
    wall_s: Option<f64>,
}

#[derive(Deserialize)]
struct IngredientsView {
    #[serde(default)]
    params: serde_json::Value,
}

#[derive(Deserialize)]
struct RecordHead {
    #[serde(default)]
    pipeline: String,
}

fn file_safe(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect()
}

/// The stored record (`outputs.json`) of a stage folder, when there is a readable one:
/// (params, report, wall seconds).
pub fn stored_record(dir: &Path) -> (Option<serde_json::Value>, Option<StageReport>, Option<f64>) {
    let parsed = std::fs::read(dir.join("outputs.json")).ok().and_then(|b| serde_json::from_slice::<OutputsFile>(&b).ok());
    match parsed {
        Some(o) => (o.ingredients.map(|i| i.params), o.report, o.wall_s),
        None => (None, None, None),
    }
}

/// The last run of the pipeline file `file` (layout in the module docs). Errors (usage, exit 2)
/// when the file does not parse or the pipeline has not run yet.
pub fn last_run(file: &Path) -> Result<RunView> {
    let spec = crate::spec::pipeline::parse_file(file)?;
    let pipeline_dir = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let root = pipeline_dir.join(".ssdlt").join(STORE_VERSION);
    let state_path = root.join("pipelines").join(file_safe(&spec.pipeline)).join("state.json");
    let not_run = || Error::File { path: file.to_path_buf(), message: format!("pipeline `{}` has not run yet (no {}); run `ssdlt run {}` first", spec.pipeline, state_path.display(), file.display()) };
    let bytes = std::fs::read(&state_path).map_err(|_| not_run())?;
    let state: StateFile = serde_json::from_slice(&bytes).map_err(|e| Error::File { path: state_path.clone(), message: format!("line {}: unreadable run state ({e}); run `ssdlt run {}` again", e.line(), file.display()) })?;
    let mut stages = Vec::new();
    for (name, s) in state.stages {
        let dir = root.join("stages").join(&s.fingerprint);
        if !dir.is_dir() {
            continue;
        }
        let (params, report, wall_s) = stored_record(&dir);
        stages.push(StageView { name, kind: s.kind, fingerprint: s.fingerprint, dir, report, params, wall_s });
    }
    let mut runs = Vec::new();
    if let Ok(entries) = std::fs::read_dir(root.join("runs")) {
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
        paths.sort();
        for p in paths {
            let Ok(bytes) = std::fs::read(&p) else { continue };
            let belongs = serde_json::from_slice::<RecordHead>(&bytes).map(|h| h.pipeline == spec.pipeline).unwrap_or(false);
            if let (true, Ok(record)) = (belongs, serde_json::from_slice::<RunRecordView>(&bytes)) {
                runs.push(record);
            }
        }
    }
    Ok(RunView { pipeline: spec.pipeline, pipeline_file: file.to_path_buf(), pipeline_dir, stages, runs })
}

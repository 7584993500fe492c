//! What `ssdlt export`, `ssdlt report` and `ssdlt compare` compute from a pipeline's last run
//! (found through [`crate::store::run_view`]): one label table, the HTML report with its SVG
//! plots, and the metric differences of two runs.

pub mod compare;
pub mod html;
pub mod plots;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::stages::export::{model_fingerprints, per_class_rows, prediction_table_row, read_evaluate_predictions, soft_label_table_row, stored_table_path};
use crate::stages::{METRICS_JSON, PREDICTIONS_FILE, SOFT_LABELS_FILE};
use crate::store::metrics::EvaluationReport;
use crate::store::run_view::{RunView, StageView};
use crate::store::soft_labels::read_soft_labels;
use crate::store::tables::{per_class_table, predictions_table, read_table, runs_table, sample_rows, soft_labels_table, Provenance, RunRow, Table, TableName};

/// The stage kind whose outputs a table is made from (`None`: any run has it).
fn source_kind(table: TableName) -> Option<&'static str> {
    match table {
        TableName::Samples => Some("export"),
        TableName::SoftLabels => Some("soft_labels"),
        TableName::Predictions | TableName::PerClass => Some("evaluate"),
        TableName::Runs => None,
    }
}

fn not_produced(view: &RunView, table: TableName, why: &str) -> Error {
    Error::invalid(
        format!("table `{}`", table.as_str()),
        format!("the last run of pipeline `{}` ({}) did not produce it: {why}", view.pipeline, view.pipeline_file.display()),
    )
}

/// Table `table` of the last run in `view`: an export stage's stored copy when the run has one
/// (`runs` always comes from the last run record), else built from the stages it comes from. A table the run did not produce is a usage error.
pub fn run_table(view: &RunView, table: TableName) -> Result<Table> {
    if let Some(kind) = source_kind(table) {
        if view.of_kind(kind).next().is_none() {
            let why = match kind {
                "export" => "the sample list is stored by an export stage and the pipeline has none; add one, e.g. `tables: {kind: export, from: [eval], format: parquet}`, and run it".to_string(),
                other => format!("the pipeline has no {other} stage"),
            };
            return Err(not_produced(view, table, &why));
        }
    }
    // An export stage's `runs` table covers only its inputs; the run record covers the run.
    for stage in view.of_kind("export").filter(|_| table != TableName::Runs) {
        let path = stored_table_path(&stage.dir, table);
        if path.exists() {
            return read_table(&path);
        }
    }
    let prov = Provenance { pipeline: view.pipeline.clone(), stage: "ssdlt export".into(), fingerprint: String::new() };
    match table {
        TableName::Samples => Err(not_produced(view, table, "its export stage stored no samples table; run the pipeline again")),
        TableName::SoftLabels => {
            let mut rows = Vec::new();
            for s in view.of_kind("soft_labels") {
                let set = read_soft_labels(&s.dir.join(SOFT_LABELS_FILE))?;
                rows.extend((0..set.rows.len()).map(|i| soft_label_table_row(&s.name, &set, i)));
            }
            soft_labels_table(&rows, &prov)
        }
        TableName::Predictions => {
            let mut rows = Vec::new();
            for s in view.of_kind("evaluate") {
                let report = EvaluationReport::read_json(&s.dir.join(METRICS_JSON))?;
                let fps = model_fingerprints(&report);
                rows.extend(read_evaluate_predictions(&s.dir.join(PREDICTIONS_FILE))?.iter().map(|r| prediction_table_row(&s.name, r, &fps, None)));
            }
            predictions_table(&rows, &prov)
        }
        TableName::PerClass => {
            let counts = train_counts(view);
            let mut rows = Vec::new();
            for (stage, report) in evaluations(view)? {
                rows.extend(per_class_rows(&stage, &report, counts.as_deref()));
            }
            per_class_table(&rows, &prov)
        }
        TableName::Runs => runs_table(&run_rows(view), &prov),
    }
}

/// `runs` rows: the last run record's stages, or the stored stages when there is no record.
pub fn run_rows(view: &RunView) -> Vec<RunRow> {
    match view.runs.last() {
        Some(record) => record
            .stages
            .iter()
            .map(|s| RunRow { stage: s.stage.clone(), kind: s.kind.clone(), fingerprint: s.fingerprint.clone(), parameters: s.params.to_string(), wall_s: s.wall_s, images_per_s: s.images_per_s })
            .collect(),
        None => view
            .stages
            .iter()
            .map(|s| RunRow {
                stage: s.name.clone(),
                kind: s.kind.clone(),
                fingerprint: s.fingerprint.clone(),
                parameters: s.params.as_ref().map(|p| p.to_string()).unwrap_or_else(|| "null".into()),
                wall_s: s.wall_s,
                images_per_s: s.report.as_ref().and_then(|r| r.images_per_s),
            })
            .collect(),
    }
}

/// (stage name, report) of every evaluate stage of the run, in run order.
pub fn evaluations(view: &RunView) -> Result<Vec<(String, EvaluationReport)>> {
    view.of_kind("evaluate").map(|s| Ok((s.name.clone(), EvaluationReport::read_json(&s.dir.join(METRICS_JSON))?))).collect()
}

/// Training images per class, from an export stage's `samples` table (None without one).
pub fn train_counts(view: &RunView) -> Option<Vec<usize>> {
    let labels = train_labels(view)?;
    let classes = labels.values().map(|&l| l as usize + 1).max().unwrap_or(0);
    let mut counts = vec![0usize; classes];
    for &l in labels.values() {
        counts[l as usize] += 1;
    }
    Some(counts)
}

/// Training sample id -> label, from an export stage's `samples` table.
pub fn train_labels(view: &RunView) -> Option<HashMap<String, u32>> {
    let stage = view.of_kind("export").next()?;
    let path = stored_table_path(&stage.dir, TableName::Samples);
    let table = read_table(&path).ok()?;
    let rows = sample_rows(&table, &path).ok()?;
    Some(rows.into_iter().filter(|r| r.split == "train").map(|r| (r.id, r.label)).collect())
}

/// One epoch of a training curve.
#[derive(Debug, Clone, PartialEq)]
pub struct CurvePoint {
    pub epoch: f64,
    pub loss: Option<f64>,
    pub accuracy: Option<f64>,
    pub lr: Option<f64>,
}

/// The curve in a stage's `history.json` (`{"epochs": [{"epoch", "loss", "train_acc", "lr"}, ..]}`,
/// what train and calibrate stages write); None when it has none.
pub fn training_curve(stage: &StageView) -> Option<Vec<CurvePoint>> {
    let bytes = std::fs::read(stage.dir.join(crate::stages::HISTORY_FILE)).ok()?;
    let doc: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let epochs = doc.get("epochs")?.as_array()?;
    let points: Vec<CurvePoint> = epochs
        .iter()
        .enumerate()
        .map(|(i, e)| CurvePoint {
            epoch: e.get("epoch").and_then(|v| v.as_f64()).unwrap_or(i as f64 + 1.0),
            loss: e.get("loss").and_then(|v| v.as_f64()),
            accuracy: e.get("train_acc").and_then(|v| v.as_f64()),
            lr: e.get("lr").and_then(|v| v.as_f64()),
        })
        .collect();
    (!points.is_empty()).then_some(points)
}

/// The folder beside the pipeline file where `sub` outputs go by default: `<dir>/<sub>/<pipeline>`.
pub fn default_folder(view: &RunView, sub: &str) -> PathBuf {
    view.pipeline_dir.join(sub).join(&view.pipeline)
}

/// Whether `path` can be created: its parent exists or can be made. Used to fail before work.
pub fn check_writable(path: &Path) -> Result<()> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::File { path: path.to_path_buf(), message: format!("cannot write here ({e}); choose a writable path with -o") })
}

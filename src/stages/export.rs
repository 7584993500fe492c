//! `export`: the label tables (layouts in `crate::store::tables`) of a pipeline run, as files its
//! users open in pandas, polars or DuckDB.
//!
//! From its inputs (`soft_labels` and `evaluate` stages) and the loaded data it writes
//! `samples` (every train, validation and test sample), `soft_labels` (each soft_labels input),
//! `predictions` and `per_class` (each evaluate input) and `runs` (the stored record of each
//! input). Files: `ctx.out_dir/tables/<table>.arrow` (always: the canonical copy `ssdlt export`
//! and the next run of this stage read) plus `<table>.<ext>` in `format` when it is not Arrow;
//! and `<table>.<ext>` in the publish folder: `dir` (relative to the pipeline file), by default
//! `exports/<pipeline>` beside the pipeline file. Outside a pipeline (`ctx.pipeline` None) only
//! an absolute `dir` is published to.
//!
//! Incremental: `ctx.previous` (this stage's last output) is read back and every row whose key
//! and inputs did not change is carried over instead of rebuilt — a `samples` row when the
//! sample's (split, id, hash) is unchanged, a `soft_labels` row when (stage, id, view, hash,
//! teacher fingerprint) is, a `predictions` row when (stage, model, model fingerprint, head, id,
//! hash) is. The report counts both (`<table>_carried`, `<table>_rebuilt`). `per_class` and
//! `runs` are small and always rebuilt.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{StageContext, StageInput, StageReport, METRICS_JSON, PREDICTIONS_FILE, SOFT_LABELS_FILE};
use crate::data::long_tail::ShotGroup;
use crate::data::{Dataset, Pixels};
use crate::error::{Error, Result};
use crate::spec::stages::{ExportSpec, TableFormat};
use crate::store::arrow_io::{column, decode_ipc, list_values_f32, list_values_u32};
use crate::store::metrics::{EvaluationReport, PredictionRow};
use crate::store::run_view::stored_record;
use crate::store::soft_labels::{read_soft_labels, SoftLabelSet};
use crate::store::tables::{
    entropy, extension, per_class_table, prediction_rows, predictions_table, read_table, runs_table, sample_rows, samples_table, soft_label_rows, soft_labels_table, write_table, PerClassRow,
    PredictionTableRow, Provenance, RunRow, SampleRow, SoftLabelTableRow, Table, TableName,
};

/// Folder of the tables inside the stage's output.
pub const TABLES_DIR: &str = "tables";

/// The canonical Arrow copy of `table` in a stored export output folder.
pub fn stored_table_path(out_dir: &Path, table: TableName) -> PathBuf {
    out_dir.join(TABLES_DIR).join(format!("{}.arrow", table.as_str()))
}

/// `many` / `medium` / `few`.
pub fn shot_group_name(g: ShotGroup) -> &'static str {
    match g {
        ShotGroup::Many => "many",
        ShotGroup::Medium => "medium",
        ShotGroup::Few => "few",
    }
}

/// The `samples` rows of one dataset.
pub fn dataset_sample_rows(data: &Dataset) -> Vec<SampleRow> {
    data.samples
        .iter()
        .map(|s| SampleRow {
            split: data.split.as_str().to_string(),
            id: s.id.clone(),
            path: match &s.pixels {
                Pixels::Encoded(p) => p.display().to_string(),
                _ => s.origin.file.display().to_string(),
            },
            location: s.origin.location.to_string(),
            label: s.label,
            class_name: data.class_names.get(s.label as usize).cloned().unwrap_or_default(),
            hash: s.hash.to_hex(),
        })
        .collect()
}

/// The `soft_labels` row of row `i` of a soft-label set written by stage `stage`.
pub fn soft_label_table_row(stage: &str, set: &SoftLabelSet, i: usize) -> SoftLabelTableRow {
    let r = &set.rows[i];
    SoftLabelTableRow {
        stage: stage.to_string(),
        id: r.id.clone(),
        hash: r.hash.to_hex(),
        view: r.view,
        top_classes: r.classes.clone(),
        top_probs: r.probs.clone(),
        entropy: entropy(&r.probs),
        teacher_fingerprint: set.teacher_fingerprint.clone(),
    }
}

/// Reads an evaluate stage's `predictions.arrow` (layout in `crate::store::metrics`).
pub fn read_evaluate_predictions(path: &Path) -> Result<Vec<PredictionRow>> {
    use arrow::array::{Float32Array, StringArray, UInt32Array};
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let (_, batches) = decode_ipc(&bytes, path)?;
    let mut out = Vec::new();
    for b in &batches {
        let s = |name: &str| column::<StringArray>(b, name, "Utf8", path);
        let (model, head, id) = (s("model")?, s("head")?, s("id")?);
        let label = column::<UInt32Array>(b, "label", "UInt32", path)?;
        let predicted = column::<UInt32Array>(b, "predicted", "UInt32", path)?;
        let confidence = column::<Float32Array>(b, "confidence", "Float32", path)?;
        let (classes, k) = list_values_u32(b, "top_classes", path)?;
        let (logits, _) = list_values_f32(b, "top_logits", path)?;
        for i in 0..b.num_rows() {
            out.push(PredictionRow {
                model: model.value(i).into(),
                head: head.value(i).into(),
                id: id.value(i).into(),
                label: label.value(i),
                predicted: predicted.value(i),
                confidence: confidence.value(i),
                top_classes: classes[i * k..(i + 1) * k].to_vec(),
                top_logits: logits[i * k..(i + 1) * k].to_vec(),
            });
        }
    }
    Ok(out)
}

/// The `predictions` row of an evaluate row; `fingerprints` maps (model, head) to the model's
/// fingerprint, `hashes` a test id to its content hash (when the sample list is known).
pub fn prediction_table_row(stage: &str, row: &PredictionRow, fingerprints: &HashMap<(String, String), String>, hashes: Option<&HashMap<String, String>>) -> PredictionTableRow {
    PredictionTableRow {
        stage: stage.to_string(),
        model: row.model.clone(),
        model_fingerprint: fingerprints.get(&(row.model.clone(), row.head.clone())).cloned().unwrap_or_default(),
        head: row.head.clone(),
        id: row.id.clone(),
        hash: hashes.and_then(|h| h.get(&row.id).cloned()),
        label: row.label,
        predicted: row.predicted,
        confidence: row.confidence,
        top_classes: row.top_classes.clone(),
        top_logits: row.top_logits.clone(),
    }
}

/// (model, head) -> model fingerprint of an evaluation report.
pub fn model_fingerprints(report: &EvaluationReport) -> HashMap<(String, String), String> {
    report.results.iter().map(|r| ((r.model.clone(), r.head.clone()), r.fingerprint.clone())).collect()
}

/// The `per_class` rows of an evaluation report: accuracy (= recall) from the per-class
/// accuracy, precision from the confusion matrix's predicted-class column.
pub fn per_class_rows(stage: &str, report: &EvaluationReport, train_counts: Option<&[usize]>) -> Vec<PerClassRow> {
    let mut rows = Vec::new();
    for r in &report.results {
        let m = &r.metrics;
        for c in 0..m.classes {
            let predicted_as: u64 = m.confusion.iter().map(|row| row.get(c).copied().unwrap_or(0)).sum();
            let hits = m.confusion.get(c).and_then(|row| row.get(c)).copied().unwrap_or(0);
            let accuracy = m.per_class_accuracy.get(c).copied().flatten();
            rows.push(PerClassRow {
                stage: stage.to_string(),
                model: r.model.clone(),
                head: r.head.clone(),
                class: c as u32,
                class_name: report.class_names.get(c).cloned().unwrap_or_default(),
                train_count: train_counts.and_then(|t| t.get(c)).map(|&n| n as u32),
                shot_group: report.shot_groups.get(c).map(|&g| shot_group_name(g)).unwrap_or("").to_string(),
                test_samples: m.per_class_samples.get(c).copied().unwrap_or(0) as u32,
                accuracy,
                precision: (predicted_as > 0).then(|| hits as f64 / predicted_as as f64),
                recall: accuracy,
            });
        }
    }
    rows
}

/// A `runs` row from a stage's stored record (`outputs.json` in its folder).
pub fn run_row_of(input: &StageInput) -> RunRow {
    let (params, report, wall_s) = stored_record(&input.dir);
    RunRow {
        stage: input.name.clone(),
        kind: input.kind.to_string(),
        fingerprint: input.fingerprint.clone(),
        parameters: params.map(|p| p.to_string()).unwrap_or_else(|| "null".into()),
        wall_s,
        images_per_s: report.and_then(|r| r.images_per_s),
    }
}

/// Carries over previous rows whose key maps to the same "version", else rebuilds. Returns the
/// rows and (carried, rebuilt).
fn carry_or_build<K: std::hash::Hash + Eq, R: Clone>(items: impl Iterator<Item = (K, String)>, previous: &HashMap<K, (String, R)>, mut build: impl FnMut(usize) -> R) -> (Vec<R>, usize, usize) {
    let (mut rows, mut carried, mut rebuilt) = (Vec::new(), 0, 0);
    for (i, (key, version)) in items.enumerate() {
        match previous.get(&key) {
            Some((v, row)) if *v == version => {
                rows.push(row.clone());
                carried += 1;
            }
            _ => {
                rows.push(build(i));
                rebuilt += 1;
            }
        }
    }
    (rows, carried, rebuilt)
}

/// The previous output's rows of `table`, when it has a readable one.
fn previous_table(ctx: &StageContext, table: TableName) -> Option<(Table, PathBuf)> {
    let path = stored_table_path(ctx.previous?, table);
    if !path.exists() {
        return None;
    }
    match read_table(&path) {
        Ok(t) => Some((t, path)),
        Err(e) => {
            ctx.progress.note(&format!("previous {} table is unusable ({e}); all its rows are rebuilt", table.as_str()));
            None
        }
    }
}

/// Where the stage publishes its files, if anywhere.
fn publish_dir(spec: &ExportSpec, ctx: &StageContext) -> Option<PathBuf> {
    match (&spec.dir, ctx.pipeline) {
        (Some(d), _) if d.is_absolute() => Some(d.clone()),
        (Some(d), Some(p)) => Some(folder_of(p.file).join(d)),
        (None, Some(p)) => Some(folder_of(p.file).join("exports").join(p.name)),
        (_, None) => None,
    }
}

fn folder_of(file: &Path) -> &Path {
    file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// Runs an export stage (see the module docs).
pub fn run(spec: &ExportSpec, ctx: &StageContext) -> Result<StageReport> {
    let what = || format!("export stage `{}`", ctx.name);
    if ctx.inputs.is_empty() {
        return Err(Error::invalid(what(), "`from` names no soft_labels or evaluate stage"));
    }
    if let Some(bad) = ctx.inputs.iter().find(|i| !matches!(i.kind, "soft_labels" | "evaluate")) {
        return Err(Error::invalid(what(), format!("reads `{}`, a {} stage; `from` must name soft_labels or evaluate stages", bad.name, bad.kind)));
    }
    let prov = Provenance { pipeline: ctx.pipeline.map(|p| p.name.to_string()).unwrap_or_default(), stage: ctx.name.to_string(), fingerprint: ctx.fingerprint.to_string() };
    let mut metrics = std::collections::BTreeMap::new();
    let mut count = |table: TableName, carried: usize, rebuilt: usize| {
        metrics.insert(format!("{}_carried", table.as_str()), carried as f64);
        metrics.insert(format!("{}_rebuilt", table.as_str()), rebuilt as f64);
    };

    // samples
    let splits: Vec<&Dataset> = [Some(&ctx.data.train), ctx.data.validation.as_ref(), Some(&ctx.data.test)].into_iter().flatten().collect();
    let previous: HashMap<(String, String), (String, SampleRow)> = match previous_table(ctx, TableName::Samples) {
        Some((t, path)) => sample_rows(&t, &path)?.into_iter().map(|r| ((r.split.clone(), r.id.clone()), (r.hash.clone(), r))).collect(),
        None => HashMap::new(),
    };
    let fresh: Vec<(String, String, String, &Dataset, usize)> = splits.iter().flat_map(|d| d.samples.iter().enumerate().map(move |(i, s)| (d.split.as_str().to_string(), s.id.clone(), s.hash.to_hex(), *d, i))).collect();
    let (samples, carried, rebuilt) = carry_or_build(fresh.iter().map(|(split, id, hash, _, _)| ((split.clone(), id.clone()), hash.clone())), &previous, |i| {
        let (_, _, _, d, at) = fresh[i];
        let one = Dataset { name: d.name.clone(), split: d.split, class_names: d.class_names.clone(), samples: vec![d.samples[at].clone()] };
        dataset_sample_rows(&one).remove(0)
    });
    count(TableName::Samples, carried, rebuilt);
    let mut tables = vec![samples_table(&samples, &prov)?];

    // soft_labels
    let previous: HashMap<(String, String, u32), (String, SoftLabelTableRow)> = match previous_table(ctx, TableName::SoftLabels) {
        Some((t, path)) => soft_label_rows(&t, &path)?.into_iter().map(|r| ((r.stage.clone(), r.id.clone(), r.view), (format!("{}/{}", r.hash, r.teacher_fingerprint), r))).collect(),
        None => HashMap::new(),
    };
    let (mut soft, mut carried, mut rebuilt) = (Vec::new(), 0, 0);
    for input in ctx.inputs.iter().filter(|i| i.kind == "soft_labels") {
        let set = read_soft_labels(&input.dir.join(SOFT_LABELS_FILE))?;
        let keys = set.rows.iter().map(|r| ((input.name.clone(), r.id.clone(), r.view), format!("{}/{}", r.hash.to_hex(), set.teacher_fingerprint)));
        let (rows, c, r) = carry_or_build(keys, &previous, |i| soft_label_table_row(&input.name, &set, i));
        soft.extend(rows);
        carried += c;
        rebuilt += r;
    }
    count(TableName::SoftLabels, carried, rebuilt);
    tables.push(soft_labels_table(&soft, &prov)?);

    // predictions and per_class
    let hashes: HashMap<String, String> = ctx.data.test.samples.iter().map(|s| (s.id.clone(), s.hash.to_hex())).collect();
    let previous: HashMap<(String, String, String, String), (String, PredictionTableRow)> = match previous_table(ctx, TableName::Predictions) {
        Some((t, path)) => prediction_rows(&t, &path)?.into_iter().map(|r| ((r.stage.clone(), r.model.clone(), r.head.clone(), r.id.clone()), (format!("{}/{}", r.model_fingerprint, r.hash.clone().unwrap_or_default()), r))).collect(),
        None => HashMap::new(),
    };
    let (mut predictions, mut per_class, mut carried, mut rebuilt) = (Vec::new(), Vec::new(), 0, 0);
    let train_counts = ctx.data.stats.counts.clone();
    for input in ctx.inputs.iter().filter(|i| i.kind == "evaluate") {
        let report = EvaluationReport::read_json(&input.dir.join(METRICS_JSON))?;
        let rows = read_evaluate_predictions(&input.dir.join(PREDICTIONS_FILE))?;
        let fps = model_fingerprints(&report);
        let keys = rows.iter().map(|r| {
            let fp = fps.get(&(r.model.clone(), r.head.clone())).cloned().unwrap_or_default();
            ((input.name.clone(), r.model.clone(), r.head.clone(), r.id.clone()), format!("{fp}/{}", hashes.get(&r.id).cloned().unwrap_or_default()))
        });
        let (built, c, r) = carry_or_build(keys, &previous, |i| prediction_table_row(&input.name, &rows[i], &fps, Some(&hashes)));
        predictions.extend(built);
        carried += c;
        rebuilt += r;
        per_class.extend(per_class_rows(&input.name, &report, Some(&train_counts)));
    }
    count(TableName::Predictions, carried, rebuilt);
    tables.push(predictions_table(&predictions, &prov)?);
    tables.push(per_class_table(&per_class, &prov)?);
    let runs: Vec<RunRow> = ctx.inputs.iter().map(run_row_of).collect();
    tables.push(runs_table(&runs, &prov)?);

    // files
    for t in &tables {
        write_table(&stored_table_path(ctx.out_dir, t.name), t, TableFormat::Arrow)?;
        if spec.format != TableFormat::Arrow {
            write_table(&ctx.out_dir.join(TABLES_DIR).join(format!("{}.{}", t.name.as_str(), extension(spec.format))), t, spec.format)?;
        }
    }
    let published = publish_dir(spec, ctx);
    if let Some(dir) = &published {
        for t in &tables {
            write_table(&dir.join(format!("{}.{}", t.name.as_str(), extension(spec.format))), t, spec.format)?;
        }
    }
    for t in &tables {
        metrics.insert(format!("{}_rows", t.name.as_str()), t.num_rows() as f64);
    }
    let rebuilt_total: f64 = metrics.iter().filter(|(k, _)| k.ends_with("_rebuilt")).map(|(_, v)| v).sum();
    let carried_total: f64 = metrics.iter().filter(|(k, _)| k.ends_with("_carried")).map(|(_, v)| v).sum();
    let place = published.map(|d| format!(" to {}", d.display())).unwrap_or_default();
    Ok(StageReport {
        summary: format!("{} tables ({}){place}: {} rows rebuilt, {} carried over", tables.len(), extension(spec.format), rebuilt_total, carried_total),
        metrics,
        images_per_s: None,
    })
}

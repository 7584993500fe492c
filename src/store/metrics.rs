//! The files an `evaluate` stage writes, and its prediction cache.
//!
//! - `metrics.json` ([`EvaluationReport`]): per (model, head), every metric of
//!   [`ClassificationMetrics`], the default head of each model first.
//! - `metrics.arrow`, a long table, one row per value: `model` utf8, `head` utf8, `metric` utf8,
//!   `class` uint32 (nullable), `predicted` uint32 (nullable), `value` float64 (nullable).
//!   Overall metrics (`top1`, `top5`, `many`, `medium`, `few`, `ece`, `nll`, `samples`) have
//!   null `class`; `class_accuracy` and `class_samples` have `class`; `confusion` has `class`
//!   (the true class) and `predicted`. A metric without a value (a shot group with no classes)
//!   has a null `value`. In pandas: `df[df.metric == "top1"]`, or pivot on `metric`.
//! - `predictions.arrow`: one row per (model, head, test sample): `model`, `head`, `id` utf8,
//!   `label`, `predicted` uint32, `confidence` float32 (softmax of the prediction), `correct`
//!   bool, `top_classes` fixed_size_list<uint32, k> and `top_logits`
//!   fixed_size_list<float32, k> (k = min(5, classes), highest first).
//! - prediction cache parts: `hash` fixed_size_binary(32) (the sample's content hash), `head`
//!   utf8, `logits` fixed_size_list<float32, classes>.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float32Array, Float64Array, StringArray, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};

use super::arrow_io::{column, decode_ipc, encode_ipc, fixed_list_f32, fixed_list_type, fixed_list_u32, hash_column, hash_values, list_values_f32, metadata, metadata_map, metadata_parsed};
use crate::data::long_tail::ShotGroup;
use crate::error::{Error, Result};
use crate::nn::metrics::ClassificationMetrics;

/// Bumped when any evaluate file layout changes.
pub const METRICS_SCHEMA_VERSION: u32 = 1;
const FORMAT_KEY: &str = "ssdlt.format";
const VERSION_KEY: &str = "ssdlt.schema_version";
const PREDICTION_CACHE_FORMAT: &str = "prediction_cache";

/// Metrics of one head of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadMetrics {
    /// The stage that produced the model.
    pub model: String,
    pub fingerprint: String,
    pub head: String,
    /// Whether this is the model's default head (listed first).
    pub default_head: bool,
    #[serde(flatten)]
    pub metrics: ClassificationMetrics,
}

/// Everything `metrics.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationReport {
    pub schema_version: u32,
    pub class_names: Vec<String>,
    /// Shot group of each class (from the training split's counts).
    pub shot_groups: Vec<ShotGroup>,
    pub results: Vec<HeadMetrics>,
}

impl EvaluationReport {
    pub fn write_json(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).map_err(|e| Error::File { path: path.to_path_buf(), message: e.to_string() })?;
        super::atomic::write_atomically(path, json.as_bytes())
    }

    pub fn read_json(path: &Path) -> Result<EvaluationReport> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let report: EvaluationReport = serde_json::from_str(&text).map_err(|e| Error::File { path: path.to_path_buf(), message: format!("line {}: {e}", e.line()) })?;
        if report.schema_version != METRICS_SCHEMA_VERSION {
            return Err(Error::File { path: path.to_path_buf(), message: format!("metrics schema version {} (this ssdlt reads {METRICS_SCHEMA_VERSION}); re-run the evaluate stage", report.schema_version) });
        }
        Ok(report)
    }

    /// The long `metrics.arrow` table (layout in the module docs).
    pub fn write_arrow(&self, path: &Path) -> Result<()> {
        let mut t = LongTable::default();
        for r in &self.results {
            let m = &r.metrics;
            let mut push = |name: &str, c: Option<u32>, p: Option<u32>, v: Option<f64>| {
                t.model.push(r.model.clone());
                t.head.push(r.head.clone());
                t.metric.push(name.to_string());
                t.class.push(c);
                t.predicted.push(p);
                t.value.push(v);
            };
            for (name, v) in [("top1", Some(m.top1)), ("top5", Some(m.top5)), ("many", m.many), ("medium", m.medium), ("few", m.few), ("ece", Some(m.ece)), ("nll", Some(m.nll)), ("samples", Some(m.samples as f64))] {
                push(name, None, None, v);
            }
            for (c, (acc, n)) in m.per_class_accuracy.iter().zip(&m.per_class_samples).enumerate() {
                push("class_accuracy", Some(c as u32), None, *acc);
                push("class_samples", Some(c as u32), None, Some(*n as f64));
            }
            for (true_class, row) in m.confusion.iter().enumerate() {
                for (p, &count) in row.iter().enumerate() {
                    push("confusion", Some(true_class as u32), Some(p as u32), Some(count as f64));
                }
            }
        }
        let schema = Schema::new(vec![
            Field::new("model", DataType::Utf8, false),
            Field::new("head", DataType::Utf8, false),
            Field::new("metric", DataType::Utf8, false),
            Field::new("class", DataType::UInt32, true),
            Field::new("predicted", DataType::UInt32, true),
            Field::new("value", DataType::Float64, true),
        ])
        .with_metadata(metadata_map(&[(FORMAT_KEY, "metrics".to_string()), (VERSION_KEY, METRICS_SCHEMA_VERSION.to_string())]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(t.model)),
            Arc::new(StringArray::from(t.head)),
            Arc::new(StringArray::from(t.metric)),
            Arc::new(UInt32Array::from(t.class)),
            Arc::new(UInt32Array::from(t.predicted)),
            Arc::new(Float64Array::from(t.value)),
        ];
        super::atomic::write_atomically(path, &encode_ipc(schema, columns, path)?)
    }
}

/// The columns of `metrics.arrow` while they are filled.
#[derive(Default)]
struct LongTable {
    model: Vec<String>,
    head: Vec<String>,
    metric: Vec<String>,
    class: Vec<Option<u32>>,
    predicted: Vec<Option<u32>>,
    value: Vec<Option<f64>>,
}

/// One row of `predictions.arrow`.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionRow {
    pub model: String,
    pub head: String,
    pub id: String,
    pub label: u32,
    pub predicted: u32,
    pub confidence: f32,
    pub top_classes: Vec<u32>,
    pub top_logits: Vec<f32>,
}

/// Writes `predictions.arrow` (layout in the module docs); every row has `k` top classes.
pub fn write_predictions(path: &Path, rows: &[PredictionRow], k: usize) -> Result<()> {
    if let Some(r) = rows.iter().find(|r| r.top_classes.len() != k || r.top_logits.len() != k) {
        return Err(Error::invalid("predictions", format!("sample `{}` has {} top classes, expected {k}", r.id, r.top_classes.len())));
    }
    let schema = Schema::new(vec![
        Field::new("model", DataType::Utf8, false),
        Field::new("head", DataType::Utf8, false),
        Field::new("id", DataType::Utf8, false),
        Field::new("label", DataType::UInt32, false),
        Field::new("predicted", DataType::UInt32, false),
        Field::new("confidence", DataType::Float32, false),
        Field::new("correct", DataType::Boolean, false),
        Field::new("top_classes", fixed_list_type(DataType::UInt32, k), false),
        Field::new("top_logits", fixed_list_type(DataType::Float32, k), false),
    ])
    .with_metadata(metadata_map(&[(FORMAT_KEY, "predictions".to_string()), (VERSION_KEY, METRICS_SCHEMA_VERSION.to_string())]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.model.as_str()))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.head.as_str()))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.id.as_str()))),
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.label))),
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.predicted))),
        Arc::new(Float32Array::from_iter_values(rows.iter().map(|r| r.confidence))),
        Arc::new(BooleanArray::from(rows.iter().map(|r| r.label == r.predicted).collect::<Vec<_>>())),
        fixed_list_u32(rows.iter().flat_map(|r| r.top_classes.iter().copied()).collect(), k)?,
        fixed_list_f32(rows.iter().flat_map(|r| r.top_logits.iter().copied()).collect(), k)?,
    ];
    super::atomic::write_atomically(path, &encode_ipc(schema, columns, path)?)
}

/// Cached logits of one head for one sample content hash.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedLogits {
    pub hash: [u8; 32],
    pub head: String,
    pub logits: Vec<f32>,
}

/// A prediction cache part's bytes (`classes` logits per row).
pub fn encode_prediction_part(rows: &[CachedLogits], classes: usize, path: &Path) -> Result<Vec<u8>> {
    if let Some(r) = rows.iter().find(|r| r.logits.len() != classes) {
        return Err(Error::invalid("prediction cache", format!("head `{}`: {} logits, expected {classes}", r.head, r.logits.len())));
    }
    let schema = Schema::new(vec![
        Field::new("hash", DataType::FixedSizeBinary(32), false),
        Field::new("head", DataType::Utf8, false),
        Field::new("logits", fixed_list_type(DataType::Float32, classes), false),
    ])
    .with_metadata(metadata_map(&[(FORMAT_KEY, PREDICTION_CACHE_FORMAT.to_string()), (VERSION_KEY, METRICS_SCHEMA_VERSION.to_string()), ("ssdlt.classes", classes.to_string())]));
    let columns: Vec<ArrayRef> = vec![
        hash_column(rows.iter().map(|r| r.hash)),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.head.as_str()))),
        fixed_list_f32(rows.iter().flat_map(|r| r.logits.iter().copied()).collect(), classes)?,
    ];
    encode_ipc(schema, columns, path)
}

/// Reads a prediction cache part; errors when it is not one or holds another class count.
pub fn decode_prediction_part(bytes: &[u8], classes: usize, path: &Path) -> Result<Vec<CachedLogits>> {
    let bad = |m: String| Error::File { path: path.to_path_buf(), message: m };
    let (schema, batches) = decode_ipc(bytes, path)?;
    if metadata(&schema, FORMAT_KEY, path)? != PREDICTION_CACHE_FORMAT || metadata_parsed::<u32>(&schema, VERSION_KEY, path)? != METRICS_SCHEMA_VERSION {
        return Err(bad(format!("not a version {METRICS_SCHEMA_VERSION} prediction cache part")));
    }
    let mut out = Vec::new();
    for batch in &batches {
        let hashes = hash_values(batch, "hash", path)?;
        let heads = column::<StringArray>(batch, "head", "Utf8", path)?;
        let (logits, k) = list_values_f32(batch, "logits", path)?;
        if k != classes {
            return Err(bad(format!("holds {k} logits per row, expected {classes}")));
        }
        for (i, hash) in hashes.into_iter().enumerate() {
            out.push(CachedLogits { hash, head: heads.value(i).to_string(), logits: logits[i * k..(i + 1) * k].to_vec() });
        }
    }
    Ok(out)
}

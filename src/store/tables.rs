//! The label tables users analyse in their own tools (pandas, polars, DuckDB): `samples`,
//! `soft_labels`, `predictions`, `per_class` and `runs`, as Arrow IPC, Parquet or CSV files.
//!
//! Every table is one Arrow record batch whose schema metadata carries `ssdlt.table` (the table
//! name), `ssdlt.schema_version` ([`TABLES_SCHEMA_VERSION`]), and the provenance: `ssdlt.pipeline`,
//! `ssdlt.stage` (the stage or command that wrote it), `ssdlt.fingerprint` and
//! `ssdlt.ssdlt_version`. Arrow files keep it in the schema (`pyarrow.ipc.open_file(p).schema.metadata`),
//! Parquet files in the footer key-value metadata as well (`pyarrow.parquet.read_metadata(p).metadata`,
//! DuckDB `parquet_kv_metadata`). CSV has no place for metadata: list columns are JSON arrays
//! (`[3,1,0]`) and the metadata goes to a sidecar `<file>.meta.json`.
//!
//! Columns (README "Label tables" lists them with their meaning):
//! - `samples`: split utf8, id utf8, path utf8, location utf8, label uint32, class_name utf8, hash utf8.
//! - `soft_labels`: stage utf8, id utf8, hash utf8, view uint32, top_classes list<uint32>,
//!   top_probs list<float32>, entropy float32, teacher_fingerprint utf8.
//! - `predictions`: stage utf8, model utf8, model_fingerprint utf8, head utf8, id utf8, hash utf8
//!   (nullable), label uint32, predicted uint32, confidence float32, correct bool,
//!   top_classes list<uint32>, top_logits list<float32>.
//! - `per_class`: stage utf8, model utf8, head utf8, class uint32, class_name utf8, train_count
//!   uint32 (nullable), shot_group utf8, test_samples uint32, accuracy, precision, recall float64 (nullable).
//! - `runs`: stage utf8, kind utf8, fingerprint utf8, parameters utf8 (JSON), wall_s float64
//!   (nullable), images_per_s float64 (nullable).
//!
//! Files are written whole to a temporary sibling and renamed, so a failed write leaves nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Float32Array, Float64Array, ListArray, StringArray, UInt32Array};
use arrow::datatypes::{DataType, Field, Float32Type, Schema, UInt32Type};
use arrow::record_batch::RecordBatch;

use super::arrow_io::{column, decode_ipc, encode_ipc, metadata, metadata_map, metadata_parsed};
use crate::error::{Error, Result};
use crate::spec::stages::TableFormat;

/// Bumped when any table's columns change; readers refuse other versions.
pub const TABLES_SCHEMA_VERSION: u32 = 1;

/// Metadata keys of a table file.
pub mod keys {
    pub const TABLE: &str = "ssdlt.table";
    pub const SCHEMA_VERSION: &str = "ssdlt.schema_version";
    pub const PIPELINE: &str = "ssdlt.pipeline";
    pub const STAGE: &str = "ssdlt.stage";
    pub const FINGERPRINT: &str = "ssdlt.fingerprint";
    pub const SSDLT_VERSION: &str = "ssdlt.ssdlt_version";
}

/// The five label tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum TableName {
    Samples,
    SoftLabels,
    Predictions,
    PerClass,
    Runs,
}

impl TableName {
    pub const ALL: [TableName; 5] = [TableName::Samples, TableName::SoftLabels, TableName::Predictions, TableName::PerClass, TableName::Runs];

    pub fn as_str(self) -> &'static str {
        match self {
            TableName::Samples => "samples",
            TableName::SoftLabels => "soft_labels",
            TableName::Predictions => "predictions",
            TableName::PerClass => "per_class",
            TableName::Runs => "runs",
        }
    }

    pub fn parse(name: &str) -> Option<TableName> {
        TableName::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// The file name extension of a format.
pub fn extension(format: TableFormat) -> &'static str {
    match format {
        TableFormat::Arrow => "arrow",
        TableFormat::Parquet => "parquet",
        TableFormat::Csv => "csv",
    }
}

/// Who wrote a table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Provenance {
    pub pipeline: String,
    /// The export stage's name, or `ssdlt export` for the command.
    pub stage: String,
    pub fingerprint: String,
}

/// One table: its name and its rows as an Arrow record batch (metadata in the schema).
#[derive(Debug, Clone)]
pub struct Table {
    pub name: TableName,
    pub batch: RecordBatch,
}

impl Table {
    pub fn num_rows(&self) -> usize {
        self.batch.num_rows()
    }

    /// A metadata value of the table (`keys::*`).
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.batch.schema_ref().metadata().get(key).map(String::as_str)
    }
}

/// A row of `samples`.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRow {
    /// `train`, `val` or `test`.
    pub split: String,
    pub id: String,
    /// The image file, or the binary file holding the record.
    pub path: String,
    /// Where in `path` (`record 12`, `line 3`, `file`, `generated sample`).
    pub location: String,
    pub label: u32,
    pub class_name: String,
    /// blake3 of the sample's bytes, hex.
    pub hash: String,
}

/// A row of `soft_labels`.
#[derive(Debug, Clone, PartialEq)]
pub struct SoftLabelTableRow {
    /// The soft_labels stage.
    pub stage: String,
    pub id: String,
    pub hash: String,
    pub view: u32,
    pub top_classes: Vec<u32>,
    pub top_probs: Vec<f32>,
    /// Shannon entropy (nats) of the kept probabilities.
    pub entropy: f32,
    pub teacher_fingerprint: String,
}

/// A row of `predictions`.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionTableRow {
    /// The evaluate stage.
    pub stage: String,
    pub model: String,
    pub model_fingerprint: String,
    pub head: String,
    pub id: String,
    /// The test sample's content hash, when the sample list was known.
    pub hash: Option<String>,
    pub label: u32,
    pub predicted: u32,
    pub confidence: f32,
    pub top_classes: Vec<u32>,
    pub top_logits: Vec<f32>,
}

/// A row of `per_class`: one class under one (model, head).
#[derive(Debug, Clone, PartialEq)]
pub struct PerClassRow {
    pub stage: String,
    pub model: String,
    pub head: String,
    pub class: u32,
    pub class_name: String,
    pub train_count: Option<u32>,
    /// `many`, `medium` or `few`.
    pub shot_group: String,
    pub test_samples: u32,
    pub accuracy: Option<f64>,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
}

/// A row of `runs`: one stage of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub stage: String,
    pub kind: String,
    pub fingerprint: String,
    /// The stage's parameters as JSON text.
    pub parameters: String,
    pub wall_s: Option<f64>,
    pub images_per_s: Option<f64>,
}

fn utf8(name: &str) -> Field {
    Field::new(name, DataType::Utf8, false)
}

fn list_of(name: &str, item: DataType) -> Field {
    Field::new(name, DataType::List(Arc::new(Field::new("item", item, true))), false)
}

fn strings<'a>(values: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

fn u32_lists<'a>(rows: impl Iterator<Item = &'a Vec<u32>>) -> ArrayRef {
    Arc::new(ListArray::from_iter_primitive::<UInt32Type, _, _>(rows.map(|r| Some(r.iter().map(|&v| Some(v))))))
}

fn f32_lists<'a>(rows: impl Iterator<Item = &'a Vec<f32>>) -> ArrayRef {
    Arc::new(ListArray::from_iter_primitive::<Float32Type, _, _>(rows.map(|r| Some(r.iter().map(|&v| Some(v))))))
}

fn build(name: TableName, fields: Vec<Field>, columns: Vec<ArrayRef>, prov: &Provenance) -> Result<Table> {
    let schema = Arc::new(Schema::new(fields).with_metadata(metadata_map(&[
        (keys::TABLE, name.as_str().to_string()),
        (keys::SCHEMA_VERSION, TABLES_SCHEMA_VERSION.to_string()),
        (keys::PIPELINE, prov.pipeline.clone()),
        (keys::STAGE, prov.stage.clone()),
        (keys::FINGERPRINT, prov.fingerprint.clone()),
        (keys::SSDLT_VERSION, env!("CARGO_PKG_VERSION").to_string()),
    ])));
    let batch = RecordBatch::try_new(schema, columns).map_err(|e| Error::invalid(format!("table `{}`", name.as_str()), e.to_string()))?;
    Ok(Table { name, batch })
}

pub fn samples_table(rows: &[SampleRow], prov: &Provenance) -> Result<Table> {
    let fields = vec![utf8("split"), utf8("id"), utf8("path"), utf8("location"), Field::new("label", DataType::UInt32, false), utf8("class_name"), utf8("hash")];
    let columns = vec![
        strings(rows.iter().map(|r| r.split.as_str())),
        strings(rows.iter().map(|r| r.id.as_str())),
        strings(rows.iter().map(|r| r.path.as_str())),
        strings(rows.iter().map(|r| r.location.as_str())),
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.label))) as ArrayRef,
        strings(rows.iter().map(|r| r.class_name.as_str())),
        strings(rows.iter().map(|r| r.hash.as_str())),
    ];
    build(TableName::Samples, fields, columns, prov)
}

pub fn soft_labels_table(rows: &[SoftLabelTableRow], prov: &Provenance) -> Result<Table> {
    let fields = vec![
        utf8("stage"),
        utf8("id"),
        utf8("hash"),
        Field::new("view", DataType::UInt32, false),
        list_of("top_classes", DataType::UInt32),
        list_of("top_probs", DataType::Float32),
        Field::new("entropy", DataType::Float32, false),
        utf8("teacher_fingerprint"),
    ];
    let columns = vec![
        strings(rows.iter().map(|r| r.stage.as_str())),
        strings(rows.iter().map(|r| r.id.as_str())),
        strings(rows.iter().map(|r| r.hash.as_str())),
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.view))) as ArrayRef,
        u32_lists(rows.iter().map(|r| &r.top_classes)),
        f32_lists(rows.iter().map(|r| &r.top_probs)),
        Arc::new(Float32Array::from_iter_values(rows.iter().map(|r| r.entropy))),
        strings(rows.iter().map(|r| r.teacher_fingerprint.as_str())),
    ];
    build(TableName::SoftLabels, fields, columns, prov)
}

pub fn predictions_table(rows: &[PredictionTableRow], prov: &Provenance) -> Result<Table> {
    let fields = vec![
        utf8("stage"),
        utf8("model"),
        utf8("model_fingerprint"),
        utf8("head"),
        utf8("id"),
        Field::new("hash", DataType::Utf8, true),
        Field::new("label", DataType::UInt32, false),
        Field::new("predicted", DataType::UInt32, false),
        Field::new("confidence", DataType::Float32, false),
        Field::new("correct", DataType::Boolean, false),
        list_of("top_classes", DataType::UInt32),
        list_of("top_logits", DataType::Float32),
    ];
    let columns = vec![
        strings(rows.iter().map(|r| r.stage.as_str())),
        strings(rows.iter().map(|r| r.model.as_str())),
        strings(rows.iter().map(|r| r.model_fingerprint.as_str())),
        strings(rows.iter().map(|r| r.head.as_str())),
        strings(rows.iter().map(|r| r.id.as_str())),
        Arc::new(StringArray::from_iter(rows.iter().map(|r| r.hash.as_deref()))) as ArrayRef,
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.label))),
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.predicted))),
        Arc::new(Float32Array::from_iter_values(rows.iter().map(|r| r.confidence))),
        Arc::new(BooleanArray::from(rows.iter().map(|r| r.label == r.predicted).collect::<Vec<_>>())),
        u32_lists(rows.iter().map(|r| &r.top_classes)),
        f32_lists(rows.iter().map(|r| &r.top_logits)),
    ];
    build(TableName::Predictions, fields, columns, prov)
}

pub fn per_class_table(rows: &[PerClassRow], prov: &Provenance) -> Result<Table> {
    let f64n = |name: &str| Field::new(name, DataType::Float64, true);
    let fields = vec![
        utf8("stage"),
        utf8("model"),
        utf8("head"),
        Field::new("class", DataType::UInt32, false),
        utf8("class_name"),
        Field::new("train_count", DataType::UInt32, true),
        utf8("shot_group"),
        Field::new("test_samples", DataType::UInt32, false),
        f64n("accuracy"),
        f64n("precision"),
        f64n("recall"),
    ];
    let columns = vec![
        strings(rows.iter().map(|r| r.stage.as_str())),
        strings(rows.iter().map(|r| r.model.as_str())),
        strings(rows.iter().map(|r| r.head.as_str())),
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.class))) as ArrayRef,
        strings(rows.iter().map(|r| r.class_name.as_str())),
        Arc::new(UInt32Array::from(rows.iter().map(|r| r.train_count).collect::<Vec<_>>())),
        strings(rows.iter().map(|r| r.shot_group.as_str())),
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.test_samples))),
        Arc::new(Float64Array::from(rows.iter().map(|r| r.accuracy).collect::<Vec<_>>())),
        Arc::new(Float64Array::from(rows.iter().map(|r| r.precision).collect::<Vec<_>>())),
        Arc::new(Float64Array::from(rows.iter().map(|r| r.recall).collect::<Vec<_>>())),
    ];
    build(TableName::PerClass, fields, columns, prov)
}

pub fn runs_table(rows: &[RunRow], prov: &Provenance) -> Result<Table> {
    let fields = vec![utf8("stage"), utf8("kind"), utf8("fingerprint"), utf8("parameters"), Field::new("wall_s", DataType::Float64, true), Field::new("images_per_s", DataType::Float64, true)];
    let columns = vec![
        strings(rows.iter().map(|r| r.stage.as_str())),
        strings(rows.iter().map(|r| r.kind.as_str())),
        strings(rows.iter().map(|r| r.fingerprint.as_str())),
        strings(rows.iter().map(|r| r.parameters.as_str())),
        Arc::new(Float64Array::from(rows.iter().map(|r| r.wall_s).collect::<Vec<_>>())) as ArrayRef,
        Arc::new(Float64Array::from(rows.iter().map(|r| r.images_per_s).collect::<Vec<_>>())),
    ];
    build(TableName::Runs, fields, columns, prov)
}

/// The bytes of `table` in `format` (`path` names the file in errors). For CSV the second value
/// is the sidecar `<file>.meta.json` text.
pub fn encode_table(table: &Table, format: TableFormat, path: &Path) -> Result<(Vec<u8>, Option<Vec<u8>>)> {
    let schema = table.batch.schema();
    match format {
        TableFormat::Arrow => {
            let columns = table.batch.columns().to_vec();
            Ok((encode_ipc(schema.as_ref().clone(), columns, path)?, None))
        }
        TableFormat::Parquet => {
            use parquet::arrow::ArrowWriter;
            use parquet::basic::Compression;
            use parquet::file::metadata::KeyValue;
            use parquet::file::properties::WriterProperties;
            let kv = schema.metadata().iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())).collect();
            let props = WriterProperties::builder().set_compression(Compression::SNAPPY).set_key_value_metadata(Some(kv)).build();
            let fail = |e: parquet::errors::ParquetError| Error::File { path: path.to_path_buf(), message: format!("cannot write the Parquet table: {e}") };
            let mut bytes = Vec::new();
            let mut writer = ArrowWriter::try_new(&mut bytes, schema, Some(props)).map_err(fail)?;
            writer.write(&table.batch).map_err(fail)?;
            writer.close().map_err(fail)?;
            Ok((bytes, None))
        }
        TableFormat::Csv => {
            let flat = csv_batch(&table.batch)?;
            let mut bytes = Vec::new();
            {
                let mut writer = arrow::csv::WriterBuilder::new().with_header(true).build(&mut bytes);
                writer.write(&flat).map_err(|e| Error::File { path: path.to_path_buf(), message: format!("cannot write the CSV table: {e}") })?;
            }
            let columns: BTreeMap<String, String> = schema.fields().iter().map(|f| (f.name().clone(), f.data_type().to_string())).collect();
            let metadata: BTreeMap<String, String> = schema.metadata().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            let meta = serde_json::json!({ "metadata": metadata, "columns": columns, "lists": "list columns are JSON arrays" });
            Ok((bytes, Some(serde_json::to_vec_pretty(&meta).expect("metadata serializes"))))
        }
    }
}

/// The batch with every list column rendered as JSON array text (CSV holds no lists).
fn csv_batch(batch: &RecordBatch) -> Result<RecordBatch> {
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (field, col) in batch.schema().fields().iter().zip(batch.columns()) {
        if let Some(list) = col.as_any().downcast_ref::<ListArray>() {
            let text: Vec<String> = (0..list.len())
                .map(|i| {
                    let items = list.value(i);
                    if let Some(u) = items.as_any().downcast_ref::<UInt32Array>() {
                        serde_json::to_string(&u.values().to_vec()).expect("numbers serialize")
                    } else if let Some(f) = items.as_any().downcast_ref::<Float32Array>() {
                        serde_json::to_string(&f.values().to_vec()).expect("numbers serialize")
                    } else {
                        String::from("[]")
                    }
                })
                .collect();
            fields.push(Field::new(field.name(), DataType::Utf8, false));
            columns.push(Arc::new(StringArray::from(text)));
        } else {
            fields.push(field.as_ref().clone());
            columns.push(col.clone());
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| Error::invalid("CSV table", e.to_string()))
}

/// The sidecar of a CSV table file.
pub fn csv_sidecar(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".meta.json");
    path.with_file_name(name)
}

/// Writes `table` to `path` in `format`, atomically (a temporary sibling renamed into place; a
/// failure leaves no file). An unwritable place is a usage error that names the path.
pub fn write_table(path: &Path, table: &Table, format: TableFormat) -> Result<()> {
    let (bytes, sidecar) = encode_table(table, format, path)?;
    let unwritable = |e: Error| match e {
        Error::Io { path, source } => Error::File { path, message: format!("cannot write the {} table here ({source}); choose a writable path with -o or `dir:`", table.name.as_str()) },
        other => other,
    };
    if path.is_dir() {
        return Err(Error::File { path: path.to_path_buf(), message: "is a folder; give a file path with -o".into() });
    }
    super::atomic::write_atomically(path, &bytes).map_err(unwritable)?;
    if let Some(meta) = sidecar {
        if let Err(e) = super::atomic::write_atomically(&csv_sidecar(path), &meta) {
            let _ = std::fs::remove_file(path);
            return Err(unwritable(e));
        }
    }
    Ok(())
}

/// Reads a table from the bytes of an Arrow IPC table file, checking its name and schema version.
pub fn decode_table(bytes: &[u8], path: &Path) -> Result<Table> {
    let bad = |m: String| Error::File { path: path.to_path_buf(), message: m };
    let (schema, batches) = decode_ipc(bytes, path)?;
    let name = metadata(&schema, keys::TABLE, path)?;
    let name = TableName::parse(name).ok_or_else(|| bad(format!("holds table `{name}`, which this ssdlt does not know")))?;
    let version: u32 = metadata_parsed(&schema, keys::SCHEMA_VERSION, path)?;
    if version != TABLES_SCHEMA_VERSION {
        return Err(bad(format!("table schema version {version}; this ssdlt reads version {TABLES_SCHEMA_VERSION}: re-run the export stage")));
    }
    let batch = arrow::compute::concat_batches(&schema, &batches).map_err(|e| bad(format!("cannot join the record batches: {e}")))?;
    Ok(Table { name, batch })
}

/// Reads the Arrow IPC table file at `path`.
pub fn read_table(path: &Path) -> Result<Table> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_table(&bytes, path)
}

fn u32_list_rows(batch: &RecordBatch, name: &str, path: &Path) -> Result<Vec<Vec<u32>>> {
    let list = column::<ListArray>(batch, name, "List<UInt32>", path)?;
    (0..list.len())
        .map(|i| {
            let v = list.value(i);
            v.as_any().downcast_ref::<UInt32Array>().map(|a| a.values().to_vec()).ok_or_else(|| Error::File { path: path.to_path_buf(), message: format!("column `{name}` holds {}, expected UInt32 items", v.data_type()) })
        })
        .collect()
}

fn f32_list_rows(batch: &RecordBatch, name: &str, path: &Path) -> Result<Vec<Vec<f32>>> {
    let list = column::<ListArray>(batch, name, "List<Float32>", path)?;
    (0..list.len())
        .map(|i| {
            let v = list.value(i);
            v.as_any().downcast_ref::<Float32Array>().map(|a| a.values().to_vec()).ok_or_else(|| Error::File { path: path.to_path_buf(), message: format!("column `{name}` holds {}, expected Float32 items", v.data_type()) })
        })
        .collect()
}

fn expect_table(table: &Table, want: TableName, path: &Path) -> Result<()> {
    if table.name != want {
        return Err(Error::File { path: path.to_path_buf(), message: format!("holds table `{}`, expected `{}`", table.name.as_str(), want.as_str()) });
    }
    Ok(())
}

/// The rows of a `samples` table (`path` names its file in errors).
pub fn sample_rows(table: &Table, path: &Path) -> Result<Vec<SampleRow>> {
    expect_table(table, TableName::Samples, path)?;
    let b = &table.batch;
    let s = |name: &str| column::<StringArray>(b, name, "Utf8", path);
    let (split, id, file, location, class_name, hash) = (s("split")?, s("id")?, s("path")?, s("location")?, s("class_name")?, s("hash")?);
    let label = column::<UInt32Array>(b, "label", "UInt32", path)?;
    Ok((0..b.num_rows())
        .map(|i| SampleRow {
            split: split.value(i).into(),
            id: id.value(i).into(),
            path: file.value(i).into(),
            location: location.value(i).into(),
            label: label.value(i),
            class_name: class_name.value(i).into(),
            hash: hash.value(i).into(),
        })
        .collect())
}

/// The rows of a `soft_labels` table.
pub fn soft_label_rows(table: &Table, path: &Path) -> Result<Vec<SoftLabelTableRow>> {
    expect_table(table, TableName::SoftLabels, path)?;
    let b = &table.batch;
    let s = |name: &str| column::<StringArray>(b, name, "Utf8", path);
    let (stage, id, hash, teacher) = (s("stage")?, s("id")?, s("hash")?, s("teacher_fingerprint")?);
    let view = column::<UInt32Array>(b, "view", "UInt32", path)?;
    let entropy = column::<Float32Array>(b, "entropy", "Float32", path)?;
    let classes = u32_list_rows(b, "top_classes", path)?;
    let probs = f32_list_rows(b, "top_probs", path)?;
    Ok(classes
        .into_iter()
        .zip(probs)
        .enumerate()
        .map(|(i, (top_classes, top_probs))| SoftLabelTableRow {
            stage: stage.value(i).into(),
            id: id.value(i).into(),
            hash: hash.value(i).into(),
            view: view.value(i),
            top_classes,
            top_probs,
            entropy: entropy.value(i),
            teacher_fingerprint: teacher.value(i).into(),
        })
        .collect())
}

/// The rows of a `predictions` table.
pub fn prediction_rows(table: &Table, path: &Path) -> Result<Vec<PredictionTableRow>> {
    expect_table(table, TableName::Predictions, path)?;
    let b = &table.batch;
    let s = |name: &str| column::<StringArray>(b, name, "Utf8", path);
    let (stage, model, fp, head, id, hash) = (s("stage")?, s("model")?, s("model_fingerprint")?, s("head")?, s("id")?, s("hash")?);
    let u = |name: &str| column::<UInt32Array>(b, name, "UInt32", path);
    let (label, predicted) = (u("label")?, u("predicted")?);
    let confidence = column::<Float32Array>(b, "confidence", "Float32", path)?;
    let classes = u32_list_rows(b, "top_classes", path)?;
    let logits = f32_list_rows(b, "top_logits", path)?;
    Ok(classes
        .into_iter()
        .zip(logits)
        .enumerate()
        .map(|(i, (top_classes, top_logits))| PredictionTableRow {
            stage: stage.value(i).into(),
            model: model.value(i).into(),
            model_fingerprint: fp.value(i).into(),
            head: head.value(i).into(),
            id: id.value(i).into(),
            hash: hash.is_valid(i).then(|| hash.value(i).to_string()),
            label: label.value(i),
            predicted: predicted.value(i),
            confidence: confidence.value(i),
            top_classes,
            top_logits,
        })
        .collect())
}

/// Shannon entropy in nats of probabilities (zeros contribute nothing).
pub fn entropy(probs: &[f32]) -> f32 {
    -probs.iter().filter(|&&p| p > 0.0).map(|&p| p * p.ln()).sum::<f32>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_a_uniform_distribution_is_log_of_its_size() {
        assert!((entropy(&[0.25; 4]) - 4f32.ln()).abs() < 1e-6);
        assert_eq!(entropy(&[1.0, 0.0]), 0.0);
    }

    #[test]
    fn table_names_parse_back() {
        for t in TableName::ALL {
            assert_eq!(TableName::parse(t.as_str()), Some(t));
        }
        assert_eq!(TableName::parse("sample"), None);
    }
}

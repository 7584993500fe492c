//! Tests: the label tables (in-memory round trips in every format, schema version and provenance
//! in the files, atomic writes) and the export stage's delta update. Also the fixture the report
//! and compare tests build their stores from: stage outputs written as the stages write them.

use std::path::{Path, PathBuf};

use ssdlt::data::ContentHash;
use ssdlt::kernels::Device;
use ssdlt::nn::metrics::{classification_metrics, row_prediction};
use ssdlt::spec::dataset::LoadedData;
use ssdlt::spec::stages::{ExportSpec, TableFormat};
use ssdlt::stages::export::{run as run_export, stored_table_path};
use ssdlt::stages::{NoProgress, PipelineRef, StageContext, StageCounters, StageInput, StageReport, HISTORY_FILE, METRICS_JSON, PREDICTIONS_FILE, SOFT_LABELS_FILE};
use ssdlt::store::metrics::{write_predictions, EvaluationReport, HeadMetrics, PredictionRow, METRICS_SCHEMA_VERSION};
use ssdlt::store::soft_labels::{write_soft_labels, SoftLabelRow, SoftLabelSet};
use ssdlt::store::tables::*;

use crate::stages_fixtures::{input, synthetic_data, Scratch, CLASSES};

pub const TRAIN_COUNTS: [usize; 4] = [12, 6, 3, 2];
pub const TEST_PER_CLASS: usize = 3;

fn prov() -> Provenance {
    Provenance { pipeline: "p".into(), stage: "tables".into(), fingerprint: "f00d".into() }
}

fn every_table() -> Vec<Table> {
    let p = prov();
    vec![
        samples_table(&[SampleRow { split: "train".into(), id: "train/0".into(), path: "data/x.bin".into(), location: "record 0".into(), label: 2, class_name: "cat".into(), hash: "ab".repeat(32) }], &p).unwrap(),
        soft_labels_table(
            &[
                SoftLabelTableRow { stage: "soft".into(), id: "a".into(), hash: "00".into(), view: 0, top_classes: vec![2, 0], top_probs: vec![0.75, 0.25], entropy: entropy(&[0.75, 0.25]), teacher_fingerprint: "t1".into() },
                SoftLabelTableRow { stage: "soft".into(), id: "a".into(), hash: "00".into(), view: 1, top_classes: vec![1, 2], top_probs: vec![0.5, 0.5], entropy: entropy(&[0.5, 0.5]), teacher_fingerprint: "t1".into() },
            ],
            &p,
        )
        .unwrap(),
        predictions_table(
            &[
                PredictionTableRow { stage: "eval".into(), model: "ce".into(), model_fingerprint: "m".into(), head: "fc".into(), id: "test/0".into(), hash: Some("01".into()), label: 1, predicted: 1, confidence: 0.9, top_classes: vec![1, 0], top_logits: vec![3.0, -1.0] },
                PredictionTableRow { stage: "eval".into(), model: "ce".into(), model_fingerprint: "m".into(), head: "fc".into(), id: "test/1".into(), hash: None, label: 0, predicted: 1, confidence: 0.6, top_classes: vec![1, 0], top_logits: vec![0.5, 0.1] },
            ],
            &p,
        )
        .unwrap(),
        per_class_table(
            &[PerClassRow { stage: "eval".into(), model: "ce".into(), head: "fc".into(), class: 0, class_name: "cat".into(), train_count: Some(12), shot_group: "many".into(), test_samples: 3, accuracy: Some(2.0 / 3.0), precision: None, recall: Some(2.0 / 3.0) }],
            &p,
        )
        .unwrap(),
        runs_table(&[RunRow { stage: "ce".into(), kind: "train".into(), fingerprint: "c0ffee".into(), parameters: "{\"epochs\":1}".into(), wall_s: Some(1.5), images_per_s: None }], &p).unwrap(),
    ]
}

#[test]
fn every_table_round_trips_through_arrow_with_its_schema_version() {
    let scratch = Scratch::new("tables-arrow");
    for table in every_table() {
        let path = scratch.root.join(format!("{}.arrow", table.name.as_str()));
        write_table(&path, &table, TableFormat::Arrow).unwrap();
        let back = read_table(&path).unwrap();
        assert_eq!(back.name, table.name);
        assert_eq!(back.batch, table.batch, "{}", table.name.as_str());
        assert_eq!(back.meta(keys::SCHEMA_VERSION), Some(TABLES_SCHEMA_VERSION.to_string().as_str()));
        assert_eq!(back.meta(keys::FINGERPRINT), Some("f00d"));
        assert_eq!(back.meta(keys::TABLE), Some(table.name.as_str()));
    }
    let t = &every_table()[2];
    let path = scratch.root.join("predictions.arrow");
    assert_eq!(prediction_rows(&read_table(&path).unwrap(), &path).unwrap(), prediction_rows(t, &path).unwrap());
}

#[test]
fn every_table_round_trips_through_parquet_with_the_version_in_the_footer() {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let scratch = Scratch::new("tables-parquet");
    for table in every_table() {
        let path = scratch.root.join(format!("{}.parquet", table.name.as_str()));
        write_table(&path, &table, TableFormat::Parquet).unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap();
        let kv = builder.metadata().file_metadata().key_value_metadata().cloned().unwrap_or_default();
        assert!(kv.iter().any(|e| e.key == keys::SCHEMA_VERSION && e.value.as_deref() == Some(TABLES_SCHEMA_VERSION.to_string().as_str())), "{kv:?}");
        assert_eq!(builder.schema().metadata().get(keys::TABLE).map(String::as_str), Some(table.name.as_str()));
        let batches: Vec<_> = builder.build().unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].columns(), table.batch.columns(), "{}", table.name.as_str());
        assert_eq!(batches[0].schema().fields(), table.batch.schema().fields());
    }
}

#[test]
fn every_table_round_trips_through_csv_with_lists_as_json_and_a_metadata_sidecar() {
    let scratch = Scratch::new("tables-csv");
    for table in every_table() {
        let path = scratch.root.join(format!("{}.csv", table.name.as_str()));
        write_table(&path, &table, TableFormat::Csv).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut reader = arrow::csv::ReaderBuilder::new(std::sync::Arc::new(arrow::datatypes::Schema::new(
            table.batch.schema().fields().iter().map(|f| arrow::datatypes::Field::new(f.name(), arrow::datatypes::DataType::Utf8, true)).collect::<Vec<_>>(),
        )))
        .with_header(true)
        .build(std::io::Cursor::new(text.clone()))
        .unwrap();
        let batch = reader.next().unwrap().unwrap();
        assert_eq!(batch.num_rows(), table.num_rows(), "{text}");
        let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
        let names: Vec<&str> = table.batch.schema_ref().fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(header, names);
        let sidecar: serde_json::Value = serde_json::from_slice(&std::fs::read(csv_sidecar(&path)).unwrap()).unwrap();
        assert_eq!(sidecar["metadata"][keys::SCHEMA_VERSION], TABLES_SCHEMA_VERSION.to_string());
    }
    let soft = std::fs::read_to_string(scratch.root.join("soft_labels.csv")).unwrap();
    assert!(soft.contains("\"[2,0]\",\"[0.75,0.25]\""), "{soft}");
    let preds = std::fs::read_to_string(scratch.root.join("predictions.csv")).unwrap();
    assert_eq!(preds.lines().nth(2).unwrap(), "eval,ce,m,fc,test/1,,0,1,0.6,false,\"[1,0]\",\"[0.5,0.1]\"");
}

#[test]
fn a_table_written_under_a_file_is_a_usage_error_and_leaves_nothing() {
    let scratch = Scratch::new("tables-unwritable");
    let blocker = scratch.root.join("a-file");
    std::fs::write(&blocker, b"x").unwrap();
    for format in [TableFormat::Arrow, TableFormat::Parquet, TableFormat::Csv] {
        let path = blocker.join("runs.out");
        let err = write_table(&path, &every_table()[4], format).unwrap_err();
        assert!(err.is_usage(), "{err}");
        assert!(err.to_string().contains("choose a writable path"), "{err}");
        assert!(!path.exists());
    }
    assert_eq!(std::fs::read_dir(&scratch.root).unwrap().count(), 1, "no temporary file left behind");
}

/// A soft-label set for `data`'s training samples: 2 views, the label and the next class.
pub fn soft_set(data: &LoadedData, teacher: &str) -> SoftLabelSet {
    let rows = data
        .train
        .samples
        .iter()
        .flat_map(|s| (0..2u32).map(move |view| SoftLabelRow { id: s.id.clone(), hash: s.hash, view, classes: vec![s.label, (s.label + 1) % CLASSES as u32], probs: vec![0.7 - 0.1 * view as f32, 0.3] }))
        .collect();
    SoftLabelSet { temperature: 2.0, k: 2, num_classes: CLASSES, teacher_fingerprint: teacher.into(), views: 2, rows }
}

/// Writes an evaluate stage's files into `dir` for models `models` (name, fingerprint, skill):
/// a test sample is right when `(index * 7 + offset) % 10 < skill`.
pub fn write_evaluation(data: &LoadedData, dir: &Path, models: &[(&str, &str, usize)]) {
    std::fs::create_dir_all(dir).unwrap();
    let labels = data.test.labels();
    let groups = data.stats.groups.clone();
    let (mut results, mut predictions) = (Vec::new(), Vec::new());
    for (m, &(model, fingerprint, skill)) in models.iter().enumerate() {
        let mut logits = vec![0f32; labels.len() * CLASSES];
        for (i, &l) in labels.iter().enumerate() {
            let right = (i * 7 + m) % 10 < skill;
            let c = if right { l as usize } else { (l as usize + 1) % CLASSES };
            logits[i * CLASSES + c] = 2.0;
        }
        let metrics = classification_metrics(&logits, &labels, CLASSES, &groups, 15).unwrap();
        for (row, s) in logits.chunks_exact(CLASSES).zip(&data.test.samples) {
            let p = row_prediction(row, 4);
            predictions.push(PredictionRow { model: model.into(), head: "fc".into(), id: s.id.clone(), label: s.label, predicted: p.predicted, confidence: p.confidence, top_classes: p.top_classes, top_logits: p.top_logits });
        }
        results.push(HeadMetrics { model: model.into(), fingerprint: fingerprint.into(), head: "fc".into(), default_head: true, metrics });
    }
    let report = EvaluationReport { schema_version: METRICS_SCHEMA_VERSION, class_names: data.test.class_names.clone(), shot_groups: groups, results };
    report.write_json(&dir.join(METRICS_JSON)).unwrap();
    write_predictions(&dir.join(PREDICTIONS_FILE), &predictions, 4).unwrap();
}

/// Runs the export stage over `inputs` into `out` (emptied first).
#[allow(clippy::too_many_arguments)] // every field of the stage context a test varies
pub fn export(dev: &Device, data: &LoadedData, inputs: &[StageInput], out: &Path, previous: Option<&Path>, pipeline: Option<PipelineRef>, format: TableFormat, scratch: &Scratch) -> StageReport {
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out).unwrap();
    let counters = StageCounters::default();
    let ctx = StageContext {
        dev,
        seed: 5,
        name: "tables",
        fingerprint: "export-fp",
        data,
        inputs,
        out_dir: out,
        resume_dir: &scratch.resume,
        cache_dir: &scratch.cache,
        previous,
        progress: &NoProgress,
        counters: &counters,
        pipeline,
    };
    run_export(&ExportSpec { from: inputs.iter().map(|i| i.name.clone()).collect(), format, dir: None }, &ctx).unwrap()
}

fn stage_dirs(scratch: &Scratch, data: &LoadedData, teacher: &str) -> Vec<StageInput> {
    let soft = scratch.fresh_dir("soft");
    write_soft_labels(&soft.join(SOFT_LABELS_FILE), &soft_set(data, teacher)).unwrap();
    let eval = scratch.fresh_dir("eval");
    write_evaluation(data, &eval, &[("ce", "ce-fp", 6), ("student", "st-fp", 8)]);
    vec![input("soft", "soft_labels", "soft-fp", &soft), input("eval", "evaluate", "eval-fp", &eval)]
}

fn all_tables(dir: &Path) -> Vec<Table> {
    TableName::ALL.iter().map(|&t| read_table(&stored_table_path(dir, t)).unwrap()).collect()
}

#[test]
fn the_export_stage_rebuilds_only_the_rows_of_changed_samples() {
    let dev = crate::common::cpu();
    let scratch = Scratch::new("export-delta");
    let mut data = synthetic_data(&TRAIN_COUNTS, TEST_PER_CLASS);
    let inputs = stage_dirs(&scratch, &data, "teacher-1");
    let first = scratch.root.join("out1");
    let report = export(&dev, &data, &inputs, &first, None, None, TableFormat::Parquet, &scratch);
    let (n_train, n_test) = (data.train.len(), data.test.len());
    assert_eq!(report.metrics["samples_rebuilt"], (n_train + n_test) as f64);
    assert_eq!(report.metrics["soft_labels_rows"], (2 * n_train) as f64);
    assert_eq!(report.metrics["predictions_rows"], (2 * n_test) as f64);
    assert_eq!(report.metrics["per_class_rows"], (2 * CLASSES) as f64);
    assert!(first.join("tables/samples.parquet").exists() && first.join("tables/samples.arrow").exists());

    // One training image and one test image change; the soft labels and predictions follow.
    data.train.samples[3].hash = ContentHash::of(b"edited training image");
    data.test.samples[1].hash = ContentHash::of(b"edited test image");
    let inputs = stage_dirs(&scratch, &data, "teacher-1");
    let second = scratch.root.join("out2");
    let report = export(&dev, &data, &inputs, &second, Some(&first), None, TableFormat::Parquet, &scratch);
    assert_eq!(report.metrics["samples_rebuilt"], 2.0);
    assert_eq!(report.metrics["samples_carried"], (n_train + n_test - 2) as f64);
    assert_eq!(report.metrics["soft_labels_rebuilt"], 2.0, "both views of the changed training image");
    assert_eq!(report.metrics["predictions_rebuilt"], 2.0, "the changed test image under each model");
    assert_eq!(report.metrics["predictions_carried"], (2 * n_test - 2) as f64);

    // The oracle: the same tables as an export from scratch.
    let scratch_out = scratch.root.join("out3");
    export(&dev, &data, &inputs, &scratch_out, None, None, TableFormat::Parquet, &scratch);
    for (inc, full) in all_tables(&second).iter().zip(all_tables(&scratch_out)) {
        assert_eq!(inc.batch, full.batch, "{}", inc.name.as_str());
    }

    // A new teacher invalidates every soft-label row, nothing else.
    let inputs = stage_dirs(&scratch, &data, "teacher-2");
    let third = scratch.root.join("out4");
    let report = export(&dev, &data, &inputs, &third, Some(&second), None, TableFormat::Arrow, &scratch);
    assert_eq!(report.metrics["soft_labels_rebuilt"], (2 * n_train) as f64);
    assert_eq!(report.metrics["samples_rebuilt"], 0.0);
}

#[test]
fn the_export_stage_publishes_to_exports_beside_the_pipeline_file_with_provenance() {
    let dev = crate::common::cpu();
    let scratch = Scratch::new("export-publish");
    let data = synthetic_data(&TRAIN_COUNTS, TEST_PER_CLASS);
    let inputs = stage_dirs(&scratch, &data, "teacher-1");
    let file = scratch.root.join("pipe.yaml");
    let out = scratch.root.join("out");
    export(&dev, &data, &inputs, &out, None, Some(PipelineRef { name: "demo", file: &file }), TableFormat::Csv, &scratch);
    let published: PathBuf = scratch.root.join("exports/demo");
    for t in TableName::ALL {
        assert!(published.join(format!("{}.csv", t.as_str())).exists(), "{}", t.as_str());
    }
    let per_class = read_table(&stored_table_path(&out, TableName::PerClass)).unwrap();
    assert_eq!(per_class.meta(keys::PIPELINE), Some("demo"));
    assert_eq!(per_class.meta(keys::STAGE), Some("tables"));
    assert_eq!(per_class.meta(keys::FINGERPRINT), Some("export-fp"));
    let samples = read_table(&stored_table_path(&out, TableName::Samples)).unwrap();
    let rows = sample_rows(&samples, Path::new("samples")).unwrap();
    assert_eq!(rows.iter().filter(|r| r.split == "train").count(), data.train.len());
    assert_eq!(rows[0].hash, data.train.samples[0].hash.to_hex());
}

#[test]
fn an_export_stage_reading_a_model_stage_is_rejected() {
    let dev = crate::common::cpu();
    let scratch = Scratch::new("export-bad-input");
    let data = synthetic_data(&TRAIN_COUNTS, TEST_PER_CLASS);
    let dir = scratch.fresh_dir("ce");
    let inputs = [input("ce", "train", "ce-fp", &dir)];
    let counters = StageCounters::default();
    let out = scratch.fresh_dir("out");
    let ctx = StageContext { dev: &dev, seed: 0, name: "tables", fingerprint: "x", data: &data, inputs: &inputs, out_dir: &out, resume_dir: &scratch.resume, cache_dir: &scratch.cache, previous: None, progress: &NoProgress, counters: &counters, pipeline: None };
    let err = run_export(&ExportSpec { from: vec!["ce".into()], format: TableFormat::Csv, dir: None }, &ctx).unwrap_err();
    assert!(err.is_usage());
    assert!(err.to_string().contains("`from` must name soft_labels or evaluate stages"), "{err}");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
}

/// A train stage's `history.json` of `epochs` epochs.
pub fn write_history(dir: &Path, epochs: usize) {
    let epochs: Vec<serde_json::Value> = (1..=epochs).map(|e| serde_json::json!({"epoch": e, "loss": 2.0 / e as f64, "train_acc": 0.2 * e as f64, "lr": 0.1 / e as f64})).collect();
    std::fs::write(dir.join(HISTORY_FILE), serde_json::to_vec(&serde_json::json!({"version": 1, "stage": "ce", "epochs": epochs})).unwrap()).unwrap();
}

#[test]
fn exported_tables_open_in_pyarrow_with_their_row_counts_and_types() {
    let pyarrow = std::process::Command::new("python3").args(["-c", "import pyarrow"]).output();
    if !pyarrow.map(|o| o.status.success()).unwrap_or(false) {
        eprintln!("skipped: python3 with pyarrow is not available (.ci/run installs it from PyPI)");
        return;
    }
    let dev = crate::common::cpu();
    let scratch = Scratch::new("export-pyarrow");
    let data = synthetic_data(&TRAIN_COUNTS, TEST_PER_CLASS);
    let inputs = stage_dirs(&scratch, &data, "teacher-1");
    let file = scratch.root.join("pipe.yaml");
    let mut rows = serde_json::Map::new();
    for format in [TableFormat::Arrow, TableFormat::Parquet, TableFormat::Csv] {
        let report = export(&dev, &data, &inputs, &scratch.root.join("out"), None, Some(PipelineRef { name: "demo", file: &file }), format, &scratch);
        for t in TableName::ALL {
            rows.insert(t.as_str().to_string(), serde_json::json!(report.metrics[&format!("{}_rows", t.as_str())] as u64));
        }
    }
    let expected = scratch.root.join("rows.json");
    std::fs::write(&expected, serde_json::to_vec(&rows).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/read_tables.py");
    let out = std::process::Command::new("python3").arg(script).arg(scratch.root.join("exports/demo")).arg(&expected).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("all tables read"), "read_tables.py failed:\n{text}");
}

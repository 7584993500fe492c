//! The evaluate stage: metrics of every model and classifier head from the model's own logits,
//! the three output files, and a prediction cache that re-predicts only changed test samples.

use std::sync::atomic::Ordering;

use ssdlt::data::{ContentHash, Pixels};
use ssdlt::nn::metrics::classification_metrics;
use ssdlt::nn::predict_logits;
use ssdlt::spec::dataset::LoadedData;
use ssdlt::spec::stages::EvaluateSpec;
use ssdlt::stages::model_io::load_model;
use ssdlt::stages::{evaluate, NoProgress, StageCounters, StageInput, METRICS_ARROW, METRICS_JSON, PREDICTIONS_FILE};
use ssdlt::store::metrics::EvaluationReport;

use crate::common;
use crate::stages_fixtures::{input, loaded, save_random_model, synthetic_data, Run, Scratch, CLASSES};

fn spec() -> EvaluateSpec {
    EvaluateSpec { from: vec!["student".into(), "ce".into()], batch_size: Some(8), ece_bins: 10 }
}

/// Evaluates the models of `inputs`; returns the report and the number of samples predicted.
fn evaluate_on(scratch: &Scratch, data: &LoadedData, inputs: &[StageInput]) -> (EvaluationReport, u64, std::path::PathBuf) {
    let dev = common::cpu();
    let out = scratch.fresh_dir("out");
    let counters = StageCounters::default();
    let run = Run { dev: &dev, data, name: "eval", inputs, out_dir: &out, scratch, progress: &NoProgress, counters: &counters };
    let report = evaluate::run(&spec(), &run.context()).unwrap();
    assert!(report.summary.contains(": top-1"), "{}", report.summary);
    (EvaluationReport::read_json(&out.join(METRICS_JSON)).unwrap(), counters.predicted_samples.load(Ordering::Relaxed), out)
}

fn models(scratch: &Scratch, data: &LoadedData) -> Vec<StageInput> {
    let dev = common::cpu();
    let student = scratch.fresh_dir("student");
    save_random_model(&dev, &student, &["fc", "fc_soft"], "fc_soft", 1, &data.lock.fingerprint);
    let ce = scratch.fresh_dir("ce");
    save_random_model(&dev, &ce, &["fc"], "fc", 2, &data.lock.fingerprint);
    vec![input("student", "train", "fp-student", &student), input("ce", "calibrate", "fp-ce", &ce)]
}

#[test]
fn evaluate_reports_every_head_default_first_with_metrics_of_the_models_own_logits() {
    let data = synthetic_data(&[12, 7, 4, 3], 3);
    let scratch = Scratch::new("eval-heads");
    let inputs = models(&scratch, &data);
    let (report, predicted, out) = evaluate_on(&scratch, &data, &inputs);
    assert_eq!(predicted, 2 * 12, "each model predicts each test sample once, all heads at once");
    let order: Vec<(&str, &str, bool)> = report.results.iter().map(|r| (r.model.as_str(), r.head.as_str(), r.default_head)).collect();
    assert_eq!(order, vec![("student", "fc_soft", true), ("student", "fc", false), ("ce", "fc", true)]);
    let dev = common::cpu();
    let mut images = Vec::new();
    for i in 0..data.test.len() {
        images.extend(data.eval_pipeline().view(&data.test, i, 0, 0, 0).unwrap().data);
    }
    for r in &report.results {
        let (mut net, _) = load_model(&dev, &inputs.iter().find(|i| i.name == r.model).unwrap().dir).unwrap();
        let head = net.head_index(&r.head).unwrap();
        let logits = predict_logits(&dev, &mut net, head, &images, data.sample_shape, 8).unwrap();
        let want = classification_metrics(&logits, &data.test.labels(), CLASSES, &data.stats.groups, 10).unwrap();
        // Through JSON as the stored report went (serde_json may round the last bit of an f64).
        let want: ssdlt::nn::metrics::ClassificationMetrics = serde_json::from_str(&serde_json::to_string(&want).unwrap()).unwrap();
        assert_eq!(r.metrics, want, "{} / {}", r.model, r.head);
        assert!(r.metrics.top5 >= r.metrics.top1);
        assert!(r.metrics.many.is_some() && r.metrics.medium.is_some() && r.metrics.few.is_some());
    }
    let predictions = std::fs::read(out.join(PREDICTIONS_FILE)).unwrap();
    let reader = arrow::ipc::reader::FileReader::try_new(std::io::Cursor::new(predictions), None).unwrap();
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 3 * 12, "one row per (model, head, test sample)");
    let metrics = std::fs::read(out.join(METRICS_ARROW)).unwrap();
    let reader = arrow::ipc::reader::FileReader::try_new(std::io::Cursor::new(metrics), None).unwrap();
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    // Per head: 8 overall metrics, 2 per class, C*C confusion cells.
    assert_eq!(rows, 3 * (8 + 2 * CLASSES + CLASSES * CLASSES));
}

#[test]
fn re_evaluating_an_unchanged_model_with_3_changed_test_samples_predicts_exactly_3() {
    let data = synthetic_data(&[12, 7, 4, 3], 3);
    let scratch = Scratch::new("eval-incremental");
    let inputs = models(&scratch, &data);
    let inputs = &inputs[1..];
    let (first, predicted, _) = evaluate_on(&scratch, &data, inputs);
    assert_eq!(predicted, 12);
    let (again, predicted, _) = evaluate_on(&scratch, &data, inputs);
    assert_eq!((predicted, &again), (0, &first), "nothing changed, nothing predicted");

    let mut test = data.test.clone();
    for i in [0, 5, 11] {
        let s = &mut test.samples[i];
        if let Pixels::Synthetic { index, .. } = &mut s.pixels {
            *index += 1000;
        }
        s.hash = ContentHash::of(format!("changed {i}").as_bytes());
    }
    let changed = loaded(data.train.clone(), test);
    let (_, predicted, _) = evaluate_on(&scratch, &changed, inputs);
    assert_eq!(predicted, 3);
}

#[test]
fn zero_ece_bins_is_a_usage_error() {
    let data = synthetic_data(&[12, 7, 4, 3], 1);
    let scratch = Scratch::new("eval-bins");
    let inputs = models(&scratch, &data);
    let dev = common::cpu();
    let out = scratch.fresh_dir("out");
    let counters = StageCounters::default();
    let run = Run { dev: &dev, data: &data, name: "eval", inputs: &inputs, out_dir: &out, scratch: &scratch, progress: &NoProgress, counters: &counters };
    let err = evaluate::run(&EvaluateSpec { ece_bins: 0, ..spec() }, &run.context()).unwrap_err();
    assert!(err.is_usage() && err.to_string().contains("ece_bins"), "{err}");
}

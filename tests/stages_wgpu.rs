//! The calibrate (LWS), soft_labels and evaluate stages on wgpu agree with the cpu device
//! (the class-scale, softmax-with-temperature and eval-mode forward kernels under the stages).

use std::sync::atomic::Ordering;

use ssdlt::kernels::Device;
use ssdlt::spec::stages::{CalibrateSpec, CalibrationMethod, EvaluateSpec, SoftLabelsSpec};
use ssdlt::stages::calibrate::LWS_SCALES_FILE;
use ssdlt::stages::{calibrate, evaluate, soft_labels, NoProgress, StageCounters, METRICS_JSON, SOFT_LABELS_FILE};
use ssdlt::store::metrics::EvaluationReport;
use ssdlt::store::soft_labels::read_soft_labels;

use crate::common;
use crate::stages_fixtures::{input, save_random_model, synthetic_data, Run, Scratch};

struct Outputs {
    scales: Vec<f32>,
    probs: Vec<f32>,
    top1: f64,
    predicted: u64,
}

fn run_all(dev: &Device, test: &str) -> Outputs {
    let scratch = Scratch::new(test);
    let data = synthetic_data(&[12, 7, 4, 3], 2);
    let teacher = scratch.fresh_dir("teacher");
    save_random_model(dev, &teacher, &["fc"], "fc", 3, &data.lock.fingerprint);
    let counters = StageCounters::default();
    let lws_dir = scratch.fresh_dir("lws");
    let inputs = [input("teacher", "train", "fp-teacher", &teacher)];
    let run = Run { dev, data: &data, name: "lws", inputs: &inputs, out_dir: &lws_dir, scratch: &scratch, progress: &NoProgress, counters: &counters };
    let spec = CalibrateSpec { from: "teacher".into(), method: CalibrationMethod::Lws, head: None, epochs: 2, tau: 1.0, batch_size: Some(16), optimizer: None, schedule: None, augment: None, sampler: None };
    calibrate::run(&spec, &run.context()).unwrap();
    let scales: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(lws_dir.join(LWS_SCALES_FILE)).unwrap()).unwrap();
    let scales = scales["scales"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();

    let soft_dir = scratch.fresh_dir("soft");
    let lws = [input("lws", "calibrate", "fp-lws", &lws_dir)];
    let run = Run { inputs: &lws, out_dir: &soft_dir, name: "soft", ..run };
    soft_labels::run(&SoftLabelsSpec { from: "lws".into(), temperature: 2.0, top_k: None, views: 1, augment: None, batch_size: Some(8) }, &run.context()).unwrap();
    let set = read_soft_labels(&soft_dir.join(SOFT_LABELS_FILE)).unwrap();
    let index = set.index();
    let mut probs = Vec::new();
    for s in &data.train.samples {
        let row = &set.rows[index[&(s.id.as_str(), 0)]];
        let mut dense = vec![0.0; row.classes.len()];
        for (c, p) in row.classes.iter().zip(&row.probs) {
            dense[*c as usize] = *p;
        }
        probs.extend(dense);
    }

    let eval_dir = scratch.fresh_dir("eval");
    let run = Run { out_dir: &eval_dir, name: "eval", ..run };
    evaluate::run(&EvaluateSpec { from: vec!["lws".into()], batch_size: Some(8), ece_bins: 10 }, &run.context()).unwrap();
    let report = EvaluationReport::read_json(&eval_dir.join(METRICS_JSON)).unwrap();
    Outputs { scales, probs, top1: report.results[0].metrics.top1, predicted: counters.predicted_samples.load(Ordering::Relaxed) }
}

#[test]
fn lws_soft_labels_and_evaluate_on_wgpu_agree_with_cpu() {
    let _turn = crate::nn_models::gpu_turn();
    let cpu = run_all(&common::cpu(), "wgpu-cpu");
    let gpu = run_all(&common::gpu(), "wgpu-gpu");
    common::assert_close("LWS scales", &gpu.scales, &cpu.scales, 1e-3);
    common::assert_close("soft labels", &gpu.probs, &cpu.probs, 1e-3);
    assert_eq!(gpu.predicted, cpu.predicted);
    // Another adapter rounds differently: at most one of the 8 test samples may flip.
    assert!((gpu.top1 - cpu.top1).abs() <= 1.0 / 8.0 + 1e-9, "top-1 {} on wgpu, {} on cpu", gpu.top1, cpu.top1);
}

//! The calibrate stage: LWS changes only the scales (folded into the head), cRT only the head,
//! tau-norm gives the expected row norms; all on a frozen, eval-mode backbone.

use ssdlt::spec::stages::{CalibrateSpec, CalibrationMethod};
use ssdlt::stages::calibrate::{self, LWS_SCALES_FILE};
use ssdlt::stages::model_io::load_model;
use ssdlt::stages::{NoProgress, StageCounters, HISTORY_FILE};

use crate::common;
use crate::stages_fixtures::{input, save_random_model, state_bits, synthetic_data, values_of, Run, Scratch, CLASSES};

fn spec(method: CalibrationMethod, head: Option<&str>) -> CalibrateSpec {
    CalibrateSpec { from: "teacher".into(), method, head: head.map(str::to_string), epochs: 2, tau: 1.0, batch_size: Some(16), optimizer: None, schedule: None, augment: None, sampler: None }
}

/// Runs `spec` on a saved random model with heads `heads`; returns (before, after, out dir, counters).
fn calibrate(test: &str, spec: &CalibrateSpec, heads: &[&str], default_head: &str) -> (ssdlt::nn::Network, ssdlt::nn::Network, std::path::PathBuf, StageCounters, Scratch) {
    let dev = common::cpu();
    let scratch = Scratch::new(test);
    let data = synthetic_data(&[12, 7, 4, 3], 2);
    let teacher_dir = scratch.fresh_dir("teacher");
    let before = save_random_model(&dev, &teacher_dir, heads, default_head, 3, &data.lock.fingerprint);
    let out = scratch.fresh_dir("out");
    let inputs = [input("teacher", "train", "fp-teacher", &teacher_dir)];
    let counters = StageCounters::default();
    let run = Run { dev: &dev, data: &data, name: "teacher_lws", inputs: &inputs, out_dir: &out, scratch: &scratch, progress: &NoProgress, counters: &counters };
    let report = calibrate::run(spec, &run.context()).unwrap();
    assert!(!report.summary.is_empty());
    let (after, _) = load_model(&dev, &out).unwrap();
    (before, after, out, counters, scratch)
}

#[test]
fn lws_changes_only_the_scales_and_folds_them_into_the_head() {
    let (before, after, out, counters, _scratch) = calibrate("lws", &spec(CalibrationMethod::Lws, None), &["fc"], "fc");
    // Class-balanced epochs of max count * classes = 12 * 4 draws.
    assert_eq!(counters.trained_samples.load(std::sync::atomic::Ordering::Relaxed), 2 * 12 * CLASSES as u64);
    let scales: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join(LWS_SCALES_FILE)).unwrap()).unwrap();
    let scales: Vec<f32> = scales["scales"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    assert_eq!(scales.len(), CLASSES);
    assert!(scales.iter().any(|&s| s != 1.0), "the scales did not move: {scales:?}");
    for ((name, a), (name_b, b)) in state_bits(&before).iter().zip(state_bits(&after).iter()) {
        assert_eq!(name, name_b);
        if !name.starts_with("fc.") {
            assert_eq!(a, b, "`{name}` changed (backbone weights and BatchNorm statistics must stay as they were)");
        }
    }
    let (w0, w1) = (values_of(&before, "fc.weight"), values_of(&after, "fc.weight"));
    let d = w0.len() / CLASSES;
    for (i, (old, new)) in w0.iter().zip(&w1).enumerate() {
        assert_eq!(new.to_bits(), (old * scales[i / d]).to_bits(), "fc.weight[{i}]");
    }
    for (c, (old, new)) in values_of(&before, "fc.bias").iter().zip(values_of(&after, "fc.bias")).enumerate() {
        assert_eq!(new.to_bits(), (old * scales[c]).to_bits(), "fc.bias[{c}]");
    }
    let history: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join(HISTORY_FILE)).unwrap()).unwrap();
    assert_eq!(history["epochs"].as_array().unwrap().len(), 2);
}

#[test]
fn lws_on_a_students_soft_head_leaves_fc_alone_and_keeps_the_default_head() {
    let (before, after, out, _, _scratch) = calibrate("lws-soft", &spec(CalibrationMethod::Lws, None), &["fc", "fc_soft"], "fc_soft");
    for ((name, a), (_, b)) in state_bits(&before).iter().zip(state_bits(&after).iter()) {
        if !name.starts_with("fc_soft.") {
            assert_eq!(a, b, "`{name}` changed");
        }
    }
    assert_ne!(values_of(&before, "fc_soft.weight"), values_of(&after, "fc_soft.weight"));
    let (_, info) = load_model(&common::cpu(), &out).unwrap();
    assert_eq!(info.default_head, "fc_soft");
}

#[test]
fn crt_changes_only_the_head() {
    let (before, after, out, _, _scratch) = calibrate("crt", &spec(CalibrationMethod::Crt, None), &["fc"], "fc");
    for ((name, a), (_, b)) in state_bits(&before).iter().zip(state_bits(&after).iter()) {
        if name.starts_with("fc.") {
            assert_ne!(a, b, "`{name}` was not re-trained");
        } else {
            assert_eq!(a, b, "`{name}` changed");
        }
    }
    assert!(!out.join(LWS_SCALES_FILE).exists());
}

#[test]
fn tau_norm_rows_have_norm_to_the_power_one_minus_tau_and_no_bias() {
    for tau in [1.0f32, 0.5] {
        let mut s = spec(CalibrationMethod::TauNorm, None);
        s.tau = tau;
        let (before, after, _, counters, _scratch) = calibrate(&format!("tau-{tau}"), &s, &["fc"], "fc");
        assert_eq!(counters.trained_samples.load(std::sync::atomic::Ordering::Relaxed), 0);
        let (w0, w1) = (values_of(&before, "fc.weight"), values_of(&after, "fc.weight"));
        let d = w0.len() / CLASSES;
        for c in 0..CLASSES {
            let norm = |w: &[f32]| w[c * d..(c + 1) * d].iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
            let want = norm(&w0).powf(1.0 - tau as f64);
            assert!((norm(&w1) - want).abs() < 1e-5 * want.max(1.0), "tau {tau}, row {c}: norm {} want {want}", norm(&w1));
        }
        assert!(values_of(&after, "fc.bias").iter().all(|&b| b == 0.0));
        for ((name, a), (_, b)) in state_bits(&before).iter().zip(state_bits(&after).iter()) {
            if !name.starts_with("fc.") {
                assert_eq!(a, b, "`{name}` changed");
            }
        }
    }
}

#[test]
fn calibrating_a_missing_head_is_an_error_that_lists_the_heads() {
    let dev = common::cpu();
    let scratch = Scratch::new("missing-head");
    let data = synthetic_data(&[12, 7, 4, 3], 2);
    let teacher_dir = scratch.fresh_dir("teacher");
    save_random_model(&dev, &teacher_dir, &["fc"], "fc", 3, &data.lock.fingerprint);
    let out = scratch.fresh_dir("out");
    let inputs = [input("teacher", "train", "fp", &teacher_dir)];
    let counters = StageCounters::default();
    let run = Run { dev: &dev, data: &data, name: "bad", inputs: &inputs, out_dir: &out, scratch: &scratch, progress: &NoProgress, counters: &counters };
    let err = calibrate::run(&spec(CalibrationMethod::Lws, Some("fc_soft")), &run.context()).unwrap_err();
    assert!(err.is_usage());
    assert!(err.to_string().contains("fc_soft") && err.to_string().contains("its heads: fc"), "{err}");
}

#[test]
fn lws_with_zero_epochs_is_a_usage_error() {
    let dev = common::cpu();
    let scratch = Scratch::new("zero-epochs");
    let data = synthetic_data(&[12, 7, 4, 3], 2);
    let teacher_dir = scratch.fresh_dir("teacher");
    save_random_model(&dev, &teacher_dir, &["fc"], "fc", 3, &data.lock.fingerprint);
    let out = scratch.fresh_dir("out");
    let inputs = [input("teacher", "train", "fp", &teacher_dir)];
    let counters = StageCounters::default();
    let run = Run { dev: &dev, data: &data, name: "lws0", inputs: &inputs, out_dir: &out, scratch: &scratch, progress: &NoProgress, counters: &counters };
    let mut s = spec(CalibrationMethod::Lws, None);
    s.epochs = 0;
    let err = calibrate::run(&s, &run.context()).unwrap_err();
    assert!(err.is_usage() && err.to_string().contains("`epochs` must be at least 1"), "{err}");
}

#[test]
fn lws_on_a_model_trained_on_a_long_tail_raises_the_scales_of_rare_classes() {
    use ssdlt::nn::{ClassificationTrainer, LrSchedule, Network, SgdConfig};
    let dev = common::cpu();
    let scratch = Scratch::new("lws-rebalance");
    let data = synthetic_data(&[48, 16, 6, 2], 2);
    // Plain CE on instance-balanced batches: the head leans to the frequent classes.
    let config = ssdlt::nn::NetworkConfig::classifier(ssdlt::nn::Arch::cifar(8), 1, CLASSES);
    let net = Network::new(&dev, config, 4).unwrap();
    let steps = 24;
    let mut trainer = ClassificationTrainer::new(&dev, net, "fc", SgdConfig::default(), LrSchedule::constant(0.05), 1).unwrap();
    let pipeline = data.eval_pipeline();
    for step in 0..steps {
        let indices: Vec<usize> = (0..16).map(|i| (step * 16 + i * 7) % data.train.len()).collect();
        let batch = ssdlt::data::augment::assemble_batch(&data.train, &indices, &pipeline, 0, 0, 0).unwrap();
        trainer.step(&dev, &batch.data, batch.shape, &batch.labels).unwrap();
    }
    let teacher_dir = scratch.fresh_dir("teacher");
    ssdlt::stages::model_io::save_model(&teacher_dir, &trainer.net, "fc", &data.lock.fingerprint).unwrap();
    let out = scratch.fresh_dir("out");
    let inputs = [input("ce", "train", "fp-ce", &teacher_dir)];
    let counters = StageCounters::default();
    let run = Run { dev: &dev, data: &data, name: "ce_lws", inputs: &inputs, out_dir: &out, scratch: &scratch, progress: &NoProgress, counters: &counters };
    let mut s = spec(CalibrationMethod::Lws, None);
    s.epochs = 4;
    calibrate::run(&s, &run.context()).unwrap();
    let scales: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join(LWS_SCALES_FILE)).unwrap()).unwrap();
    let scales: Vec<f64> = scales["scales"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    eprintln!("LWS scales by class (48, 16, 6, 2 images): {scales:?}");
    assert!(scales[1..].iter().all(|&s| s > scales[0]), "the most frequent class should get the smallest scale: {scales:?}");
}

/// Progress that "kills" the run (panics) when epoch 2 begins, after epoch 1's checkpoint.
struct KillAtEpoch2;

impl ssdlt::stages::StageProgress for KillAtEpoch2 {
    fn begin(&self, phase: &str, _: u64) {
        assert!(!phase.contains("epoch 2/"), "killed at {phase}");
    }
    fn advance(&self, _: u64, _: &[(&str, f64)]) {}
    fn finish(&self, _: &str) {}
    fn note(&self, _: &str) {}
}

#[test]
fn a_killed_calibration_resumes_from_its_epoch_checkpoint_bit_identical() {
    let dev = common::cpu();
    let data = synthetic_data(&[12, 7, 4, 3], 2);
    let mut s = spec(CalibrationMethod::Crt, None);
    s.epochs = 3;
    let run_with = |scratch: &Scratch, progress: &dyn ssdlt::stages::StageProgress| {
        let teacher_dir = scratch.root.join("teacher");
        if !teacher_dir.exists() {
            save_random_model(&dev, &scratch.fresh_dir("teacher"), &["fc"], "fc", 3, &data.lock.fingerprint);
        }
        let out = scratch.fresh_dir("out");
        let inputs = [input("teacher", "train", "fp", &teacher_dir)];
        let counters = StageCounters::default();
        let run = Run { dev: &dev, data: &data, name: "crt", inputs: &inputs, out_dir: &out, scratch, progress, counters: &counters };
        calibrate::run(&s, &run.context()).map(|_| (load_model(&dev, &out).unwrap().0, counters.trained_samples.load(std::sync::atomic::Ordering::Relaxed)))
    };
    let straight = Scratch::new("resume-straight");
    let (want, all) = run_with(&straight, &NoProgress).unwrap();
    let killed = Scratch::new("resume-killed");
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_with(&killed, &KillAtEpoch2)));
    assert!(outcome.is_err(), "the run was not killed");
    let notes = crate::stages_fixtures::Notes::default();
    let (got, rest) = run_with(&killed, &notes).unwrap();
    assert_eq!(rest * 3, all * 2, "the resumed run trains only epochs 2 and 3");
    assert!(notes.0.lock().unwrap().iter().any(|n| n.contains("resuming after epoch 1/3")));
    assert_eq!(state_bits(&got), state_bits(&want));
}

//! The `train` stage kind and its multi-loss step, on the cpu device with a ResNet-8 on tiny
//! synthetic long-tailed data (3 classes of 12 / 6 / 3 images of 8x8): the CE baseline writes a
//! loadable model and history; logit adjustment, the masked MoCo loss, the key encoder's EMA and
//! the distillation loss match references computed here; the student reads cached soft labels
//! and runs no teacher; a killed and resumed run, and a second run with the same seed, end
//! bit-identical.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Mutex;

use ssdlt::data::augment::AugmentPipeline;
use ssdlt::data::long_tail::{ClassStats, LongTailSpec, ShotThresholds};
use ssdlt::data::split_lock::SplitLock;
use ssdlt::data::synthetic::{self, SyntheticSpec};
use ssdlt::data::Split;
use ssdlt::kernels::Device;
use ssdlt::nn::distill::{DistillConfig, SoftTargets};
use ssdlt::nn::moco::MocoConfig;
use ssdlt::nn::multi_loss::{logit_adjustment, CeConfig, LossConfig, PROJECTION_HEAD, SOFT_HEAD};
use ssdlt::nn::{Arch, HasState, HeadConfig, LrSchedule, MultiLossTrainer, Network, NetworkConfig, SgdConfig, StepInput};
use ssdlt::spec::dataset::LoadedData;
use ssdlt::spec::stages::{StageSpec, TrainSpec};
use ssdlt::stages::model_io::load_model;
use ssdlt::stages::train::{train, History, TrainOutcome};
use ssdlt::stages::{StageContext, StageCounters, StageInput, StageProgress, HISTORY_FILE, MODEL_FILE, SOFT_LABELS_FILE};
use ssdlt::store::soft_labels::{write_soft_labels, SoftLabelRow, SoftLabelSet};

use crate::common;

const HW: usize = 8;
const CLASSES: usize = 3;

/// 12 / 6 / 3 training images of three synthetic classes, 8x8 grayscale.
fn data() -> LoadedData {
    let spec = SyntheticSpec { classes: CLASSES, channels: 1, size: HW, noise: 0.05, seed: 3 };
    let source = synthetic::balanced_dataset(&spec, 12, Split::Train).unwrap();
    let lock = SplitLock::create(&source, &LongTailSpec::exponential(4.0)).unwrap();
    let train = lock.apply(&source).unwrap();
    let test = synthetic::balanced_dataset(&spec, 4, Split::Test).unwrap();
    let stats = ClassStats::of(&train, ShotThresholds { many_above: 10, few_below: 4 });
    assert_eq!(stats.counts, [12, 6, 3]);
    LoadedData {
        train,
        test,
        validation: None,
        lock,
        lock_path: PathBuf::from("split.lock.json"),
        stats,
        prepare: AugmentPipeline::default(),
        finish: AugmentPipeline::default(),
        eval_sizing: AugmentPipeline::default(),
        sample_shape: [1, HW, HW],
    }
}

fn spec(yaml: &str) -> TrainSpec {
    match serde_yaml::from_str::<StageSpec>(&format!("kind: train\nmodel: resnet8\nbatch_size: 8\naugment: [{{pad_crop: 1}}, hflip]\n{yaml}")).unwrap() {
        StageSpec::Train(t) => t,
        other => panic!("not a train stage: {other:?}"),
    }
}

/// A fresh folder for one test's stage folders.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ssdlt-stages-train-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Progress that keeps the notes.
#[derive(Default)]
struct Notes(Mutex<Vec<String>>);

impl StageProgress for Notes {
    fn begin(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64, _: &[(&str, f64)]) {}
    fn finish(&self, _: &str) {}
    fn note(&self, message: &str) {
        self.0.lock().unwrap().push(message.to_string());
    }
}

struct Run<'a> {
    data: &'a LoadedData,
    root: PathBuf,
    inputs: Vec<StageInput>,
    previous: Option<PathBuf>,
    counters: StageCounters,
    notes: Notes,
}

impl<'a> Run<'a> {
    fn new(data: &'a LoadedData, root: PathBuf) -> Run<'a> {
        Run { data, root, inputs: Vec::new(), previous: None, counters: StageCounters::default(), notes: Notes::default() }
    }

    fn out(&self) -> PathBuf {
        self.root.join("out")
    }

    fn go(&self, spec: &TrainSpec, stop_after: Option<usize>) -> ssdlt::Result<TrainOutcome> {
        let (out, resume, cache) = (self.out(), self.root.join("resume"), self.root.join("cache"));
        for d in [&out, &resume, &cache] {
            std::fs::create_dir_all(d).unwrap();
        }
        let dev = common::cpu();
        let ctx = StageContext {
            dev: &dev,
            seed: 0,
            name: "teacher",
            fingerprint: "test-fingerprint",
            data: self.data,
            inputs: &self.inputs,
            out_dir: &out,
            resume_dir: &resume,
            cache_dir: &cache,
            previous: self.previous.as_deref(),
            progress: &self.notes,
            counters: &self.counters,
            pipeline: None,
        };
        train(spec, &ctx, stop_after)
    }

    fn finish(&self, spec: &TrainSpec) -> ssdlt::stages::StageReport {
        match self.go(spec, None).unwrap() {
            TrainOutcome::Finished(r) => r,
            TrainOutcome::Stopped { .. } => panic!("stopped without being asked"),
        }
    }

    fn history(&self) -> History {
        serde_json::from_str(&std::fs::read_to_string(self.out().join(HISTORY_FILE)).unwrap()).unwrap()
    }

    /// Every tensor of the stored model, by name, as raw bytes (the header's metadata order
    /// varies from file to file, so files are compared by content).
    fn model_tensors(&self) -> BTreeMap<String, Vec<u8>> {
        let bytes = std::fs::read(self.out().join(MODEL_FILE)).unwrap();
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        file.tensors().into_iter().map(|(name, view)| (name, view.data().to_vec())).collect()
    }
}

#[test]
fn a_ce_stage_trains_and_writes_a_loadable_model_and_history() {
    let data = data();
    let run = Run::new(&data, scratch("ce"));
    let report = run.finish(&spec("epochs: 2\nlosses: [{ce: {}}]"));
    assert!(report.metrics["loss"].is_finite() && report.metrics["loss_ce"] > 0.0, "{report:?}");
    assert!(report.images_per_s.unwrap() > 0.0);
    let (net, info) = load_model(&common::cpu(), &run.out()).unwrap();
    assert_eq!(info.default_head, "fc");
    assert_eq!(info.split_fingerprint, data.lock.fingerprint);
    assert_eq!(net.config.heads.len(), 1);
    let history = run.history();
    assert_eq!(history.epochs.len(), 2);
    for (i, e) in history.epochs.iter().enumerate() {
        assert_eq!(e.epoch, i + 1);
        assert_eq!(e.steps, 3, "21 images in batches of 8");
        assert!(e.terms["loss_ce"].is_finite() && e.train_acc.is_some() && e.lr > 0.0);
    }
    assert_eq!(run.counters.trained_samples.load(Ordering::Relaxed), 42);
    assert_eq!(run.counters.teacher_forward_samples.load(Ordering::Relaxed), 0);
}

/// `n` seeded 8x8 images and labels.
fn batch(n: usize, seed: u64, labels: &[u32]) -> (Vec<f32>, Vec<u32>) {
    assert_eq!(labels.len(), n);
    (common::seeded(n * HW * HW, seed, 1.0), labels.to_vec())
}

/// Logits of `head` for `images` in training mode (batch statistics: what the step computes).
fn train_mode_logits(dev: &Device, net: &mut Network, head: &str, images: &[f32], n: usize) -> Vec<f32> {
    let x = dev.from_f32(&[n, 1, HW, HW], images);
    net.forward_features(dev, &x, true);
    let h = net.head_index(head).unwrap();
    net.forward_head(dev, h).to_vec()
}

fn ce_reference(logits: &[f32], labels: &[u32], adjust: Option<&[f32]>) -> f64 {
    let rows = logits.chunks(CLASSES).zip(labels).map(|(row, &y)| {
        let z: Vec<f64> = row.iter().enumerate().map(|(j, &v)| v as f64 + adjust.map_or(0.0, |a| a[j] as f64)).collect();
        let m = z.iter().cloned().fold(f64::MIN, f64::max);
        m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln() - z[y as usize]
    });
    rows.sum::<f64>() / labels.len() as f64
}

fn term(log: &ssdlt::nn::MultiLossLog, name: &str) -> f64 {
    log.terms.iter().find(|(n, _)| *n == name).unwrap().1 as f64
}

#[test]
fn logit_adjustment_changes_the_loss_as_a_cpu_reference_computes() {
    let dev = common::cpu();
    let adjust = logit_adjustment(&[12, 6, 3], 1.5);
    let net = Network::new(&dev, NetworkConfig::classifier(Arch::cifar(8), 1, CLASSES), 5).unwrap();
    let losses = LossConfig { ce: Some(CeConfig { weight: 1.0, adjust: Some(adjust.clone()) }), ..Default::default() };
    let mut trainer = MultiLossTrainer::new(&dev, net, &losses, SgdConfig::default(), LrSchedule::constant(0.1)).unwrap();
    let (x, y) = batch(6, 1, &[0, 1, 2, 2, 1, 0]);
    let logits = train_mode_logits(&dev, &mut trainer.net, "fc", &x, 6);
    let log = trainer.step(&dev, &StepInput { images: &x, shape: [6, 1, HW, HW], labels: &y, key_images: None, soft: None }, true).unwrap().unwrap();
    let want = ce_reference(&logits, &y, Some(&adjust));
    let plain = ce_reference(&logits, &y, None);
    assert!((term(&log, "ce") - want).abs() <= 1e-5 * want.abs().max(1.0), "ce {} vs reference {want}", term(&log, "ce"));
    assert!((want - plain).abs() > 1e-2, "the adjustment moves the loss: {want} vs plain {plain}");
}

fn teacher_net(dev: &Device) -> Network {
    let config = NetworkConfig::classifier(Arch::cifar(8), 1, CLASSES).with_head(HeadConfig::projection(PROJECTION_HEAD, 16, 8));
    Network::new(dev, config, 9).unwrap()
}

fn teacher(dev: &Device, momentum: f32, queue: usize) -> MultiLossTrainer {
    let moco = MocoConfig { queue, temperature: 0.2, momentum, mask_same_class: true, weight: 1.0, seed: 4 };
    let losses = LossConfig { ce: Some(CeConfig { weight: 1.0, adjust: None }), contrastive: Some(moco), distill: None };
    MultiLossTrainer::new(dev, teacher_net(dev), &losses, SgdConfig::default(), LrSchedule::constant(0.1)).unwrap()
}

fn two_view_step(dev: &Device, t: &mut MultiLossTrainer, seed: u64, labels: &[u32]) -> ssdlt::nn::MultiLossLog {
    let n = labels.len();
    let (x, y) = batch(n, seed, labels);
    let (k, _) = batch(n, seed + 100, labels);
    t.step(dev, &StepInput { images: &x, shape: [n, 1, HW, HW], labels: &y, key_images: Some(&k), soft: None }, true).unwrap().unwrap()
}

/// InfoNCE of q against its key and the queue, leaving out same-class keys when `mask`.
fn moco_reference(q: &[f32], k: &[f32], (queue, queue_labels): (&[f32], &[u32]), labels: &[u32], dim: usize, t: f64, mask: bool) -> f64 {
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum::<f64>();
    let mut total = 0.0;
    for (i, &y) in labels.iter().enumerate() {
        let qi = &q[i * dim..(i + 1) * dim];
        let pos = dot(qi, &k[i * dim..(i + 1) * dim]) / t;
        let mut logits = vec![pos];
        for (j, key) in queue.chunks(dim).enumerate() {
            if !(mask && queue_labels[j] != u32::MAX && queue_labels[j] == y) {
                logits.push(dot(qi, key) / t);
            }
        }
        let m = logits.iter().cloned().fold(f64::MIN, f64::max);
        total += m + logits.iter().map(|v| (v - m).exp()).sum::<f64>().ln() - pos;
    }
    total / labels.len() as f64
}

#[test]
fn the_contrastive_loss_with_masking_matches_a_cpu_reference() {
    let dev = common::cpu();
    let mut t = teacher(&dev, 0.99, 10);
    two_view_step(&dev, &mut t, 1, &[0, 1, 0, 2]);
    let moco = t.moco.as_ref().unwrap();
    let (queue, queue_labels) = (moco.queue.to_vec(), moco.queue_labels.to_vec_u32());
    assert_eq!(&queue_labels[..5], &[0, 1, 0, 2, u32::MAX], "the first batch's labels are queued with its keys");
    let labels = [0, 0, 1, 2, 1, 2, 1];
    let log = two_view_step(&dev, &mut t, 2, &labels);
    let moco = t.moco.as_ref().unwrap();
    let (q, k) = moco.last_query_and_key().unwrap();
    let (q, k) = (q.to_vec(), k.to_vec());
    for row in q.chunks(8) {
        assert!((row.iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-5, "queries are unit vectors");
    }
    let want = moco_reference(&q, &k, (&queue, &queue_labels), &labels, 8, 0.2, true);
    let unmasked = moco_reference(&q, &k, (&queue, &queue_labels), &labels, 8, 0.2, false);
    let got = term(&log, "contrastive");
    assert!((got - want).abs() <= 1e-5 * want.abs().max(1.0), "contrastive {got} vs reference {want}");
    assert!((want - unmasked).abs() > 1e-3, "masking matters here: {want} vs {unmasked}");
    let after = t.moco.as_ref().unwrap().queue_labels.to_vec_u32();
    assert_eq!(after, [1, 1, 0, 2, 0, 0, 1, 2, 1, 2], "the second batch wraps around the queue of 10");
}

fn params_by_name(model: &impl HasState) -> std::collections::HashMap<String, Vec<f32>> {
    model.params().into_iter().map(|p| (p.name.clone(), p.value.to_vec())).collect()
}

#[test]
fn the_key_encoder_is_the_ema_of_the_query_encoder() {
    let dev = common::cpu();
    let m = 0.9f32;
    let mut t = teacher(&dev, m, 16);
    let key0 = params_by_name(&t.moco.as_ref().unwrap().key);
    let query0 = params_by_name(&t.net);
    for (name, v) in &key0 {
        assert_eq!(v, &query0[name], "`{name}`: the key encoder starts as a copy");
    }
    assert!(!key0.contains_key("fc.weight"), "the key encoder has no classifier");
    two_view_step(&dev, &mut t, 1, &[0, 1, 2, 0]);
    let (key1, query1) = (params_by_name(&t.moco.as_ref().unwrap().key), params_by_name(&t.net));
    two_view_step(&dev, &mut t, 2, &[1, 1, 2, 0]);
    let key2 = params_by_name(&t.moco.as_ref().unwrap().key);
    let mut moved = false;
    for (name, k2) in &key2 {
        let want: Vec<f32> = key1[name].iter().zip(&query1[name]).map(|(&k, &q)| m * k + (1.0 - m) * q).collect();
        assert_eq!(k2, &want, "`{name}`: key = m key + (1 - m) query, with the query before this step's update");
        moved |= k2 != &key1[name];
    }
    assert!(moved, "the query moved, so the key did");
}

#[test]
fn the_distill_loss_is_zero_when_student_logits_equal_teacher_logits() {
    let dev = common::cpu();
    let temperature = 2.0f32;
    let config = NetworkConfig::classifier(Arch::cifar(8), 1, CLASSES).with_head(HeadConfig::linear(SOFT_HEAD, CLASSES));
    let net = Network::new(&dev, config, 11).unwrap();
    let losses = LossConfig { distill: Some(DistillConfig { temperature, weight: 1.0 }), ..Default::default() };
    let mut t = MultiLossTrainer::new(&dev, net, &losses, SgdConfig::default(), LrSchedule::constant(0.1)).unwrap();
    let (x, y) = batch(5, 3, &[0, 1, 2, 0, 0]);
    let logits = train_mode_logits(&dev, &mut t.net, SOFT_HEAD, &x, 5);
    let mut probs = Vec::new();
    for row in logits.chunks(CLASSES) {
        let m = row.iter().cloned().fold(f32::MIN, f32::max) / temperature;
        let e: Vec<f32> = row.iter().map(|v| (v / temperature - m).exp()).collect();
        let s: f32 = e.iter().sum();
        probs.extend(e.iter().map(|v| v / s));
    }
    let ids: Vec<u32> = (0..5).flat_map(|_| 0..CLASSES as u32).collect();
    let soft = SoftTargets { k: CLASSES, ids: &ids, probs: &probs };
    let log = t.step(&dev, &StepInput { images: &x, shape: [5, 1, HW, HW], labels: &y, key_images: None, soft: Some(soft) }, true).unwrap().unwrap();
    assert!(term(&log, "distill").abs() < 1e-5, "KD {} for identical distributions", term(&log, "distill"));
    assert!(log.correct.is_some(), "a distill-only step reports the soft head's accuracy");
    // A different target gives a clearly positive loss.
    let flat = vec![1.0 / CLASSES as f32; 5 * CLASSES];
    let soft = SoftTargets { k: CLASSES, ids: &ids, probs: &flat };
    let log = t.step(&dev, &StepInput { images: &x, shape: [5, 1, HW, HW], labels: &y, key_images: None, soft: Some(soft) }, true).unwrap().unwrap();
    assert!(term(&log, "distill") > 1e-4);
}

/// A soft-label stage's output folder for `data`: top-2 labels of every training sample in
/// `views` views, written with the cache's Arrow writer.
fn soft_labels_stage(data: &LoadedData, root: &Path, views: u32) -> StageInput {
    let dir = root.join("soft");
    std::fs::create_dir_all(&dir).unwrap();
    let mut rows = Vec::new();
    for s in &data.train.samples {
        for view in 0..views {
            let other = (s.label + 1 + view) % CLASSES as u32;
            rows.push(SoftLabelRow { id: s.id.clone(), hash: s.hash, view, classes: vec![s.label, other], probs: vec![0.7, 0.2] });
        }
    }
    let set = SoftLabelSet { temperature: 2.0, k: 2, num_classes: CLASSES, teacher_fingerprint: "teacher-fp".into(), views, rows };
    write_soft_labels(&dir.join(SOFT_LABELS_FILE), &set).unwrap();
    StageInput { name: "soft".into(), kind: "soft_labels", fingerprint: "soft-fp".into(), dir }
}

#[test]
fn the_student_reads_soft_labels_and_runs_no_teacher() {
    let data = data();
    for views in [1, 3] {
        let root = scratch(&format!("student-{views}"));
        let mut run = Run::new(&data, root.clone());
        run.inputs.push(soft_labels_stage(&data, &root, views));
        let report = run.finish(&spec("epochs: 2\nlosses: [{ce: {}}, {distill: {from: soft, temperature: 2}}]"));
        assert_eq!(run.counters.teacher_forward_samples.load(Ordering::Relaxed), 0, "the student never runs a teacher");
        assert_eq!(run.counters.trained_samples.load(Ordering::Relaxed), 42);
        assert!(report.metrics["loss_distill"] > 0.0 && report.metrics["loss_ce"] > 0.0, "{report:?}");
        let (net, info) = load_model(&common::cpu(), &run.out()).unwrap();
        assert_eq!(info.default_head, SOFT_HEAD, "a distilled student classifies with its soft head");
        assert!(net.head_index("fc").is_some());
    }
}

#[test]
fn a_student_whose_soft_labels_miss_a_sample_names_it() {
    let data = data();
    let root = scratch("student-missing");
    let mut run = Run::new(&data, root.clone());
    let input = soft_labels_stage(&data, &root, 1);
    let path = input.dir.join(SOFT_LABELS_FILE);
    let mut set = ssdlt::store::soft_labels::read_soft_labels(&path).unwrap();
    let dropped = set.rows.remove(4).id;
    write_soft_labels(&path, &set).unwrap();
    run.inputs.push(input);
    let err = run.go(&spec("epochs: 1\nlosses: [{ce: {}}, {distill: {from: soft}}]"), None).unwrap_err();
    assert!(err.to_string().contains(&dropped) && err.is_usage(), "{err}");
}

#[test]
fn bad_losses_and_a_missing_soft_label_stage_are_usage_errors() {
    let data = data();
    let run = Run::new(&data, scratch("distill-no-input"));
    let err = run.go(&spec("epochs: 1\nlosses: [{distill: {from: soft}}]"), None).unwrap_err();
    assert!(err.is_usage() && err.to_string().contains("soft"), "{err}");
    let err = run.go(&spec("epochs: 1\nlosses: [{ce: {}}, {ce: {weight: 2}}]"), None).unwrap_err();
    assert!(err.is_usage() && err.to_string().contains("twice"), "{err}");
    let err = run.go(&spec("epochs: 1\nlosses: [{ce: {balanced_softmax: true, logit_adjust: 1.0}}]"), None).unwrap_err();
    assert!(err.is_usage() && err.to_string().contains("balanced_softmax"), "{err}");
    let err = run.go(&spec("epochs: 1\nlosses: [{ce: {}}, {contrastive: {momentum: 1.5}}]"), None).unwrap_err();
    assert!(err.is_usage() && err.to_string().contains("momentum 1.5"), "{err}");
    let mut odd_depth = spec("epochs: 1\nlosses: [{ce: {}}]");
    odd_depth.model = Some("resnet9".into());
    let err = run.go(&odd_depth, None).unwrap_err();
    assert!(err.is_usage() && err.to_string().contains("resnet9"), "{err}");
    assert!(std::fs::read_dir(run.out()).unwrap().next().is_none(), "a rejected stage writes nothing");
}

const TEACHER: &str = "epochs: 3\nlosses: [{ce: {}}, {contrastive: {queue: 12, momentum: 0.9, hidden: 16, dim: 8}}]\nkey_augment: [{resized_crop: {scale: [0.5, 1.0]}}, hflip]";

#[test]
fn a_run_killed_after_an_epoch_and_resumed_ends_bit_identical() {
    let data = data();
    let spec = spec(TEACHER);
    let straight = Run::new(&data, scratch("resume-straight"));
    straight.finish(&spec);

    let killed = Run::new(&data, scratch("resume-killed"));
    assert!(matches!(killed.go(&spec, Some(1)).unwrap(), TrainOutcome::Stopped { epochs_done: 1 }));
    assert!(!killed.out().join(MODEL_FILE).exists(), "a stopped run leaves no output");
    killed.finish(&spec);
    assert!(killed.notes.0.lock().unwrap().iter().any(|n| n.contains("resuming after epoch 1/3")), "{:?}", killed.notes.0.lock().unwrap());
    assert_eq!(killed.counters.trained_samples.load(Ordering::Relaxed), 21 * 3, "epoch 1 is not trained twice");

    assert!(straight.model_tensors() == killed.model_tensors(), "the resumed model differs from the uninterrupted one");
    let losses = |r: &Run| r.history().epochs.iter().map(|e| (e.loss, e.terms.clone(), e.train_acc)).collect::<Vec<_>>();
    assert_eq!(losses(&straight), losses(&killed));
    let (net, _) = load_model(&common::cpu(), &straight.out()).unwrap();
    assert!(net.head_index(PROJECTION_HEAD).is_some(), "the teacher keeps its projection head");
}

#[test]
fn two_runs_with_one_seed_are_bit_identical() {
    let data = data();
    let spec = spec(TEACHER);
    let a = Run::new(&data, scratch("seed-a"));
    let b = Run::new(&data, scratch("seed-b"));
    a.finish(&spec);
    b.finish(&spec);
    assert!(a.model_tensors() == b.model_tensors());
    assert_eq!(a.history().epochs.iter().map(|e| e.loss).collect::<Vec<_>>(), b.history().epochs.iter().map(|e| e.loss).collect::<Vec<_>>());
}

#[test]
fn warm_start_continues_from_the_previous_weights() {
    let data = data();
    let first = Run::new(&data, scratch("warm-first"));
    first.finish(&spec("epochs: 1\nlosses: [{ce: {}}]"));
    let mut warm = Run::new(&data, scratch("warm-second"));
    warm.previous = Some(first.out());
    // Learning rate 0: the weights stay where the previous run left them.
    warm.finish(&spec("epochs: 5\nlosses: [{ce: {}}]\noptimizer: {sgd: {lr: 0.0}}\non_data_change: {warm_start: {epochs: 2}}"));
    assert_eq!(warm.history().epochs.len(), 2, "warm_start trains its own epoch count");
    let dev = common::cpu();
    let (before, _) = load_model(&dev, &first.out()).unwrap();
    let (after, _) = load_model(&dev, &warm.out()).unwrap();
    assert_eq!(params_by_name(&before), params_by_name(&after));
}

/// The weighted terms a step logged.
type Terms = Vec<(&'static str, f32)>;

/// Two steps with all three terms (ce, contrastive, distill) on `dev`: each step's logged terms
/// and the queue labels after them.
fn all_terms_run(dev: &Device) -> (Vec<Terms>, Vec<u32>) {
    let config = NetworkConfig::classifier(Arch::cifar(8), 1, CLASSES)
        .with_head(HeadConfig::projection(PROJECTION_HEAD, 16, 8))
        .with_head(HeadConfig::linear(SOFT_HEAD, CLASSES));
    let net = Network::new(dev, config, 21).unwrap();
    let moco = MocoConfig { queue: 6, temperature: 0.2, momentum: 0.9, mask_same_class: true, weight: 0.5, seed: 4 };
    let losses = LossConfig {
        ce: Some(CeConfig { weight: 1.0, adjust: Some(logit_adjustment(&[12, 6, 3], 1.0)) }),
        contrastive: Some(moco),
        distill: Some(DistillConfig { temperature: 2.0, weight: 1.0 }),
    };
    let mut t = MultiLossTrainer::new(dev, net, &losses, SgdConfig::default(), LrSchedule::constant(0.05)).unwrap();
    let ids: Vec<u32> = [0, 1, 1, 2, 2, 0, 0, 2].to_vec();
    let probs = vec![0.6, 0.3, 0.8, 0.1, 0.5, 0.5, 0.9, 0.05];
    let mut logs = Vec::new();
    for (step, labels) in [[0u32, 1, 2, 0], [2, 1, 1, 0]].iter().enumerate() {
        let (x, y) = batch(4, 40 + step as u64, labels);
        let (k, _) = batch(4, 50 + step as u64, labels);
        let soft = SoftTargets { k: 2, ids: &ids, probs: &probs };
        let input = StepInput { images: &x, shape: [4, 1, HW, HW], labels: &y, key_images: Some(&k), soft: Some(soft) };
        logs.push(t.step(dev, &input, true).unwrap().unwrap().terms);
    }
    (logs, t.moco.as_ref().unwrap().queue_labels.to_vec_u32())
}

#[test]
fn a_step_with_every_term_on_wgpu_matches_cpu() {
    let _turn = crate::nn_models::gpu_turn();
    let (cpu_logs, cpu_queue) = all_terms_run(&common::cpu());
    let (gpu_logs, gpu_queue) = all_terms_run(&common::gpu());
    assert_eq!(cpu_queue, gpu_queue);
    for (c, g) in cpu_logs.iter().zip(&gpu_logs) {
        for ((name, cv), (_, gv)) in c.iter().zip(g) {
            assert!((cv - gv).abs() <= 1e-3 * cv.abs().max(1.0), "{name}: cpu {cv}, wgpu {gv}");
        }
    }
}

#[test]
fn init_takes_another_stages_weights_and_starts_new_heads_fresh() {
    let data = data();
    let first = Run::new(&data, scratch("init-first"));
    first.finish(&spec("epochs: 1\nlosses: [{ce: {}}]"));
    let mut second = Run::new(&data, scratch("init-second"));
    second.inputs.push(StageInput { name: "ce".into(), kind: "train", fingerprint: "ce-fp".into(), dir: first.out() });
    // Learning rate 0: the copied weights stay as they were.
    second.finish(&spec("epochs: 1\ninit: ce\noptimizer: {sgd: {lr: 0.0}}\nlosses: [{ce: {}}, {contrastive: {queue: 8, hidden: 16, dim: 8}}]\nkey_augment: [hflip]"));
    assert!(second.notes.0.lock().unwrap().iter().any(|n| n.contains("new head(s) proj")), "{:?}", second.notes.0.lock().unwrap());
    let dev = common::cpu();
    let (before, _) = load_model(&dev, &first.out()).unwrap();
    let (after, _) = load_model(&dev, &second.out()).unwrap();
    let after = params_by_name(&after);
    for (name, v) in params_by_name(&before) {
        assert_eq!(after[&name], v, "`{name}` comes from `init`");
    }
    assert!(after.contains_key("proj.0.weight"));
    let bad = Run::new(&data, scratch("init-missing"));
    let err = bad.go(&spec("epochs: 1\ninit: ce\nlosses: [{ce: {}}]"), None).unwrap_err();
    assert!(err.is_usage() && err.to_string().contains("init: ce"), "{err}");
}

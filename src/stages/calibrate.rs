//! `calibrate`: re-balances the classifier of a trained model on its frozen backbone.
//!
//! The model of `from` is loaded; its backbone runs in eval mode (running BatchNorm statistics,
//! never updated) and gets no gradient. The head is `head` or the model's default head:
//! - `lws`: per-class scales (init 1) on that head's logits, trained with cross-entropy on
//!   class-balanced batches; the weights and bias stay frozen. The output folds the scales into
//!   the head (w_c s_c, b_c s_c) and also writes them to `lws_scales.json`.
//! - `crt`: the head re-initialized (as a fresh model's, from the stage seed) and re-trained.
//! - `tau_norm`: w_c / ||w_c||^tau, bias dropped, no training.
//!
//! Class-balanced epochs are `max_c n_c * C` draws long, as the decoupling code's class-aware
//! sampler; the rate follows `schedule` once per epoch. The output model keeps every head and
//! the default head of the input, so a student calibrated on `fc_soft` is still evaluated on it.
//! After every epoch the trained tensors, their SGD momentum and the history go to
//! `ctx.resume_dir` (`calibrate_checkpoint.json`); a killed run resumes from there and ends
//! bit-identical to an uninterrupted one.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::inputs::{epochs_text, model_input, sampler_kind_of, schedule_of, sgd_of, stage_seed};
use super::model_io::{load_model, save_model};
use super::{StageContext, StageReport, HISTORY_FILE};
use crate::data::augment::QUERY_VIEW;
use crate::data::samplers::{Sampler, SamplerKind};
use crate::dataflow::batches::{for_each_batch, BatchPlan};
use crate::error::{Error, Result};
use crate::nn::calibration::{linear_head, tau_normalize, CalibrationTarget, FrozenBackboneTrainer};
use crate::nn::init::Init;
use crate::nn::{Arch, Network};
use crate::spec::stages::{CalibrateSpec, CalibrationMethod};
use crate::store::atomic::write_atomically;

/// The learned LWS scales, beside the folded model.
pub const LWS_SCALES_FILE: &str = "lws_scales.json";

/// The epoch checkpoint in `ctx.resume_dir`.
pub const CHECKPOINT_FILE: &str = "calibrate_checkpoint.json";
/// Bumped when the checkpoint layout changes (an older one is then ignored, not resumed).
pub const CHECKPOINT_VERSION: u32 = 1;

/// What a killed calibration resumes from: the trained tensors (values and SGD momentum as
/// f32 bit patterns, so the resumed run is bit-identical) after `epochs_done` epochs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Checkpoint {
    version: u32,
    method: CalibrationMethod,
    head: String,
    epochs_done: usize,
    steps_done: usize,
    tensors: Vec<(String, Vec<u32>, Vec<u32>)>,
    history: Vec<CalibrationEpoch>,
}

/// One epoch of calibration training in `history.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CalibrationEpoch {
    pub epoch: usize,
    /// Mean cross-entropy over the logged steps (every step on cpu, every 10th on wgpu).
    pub loss: Option<f64>,
    pub train_acc: Option<f64>,
    pub lr: f32,
    pub images_per_s: f64,
    pub wall_s: f64,
}

#[derive(Debug, Clone, Serialize)]
struct History<'a> {
    stage: &'a str,
    method: CalibrationMethod,
    head: &'a str,
    epochs: Vec<CalibrationEpoch>,
}

#[derive(Debug, Clone, Serialize)]
struct LwsScales<'a> {
    head: &'a str,
    scales: Vec<f32>,
}

/// Runs a calibrate stage (see the module docs) into `ctx.out_dir`.
pub fn run(spec: &CalibrateSpec, ctx: &StageContext) -> Result<StageReport> {
    let what = || format!("calibrate stage `{}`", ctx.name);
    let input = model_input(ctx, 0, "calibrate")?;
    let (mut net, info) = load_model(ctx.dev, &input.dir)?;
    let head_name = spec.head.clone().unwrap_or_else(|| info.default_head.clone());
    let head = net.head_index(&head_name).ok_or_else(|| {
        let names: Vec<&str> = net.heads.iter().map(|h| h.name()).collect();
        Error::invalid(what(), format!("head `{head_name}` is not in the model of `{}` (its heads: {})", input.name, names.join(", ")))
    })?;
    let classes = linear_head(&mut net, head)?.cfg.out_features;
    let data_classes = ctx.data.train.num_classes();
    if classes != data_classes {
        return Err(Error::invalid(what(), format!("head `{head_name}` has {classes} classes but the training data has {data_classes}")));
    }
    let started = Instant::now();
    let (net, summary, history, metrics) = match spec.method {
        CalibrationMethod::TauNorm => {
            tau_normalize(linear_head(&mut net, head)?, spec.tau)?;
            (net, format!("tau-norm (tau {}) on `{head_name}`", spec.tau), Vec::new(), Vec::new())
        }
        CalibrationMethod::Lws | CalibrationMethod::Crt => train(spec, ctx, net, &head_name)?,
    };
    save_model(ctx.out_dir, &net, &info.default_head, &ctx.data.lock.fingerprint)?;
    let history_json = serde_json::to_string_pretty(&History { stage: ctx.name, method: spec.method, head: &head_name, epochs: history.clone() }).expect("history serializes");
    write_atomically(&ctx.out_dir.join(HISTORY_FILE), history_json.as_bytes())?;
    let elapsed = started.elapsed().as_secs_f64();
    let trained: f64 = history.iter().map(|e| e.images_per_s * e.wall_s).sum();
    Ok(StageReport {
        summary,
        metrics: metrics.into_iter().collect(),
        images_per_s: (!history.is_empty() && elapsed > 0.0).then(|| trained / elapsed),
    })
}

type Trained = (Network, String, Vec<CalibrationEpoch>, Vec<(String, f64)>);

fn train(spec: &CalibrateSpec, ctx: &StageContext, mut net: Network, head_name: &str) -> Result<Trained> {
    let dev = ctx.dev;
    let what = || format!("calibrate stage `{}`", ctx.name);
    if spec.epochs == 0 {
        return Err(Error::invalid(what(), "`epochs` must be at least 1 for lws and crt"));
    }
    let batch_size = spec.batch_size();
    if batch_size == 0 {
        return Err(Error::invalid(what(), "`batch_size` must be at least 1"));
    }
    let seed = stage_seed(ctx.seed, ctx.name);
    let train_data = &ctx.data.train;
    let counts = train_data.class_counts();
    let kind = sampler_kind_of(&spec.sampler(), spec.epochs);
    let mut sampler = Sampler::new(kind, &train_data.labels(), counts.len(), seed)?;
    if matches!(kind, SamplerKind::ClassBalanced { .. }) {
        sampler = sampler.with_epoch_len(counts.iter().copied().max().unwrap_or(0) * counts.len());
    }
    let steps_per_epoch = sampler.epoch_len().div_ceil(batch_size);
    let (base_lr, sgd) = sgd_of(&spec.optimizer());
    let schedule = schedule_of(&spec.schedule(), base_lr, spec.epochs, steps_per_epoch);
    let target = match spec.method {
        CalibrationMethod::Lws => CalibrationTarget::ClassScales,
        _ => {
            let index = net.head_index(head_name).expect("checked by the caller");
            let init = match net.config.arch {
                Arch::CifarResNet { .. } => Init::KaimingNormalFanIn,
                _ => Init::PyTorchDefault,
            };
            let fresh = net.config.heads[index].init(dev, net.backbone.feature_dim(), init, seed);
            net.heads[index] = fresh;
            CalibrationTarget::Head
        }
    };
    let log_every = if dev.is_cpu() { 1 } else { 10 };
    let mut trainer = FrozenBackboneTrainer::new(dev, net, head_name, target, sgd, schedule, log_every)?;
    let pipeline = ctx.data.train_pipeline(&spec.augment());
    let views = [(&pipeline, QUERY_VIEW)];
    let checkpoint_path = ctx.resume_dir.join(CHECKPOINT_FILE);
    let mut history = Vec::with_capacity(spec.epochs);
    let mut start_epoch = 0;
    if let Some(cp) = read_checkpoint(ctx, &checkpoint_path, spec, head_name) {
        let tensors: Vec<(String, Vec<f32>, Vec<f32>)> = cp.tensors.iter().map(|(n, v, m)| (n.clone(), v.iter().map(|b| f32::from_bits(*b)).collect(), m.iter().map(|b| f32::from_bits(*b)).collect())).collect();
        trainer.restore(&tensors, cp.steps_done)?;
        start_epoch = cp.epochs_done;
        history = cp.history;
        ctx.progress.note(&format!("`{}`: resuming after epoch {start_epoch}/{} from {}", ctx.name, spec.epochs, checkpoint_path.display()));
    }
    for epoch in start_epoch..spec.epochs {
        let order = sampler.epoch(epoch as u64);
        let epoch_start = Instant::now();
        ctx.progress.begin(&format!("{} epoch {}/{}", ctx.name, epoch + 1, spec.epochs), steps_per_epoch as u64);
        let (mut loss_sum, mut logged, mut correct, mut seen, mut images) = (0f64, 0usize, 0u64, 0u64, 0u64);
        let mut lr = 0.0;
        let plan = BatchPlan { dataset: train_data, order: &order, batch_size, drop_last: false, views: &views, seed, epoch: epoch as u64 };
        for_each_batch(&plan, |batch| {
            let b = &batch.views[0];
            let log = trainer.step(dev, &b.data, b.shape, &b.labels)?;
            let n = b.shape[0] as u64;
            images += n;
            ctx.counters.trained_samples.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            lr = trainer.schedule.lr_at(trainer.steps_done() - 1);
            if let Some(log) = log {
                loss_sum += log.loss as f64;
                logged += 1;
                correct += log.correct as u64;
                seen += log.batch as u64;
            }
            let rate = images as f64 / epoch_start.elapsed().as_secs_f64().max(1e-9);
            let mut shown = vec![("lr", lr as f64), ("img/s", rate)];
            if logged > 0 {
                shown.push(("loss", loss_sum / logged as f64));
                shown.push(("acc", correct as f64 / seen.max(1) as f64));
            }
            ctx.progress.advance(1, &shown);
            Ok(())
        })?;
        let wall_s = epoch_start.elapsed().as_secs_f64();
        let record = CalibrationEpoch {
            epoch: epoch + 1,
            loss: (logged > 0).then(|| loss_sum / logged as f64),
            train_acc: (seen > 0).then(|| correct as f64 / seen as f64),
            lr,
            images_per_s: images as f64 / wall_s.max(1e-9),
            wall_s,
        };
        history.push(record);
        let cp = Checkpoint {
            version: CHECKPOINT_VERSION,
            method: spec.method,
            head: head_name.to_string(),
            epochs_done: epoch + 1,
            steps_done: trainer.steps_done(),
            tensors: trainer.trained_state().into_iter().map(|(n, v, m)| (n, v.iter().map(|x| x.to_bits()).collect(), m.iter().map(|x| x.to_bits()).collect())).collect(),
            history: history.clone(),
        };
        write_atomically(&checkpoint_path, serde_json::to_string(&cp).expect("checkpoint serializes").as_bytes())?;
        ctx.progress.finish(&epoch_line(history.last().expect("just pushed")));
    }
    let scales = trainer.scale_values();
    let net = trainer.into_network()?;
    if let Some(scales) = scales {
        let json = serde_json::to_string_pretty(&LwsScales { head: head_name, scales }).expect("scales serialize");
        write_atomically(&ctx.out_dir.join(LWS_SCALES_FILE), json.as_bytes())?;
    }
    let last = history.last().expect("at least one epoch");
    let method = if spec.method == CalibrationMethod::Lws { "lws" } else { "crt" };
    let summary = format!("{method} on `{head_name}`, {}: {}", epochs_text(spec.epochs), epoch_line(last));
    let mut metrics = Vec::new();
    if let Some(l) = last.loss {
        metrics.push(("loss".to_string(), l));
    }
    if let Some(a) = last.train_acc {
        metrics.push(("train_acc".to_string(), a));
    }
    Ok((net, summary, history, metrics))
}

/// The checkpoint of an earlier, killed run of this stage, when there is a usable one (an
/// unreadable or foreign one is noted and ignored: the stage then starts over).
fn read_checkpoint(ctx: &StageContext, path: &std::path::Path, spec: &CalibrateSpec, head: &str) -> Option<Checkpoint> {
    let text = std::fs::read_to_string(path).ok()?;
    match serde_json::from_str::<Checkpoint>(&text) {
        Ok(cp) if cp.version == CHECKPOINT_VERSION && cp.method == spec.method && cp.head == head && cp.epochs_done <= spec.epochs && cp.history.len() == cp.epochs_done => Some(cp),
        Ok(_) => {
            ctx.progress.note(&format!("{}: checkpoint of other settings or version; starting over", path.display()));
            None
        }
        Err(e) => {
            ctx.progress.note(&format!("{}: unreadable checkpoint ({e}); starting over", path.display()));
            None
        }
    }
}

fn epoch_line(e: &CalibrationEpoch) -> String {
    let loss = e.loss.map(|l| format!("loss {l:.4}")).unwrap_or_else(|| "loss -".into());
    let acc = e.train_acc.map(|a| format!("train acc {:.1}%", 100.0 * a)).unwrap_or_else(|| "train acc -".into());
    format!("{loss}, {acc}, {:.0} img/s", e.images_per_s)
}

//! The `train` stage kind: a network trained from scratch (or from `init`, or warm-started from
//! the stage's previous output) with a sampler, augmentation, SGD and a schedule, on a weighted
//! sum of `ce` (optionally logit-adjusted), `contrastive` (MoCo) and `distill` (cached soft
//! labels) — SSD-LT's teacher (stage I) and student (stage III), and the plain CE baseline.
//!
//! - Network: `model` on `LoadedData::sample_shape`, head `fc` (classes of the training data),
//!   plus `proj` (feature -> hidden -> ReLU -> dim) with a contrastive loss and `fc_soft` with a
//!   distill loss. The stored model's default head is `fc_soft` for a distilled student (what
//!   the paper reports), else `fc`.
//! - Seeds: the stage trains from [`stage_seed`]`(pipeline seed, stage name)`: the weight
//!   initialisation, the sampler's epoch orders and the augmentation of the training views all
//!   derive from it, so two stages of one pipeline draw differently and one pipeline seed gives
//!   the same run every time.
//! - Views: the query view is `augment`, the contrastive key view `key_augment` (the query's
//!   `augment` when unset), both replayed from (stage seed, epoch, sample id, view). A student
//!   distilling a soft-label set of V > 1 views trains in epoch e on cached view
//!   v = 1 + e mod (V - 1) of every sample, replaying the pixels the teacher saw (pipeline seed,
//!   `SOFT_LABEL_EPOCH`, `SOFT_VIEW_BASE + v`; see `crate::store::soft_labels`), so its own
//!   `augment` must be the soft-label stage's (both default to the pipeline's `augment`). With
//!   V = 1 it trains on its own augmented view against view 0's soft label. It never runs the
//!   teacher.
//! - Outputs in `ctx.out_dir`: the model (`save_model`), `HISTORY_FILE` (one record per epoch:
//!   loss and each term's epoch mean, train accuracy, learning rate, images/s, wall time), and
//!   the report. After every epoch a checkpoint goes to `ctx.resume_dir` ([`resume`]); a run that
//!   finds one continues from it and ends bit-identical to an uninterrupted run.
//! - Scalars are read back from the device every [`LOG_EVERY`] optimizer steps and at the end of
//!   each epoch; the train accuracy of an epoch is measured on those steps' batches, the losses
//!   are exact epoch means (summed on the device).

pub mod resume;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::inputs::{epochs_text, sampler_kind_of, schedule_of, sgd_of, stage_seed};
use super::model_io::{load_model, save_model};
use super::{StageContext, StageInput, StageReport, HISTORY_FILE, SOFT_LABELS_FILE};
use crate::data::augment::{AugmentPipeline, KEY_VIEW, QUERY_VIEW};
use crate::data::samplers::Sampler;
use crate::data::Dataset;
use crate::dataflow::batches::{for_each_batch, BatchPlan};
use crate::error::{Error, Result};
use crate::kernels::elementwise::copy;
use crate::kernels::Device;
use crate::nn::distill::{DistillConfig, SoftTargets};
use crate::nn::moco::MocoConfig;
use crate::nn::multi_loss::{logit_adjustment, CeConfig, LossConfig, CE_HEAD, PROJECTION_HEAD, SOFT_HEAD};
use crate::nn::{Arch, BufferValue, HasState, HeadConfig, MultiLossTrainer, Network, NetworkConfig, StateEntry, StateEntryMut, StepInput};
use crate::spec::stages::{CeLoss, ContrastiveLoss, DataChangePolicy, DistillLoss, LossSpec, StageSpec, TrainSpec};
use crate::store::soft_labels::{read_soft_labels, SoftLabelSet, SOFT_LABEL_EPOCH, SOFT_VIEW_BASE};

/// Optimizer steps between two reads of the step's scalars (the last step of an epoch is
/// always read).
pub const LOG_EVERY: usize = 10;
/// Bumped when `HISTORY_FILE` changes incompatibly.
pub const HISTORY_VERSION: u32 = 1;
/// Base of the key-view numbers when a distilling stage with a contrastive term replays cached
/// views (its batch plan then has the soft-label epoch, so the key view number carries the epoch).
const REPLAY_KEY_VIEW_BASE: u32 = 1 << 24;

/// One epoch of the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based.
    pub epoch: usize,
    /// Sum of the weighted terms' epoch means.
    pub loss: f64,
    /// `loss_ce`, `loss_contrastive`, `loss_distill`: each weighted term's epoch mean.
    #[serde(flatten)]
    pub terms: BTreeMap<String, f64>,
    /// Accuracy on the batches read back (none without a classifier loss).
    pub train_acc: Option<f64>,
    pub lr: f64,
    pub images_per_s: f64,
    pub wall_s: f64,
    pub steps: usize,
}

/// `HISTORY_FILE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub version: u32,
    pub stage: String,
    pub epochs: Vec<EpochRecord>,
}

/// How a call of [`train`] ended.
#[derive(Debug, Clone)]
pub enum TrainOutcome {
    /// Every epoch ran; the outputs are in `ctx.out_dir`.
    Finished(StageReport),
    /// Stopped (as asked) after `epochs_done` epochs, with their checkpoint in `ctx.resume_dir`
    /// and nothing in `ctx.out_dir`: what a run killed after that epoch leaves behind.
    Stopped { epochs_done: usize },
}

/// The registry's entry point for `kind: train`.
pub fn run(spec: &StageSpec, ctx: &StageContext) -> Result<StageReport> {
    let StageSpec::Train(spec) = spec else {
        return Err(Error::invalid(format!("stage `{}`", ctx.name), format!("a `{}` stage was sent to the train stage", spec.kind())));
    };
    match train(spec, ctx, None)? {
        TrainOutcome::Finished(report) => Ok(report),
        TrainOutcome::Stopped { epochs_done } => Err(Error::invalid(format!("stage `{}`", ctx.name), format!("stopped after epoch {epochs_done}"))),
    }
}

/// The losses of a stage, one of each kind at most.
struct Losses<'a> {
    ce: Option<&'a CeLoss>,
    contrastive: Option<&'a ContrastiveLoss>,
    distill: Option<&'a DistillLoss>,
}

fn losses_of<'a>(spec: &'a TrainSpec, what: &str) -> Result<Losses<'a>> {
    let mut l = Losses { ce: None, contrastive: None, distill: None };
    for loss in &spec.losses {
        let (name, taken) = match loss {
            LossSpec::Ce(c) => ("ce", l.ce.replace(c).is_some()),
            LossSpec::Contrastive(c) => ("contrastive", l.contrastive.replace(c).is_some()),
            LossSpec::Distill(d) => ("distill", l.distill.replace(d).is_some()),
        };
        if taken {
            return Err(Error::invalid(what, format!("`losses` lists `{name}` twice; give each loss once (weights go in its options)")));
        }
    }
    if l.ce.is_none() && l.contrastive.is_none() && l.distill.is_none() {
        return Err(Error::invalid(what, "`losses` is empty; list at least one of ce, contrastive, distill (e.g. `losses: [ce]`)"));
    }
    if let Some(ce) = l.ce {
        if ce.balanced_softmax && ce.logit_adjust.is_some() {
            return Err(Error::invalid(what, "ce sets both `balanced_softmax` and `logit_adjust`; balanced softmax is logit_adjust: 1.0, keep one"));
        }
    }
    Ok(l)
}

/// The `soft_labels` input a distill loss names, read and checked against the training data.
fn soft_labels_of(ctx: &StageContext, distill: &DistillLoss, classes: usize, what: &str) -> Result<(SoftLabelSet, std::path::PathBuf)> {
    let input: &StageInput = ctx.inputs.iter().find(|i| i.name == distill.from).ok_or_else(|| {
        Error::invalid(what, format!("distill reads `from: {}`, which is not among the stage's inputs; name a `soft_labels` stage of this pipeline", distill.from))
    })?;
    if input.kind != "soft_labels" {
        return Err(Error::invalid(what, format!("distill reads `from: {}`, a `{}` stage; it needs a `soft_labels` stage", input.name, input.kind)));
    }
    let path = input.dir.join(SOFT_LABELS_FILE);
    let set = read_soft_labels(&path)?;
    let fix = format!("re-run the `{}` stage (`ssdlt run --force {}`)", input.name, input.name);
    if set.num_classes != classes {
        return Err(Error::File { path, message: format!("soft labels over {} classes, the training data has {classes}; {fix}", set.num_classes) });
    }
    if set.k == 0 || set.k > classes || set.views == 0 {
        return Err(Error::File { path, message: format!("k = {} and {} views: expected 1 <= k <= {classes} and at least one view; {fix}", set.k, set.views) });
    }
    if (set.temperature - distill.temperature).abs() > 1e-6 {
        return Err(Error::invalid(
            what,
            format!("distill temperature {} but the soft labels of `{}` were made at temperature {}; set the same `temperature` on both", distill.temperature, input.name, set.temperature),
        ));
    }
    Ok((set, path))
}

/// Copies every state entry of `source` whose name and shape `target` shares; the backbone must
/// match entirely (heads missing from `source` keep their fresh initialisation). Returns the
/// names of `target`'s heads that were not in `source`.
fn copy_matching(dev: &Device, target: &mut Network, source: &Network, from: &str, what: &str) -> Result<Vec<String>> {
    let mut src = Vec::new();
    source.state(&mut src);
    let by_name: HashMap<&str, StateEntry> = src.iter().map(|e| (e.name(), *e)).collect();
    let head_names: Vec<String> = target.config.heads.iter().map(|h| h.name.clone()).collect();
    let is_head = |name: &str| head_names.iter().any(|h| name.strip_prefix(h.as_str()).is_some_and(|r| r.starts_with('.')));
    let mut fresh_heads = Vec::new();
    let mut dst = Vec::new();
    target.state_mut(&mut dst);
    let mut mismatched = Vec::new();
    let mut copies = Vec::new();
    for e in dst {
        let name = e.name().to_string();
        match by_name.get(name.as_str()) {
            Some(s) if s.shape() == e.shape() => copies.push((e, *s)),
            found => {
                if is_head(&name) {
                    let head = name.split('.').next().unwrap_or(&name).to_string();
                    if !fresh_heads.contains(&head) {
                        fresh_heads.push(head);
                    }
                } else {
                    mismatched.push(match found {
                        Some(s) => format!("`{name}`: shape {:?} here, {:?} in `{from}`", e.shape(), s.shape()),
                        None => format!("`{name}` is missing from `{from}`"),
                    });
                }
            }
        }
    }
    if !mismatched.is_empty() {
        return Err(Error::invalid(
            what,
            format!("the model of `{from}` ({}) does not fit this stage's {} backbone:\n  {}\n  fix: give both stages the same `model`", source.config.describe(), target.config.arch, mismatched.join("\n  ")),
        ));
    }
    for (dst, src) in copies {
        match (dst, src) {
            (StateEntryMut::Param(t), StateEntry::Param(s)) => copy(dev, &s.value, &t.value),
            (StateEntryMut::Buffer(t), StateEntry::Buffer(s)) => match (&mut t.value, &s.value) {
                (BufferValue::F32(t), BufferValue::F32(s)) => copy(dev, s, t),
                (BufferValue::Count(t), BufferValue::Count(s)) => *t = *s,
                _ => return Err(Error::invalid(what, format!("`{}`: buffer kinds differ in `{from}`", t.name))),
            },
            (t, _) => return Err(Error::invalid(what, format!("`{}` is a parameter in one model and a buffer in `{from}`", t.name()))),
        }
    }
    Ok(fresh_heads)
}

/// A student's soft labels: the set, its row index by (sample id, view), and its file (errors).
struct SoftLabels<'a> {
    set: &'a SoftLabelSet,
    index: HashMap<(&'a str, u32), usize>,
    path: &'a Path,
}

impl SoftLabels<'_> {
    /// The rows of the samples at `indices` for `view`, as `[N, k]` ids and probabilities.
    fn batch_targets(&self, dataset: &Dataset, indices: &[usize], view: u32, ids: &mut Vec<u32>, probs: &mut Vec<f32>) -> Result<()> {
        ids.clear();
        probs.clear();
        let fix = "re-run the soft_labels stage: its labels predate the training data";
        let bad = |message: String| Error::File { path: self.path.to_path_buf(), message };
        for &i in indices {
            let sample = &dataset.samples[i];
            let row = self.index.get(&(sample.id.as_str(), view)).map(|&r| &self.set.rows[r]).ok_or_else(|| bad(format!("no soft label for training sample `{}` view {view}; {fix}", sample.id)))?;
            if row.hash != sample.hash {
                return Err(bad(format!("the soft label of `{}` was made for other pixels (content hash differs); {fix}", sample.id)));
            }
            if row.classes.len() != self.set.k || row.probs.len() != self.set.k {
                return Err(bad(format!("the row of `{}` view {view} has {} classes and {} probabilities, k is {}", sample.id, row.classes.len(), row.probs.len(), self.set.k)));
            }
            ids.extend_from_slice(&row.classes);
            probs.extend_from_slice(&row.probs);
        }
        Ok(())
    }
}

/// The batch plan's seed, epoch and views of epoch `epoch`, and the soft-label view used.
struct EpochViews {
    seed: u64,
    replay_epoch: u64,
    query_view: u32,
    key_view: u32,
    soft_view: u32,
}

fn epoch_views(epoch: usize, stage_seed: u64, pipeline_seed: u64, soft_views: Option<u32>) -> EpochViews {
    match soft_views {
        Some(v) if v > 1 => EpochViews {
            seed: pipeline_seed,
            replay_epoch: SOFT_LABEL_EPOCH,
            query_view: SOFT_VIEW_BASE + 1 + (epoch as u32 % (v - 1)),
            key_view: REPLAY_KEY_VIEW_BASE + epoch as u32,
            soft_view: 1 + (epoch as u32 % (v - 1)),
        },
        _ => EpochViews { seed: stage_seed, replay_epoch: epoch as u64, query_view: QUERY_VIEW, key_view: KEY_VIEW, soft_view: 0 },
    }
}

/// Runs a `train` stage. `stop_after` stops it (as a kill would) once that many epochs are done
/// and checkpointed; `None` runs to the end.
pub fn train(spec: &TrainSpec, ctx: &StageContext, stop_after: Option<usize>) -> Result<TrainOutcome> {
    let what = format!("stage `{}`", ctx.name);
    let dev = ctx.dev;
    let data = ctx.data;
    let losses = losses_of(spec, &what)?;
    let classes = data.train.num_classes();
    let [channels, height, width] = data.sample_shape;
    let model_what = format!("{what}: model `{}`", spec.model());
    let arch = Arch::parse(spec.model()).map_err(|e| within(&model_what, e))?;
    arch.check_input(channels, height, width).map_err(|e| within(&model_what, e))?;
    let batch = spec.batch_size();
    if batch == 0 {
        return Err(Error::invalid(&what, "batch_size must be at least 1"));
    }
    let seed = stage_seed(ctx.seed, ctx.name);

    let soft = losses.distill.map(|d| soft_labels_of(ctx, d, classes, &what)).transpose()?;

    let mut config = NetworkConfig::classifier(arch, channels, classes);
    if let Some(c) = losses.contrastive {
        config = config.with_head(HeadConfig::projection(PROJECTION_HEAD, c.hidden.unwrap_or(arch.feature_dim()), c.dim));
    }
    if losses.distill.is_some() {
        config = config.with_head(HeadConfig::linear(SOFT_HEAD, classes));
    }
    let mut net = Network::new(dev, config, seed)?;

    let epochs = match (&spec.on_data_change, ctx.previous) {
        (DataChangePolicy::WarmStart { epochs }, Some(previous)) => {
            let (prev, _) = load_model(dev, previous)?;
            copy_matching(dev, &mut net, &prev, "the previous output", &what)?;
            ctx.progress.note(&format!("{}: warm start from the previous output ({}), {} on the changed data", ctx.name, previous.display(), epochs_text(*epochs)));
            *epochs
        }
        _ => {
            if let Some(init) = &spec.init {
                let input = ctx.inputs.iter().find(|i| &i.name == init).ok_or_else(|| Error::invalid(&what, format!("`init: {init}` is not among the stage's inputs; name a train or calibrate stage")))?;
                let (from, _) = load_model(dev, &input.dir)?;
                let fresh = copy_matching(dev, &mut net, &from, init, &what)?;
                if !fresh.is_empty() {
                    ctx.progress.note(&format!("{}: weights from `{init}`; new head(s) {} start fresh", ctx.name, fresh.join(", ")));
                }
            }
            spec.epochs
        }
    };
    if epochs == 0 {
        return Err(Error::invalid(&what, "epochs must be at least 1"));
    }

    let labels = data.train.labels();
    let sampler = Sampler::new(sampler_kind_of(&spec.sampler(), epochs), &labels, classes, seed).map_err(|e| within(&what, e))?;
    let steps_per_epoch = sampler.epoch_len().div_ceil(batch);
    let (base_lr, sgd_cfg) = sgd_of(&spec.optimizer());
    let schedule = schedule_of(&spec.schedule(), base_lr, epochs, steps_per_epoch);
    let loss_cfg = LossConfig {
        ce: losses.ce.map(|ce| {
            let tau = if ce.balanced_softmax { Some(1.0) } else { ce.logit_adjust };
            CeConfig { weight: ce.weight, adjust: tau.map(|t| logit_adjustment(&data.stats.counts, t)) }
        }),
        contrastive: losses.contrastive.map(|c| MocoConfig { queue: c.queue, temperature: c.temperature, momentum: c.momentum, mask_same_class: c.mask_same_class, weight: c.weight, seed }),
        distill: losses.distill.map(|d| DistillConfig { temperature: d.temperature, weight: d.weight }),
    };
    let mut trainer = MultiLossTrainer::new(dev, net, &loss_cfg, sgd_cfg, schedule).map_err(|e| within(&what, e))?;

    let mut history: Vec<EpochRecord> = Vec::new();
    let mut start = 0;
    match resume::load(ctx.resume_dir, ctx.fingerprint, &mut trainer) {
        Ok(Some(point)) if point.epochs_done <= epochs => {
            ctx.progress.note(&format!("{}: resuming after epoch {}/{epochs} from {}", ctx.name, point.epochs_done, ctx.resume_dir.join(resume::CHECKPOINT_FILE).display()));
            start = point.epochs_done;
            history = point.history;
        }
        Ok(Some(point)) => return Err(Error::invalid(&what, format!("the checkpoint in {} is after epoch {} of {epochs}; delete it", ctx.resume_dir.display(), point.epochs_done))),
        Ok(None) => {}
        Err(e) => ctx.progress.note(&format!("{}: ignoring the epoch checkpoint ({e}); starting from epoch 1", ctx.name)),
    }

    let query_pipeline = data.train_pipeline(&spec.augment());
    let key_pipeline: Option<AugmentPipeline> = losses.contrastive.map(|_| data.train_pipeline(spec.key_augment.as_ref().unwrap_or(&spec.augment())));
    let soft_labels = soft.as_ref().map(|(set, path)| SoftLabels { set, index: set.index(), path });
    let mut ids = Vec::new();
    let mut probs = Vec::new();

    for epoch in start..epochs {
        let order = sampler.epoch(epoch as u64);
        let ev = epoch_views(epoch, seed, ctx.seed, soft.as_ref().map(|(s, _)| s.views));
        let mut views: Vec<(&AugmentPipeline, u32)> = vec![(&query_pipeline, ev.query_view)];
        if let Some(k) = &key_pipeline {
            views.push((k, ev.key_view));
        }
        let plan = BatchPlan { dataset: &data.train, order: &order, batch_size: batch, drop_last: false, views: &views, seed: ev.seed, epoch: ev.replay_epoch };
        ctx.progress.begin(&format!("epoch {}/{epochs}", epoch + 1), steps_per_epoch as u64);
        let started = Instant::now();
        let mut samples = 0usize;
        let (mut logged_correct, mut logged_rows) = (0u64, 0u64);
        let mut last_loss = f64::NAN;
        let mut last_lr = trainer.schedule.lr_at(trainer.steps_done()) as f64;
        for_each_batch(&plan, |vb| {
            let q = &vb.views[0];
            let soft_targets = match &soft_labels {
                Some(s) => {
                    s.batch_targets(&data.train, &vb.indices, ev.soft_view, &mut ids, &mut probs)?;
                    Some(SoftTargets { k: s.set.k, ids: &ids, probs: &probs })
                }
                None => None,
            };
            let read_back = vb.index + 1 == steps_per_epoch || (trainer.steps_done() + 1).is_multiple_of(LOG_EVERY);
            let input = StepInput { images: &q.data, shape: q.shape, labels: &q.labels, key_images: vb.views.get(1).map(|k| k.data.as_slice()), soft: soft_targets };
            let log = trainer.step(dev, &input, read_back)?;
            let n = q.shape[0];
            samples += n;
            ctx.counters.trained_samples.fetch_add(n as u64, Ordering::Relaxed);
            let mut metrics: Vec<(&str, f64)> = Vec::with_capacity(4);
            if let Some(log) = log {
                last_loss = log.loss as f64;
                last_lr = log.lr as f64;
                if let Some(c) = log.correct {
                    logged_correct += c as u64;
                    logged_rows += n as u64;
                }
            }
            metrics.push(("loss", last_loss));
            if logged_rows > 0 {
                metrics.push(("acc", logged_correct as f64 / logged_rows as f64));
            }
            metrics.push(("lr", last_lr));
            metrics.push(("img/s", samples as f64 / started.elapsed().as_secs_f64().max(1e-9)));
            ctx.progress.advance(1, &metrics);
            Ok(())
        })?;
        let means = trainer.take_epoch_means(dev);
        let wall_s = started.elapsed().as_secs_f64();
        let record = EpochRecord {
            epoch: epoch + 1,
            loss: means.iter().map(|(_, v)| v).sum(),
            terms: means.iter().map(|(name, v)| (format!("loss_{name}"), *v)).collect(),
            train_acc: (logged_rows > 0).then(|| logged_correct as f64 / logged_rows as f64),
            lr: last_lr,
            images_per_s: samples as f64 / wall_s.max(1e-9),
            wall_s,
            steps: steps_per_epoch,
        };
        ctx.progress.finish(&epoch_summary(&record));
        history.push(record);
        resume::save(ctx.resume_dir, ctx.fingerprint, &trainer, epoch + 1, &history)?;
        if stop_after == Some(epoch + 1) && epoch + 1 < epochs {
            return Ok(TrainOutcome::Stopped { epochs_done: epoch + 1 });
        }
    }

    let default_head = if losses.distill.is_some() { SOFT_HEAD } else { CE_HEAD };
    save_model(ctx.out_dir, &trainer.net, default_head, &data.lock.fingerprint)?;
    let history_doc = History { version: HISTORY_VERSION, stage: ctx.name.to_string(), epochs: history };
    let path = ctx.out_dir.join(HISTORY_FILE);
    let json = serde_json::to_string_pretty(&history_doc).expect("history serializes");
    std::fs::write(&path, json).map_err(|e| Error::io(&path, e))?;
    Ok(TrainOutcome::Finished(report_of(&history_doc.epochs, epochs)))
}

/// `e` with the stage (and setting) it concerns prefixed to what it names.
fn within(what: &str, e: Error) -> Error {
    match e {
        Error::Invalid { what: w, message } => Error::invalid(format!("{what}: {w}"), message),
        other => other,
    }
}

fn epoch_summary(r: &EpochRecord) -> String {
    let terms: Vec<String> = r.terms.iter().map(|(k, v)| format!("{} {v:.4}", k.trim_start_matches("loss_"))).collect();
    let acc = r.train_acc.map(|a| format!(", train acc {:.1}%", 100.0 * a)).unwrap_or_default();
    format!("epoch {}: loss {:.4} ({}){acc}, lr {:.4}, {:.0} img/s, {:.1} s", r.epoch, r.loss, terms.join(", "), r.lr, r.images_per_s, r.wall_s)
}

fn report_of(history: &[EpochRecord], epochs: usize) -> StageReport {
    let last = history.last().expect("at least one epoch ran or was resumed");
    let mut metrics = BTreeMap::from([("loss".to_string(), last.loss), ("epochs".to_string(), epochs as f64)]);
    metrics.extend(last.terms.iter().map(|(k, v)| (k.clone(), *v)));
    if let Some(a) = last.train_acc {
        metrics.insert("train_acc".to_string(), a);
    }
    metrics.insert("images_per_s".to_string(), last.images_per_s);
    StageReport { summary: format!("{}; last {}", epochs_text(epochs), epoch_summary(last)), metrics, images_per_s: Some(last.images_per_s) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replayed_views_cycle_over_the_augmented_soft_label_views() {
        let views: Vec<u32> = (0..5).map(|e| epoch_views(e, 1, 2, Some(3)).soft_view).collect();
        assert_eq!(views, [1, 2, 1, 2, 1]);
        let e = epoch_views(4, 1, 2, Some(3));
        assert_eq!((e.seed, e.replay_epoch, e.query_view), (2, SOFT_LABEL_EPOCH, SOFT_VIEW_BASE + 1));
        let own = epoch_views(4, 1, 2, Some(1));
        assert_eq!((own.seed, own.replay_epoch, own.query_view, own.soft_view), (1, 4, QUERY_VIEW, 0));
    }

    #[test]
    fn epoch_records_flatten_their_terms() {
        let r = EpochRecord { epoch: 1, loss: 1.5, terms: BTreeMap::from([("loss_ce".to_string(), 1.0), ("loss_distill".to_string(), 0.5)]), train_acc: None, lr: 0.1, images_per_s: 10.0, wall_s: 2.0, steps: 3 };
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["loss_ce"], 1.0);
        assert_eq!(serde_json::from_value::<EpochRecord>(json).unwrap(), r);
    }
}

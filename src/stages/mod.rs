//! Stage kinds: what each node of a pipeline graph computes. One file per kind; [`run_stage`] is
//! the registry the runner calls.
//!
//! The contract with the runner (`crate::cli::run`, `crate::store`): a stage reads its inputs'
//! stored outputs from `ctx.inputs[i].dir`, writes every file it produces into `ctx.out_dir` (a
//! fresh folder the runner checksums and renames into the store when the stage returns Ok), and
//! keeps epoch checkpoints in `ctx.resume_dir` so a killed run resumes where it stopped.
//! Per-sample caches shared across stages and pipelines (soft labels keyed by the teacher's
//! fingerprint, predictions keyed by the model's) live under `ctx.cache_dir`.

use std::path::{Path, PathBuf};

use std::sync::atomic::AtomicU64;

pub mod calibrate;
pub mod evaluate;
pub mod export;
pub mod inputs;
pub mod model_io;
pub mod soft_labels;
pub mod train;

use crate::error::Result;
use crate::kernels::Device;
use crate::spec::dataset::LoadedData;
use crate::spec::stages::StageSpec;

/// File names inside a stage's output folder.
pub const MODEL_FILE: &str = "model.safetensors";
pub const NETWORK_FILE: &str = "network.json";
pub const HISTORY_FILE: &str = "history.json";
pub const SOFT_LABELS_FILE: &str = "soft_labels.arrow";
pub const METRICS_JSON: &str = "metrics.json";
pub const METRICS_ARROW: &str = "metrics.arrow";
pub const PREDICTIONS_FILE: &str = "predictions.arrow";

/// One stage this stage reads, as the runner resolved it.
#[derive(Debug, Clone)]
pub struct StageInput {
    pub name: String,
    /// `train`, `calibrate`, `soft_labels`, `evaluate` or `export`.
    pub kind: &'static str,
    pub fingerprint: String,
    /// Its stored output folder.
    pub dir: PathBuf,
}

/// Work counters a test can read: they prove what a stage did and did not compute.
#[derive(Debug, Default)]
pub struct StageCounters {
    /// Samples that went through a teacher network (soft-label stages, or a student run online).
    pub teacher_forward_samples: AtomicU64,
    /// Test samples predicted by an evaluate stage.
    pub predicted_samples: AtomicU64,
    /// Training samples consumed by SGD steps.
    pub trained_samples: AtomicU64,
}

/// Progress of a long stage. The runner draws bars from it; tests and `-q` pass [`NoProgress`].
pub trait StageProgress: Sync {
    /// A phase starts (`"epoch 3/200"`, `"teacher forward"`) with `total` units (steps or samples).
    fn begin(&self, phase: &str, total: u64);
    /// `done` more units; `metrics` are the latest named values (`loss`, `acc`, `lr`, `img/s`).
    fn advance(&self, done: u64, metrics: &[(&str, f64)]);
    /// The phase ends with a one-line summary.
    fn finish(&self, summary: &str);
    /// A line worth printing between bars (a resumed checkpoint, a cache hit).
    fn note(&self, message: &str);
}

/// Progress that prints nothing.
pub struct NoProgress;

impl StageProgress for NoProgress {
    fn begin(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64, _: &[(&str, f64)]) {}
    fn finish(&self, _: &str) {}
    fn note(&self, _: &str) {}
}

/// What a stage run has to work with.
pub struct StageContext<'a> {
    pub dev: &'a Device,
    /// The pipeline's seed.
    pub seed: u64,
    /// The stage's name in the pipeline file.
    pub name: &'a str,
    pub fingerprint: &'a str,
    pub data: &'a LoadedData,
    /// The stages named by this stage's `from` (and a `distill` loss's `from`), in that order.
    pub inputs: &'a [StageInput],
    /// Empty folder for everything the stage produces.
    pub out_dir: &'a Path,
    /// Survives a killed run of the same fingerprint: epoch checkpoints.
    pub resume_dir: &'a Path,
    /// `.ssdlt/cache`: per-sample caches shared across stages and pipelines.
    pub cache_dir: &'a Path,
    /// This stage's previous stored output (another fingerprint), for `warm_start` and for
    /// re-predicting only changed samples.
    pub previous: Option<&'a Path>,
    pub progress: &'a dyn StageProgress,
    pub counters: &'a StageCounters,
    /// The pipeline the stage belongs to (the export stage writes `exports/<pipeline>` beside its
    /// file); None when a stage runs outside a pipeline file (tests).
    pub pipeline: Option<PipelineRef<'a>>,
}

/// A pipeline file and its `pipeline:` name.
#[derive(Debug, Clone, Copy)]
pub struct PipelineRef<'a> {
    pub name: &'a str,
    pub file: &'a Path,
}

/// What a finished stage reports (written to the store beside its files, shown by `run`).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct StageReport {
    /// One line for the terminal: `top-1 71.2% (many 85.0 / medium 66.1 / few 40.3)`.
    pub summary: String,
    /// Named scalar results (`loss`, `top1`, `many`, ...).
    pub metrics: std::collections::BTreeMap<String, f64>,
    /// Samples per second of the stage's main loop, when it has one.
    pub images_per_s: Option<f64>,
}

/// Runs one stage of kind `spec.kind()` (the registry the runner calls).
pub fn run_stage(spec: &StageSpec, ctx: &StageContext) -> Result<StageReport> {
    match spec {
        StageSpec::Calibrate(s) => calibrate::run(s, ctx),
        StageSpec::SoftLabels(s) => soft_labels::run(s, ctx),
        StageSpec::Evaluate(s) => evaluate::run(s, ctx),
        StageSpec::Train(_) => train::run(spec, ctx),
        StageSpec::Export(s) => export::run(s, ctx),
    }
}

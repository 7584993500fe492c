//! Parameters of each stage kind, as written under `stages:` in a pipeline file.
//!
//! Fields shared with the pipeline's `defaults:` section (`model`, `batch_size`, `optimizer`,
//! `schedule`, `augment`, `sampler`) are `Option`s here: `crate::spec::pipeline` fills a stage's
//! unset ones from `defaults`, and the accessor methods below apply the built-in default when
//! neither set them. Every struct rejects unknown keys.

use serde::{Deserialize, Serialize};

use crate::data::augment::AugmentPipeline;

/// One stage: `kind` picks the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StageSpec {
    Train(TrainSpec),
    Calibrate(CalibrateSpec),
    SoftLabels(SoftLabelsSpec),
    Evaluate(EvaluateSpec),
    Export(ExportSpec),
}

impl StageSpec {
    /// The `kind:` value.
    pub fn kind(&self) -> &'static str {
        match self {
            StageSpec::Train(_) => "train",
            StageSpec::Calibrate(_) => "calibrate",
            StageSpec::SoftLabels(_) => "soft_labels",
            StageSpec::Evaluate(_) => "evaluate",
            StageSpec::Export(_) => "export",
        }
    }
}

/// `sgd: {lr, momentum, weight_decay, nesterov}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum OptimizerSpec {
    Sgd(SgdSpec),
}

fn lr_default() -> f32 {
    0.1
}
fn momentum_default() -> f32 {
    0.9
}
fn weight_decay_default() -> f32 {
    5e-4
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SgdSpec {
    #[serde(default = "lr_default")]
    pub lr: f32,
    #[serde(default = "momentum_default")]
    pub momentum: f32,
    #[serde(default = "weight_decay_default")]
    pub weight_decay: f32,
    #[serde(default)]
    pub nesterov: bool,
}

impl Default for OptimizerSpec {
    /// SGD lr 0.1, momentum 0.9, weight decay 5e-4 (the CIFAR-LT recipes).
    fn default() -> Self {
        OptimizerSpec::Sgd(SgdSpec { lr: 0.1, momentum: 0.9, weight_decay: 5e-4, nesterov: false })
    }
}

/// `cosine: {warmup_epochs}`, `step: {milestones: [160, 180], gamma: 0.1, warmup_epochs}`, `constant`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ScheduleSpec {
    Cosine {
        #[serde(default)]
        warmup_epochs: usize,
        #[serde(default)]
        min_lr: f32,
    },
    Step {
        milestones: Vec<usize>,
        #[serde(default = "gamma_default")]
        gamma: f32,
        #[serde(default)]
        warmup_epochs: usize,
    },
    Constant,
}

fn gamma_default() -> f32 {
    0.1
}

impl Default for ScheduleSpec {
    fn default() -> Self {
        ScheduleSpec::Cosine { warmup_epochs: 0, min_lr: 0.0 }
    }
}

/// `instance_balanced`, `class_balanced: {per_class: 2}`, `square_root`, `progressively_balanced`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SamplerSpec {
    InstanceBalanced,
    ClassBalanced {
        #[serde(default = "per_class_default")]
        per_class: usize,
    },
    SquareRoot,
    ProgressivelyBalanced,
}

fn per_class_default() -> usize {
    2
}

/// What a training stage does when the training data changed since its stored output.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DataChangePolicy {
    /// Train again from scratch (the fingerprint covers the training manifest).
    #[default]
    Retrain,
    /// Continue from the previous output's weights for `epochs` epochs on the new data.
    WarmStart { epochs: usize },
    /// Keep the stored output (the fingerprint leaves the training manifest out).
    Keep,
}

/// `train`: a network trained from scratch (or from `init`) with a weighted list of losses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSpec {
    pub epochs: usize,
    /// `resnet8` .. `resnet110`, `resnet32-w8`, `resnet50`, `resnext50_32x4d`.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub batch_size: Option<usize>,
    #[serde(default)]
    pub optimizer: Option<OptimizerSpec>,
    #[serde(default)]
    pub schedule: Option<ScheduleSpec>,
    /// Augmentation of the (query) view.
    #[serde(default)]
    pub augment: Option<AugmentPipeline>,
    /// Augmentation of the key view of a `contrastive` loss (the stronger one).
    #[serde(default)]
    pub key_augment: Option<AugmentPipeline>,
    #[serde(default)]
    pub sampler: Option<SamplerSpec>,
    /// `[ce]`, `[ce, {contrastive: {...}}]`, `[ce, {distill: {from: soft}}]`.
    pub losses: Vec<LossSpec>,
    /// Start from another stage's trained weights instead of a fresh initialization.
    #[serde(default)]
    pub init: Option<String>,
    #[serde(default)]
    pub on_data_change: DataChangePolicy,
}

/// One loss term. `ce` alone, or `{ce: {...}}` / `{contrastive: {...}}` / `{distill: {...}}`.
/// A bare name (or an empty value, `- ce:`) takes every setting's default; serializes as the
/// one-key map.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LossSpec {
    Ce(CeLoss),
    Contrastive(ContrastiveLoss),
    Distill(DistillLoss),
}

const LOSS_KINDS: &[&str] = &["ce", "contrastive", "distill"];

/// The key (or bare name) of a loss term.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum LossKind {
    Ce,
    Contrastive,
    Distill,
}

impl<'de> Deserialize<'de> for LossSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LossVisitor;

        /// The loss's settings from an empty map: every default (or `missing field` for a
        /// required one, such as `distill`'s `from`).
        fn defaults<T: serde::de::DeserializeOwned, E: serde::de::Error>() -> Result<T, E> {
            T::deserialize(serde::de::value::MapDeserializer::<_, E>::new(std::iter::empty::<(&str, &str)>()))
        }

        impl<'de> serde::de::Visitor<'de> for LossVisitor {
            type Value = LossSpec;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a loss: `ce`, `{ce: {...}}`, `{contrastive: {...}}` or `{distill: {from: ...}}`")
            }

            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<LossSpec, E> {
                match name {
                    "ce" => defaults().map(LossSpec::Ce),
                    "contrastive" => defaults().map(LossSpec::Contrastive),
                    "distill" => defaults().map(LossSpec::Distill),
                    other => Err(E::unknown_variant(other, LOSS_KINDS)),
                }
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<LossSpec, A::Error> {
                use serde::de::Error;
                let Some(kind) = map.next_key::<LossKind>()? else {
                    return Err(A::Error::invalid_length(0, &"one loss key: `ce`, `contrastive` or `distill`"));
                };
                let loss = match kind {
                    LossKind::Ce => LossSpec::Ce(map.next_value::<Option<CeLoss>>()?.map_or_else(defaults, Ok)?),
                    LossKind::Contrastive => {
                        LossSpec::Contrastive(map.next_value::<Option<ContrastiveLoss>>()?.map_or_else(defaults, Ok)?)
                    }
                    LossKind::Distill => LossSpec::Distill(map.next_value::<Option<DistillLoss>>()?.map_or_else(defaults, Ok)?),
                };
                if map.next_key::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(A::Error::custom("one loss per list item: write `- ce` and `- {distill: ...}` as two items"));
                }
                Ok(loss)
            }
        }

        deserializer.deserialize_any(LossVisitor)
    }
}

fn one() -> f32 {
    1.0
}

/// Softmax cross-entropy on the hard labels (the `fc` head).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CeLoss {
    #[serde(default = "one")]
    pub weight: f32,
    /// Logit adjustment (Menon et al. 2021): add `tau * log(prior)` to the logits in the loss.
    #[serde(default)]
    pub logit_adjust: Option<f32>,
    /// Balanced softmax (Ren et al. 2020): logit adjustment with tau = 1.
    #[serde(default)]
    pub balanced_softmax: bool,
}

/// MoCo-style contrastive loss with a momentum key encoder (SSD-LT stage I).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContrastiveLoss {
    #[serde(default = "one")]
    pub weight: f32,
    /// Keys (with their labels) in the queue.
    #[serde(default = "queue_default")]
    pub queue: usize,
    #[serde(default = "moco_temperature_default")]
    pub temperature: f32,
    /// EMA momentum of the key encoder.
    #[serde(default = "moco_momentum_default")]
    pub momentum: f32,
    /// Leave negatives of the query's own class out of the denominator.
    #[serde(default = "yes")]
    pub mask_same_class: bool,
    /// Projection head: feature -> `hidden` -> ReLU -> `dim` (hidden: the feature width when unset).
    #[serde(default)]
    pub hidden: Option<usize>,
    #[serde(default = "projection_dim_default")]
    pub dim: usize,
}

fn queue_default() -> usize {
    4096
}
fn moco_temperature_default() -> f32 {
    0.2
}
fn moco_momentum_default() -> f32 {
    0.999
}
fn yes() -> bool {
    true
}
fn projection_dim_default() -> usize {
    128
}

/// KL distillation from cached soft labels into a second classifier head (SSD-LT stage III).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistillLoss {
    /// The `soft_labels` stage whose cache the student reads.
    pub from: String,
    #[serde(default = "distill_temperature_default")]
    pub temperature: f32,
    #[serde(default = "one")]
    pub weight: f32,
}

fn distill_temperature_default() -> f32 {
    2.0
}

/// How `calibrate` re-balances a frozen backbone's classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationMethod {
    /// Learnable per-class weight scales; classifier weights frozen.
    Lws,
    /// Classifier re-trained from scratch.
    Crt,
    /// Weights divided by their norm to the power `tau`; no training.
    TauNorm,
}

/// `calibrate`: backbone frozen (eval mode), classifier re-balanced on class-balanced batches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrateSpec {
    /// A `train` (or `calibrate`) stage.
    pub from: String,
    pub method: CalibrationMethod,
    /// Which classifier head: `fc` (hard labels) or `fc_soft` (a distilled student's soft head).
    /// Unset: the model's default head.
    #[serde(default)]
    pub head: Option<String>,
    /// Epochs of training (ignored by `tau_norm`).
    #[serde(default = "calibrate_epochs_default")]
    pub epochs: usize,
    /// tau-norm's exponent.
    #[serde(default = "one")]
    pub tau: f32,
    #[serde(default)]
    pub batch_size: Option<usize>,
    #[serde(default)]
    pub optimizer: Option<OptimizerSpec>,
    #[serde(default)]
    pub schedule: Option<ScheduleSpec>,
    #[serde(default)]
    pub augment: Option<AugmentPipeline>,
    /// Class-balanced with 2 per class when unset; never taken from `defaults` (whose sampler
    /// is the training one).
    #[serde(default)]
    pub sampler: Option<SamplerSpec>,
}

fn calibrate_epochs_default() -> usize {
    10
}

/// `soft_labels`: a (calibrated) teacher's temperature-softened outputs, cached in Arrow files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoftLabelsSpec {
    /// The teacher: a `train` or `calibrate` stage.
    pub from: String,
    #[serde(default = "distill_temperature_default")]
    pub temperature: f32,
    /// Keep the k most probable classes; unset: dense (every class).
    #[serde(default)]
    pub top_k: Option<usize>,
    /// Views per sample: view 0 un-augmented, views 1.. augmented with `augment`.
    #[serde(default = "views_default")]
    pub views: u32,
    /// Augmentation of views 1.. (the student's training augmentation, so it replays them).
    #[serde(default)]
    pub augment: Option<AugmentPipeline>,
    #[serde(default)]
    pub batch_size: Option<usize>,
}

fn views_default() -> u32 {
    1
}

/// `evaluate`: top-1/top-5, many/medium/few, per-class accuracy, confusion, ECE of each model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateSpec {
    /// Model stages (`train` or `calibrate`).
    pub from: Vec<String>,
    #[serde(default)]
    pub batch_size: Option<usize>,
    /// Bins of the expected calibration error.
    #[serde(default = "ece_bins_default")]
    pub ece_bins: usize,
}

fn ece_bins_default() -> usize {
    15
}

/// A label table file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableFormat {
    Arrow,
    Parquet,
    Csv,
}

/// `export`: label tables (samples, soft_labels, predictions, per_class, runs) as files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportSpec {
    /// `soft_labels` and `evaluate` stages whose tables are written.
    pub from: Vec<String>,
    pub format: TableFormat,
    /// Folder for the files, relative to the pipeline file (default `exports/<pipeline>`).
    #[serde(default)]
    pub dir: Option<std::path::PathBuf>,
}

impl TrainSpec {
    pub fn model(&self) -> &str {
        self.model.as_deref().unwrap_or("resnet32")
    }
    pub fn batch_size(&self) -> usize {
        self.batch_size.unwrap_or(128)
    }
    pub fn optimizer(&self) -> OptimizerSpec {
        self.optimizer.clone().unwrap_or_default()
    }
    pub fn schedule(&self) -> ScheduleSpec {
        self.schedule.clone().unwrap_or_default()
    }
    pub fn augment(&self) -> AugmentPipeline {
        self.augment.clone().unwrap_or_default()
    }
    pub fn sampler(&self) -> SamplerSpec {
        self.sampler.clone().unwrap_or(SamplerSpec::InstanceBalanced)
    }
}

impl CalibrateSpec {
    pub fn batch_size(&self) -> usize {
        self.batch_size.unwrap_or(128)
    }
    pub fn optimizer(&self) -> OptimizerSpec {
        self.optimizer.clone().unwrap_or_default()
    }
    pub fn schedule(&self) -> ScheduleSpec {
        self.schedule.clone().unwrap_or_default()
    }
    pub fn augment(&self) -> AugmentPipeline {
        self.augment.clone().unwrap_or_default()
    }
    pub fn sampler(&self) -> SamplerSpec {
        self.sampler.clone().unwrap_or(SamplerSpec::ClassBalanced { per_class: 2 })
    }
}

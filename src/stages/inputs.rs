//! What the calibrate, soft_labels and evaluate stages share: finding a model input, the
//! stage's own random seed, and turning the spec's optimizer, schedule and sampler into the
//! engine's types.

use super::{StageContext, StageInput};
use crate::data::samplers::SamplerKind;
use crate::error::{Error, Result};
use crate::nn::{Decay, LrSchedule, SgdConfig};
use crate::spec::stages::{OptimizerSpec, SamplerSpec, ScheduleSpec};

/// Input `index` of the stage, which must hold a model (a `train` or `calibrate` output).
pub fn model_input<'a>(ctx: &'a StageContext, index: usize, kind: &str) -> Result<&'a StageInput> {
    let input = ctx.inputs.get(index).ok_or_else(|| Error::invalid(format!("{kind} stage `{}`", ctx.name), format!("has {} inputs; it needs a model stage in `from`", ctx.inputs.len())))?;
    if !matches!(input.kind, "train" | "calibrate") {
        return Err(Error::invalid(format!("{kind} stage `{}`", ctx.name), format!("reads `{}`, a {} stage; `from` must name a train or calibrate stage", input.name, input.kind)));
    }
    Ok(input)
}

/// The pipeline seed mixed with the stage name, so two stages of one pipeline draw differently
/// and one stage draws the same on every run.
pub fn stage_seed(seed: u64, stage: &str) -> u64 {
    let mut h = blake3::Hasher::new_derive_key("ssdlt stage seed v1");
    h.update(&seed.to_le_bytes());
    h.update(stage.as_bytes());
    u64::from_le_bytes(h.finalize().as_bytes()[..8].try_into().expect("8 bytes"))
}

/// (base learning rate, SGD settings) of an optimizer spec. Weight decay applies to every
/// parameter, as one PyTorch parameter group does.
pub fn sgd_of(spec: &OptimizerSpec) -> (f32, SgdConfig) {
    match spec {
        OptimizerSpec::Sgd(s) => (s.lr, SgdConfig { momentum: s.momentum, weight_decay: s.weight_decay, nesterov: s.nesterov, decay_norm_and_bias: true }),
    }
}

/// The schedule of `epochs` epochs of `steps_per_epoch` steps, the rate changed once per epoch
/// (PyTorch's schedulers stepped per epoch).
pub fn schedule_of(spec: &ScheduleSpec, base_lr: f32, epochs: usize, steps_per_epoch: usize) -> LrSchedule {
    let (decay, warmup) = match spec {
        ScheduleSpec::Cosine { warmup_epochs, min_lr } => (Decay::Cosine { min_lr: *min_lr }, *warmup_epochs),
        ScheduleSpec::Step { milestones, gamma, warmup_epochs } => (Decay::Step { milestones: milestones.clone(), gamma: *gamma }, *warmup_epochs),
        ScheduleSpec::Constant => (Decay::Constant, 0),
    };
    LrSchedule { base_lr, decay, epochs: epochs.max(1), steps_per_epoch: steps_per_epoch.max(1), warmup_epochs: warmup, per_step: false }
}

/// The sampler of a spec for a run of `epochs` epochs.
pub fn sampler_kind_of(spec: &SamplerSpec, epochs: usize) -> SamplerKind {
    match spec {
        SamplerSpec::InstanceBalanced => SamplerKind::InstanceBalanced,
        SamplerSpec::ClassBalanced { per_class } => SamplerKind::ClassBalanced { samples_per_class: *per_class },
        SamplerSpec::SquareRoot => SamplerKind::SquareRoot,
        SamplerSpec::ProgressivelyBalanced => SamplerKind::ProgressivelyBalanced { total_epochs: epochs.max(1) as u64 },
    }
}

/// `1 epoch`, `20 epochs` (summaries and plans).
pub fn epochs_text(epochs: usize) -> String {
    format!("{epochs} epoch{}", if epochs == 1 { "" } else { "s" })
}

/// A short hex digest of `value`'s JSON (cache folder names that depend on settings).
pub fn settings_digest(value: &impl serde::Serialize) -> String {
    let json = serde_json::to_vec(value).expect("settings serialize");
    blake3::hash(&json).to_hex()[..16].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_seeds_differ_by_stage_and_repeat_by_name() {
        assert_eq!(stage_seed(0, "ce_lws"), stage_seed(0, "ce_lws"));
        assert_ne!(stage_seed(0, "ce_lws"), stage_seed(0, "student_lws"));
        assert_ne!(stage_seed(0, "ce_lws"), stage_seed(1, "ce_lws"));
    }

    #[test]
    fn a_cosine_spec_anneals_per_epoch_to_zero() {
        let s = schedule_of(&ScheduleSpec::Cosine { warmup_epochs: 0, min_lr: 0.0 }, 0.1, 4, 3);
        assert_eq!(s.lr_at(0), 0.1);
        assert_eq!(s.lr_at(2), 0.1);
        assert!(s.lr_at(3) < 0.1);
    }
}

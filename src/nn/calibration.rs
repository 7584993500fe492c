//! Classifier re-balancing on a frozen backbone (Kang et al., "Decoupling Representation and
//! Classifier", ICLR 2020; SSD-LT stage II and IV): learnable weight scaling (LWS), classifier
//! re-training (cRT) and tau-normalization.
//!
//! The backbone runs in eval mode (BatchNorm uses its running statistics and they are never
//! updated) and gets no gradient; only the calibrated quantity is handed to SGD:
//! - LWS: per-class scales s `[C]` (init 1) on the frozen head's logits, z'_c = s_c z_c. Since
//!   z_c = w_c·f + b_c, [`fold_class_scales`] turns the result into a plain linear head
//!   (w_c s_c, b_c s_c) that downstream stages read like any other.
//! - cRT: the head's weight and bias, re-initialized by the caller.
//! - tau-norm ([`tau_normalize`]): w_c / ||w_c||^tau with the bias dropped; no training.

use crate::error::{Error, Result};
use crate::kernels::elementwise::{class_scale_backward, class_scale_forward};
use crate::kernels::losses::softmax_cross_entropy;
use crate::kernels::{Device, Tensor};

use super::buffers::Slot;
use super::heads::Head;
use super::linear::Linear;
use super::network::Network;
use super::optim::{Sgd, SgdConfig};
use super::param::{HasState, Param, StateEntry, StateEntryMut};
use super::schedule::LrSchedule;
use super::train::StepLog;

/// What a [`FrozenBackboneTrainer`] trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalibrationTarget {
    /// Per-class logit scales; the head's weights stay frozen.
    ClassScales,
    /// The head's weight and bias.
    Head,
}

/// LWS's per-class scales as a one-parameter model (`<head>.scales`, `[C]`).
pub struct ClassScales {
    pub param: Param,
}

impl ClassScales {
    /// Scales of 1 for `classes` classes of head `head`.
    pub fn ones(dev: &Device, head: &str, classes: usize) -> ClassScales {
        let shape = [classes];
        ClassScales {
            param: Param { name: format!("{head}.scales"), value: dev.from_f32(&shape, &vec![1.0; classes]), grad: dev.zeros(&shape), velocity: dev.zeros(&shape), trainable: true },
        }
    }
}

impl HasState for ClassScales {
    fn state<'a>(&'a self, out: &mut Vec<StateEntry<'a>>) {
        out.push(StateEntry::Param(&self.param));
    }
    fn state_mut<'a>(&'a mut self, out: &mut Vec<StateEntryMut<'a>>) {
        out.push(StateEntryMut::Param(&mut self.param));
    }
}

/// The linear layer of head `head`, or an error naming the head's kind.
pub fn linear_head(net: &mut Network, head: usize) -> Result<&mut Linear> {
    match &mut net.heads[head] {
        Head::Linear(h) => Ok(&mut h.fc),
        Head::Projection(h) => Err(Error::invalid("calibration head", format!("`{}` is a projection head; calibrate a linear classifier head (fc or fc_soft)", h.name))),
    }
}

/// Trains LWS scales or a re-initialized head on top of a frozen, eval-mode backbone with
/// softmax cross-entropy, one SGD step per batch (one submit per step on wgpu).
pub struct FrozenBackboneTrainer {
    pub net: Network,
    pub head: usize,
    pub target: CalibrationTarget,
    /// The scales (LWS only).
    pub scales: Option<ClassScales>,
    pub sgd: Sgd,
    pub schedule: LrSchedule,
    /// Read the loss back after every `log_every`-th step.
    pub log_every: usize,
    step: usize,
    x: Slot,
    labels: Slot,
    scaled: Slot,
    dscaled: Slot,
    loss: Tensor,
    correct: Tensor,
}

impl FrozenBackboneTrainer {
    /// `head` must be a linear head of `net`. For `Head`, re-initialize it before calling.
    pub fn new(dev: &Device, net: Network, head: &str, target: CalibrationTarget, sgd: SgdConfig, schedule: LrSchedule, log_every: usize) -> Result<FrozenBackboneTrainer> {
        let mut net = net;
        let index = net.head_index(head).ok_or_else(|| Error::invalid("calibration head", format!("the model has no head `{head}`")))?;
        let classes = linear_head(&mut net, index)?.cfg.out_features;
        let (scales, sgd) = match target {
            CalibrationTarget::ClassScales => {
                let scales = ClassScales::ones(dev, head, classes);
                let sgd = Sgd::new(dev, sgd, &scales);
                (Some(scales), sgd)
            }
            CalibrationTarget::Head => (None, Sgd::new(dev, sgd, &net.heads[index])),
        };
        Ok(FrozenBackboneTrainer {
            net,
            head: index,
            target,
            scales,
            sgd,
            schedule,
            log_every: log_every.max(1),
            step: 0,
            x: Slot::default(),
            labels: Slot::default(),
            scaled: Slot::default(),
            dscaled: Slot::default(),
            loss: dev.zeros(&[1]),
            correct: dev.zeros_u32(&[1]),
        })
    }

    pub fn classes(&self) -> usize {
        self.net.config.heads[self.head].out_dim()
    }

    pub fn steps_done(&self) -> usize {
        self.step
    }

    /// One step on `images` (`shape` = [N, C, H, W]) with `labels` [N]. Returns the loss and
    /// correct count (of the calibrated logits, before the update) on logged steps.
    pub fn step(&mut self, dev: &Device, images: &[f32], shape: [usize; 4], labels: &[u32]) -> Result<Option<StepLog>> {
        let n = shape[0];
        let [_, c, h, w] = shape;
        if n == 0 || images.len() != n * c * h * w || labels.len() != n {
            return Err(Error::invalid("calibration batch", format!("{} values and {} labels for shape {shape:?}", images.len(), labels.len())));
        }
        let classes = self.classes();
        if let Some(bad) = labels.iter().find(|&&l| l as usize >= classes) {
            return Err(Error::invalid("calibration labels", format!("label {bad} with {classes} classes")));
        }
        self.net.config.arch.check_input(c, h, w)?;
        let x = self.x.f32(dev, &shape);
        x.write(images);
        let y = self.labels.u32(dev, &[n]);
        y.write_u32(labels);
        let lr = self.schedule.lr_at(self.step);
        self.sgd.set_lr(lr);

        self.net.forward_features(dev, &x, false);
        let logits = self.net.forward_head(dev, self.head);
        match (&self.target, &self.scales) {
            (CalibrationTarget::ClassScales, Some(scales)) => {
                let scaled = self.scaled.f32(dev, logits.shape());
                class_scale_forward(dev, &logits, &scales.param.value, &scaled);
                let dscaled = self.dscaled.f32(dev, logits.shape());
                softmax_cross_entropy(dev, &scaled, &y, None, 1.0, &self.loss, &dscaled, &self.correct);
                class_scale_backward(dev, &logits, &scales.param.value, &dscaled, None, &scales.param.grad);
            }
            _ => {
                let dlogits = self.dscaled.f32(dev, logits.shape());
                softmax_cross_entropy(dev, &logits, &y, None, 1.0, &self.loss, &dlogits, &self.correct);
                linear_head(&mut self.net, self.head)?.backward(dev, &dlogits, None);
            }
        }
        self.sgd.step(dev);
        dev.flush();

        let step = self.step;
        self.step += 1;
        if !self.step.is_multiple_of(self.log_every) {
            return Ok(None);
        }
        Ok(Some(StepLog { step, lr, loss: self.loss.to_vec()[0], correct: self.correct.to_vec_u32()[0], batch: n }))
    }

    /// The learned scales (LWS), or None.
    pub fn scale_values(&self) -> Option<Vec<f32>> {
        self.scales.as_ref().map(|s| s.param.value.to_vec())
    }

    /// The network with the calibration applied: LWS scales folded into the head.
    pub fn into_network(self) -> Result<Network> {
        let scales = self.scale_values();
        let mut net = self.net;
        if let Some(s) = scales {
            fold_class_scales(linear_head(&mut net, self.head)?, &s)?;
        }
        Ok(net)
    }
}

/// w_c <- s_c w_c and b_c <- s_c b_c: the head then computes the LWS-scaled logits itself.
pub fn fold_class_scales(layer: &mut Linear, scales: &[f32]) -> Result<()> {
    let (classes, d) = (layer.cfg.out_features, layer.cfg.in_features);
    if scales.len() != classes {
        return Err(Error::invalid("class scales", format!("{} scales for {classes} classes", scales.len())));
    }
    let mut w = layer.weight.value.to_vec();
    for (row, &s) in w.chunks_mut(d).zip(scales) {
        row.iter_mut().for_each(|v| *v *= s);
    }
    layer.weight.value.write(&w);
    if let Some(b) = &mut layer.bias {
        let bias: Vec<f32> = b.value.to_vec().iter().zip(scales).map(|(v, s)| v * s).collect();
        b.value.write(&bias);
    }
    Ok(())
}

/// tau-normalization: w_c <- w_c / ||w_c||^tau (a zero row stays zero), bias set to zero.
pub fn tau_normalize(layer: &mut Linear, tau: f32) -> Result<()> {
    if !tau.is_finite() || tau < 0.0 {
        return Err(Error::invalid("tau", format!("{tau} must be a finite number >= 0")));
    }
    let d = layer.cfg.in_features;
    let classes = layer.cfg.out_features;
    let mut w = layer.weight.value.to_vec();
    for row in w.chunks_mut(d) {
        let norm = row.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>().sqrt();
        if norm > 0.0 {
            let inv = norm.powf(tau as f64).recip();
            row.iter_mut().for_each(|v| *v = (*v as f64 * inv) as f32);
        }
    }
    layer.weight.value.write(&w);
    if let Some(b) = &mut layer.bias {
        b.value.write(&vec![0.0; classes]);
    }
    Ok(())
}

//! A training step with a weighted sum of losses on several heads of one network: softmax
//! cross-entropy on `fc` (optionally logit-adjusted), MoCo contrastive on `proj` (with its key
//! encoder, [`super::moco`]) and KL distillation from soft labels on `fc_soft`
//! ([`super::distill`]). This is the step of SSD-LT's teacher (ce + contrastive) and student
//! (ce + distill), and of a plain CE baseline.
//!
//! One step = every upload first (images, key images, labels, soft targets, the learning rate
//! when it changed), then one recorded pass: forward in training mode, each term's loss and
//! gradient, one backward through the trunk with the heads' gradients summed, SGD, the MoCo
//! enqueue, and the running epoch sums of each term; submitted once. Scalars come back only when
//! the caller asks (`read_back`), and the epoch means once per epoch.

use crate::error::{Error, Result};
use crate::kernels::elementwise::{add_assign, fill};
use crate::kernels::losses::softmax_cross_entropy;
use crate::kernels::{Device, Tensor};

use super::buffers::Slot;
use super::distill::{Distill, DistillConfig, SoftTargets};
use super::moco::{Moco, MocoConfig};
use super::network::Network;
use super::optim::{Sgd, SgdConfig};
use super::schedule::LrSchedule;

/// The hard-label classifier (cross-entropy).
pub const CE_HEAD: &str = "fc";
/// The MoCo projection head.
pub const PROJECTION_HEAD: &str = "proj";
/// The distilled student's soft-label classifier.
pub const SOFT_HEAD: &str = "fc_soft";

/// Cross-entropy on [`CE_HEAD`].
#[derive(Debug, Clone, PartialEq)]
pub struct CeConfig {
    pub weight: f32,
    /// `[classes]` added to the logits inside the loss only (logit adjustment / balanced
    /// softmax: `tau * ln(prior)`, see [`logit_adjustment`]); accuracy uses the raw logits.
    pub adjust: Option<Vec<f32>>,
}

/// Which terms a step has; at least one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LossConfig {
    pub ce: Option<CeConfig>,
    pub contrastive: Option<MocoConfig>,
    pub distill: Option<DistillConfig>,
}

/// `tau * ln(n_c / n)` per class: the logit adjustment of Menon et al. (2021) with the training
/// class counts as the prior (tau = 1 is Ren et al.'s balanced softmax). A class with no training
/// image counts as one, so the adjustment stays finite.
pub fn logit_adjustment(counts: &[usize], tau: f32) -> Vec<f32> {
    let total: f64 = counts.iter().map(|&c| c.max(1) as f64).sum();
    counts.iter().map(|&c| (tau as f64 * (c.max(1) as f64 / total).ln()) as f32).collect()
}

/// One step's batch: query images `[N, C, H, W]` row-major with their labels, the key view of
/// the same samples when the step has a contrastive term, soft targets when it distills.
pub struct StepInput<'a> {
    pub images: &'a [f32],
    pub shape: [usize; 4],
    pub labels: &'a [u32],
    pub key_images: Option<&'a [f32]>,
    pub soft: Option<SoftTargets<'a>>,
}

/// Scalars of a step that was read back.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiLossLog {
    /// 0-based index of the step.
    pub step: usize,
    pub lr: f32,
    pub batch: usize,
    /// Sum of the weighted terms.
    pub loss: f32,
    /// Each term's weighted loss, in [`MultiLossTrainer::term_names`] order.
    pub terms: Vec<(&'static str, f32)>,
    /// Rows whose arg-max logit of the accuracy head (CE head, else the soft head) was the label.
    pub correct: Option<u32>,
}

struct CeTerm {
    head: usize,
    weight: f32,
    adjust: Option<Tensor>,
    loss: Tensor,
    dlogits: Slot,
}

pub struct MultiLossTrainer {
    pub net: Network,
    pub sgd: Sgd,
    pub schedule: LrSchedule,
    pub moco: Option<Moco>,
    pub distill: Option<Distill>,
    ce: Option<CeTerm>,
    step: usize,
    x: Slot,
    xk: Slot,
    labels: Slot,
    correct: Tensor,
    /// Accuracy of the soft head when there is no CE term: a weight-0 CE only for its count.
    probe: Option<(Tensor, Slot)>,
    /// Per-term running sums since the last `take_epoch_means`, `[1]` each.
    sums: Vec<Tensor>,
    summed_steps: usize,
}

impl MultiLossTrainer {
    /// SGD over every trainable parameter of `net` with the terms of `losses`. The heads the
    /// terms use must exist: [`CE_HEAD`] (ce), [`PROJECTION_HEAD`] (contrastive), [`SOFT_HEAD`]
    /// (distill).
    pub fn new(dev: &Device, net: Network, losses: &LossConfig, sgd: SgdConfig, schedule: LrSchedule) -> Result<MultiLossTrainer> {
        if losses.ce.is_none() && losses.contrastive.is_none() && losses.distill.is_none() {
            return Err(Error::invalid("losses", "a training step needs at least one of ce, contrastive, distill"));
        }
        let ce = match &losses.ce {
            None => None,
            Some(cfg) => {
                let head = net.head_index(CE_HEAD).ok_or_else(|| Error::invalid("ce loss", format!("the network has no head `{CE_HEAD}`")))?;
                let classes = net.config.heads[head].out_dim();
                if !cfg.weight.is_finite() {
                    return Err(Error::invalid("ce loss", format!("weight {} must be finite", cfg.weight)));
                }
                let adjust = match &cfg.adjust {
                    Some(a) if a.len() != classes => return Err(Error::invalid("ce loss", format!("{} logit adjustments for {classes} classes", a.len()))),
                    Some(a) if a.iter().any(|v| !v.is_finite()) => return Err(Error::invalid("ce loss", "logit adjustments must be finite")),
                    Some(a) => Some(dev.from_f32(&[classes], a)),
                    None => None,
                };
                Some(CeTerm { head, weight: cfg.weight, adjust, loss: dev.zeros(&[1]), dlogits: Slot::default() })
            }
        };
        let moco = losses.contrastive.map(|cfg| Moco::new(dev, &net, PROJECTION_HEAD, cfg)).transpose()?;
        let distill = losses.distill.map(|cfg| Distill::new(dev, &net, SOFT_HEAD, cfg)).transpose()?;
        let probe = (ce.is_none() && distill.is_some()).then(|| (dev.zeros(&[1]), Slot::default()));
        let terms = ce.is_some() as usize + moco.is_some() as usize + distill.is_some() as usize;
        let sgd = Sgd::new(dev, sgd, &net);
        Ok(MultiLossTrainer {
            net,
            sgd,
            schedule,
            moco,
            distill,
            ce,
            step: 0,
            x: Slot::default(),
            xk: Slot::default(),
            labels: Slot::default(),
            correct: dev.zeros_u32(&[1]),
            probe,
            sums: (0..terms).map(|_| dev.zeros(&[1])).collect(),
            summed_steps: 0,
        })
    }

    /// Steps done so far (the position in the schedule).
    pub fn steps_done(&self) -> usize {
        self.step
    }

    /// Continues the schedule at step `step` (resuming from a checkpoint).
    pub fn set_steps_done(&mut self, step: usize) {
        self.step = step;
    }

    /// Names of the terms, in the order logs and epoch means list them.
    pub fn term_names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.ce.is_some() {
            names.push("ce");
        }
        if self.moco.is_some() {
            names.push("contrastive");
        }
        if self.distill.is_some() {
            names.push("distill");
        }
        names
    }

    fn term_losses(&self) -> Vec<&Tensor> {
        let mut out = Vec::new();
        if let Some(ce) = &self.ce {
            out.push(&ce.loss);
        }
        if let Some(m) = &self.moco {
            out.push(&m.loss);
        }
        if let Some(d) = &self.distill {
            out.push(&d.loss);
        }
        out
    }

    /// Whether steps count correct predictions (a CE or a distill term).
    pub fn has_accuracy(&self) -> bool {
        self.ce.is_some() || self.distill.is_some()
    }

    fn check(&self, input: &StepInput) -> Result<()> {
        let [n, c, h, w] = input.shape;
        let per = c * h * w;
        if n == 0 || input.images.len() != n * per || input.labels.len() != n {
            return Err(Error::invalid("batch", format!("{} values and {} labels for shape {:?}", input.images.len(), input.labels.len(), input.shape)));
        }
        if c != self.net.config.in_channels {
            return Err(Error::invalid("batch", format!("{c} channels; the network takes {}", self.net.config.in_channels)));
        }
        self.net.config.arch.check_input(c, h, w)?;
        let label_head = self.ce.as_ref().map(|t| t.head).or(self.distill.as_ref().map(|d| d.head));
        if let Some(head) = label_head {
            let classes = self.net.config.heads[head].out_dim();
            if let Some(bad) = input.labels.iter().find(|&&l| l as usize >= classes) {
                return Err(Error::invalid("labels", format!("label {bad} with {classes} classes")));
            }
        }
        match (&self.moco, input.key_images) {
            (Some(_), None) => return Err(Error::invalid("batch", "the contrastive term needs the key view of the batch")),
            (Some(_), Some(k)) if k.len() != input.images.len() => {
                return Err(Error::invalid("batch", format!("{} key-view values for {} query values (the views must have one shape)", k.len(), input.images.len())))
            }
            (None, Some(_)) => return Err(Error::invalid("batch", "key views given to a step without a contrastive term")),
            _ => {}
        }
        match (&self.distill, &input.soft) {
            (Some(_), None) => Err(Error::invalid("batch", "the distill term needs the batch's soft targets")),
            (None, Some(_)) => Err(Error::invalid("batch", "soft targets given to a step without a distill term")),
            _ => Ok(()),
        }
    }

    /// One SGD step on `input`. With `read_back` the step's scalars are read from the device and
    /// returned (the host waits for the step); without, nothing is read.
    pub fn step(&mut self, dev: &Device, input: &StepInput, read_back: bool) -> Result<Option<MultiLossLog>> {
        self.check(input)?;
        let n = input.shape[0];
        // Uploads first: a write submits recorded work, so nothing is recorded before them.
        let x = self.x.f32(dev, &input.shape);
        x.write(input.images);
        let y = self.labels.u32(dev, &[n]);
        y.write_u32(input.labels);
        let xk = match input.key_images {
            Some(k) => {
                let t = self.xk.f32(dev, &input.shape);
                t.write(k);
                Some(t)
            }
            None => None,
        };
        if let (Some(d), Some(soft)) = (&mut self.distill, &input.soft) {
            d.upload(dev, n, soft)?;
        }
        let lr = self.schedule.lr_at(self.step);
        self.sgd.set_lr(lr);

        self.net.forward_features(dev, &x, true);
        let mut grads: Vec<(usize, Tensor)> = Vec::with_capacity(3);
        if let Some(ce) = &mut self.ce {
            let logits = self.net.forward_head(dev, ce.head);
            let dl = ce.dlogits.f32(dev, logits.shape());
            softmax_cross_entropy(dev, &logits, &y, ce.adjust.as_ref(), ce.weight, &ce.loss, &dl, &self.correct);
            grads.push((ce.head, dl));
        }
        if let Some(m) = &mut self.moco {
            let xk = xk.as_ref().expect("checked: key images with a contrastive term");
            let dz = m.forward_backward(dev, &mut self.net, xk, &y)?;
            grads.push((m.query_head, dz));
        }
        if let Some(d) = &mut self.distill {
            let (logits, dl) = d.forward_backward(dev, &mut self.net);
            if let Some((probe_loss, probe_dl)) = &mut self.probe {
                let scratch = probe_dl.f32(dev, logits.shape());
                softmax_cross_entropy(dev, &logits, &y, None, 0.0, probe_loss, &scratch, &self.correct);
            }
            grads.push((d.head, dl));
        }
        let refs: Vec<(usize, &Tensor)> = grads.iter().map(|(h, g)| (*h, g)).collect();
        self.net.backward(dev, &refs);
        self.sgd.step(dev);
        if let Some(m) = &self.moco {
            m.enqueue(dev, &y);
        }
        for (sum, loss) in self.sums.iter().zip(self.term_losses()) {
            add_assign(dev, sum, loss);
        }
        self.summed_steps += 1;
        dev.flush();

        let step = self.step;
        self.step += 1;
        if !read_back {
            return Ok(None);
        }
        let terms: Vec<(&'static str, f32)> = self.term_names().into_iter().zip(self.term_losses()).map(|(name, t)| (name, t.to_vec()[0])).collect();
        let loss = terms.iter().fold(0.0f32, |acc, (_, v)| acc + v);
        let correct = self.has_accuracy().then(|| self.correct.to_vec_u32()[0]);
        Ok(Some(MultiLossLog { step, lr, batch: n, loss, terms, correct }))
    }

    /// Each term's mean over the steps since the last call (in `term_names` order), and resets
    /// the sums. Reads back from the device (once per epoch).
    pub fn take_epoch_means(&mut self, dev: &Device) -> Vec<(&'static str, f64)> {
        let steps = self.summed_steps.max(1) as f64;
        let means = self.term_names().into_iter().zip(&self.sums).map(|(name, s)| (name, s.to_vec()[0] as f64 / steps)).collect();
        for s in &self.sums {
            fill(dev, s, 0.0);
        }
        dev.flush();
        self.summed_steps = 0;
        means
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logit_adjustment_is_tau_times_the_log_prior() {
        let a = logit_adjustment(&[6, 3, 1], 2.0);
        let want = [2.0 * (0.6f64).ln(), 2.0 * (0.3f64).ln(), 2.0 * (0.1f64).ln()];
        for (a, w) in a.iter().zip(want) {
            assert!((*a as f64 - w).abs() < 1e-6, "{a} vs {w}");
        }
    }

    #[test]
    fn an_empty_class_gets_a_finite_adjustment() {
        assert!(logit_adjustment(&[5, 0], 1.0).iter().all(|v| v.is_finite()));
    }
}

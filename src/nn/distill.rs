//! The distillation half of a student's step (SSD-LT stage III): a second classifier head
//! trained towards cached soft labels with KL(teacher_T || student_T) * T^2, averaged over the
//! batch. No teacher runs here: the targets arrive as top-k (class id, probability) rows, read
//! from the soft-label cache by the caller (dense targets are the case k = classes).

use crate::error::{Error, Result};
use crate::kernels::losses::kl_distill_topk;
use crate::kernels::{Device, Tensor};

use super::buffers::Slot;
use super::network::Network;

/// A batch's soft targets: `k` entries per row, rows in batch order.
#[derive(Debug, Clone, Copy)]
pub struct SoftTargets<'a> {
    pub k: usize,
    /// `[N, k]` class ids.
    pub ids: &'a [u32],
    /// `[N, k]` teacher probabilities at the distillation temperature.
    pub probs: &'a [f32],
}

/// Settings of the distillation term.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DistillConfig {
    pub temperature: f32,
    pub weight: f32,
}

/// The distillation term of a step on head `head` (the student's soft classifier).
pub struct Distill {
    pub cfg: DistillConfig,
    pub head: usize,
    /// The step's loss (already times `weight`), `[1]`.
    pub loss: Tensor,
    ids: Slot,
    probs: Slot,
    dlogits: Slot,
    uploaded: Option<(Tensor, Tensor)>,
}

impl Distill {
    pub fn new(dev: &Device, net: &Network, head: &str, cfg: DistillConfig) -> Result<Distill> {
        if !(cfg.temperature > 0.0 && cfg.temperature.is_finite()) {
            return Err(Error::invalid("distill loss", format!("temperature {} must be a positive number (SSD-LT: 2)", cfg.temperature)));
        }
        if !cfg.weight.is_finite() {
            return Err(Error::invalid("distill loss", format!("weight {} must be finite", cfg.weight)));
        }
        let head = net.head_index(head).ok_or_else(|| Error::invalid("distill loss", format!("the network has no head `{head}`")))?;
        Ok(Distill { cfg, head, loss: dev.zeros(&[1]), ids: Slot::default(), probs: Slot::default(), dlogits: Slot::default(), uploaded: None })
    }

    /// Uploads a batch's targets for `n` rows (call before recording the step: uploads submit
    /// recorded work).
    pub fn upload(&mut self, dev: &Device, n: usize, targets: &SoftTargets) -> Result<()> {
        let k = targets.k;
        if k == 0 || targets.ids.len() != n * k || targets.probs.len() != n * k {
            return Err(Error::invalid("soft targets", format!("{} ids and {} probabilities for {n} rows of k = {k}", targets.ids.len(), targets.probs.len())));
        }
        let ids = self.ids.u32(dev, &[n, k]);
        ids.write_u32(targets.ids);
        let probs = self.probs.f32(dev, &[n, k]);
        probs.write(targets.probs);
        self.uploaded = Some((ids, probs));
        Ok(())
    }

    /// Records the loss on the head's logits of the last `forward_features` and returns the
    /// logits and their gradient, both `[N, classes]`.
    pub fn forward_backward(&mut self, dev: &Device, net: &mut Network) -> (Tensor, Tensor) {
        let (ids, probs) = self.uploaded.as_ref().expect("Distill::forward_backward before upload");
        let logits = net.forward_head(dev, self.head);
        let dlogits = self.dlogits.f32(dev, logits.shape());
        kl_distill_topk(dev, &logits, ids, probs, self.cfg.temperature, self.cfg.weight, &self.loss, &dlogits);
        (logits, dlogits)
    }
}

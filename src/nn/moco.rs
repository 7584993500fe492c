//! MoCo's half of a training step (He et al. 2020; SSD-LT stage I): a momentum key encoder, a
//! queue of keys with their labels on the device, and the masked InfoNCE loss.
//!
//! The query encoder is the trained network (backbone + projection head, output L2-normalised).
//! The key encoder is a second network holding only the backbone and that projection head; before
//! each step's keys are computed its parameters move to `momentum * key + (1 - momentum) *
//! query` (the query's parameters before this step's SGD update, as in MoCo's
//! `_momentum_update_key_encoder`). Its BatchNorm layers run in training mode on the key batch
//! and keep their own running statistics. Keys get no gradient. After the loss the batch's keys
//! and labels are enqueued (the loss of a step sees the queue as the previous steps left it).
//! As in MoCo the queue starts as random unit vectors (drawn from `MocoConfig::seed`); slots
//! not yet written by a batch are labelled `u32::MAX`, so they are never masked as same-class.

use crate::error::{Error, Result};
use crate::kernels::contrastive::{moco_enqueue, moco_loss, MocoShape};
use crate::kernels::elementwise::{l2_normalize_backward, l2_normalize_forward};
use crate::kernels::{Device, Tensor};

use super::buffers::Slot;
use super::heads::HeadKind;
use super::init::{init_values, Init};
use super::network::{Network, NetworkConfig};
use super::optim::{copy_state, ema_update_state};

/// `F.normalize`'s eps.
const NORMALIZE_EPS: f32 = 1e-12;

/// Settings of the contrastive term.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MocoConfig {
    /// Keys (with labels) kept in the queue.
    pub queue: usize,
    pub temperature: f32,
    /// EMA momentum of the key encoder (0.999 in MoCo and SSD-LT).
    pub momentum: f32,
    /// Leave queue keys of the query's own class out of the softmax denominator.
    pub mask_same_class: bool,
    /// Factor on the loss in the step's total.
    pub weight: f32,
    /// Draws the queue's initial random keys.
    pub seed: u64,
}

impl MocoConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::invalid("contrastive loss", m));
        if self.queue == 0 {
            return bad("queue must hold at least one key (SSD-LT uses 9 batches, e.g. 1152)".into());
        }
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return bad(format!("temperature {} must be a positive number (MoCo: 0.2)", self.temperature));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad(format!("momentum {} must be in [0, 1) (MoCo: 0.999)", self.momentum));
        }
        if !self.weight.is_finite() {
            return bad(format!("weight {} must be finite", self.weight));
        }
        Ok(())
    }
}

/// The key encoder, the labelled queue and the scratch of the contrastive term.
pub struct Moco {
    pub cfg: MocoConfig,
    /// Backbone + the projection head, named as in the query network.
    pub key: Network,
    /// `[queue, dim]` L2-normalised keys.
    pub queue: Tensor,
    /// u32 `[queue]`: the label of each key (`u32::MAX`: empty).
    pub queue_labels: Tensor,
    /// u32 `[1]`: the next slot to write.
    pub ptr: Tensor,
    /// The step's loss (already times `weight`), `[1]`.
    pub loss: Tensor,
    /// Index of the projection head in the query network.
    pub query_head: usize,
    dim: usize,
    q: Slot,
    k: Slot,
    dq: Slot,
    dz: Slot,
    logits: Slot,
    last: Option<(Tensor, Tensor)>,
}

impl Moco {
    /// A key encoder copied from `net` (its backbone and projection head `proj_head`) and an
    /// empty queue.
    pub fn new(dev: &Device, net: &Network, proj_head: &str, cfg: MocoConfig) -> Result<Moco> {
        cfg.validate()?;
        let query_head = net.head_index(proj_head).ok_or_else(|| Error::invalid("contrastive loss", format!("the network has no projection head `{proj_head}`")))?;
        let head = net.config.heads[query_head].clone();
        let dim = match head.kind {
            HeadKind::Projection { dim, .. } => dim,
            HeadKind::Linear { .. } => return Err(Error::invalid("contrastive loss", format!("head `{proj_head}` is a linear classifier, not a projection"))),
        };
        let config = NetworkConfig { arch: net.config.arch, in_channels: net.config.in_channels, heads: vec![head] };
        let mut key = Network::new(dev, config, 0)?;
        copy_state(dev, &mut key, net)?;
        Ok(Moco {
            cfg,
            key,
            queue: dev.from_f32(&[cfg.queue, dim], &initial_queue(cfg.queue, dim, cfg.seed)),
            queue_labels: dev.from_u32(&[cfg.queue], &vec![u32::MAX; cfg.queue]),
            ptr: dev.zeros_u32(&[1]),
            loss: dev.zeros(&[1]),
            query_head,
            dim,
            q: Slot::default(),
            k: Slot::default(),
            dq: Slot::default(),
            dz: Slot::default(),
            logits: Slot::default(),
            last: None,
        })
    }

    /// Width of the keys.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Records the contrastive term of a step whose query batch already went through
    /// `net.forward_features` (training mode): q = normalize(proj(feature)), the key encoder's
    /// EMA update, k = normalize(key(key_images)), the loss into `self.loss`, and returns the
    /// gradient of the loss with respect to the projection head's output `[N, dim]` (to pass to
    /// `Network::backward` with `query_head`). key_images `[N, C, H, W]`, labels u32 `[N]`.
    pub fn forward_backward(&mut self, dev: &Device, net: &mut Network, key_images: &Tensor, labels: &Tensor) -> Result<Tensor> {
        let n = labels.len();
        let z = net.forward_head(dev, self.query_head);
        let q = self.q.f32(dev, &[n, self.dim]);
        l2_normalize_forward(dev, &z, NORMALIZE_EPS, &q);

        ema_update_state(dev, &mut self.key, net, self.cfg.momentum, false)?;
        self.key.forward_features(dev, key_images, true);
        let zk = self.key.forward_head(dev, 0);
        let k = self.k.f32(dev, &[n, self.dim]);
        l2_normalize_forward(dev, &zk, NORMALIZE_EPS, &k);

        let shape = MocoShape { n, dim: self.dim, queue_len: self.cfg.queue };
        let logits = self.logits.f32(dev, &[n, self.cfg.queue + 1]);
        let dq = self.dq.f32(dev, &[n, self.dim]);
        let c = &self.cfg;
        moco_loss(dev, &shape, &q, &k, &self.queue, &self.queue_labels, labels, c.temperature, c.mask_same_class, c.weight, &logits, &self.loss, &dq);
        let dz = self.dz.f32(dev, &[n, self.dim]);
        l2_normalize_backward(dev, &z, &q, &dq, NORMALIZE_EPS, &dz);
        self.last = Some((q, k));
        Ok(dz)
    }

    /// Records the enqueue of the last `forward_backward`'s keys with `labels` (u32 `[N]`).
    pub fn enqueue(&self, dev: &Device, labels: &Tensor) {
        let (_, k) = self.last.as_ref().expect("Moco::enqueue before forward_backward");
        let shape = MocoShape { n: labels.len(), dim: self.dim, queue_len: self.cfg.queue };
        moco_enqueue(dev, &shape, k, labels, &self.queue, &self.queue_labels, &self.ptr);
    }

    /// The normalised queries and keys `[N, dim]` of the last step (valid until the next one).
    pub fn last_query_and_key(&self) -> Option<(&Tensor, &Tensor)> {
        self.last.as_ref().map(|(q, k)| (q, k))
    }
}

/// `queue` random unit vectors of width `dim`, row-major (MoCo: `normalize(randn(dim, K), dim=0)`).
fn initial_queue(queue: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut v = init_values(Init::KaimingNormalFanIn, &[queue, dim], seed, "moco.queue");
    for row in v.chunks_mut(dim.max(1)) {
        let norm = row.iter().fold(0f32, |s, x| s + x * x).sqrt().max(NORMALIZE_EPS);
        row.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

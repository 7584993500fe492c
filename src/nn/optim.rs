//! SGD with momentum / weight decay / Nesterov over a model's trainable parameters, and the
//! exponential moving average that keeps MoCo's key encoder.
//!
//! The per-step scalars travel in one device tensor `hyper = [lr, momentum, weight_decay,
//! nesterov]` (not in kernel uniforms, which are cached by content): `set_lr` uploads it, and
//! only when the rate changed, so call it before recording the step's work.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::kernels::elementwise::copy;
use crate::kernels::optim::{ema_update, sgd_step};
use crate::kernels::{Device, Tensor};

use super::param::{BufferValue, HasState, Param, StateEntry, StateEntryMut};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    pub momentum: f32,
    pub weight_decay: f32,
    pub nesterov: bool,
    /// Apply weight decay to BatchNorm weights and all biases too (PyTorch's default when all
    /// parameters are in one group). False: 1-d parameters get no decay.
    pub decay_norm_and_bias: bool,
}

impl Default for SgdConfig {
    /// momentum 0.9, weight decay 5e-4 (the CIFAR recipes), no Nesterov, decay everything.
    fn default() -> Self {
        SgdConfig { momentum: 0.9, weight_decay: 5e-4, nesterov: false, decay_norm_and_bias: true }
    }
}

pub struct Sgd {
    pub cfg: SgdConfig,
    hyper: Tensor,
    hyper_no_decay: Tensor,
    /// (param, decayed) for every trainable parameter, in state_dict order.
    params: Vec<(Param, bool)>,
    lr: Option<f32>,
}

impl Sgd {
    /// SGD over the trainable parameters of `model` (handles are kept: build it again after
    /// changing which parameters are trainable).
    pub fn new(dev: &Device, cfg: SgdConfig, model: &impl HasState) -> Sgd {
        let params = model
            .params()
            .into_iter()
            .filter(|p| p.trainable)
            .map(|p| (p.clone(), cfg.decay_norm_and_bias || p.shape().len() > 1))
            .collect();
        Sgd { cfg, hyper: dev.zeros(&[4]), hyper_no_decay: dev.zeros(&[4]), params, lr: None }
    }

    /// Number of parameter tensors updated.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// The learning rate of the coming step. Uploads the hyper-parameters when it changed (an
    /// upload flushes recorded work: call this before recording the step).
    pub fn set_lr(&mut self, lr: f32) {
        if self.lr == Some(lr) {
            return;
        }
        let c = &self.cfg;
        let nesterov = if c.nesterov { 1.0 } else { 0.0 };
        self.hyper.write(&[lr, c.momentum, c.weight_decay, nesterov]);
        self.hyper_no_decay.write(&[lr, c.momentum, 0.0, nesterov]);
        self.lr = Some(lr);
    }

    pub fn lr(&self) -> Option<f32> {
        self.lr
    }

    /// Records one update of every parameter from its gradient.
    pub fn step(&self, dev: &Device) {
        assert!(self.lr.is_some(), "Sgd::step before set_lr");
        for (p, decayed) in &self.params {
            let hyper = if *decayed { &self.hyper } else { &self.hyper_no_decay };
            sgd_step(dev, &p.value, &p.grad, &p.velocity, hyper);
        }
    }

    /// Zeroes the momentum buffers (a fresh optimizer over the same parameters).
    pub fn reset_momentum(&self, dev: &Device) {
        for (p, _) in &self.params {
            crate::kernels::elementwise::fill(dev, &p.velocity, 0.0);
        }
    }
}

/// `target = momentum * target + (1 - momentum) * source` for every parameter of `target`
/// (matched by name in `source`), and, when `copy_buffers`, BatchNorm running statistics and
/// counters copied from `source`. `target` may hold a subset of `source`'s names (a key encoder
/// without the classifier).
pub fn ema_update_state(dev: &Device, target: &mut impl HasState, source: &impl HasState, momentum: f32, copy_buffers: bool) -> Result<()> {
    transfer(dev, target, source, Some(momentum), copy_buffers)
}

/// Copies every entry of `target` from the same-named entry of `source` (initializing a key
/// encoder from the query encoder).
pub fn copy_state(dev: &Device, target: &mut impl HasState, source: &impl HasState) -> Result<()> {
    transfer(dev, target, source, None, true)
}

fn transfer(dev: &Device, target: &mut impl HasState, source: &impl HasState, momentum: Option<f32>, copy_buffers: bool) -> Result<()> {
    let mut src = Vec::new();
    source.state(&mut src);
    let by_name: HashMap<&str, StateEntry<'_>> = src.iter().map(|e| (e.name(), *e)).collect();
    let mut dst = Vec::new();
    target.state_mut(&mut dst);
    for entry in dst {
        let name = entry.name().to_string();
        let Some(from) = by_name.get(name.as_str()) else {
            return Err(Error::invalid("EMA / state copy", format!("`{name}` of the target has no counterpart in the source")));
        };
        if from.shape() != entry.shape() {
            return Err(Error::invalid("EMA / state copy", format!("`{name}`: target shape {:?}, source shape {:?}", entry.shape(), from.shape())));
        }
        match (entry, from) {
            (StateEntryMut::Param(t), StateEntry::Param(s)) => match momentum {
                Some(m) => ema_update(dev, &t.value, &s.value, m),
                None => copy(dev, &s.value, &t.value),
            },
            (StateEntryMut::Buffer(t), StateEntry::Buffer(s)) => {
                if copy_buffers {
                    match (&mut t.value, &s.value) {
                        (BufferValue::F32(tt), BufferValue::F32(st)) => copy(dev, st, tt),
                        (BufferValue::Count(tc), BufferValue::Count(sc)) => *tc = *sc,
                        _ => return Err(Error::invalid("EMA / state copy", format!("`{name}`: buffer kinds differ"))),
                    }
                }
            }
            _ => return Err(Error::invalid("EMA / state copy", format!("`{name}` is a parameter in one model and a buffer in the other"))),
        }
    }
    Ok(())
}

//! Heads on the pooled feature `[N, D]`: a linear classifier and the MoCo-style MLP projection.
//!
//! Each head owns the gradient it sends back to the feature, so a network with several heads
//! (SSD-LT's student has two classifiers; stage 1 adds a projection) sums them before the trunk.

use crate::kernels::{Device, Tensor};

use super::activation::Relu;
use super::buffers::Slot;
use super::init::Init;
use super::linear::{Linear, LinearConfig};
use super::param::{join, HasState, StateEntry, StateEntryMut};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadKind {
    /// `<name>.weight [classes, D]`, `<name>.bias [classes]`.
    Linear { classes: usize },
    /// Linear D -> hidden, ReLU, Linear hidden -> dim: `<name>.0.*`, `<name>.2.*` as an
    /// `nn.Sequential`.
    Projection { hidden: usize, dim: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadConfig {
    pub name: String,
    pub kind: HeadKind,
}

impl HeadConfig {
    pub fn linear(name: &str, classes: usize) -> HeadConfig {
        HeadConfig { name: name.into(), kind: HeadKind::Linear { classes } }
    }

    pub fn projection(name: &str, hidden: usize, dim: usize) -> HeadConfig {
        HeadConfig { name: name.into(), kind: HeadKind::Projection { hidden, dim } }
    }

    /// Width of the head's output.
    pub fn out_dim(&self) -> usize {
        match self.kind {
            HeadKind::Linear { classes } => classes,
            HeadKind::Projection { dim, .. } => dim,
        }
    }

    /// `name:classes` or `name:hidden-dim` (checkpoint metadata).
    pub fn describe(&self) -> String {
        match self.kind {
            HeadKind::Linear { classes } => format!("{}:linear{classes}", self.name),
            HeadKind::Projection { hidden, dim } => format!("{}:mlp{hidden}-{dim}", self.name),
        }
    }

    /// The head on features of length `feature_dim`; `linear_init` is the weight init of a
    /// linear classifier (projection heads use PyTorch's default).
    pub fn init(&self, dev: &Device, feature_dim: usize, linear_init: Init, seed: u64) -> Head {
        let name = self.name.clone();
        match self.kind {
            HeadKind::Linear { classes } => Head::Linear(LinearHead { fc: LinearConfig::new(feature_dim, classes).with_init(linear_init).init(dev, &name, seed), name, dx: Slot::default() }),
            HeadKind::Projection { hidden, dim } => Head::Projection(ProjectionHead {
                fc1: LinearConfig::new(feature_dim, hidden).init(dev, &join(&name, "0"), seed),
                relu: Relu::default(),
                fc2: LinearConfig::new(hidden, dim).init(dev, &join(&name, "2"), seed),
                name,
                d_hidden: Slot::default(),
                d_pre: Slot::default(),
                dx: Slot::default(),
            }),
        }
    }
}

pub struct LinearHead {
    pub name: String,
    pub fc: Linear,
    dx: Slot,
}

pub struct ProjectionHead {
    pub name: String,
    pub fc1: Linear,
    pub relu: Relu,
    pub fc2: Linear,
    d_hidden: Slot,
    d_pre: Slot,
    dx: Slot,
}

// A handful per model, built once: their size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Head {
    Linear(LinearHead),
    Projection(ProjectionHead),
}

impl Head {
    pub fn name(&self) -> &str {
        match self {
            Head::Linear(h) => &h.name,
            Head::Projection(h) => &h.name,
        }
    }

    /// feature `[N, D]` -> output `[N, out]` (logits or projection; this head's storage).
    pub fn forward(&mut self, dev: &Device, feature: &Tensor) -> Tensor {
        match self {
            Head::Linear(h) => h.fc.forward(dev, feature),
            Head::Projection(h) => {
                let a = h.fc1.forward(dev, feature);
                let a = h.relu.forward(dev, &a);
                h.fc2.forward(dev, &a)
            }
        }
    }

    /// dy `[N, out]` -> the head's parameter gradients and dfeature `[N, D]` (this head's storage).
    pub fn backward(&mut self, dev: &Device, dy: &Tensor) -> Tensor {
        let n = dy.shape()[0];
        match self {
            Head::Linear(h) => {
                let dx = h.dx.f32(dev, &[n, h.fc.cfg.in_features]);
                h.fc.backward(dev, dy, Some(&dx));
                dx
            }
            Head::Projection(h) => {
                let hidden = h.fc1.cfg.out_features;
                let d_hidden = h.d_hidden.f32(dev, &[n, hidden]);
                h.fc2.backward(dev, dy, Some(&d_hidden));
                let d_pre = h.d_pre.f32(dev, &[n, hidden]);
                h.relu.backward(dev, &d_hidden, &d_pre);
                let dx = h.dx.f32(dev, &[n, h.fc1.cfg.in_features]);
                h.fc1.backward(dev, &d_pre, Some(&dx));
                dx
            }
        }
    }
}

impl HasState for Head {
    fn state<'a>(&'a self, out: &mut Vec<StateEntry<'a>>) {
        match self {
            Head::Linear(h) => h.fc.state(out),
            Head::Projection(h) => {
                h.fc1.state(out);
                h.fc2.state(out);
            }
        }
    }
    fn state_mut<'a>(&'a mut self, out: &mut Vec<StateEntryMut<'a>>) {
        match self {
            Head::Linear(h) => h.fc.state_mut(out),
            Head::Projection(h) => {
                h.fc1.state_mut(out);
                h.fc2.state_mut(out);
            }
        }
    }
}

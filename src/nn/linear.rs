//! Fully connected layer y = x W^T + b with PyTorch's default initialization.

use crate::kernels::gemm::{linear_backward, linear_forward};
use crate::kernels::{Device, Tensor};

use super::buffers::Slot;
use super::init::Init;
use super::param::{join, HasState, Param, StateEntry, StateEntryMut};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearConfig {
    pub in_features: usize,
    pub out_features: usize,
    pub bias: bool,
    /// Weight init; the bias always takes PyTorch's default U(-1/sqrt(in), 1/sqrt(in)).
    pub init: Init,
}

impl LinearConfig {
    /// With bias and PyTorch's default init (`nn.Linear.reset_parameters`).
    pub fn new(in_features: usize, out_features: usize) -> LinearConfig {
        LinearConfig { in_features, out_features, bias: true, init: Init::PyTorchDefault }
    }

    pub fn with_bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }

    pub fn with_init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// The layer named `name` (`<name>.weight`, `<name>.bias`).
    pub fn init(self, dev: &Device, name: &str, seed: u64) -> Linear {
        let weight = Param::new(dev, join(name, "weight"), &[self.out_features, self.in_features], self.init, seed);
        let bound = 1.0 / (self.in_features as f32).sqrt();
        let bias = self.bias.then(|| Param::new(dev, join(name, "bias"), &[self.out_features], Init::Uniform(bound), seed));
        Linear { cfg: self, weight, bias, x: None, y: Slot::default() }
    }
}

pub struct Linear {
    pub cfg: LinearConfig,
    pub weight: Param,
    pub bias: Option<Param>,
    x: Option<Tensor>,
    y: Slot,
}

impl Linear {
    /// x `[N, in]` -> y `[N, out]` (this layer's storage). Keeps x for the backward.
    pub fn forward(&mut self, dev: &Device, x: &Tensor) -> Tensor {
        let shape = x.shape();
        assert!(shape.len() == 2 && shape[1] == self.cfg.in_features, "{}: input {shape:?}, expected [N, {}]", self.weight.name, self.cfg.in_features);
        let y = self.y.f32(dev, &[shape[0], self.cfg.out_features]);
        linear_forward(dev, x, &self.weight.value, self.bias.as_ref().map(|b| &b.value), &y);
        self.x = Some(x.clone());
        y
    }

    /// dy `[N, out]` -> weight/bias gradients and dx `[N, in]` when asked for.
    pub fn backward(&mut self, dev: &Device, dy: &Tensor, dx: Option<&Tensor>) {
        let x = self.x.as_ref().expect("Linear::backward before forward");
        if !self.weight.trainable && dx.is_none() {
            return;
        }
        linear_backward(dev, x, &self.weight.value, dy, dx, &self.weight.grad, self.bias.as_ref().map(|b| &b.grad));
    }
}

impl HasState for Linear {
    fn state<'a>(&'a self, out: &mut Vec<StateEntry<'a>>) {
        out.push(StateEntry::Param(&self.weight));
        if let Some(b) = &self.bias {
            out.push(StateEntry::Param(b));
        }
    }
    fn state_mut<'a>(&'a mut self, out: &mut Vec<StateEntryMut<'a>>) {
        out.push(StateEntryMut::Param(&mut self.weight));
        if let Some(b) = &mut self.bias {
            out.push(StateEntryMut::Param(b));
        }
    }
}

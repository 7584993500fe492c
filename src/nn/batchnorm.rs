//! BatchNorm2d (and BatchNorm1d over [N, C] features) with an optional fused ReLU.
//!
//! PyTorch semantics: training mode normalizes with the biased batch variance and updates the
//! running statistics with momentum 0.1 and the unbiased variance; eval mode uses the running
//! statistics; eps 1e-5. `num_batches_tracked` counts training forwards on the host.

use crate::kernels::batchnorm::{batchnorm_backward, batchnorm_backward_eval, batchnorm_forward_eval, batchnorm_forward_train, BatchNormShape};
use crate::kernels::{Device, Tensor};

use super::buffers::Slot;
use super::init::Init;
use super::param::{join, Buffer, BufferValue, HasState, Param, StateEntry, StateEntryMut};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchNormConfig {
    pub channels: usize,
    /// y = relu(bn(x)) in one kernel (and the mask applied in the backward).
    pub relu: bool,
    pub momentum: f32,
    pub eps: f32,
}

impl BatchNormConfig {
    pub fn new(channels: usize) -> BatchNormConfig {
        BatchNormConfig { channels, relu: false, momentum: 0.1, eps: 1e-5 }
    }

    pub fn with_relu(mut self, relu: bool) -> Self {
        self.relu = relu;
        self
    }

    /// weight 1, bias 0, running mean 0, running var 1 (PyTorch's reset_parameters).
    pub fn init(self, dev: &Device, name: &str) -> BatchNorm2d {
        let c = self.channels;
        let weight = Param::new(dev, join(name, "weight"), &[c], Init::Constant(1.0), 0);
        let bias = Param::new(dev, join(name, "bias"), &[c], Init::Constant(0.0), 0);
        let running_mean = Buffer::f32(dev, join(name, "running_mean"), &[c], 0.0);
        let running_var = Buffer::f32(dev, join(name, "running_var"), &[c], 1.0);
        let num_batches_tracked = Buffer::count(join(name, "num_batches_tracked"));
        BatchNorm2d {
            cfg: self,
            weight,
            bias,
            running_mean,
            running_var,
            num_batches_tracked,
            save_mean: dev.zeros(&[c]),
            save_invstd: dev.zeros(&[c]),
            x: None,
            y: Slot::default(),
            last_train: false,
        }
    }
}

pub struct BatchNorm2d {
    pub cfg: BatchNormConfig,
    pub weight: Param,
    pub bias: Param,
    pub running_mean: Buffer,
    pub running_var: Buffer,
    pub num_batches_tracked: Buffer,
    save_mean: Tensor,
    save_invstd: Tensor,
    x: Option<Tensor>,
    y: Slot,
    last_train: bool,
}

fn f32_buffer(b: &Buffer) -> &Tensor {
    match &b.value {
        BufferValue::F32(t) => t,
        BufferValue::Count(_) => unreachable!("{} is an f32 buffer", b.name),
    }
}

impl BatchNorm2d {
    fn shape_for(&self, x: &[usize]) -> BatchNormShape {
        assert!(x.len() >= 2 && x[1] == self.cfg.channels, "{}: input {x:?} does not have {} channels", self.weight.name, self.cfg.channels);
        BatchNormShape { n: x[0], c: x[1], hw: x[2..].iter().product() }
    }

    pub fn running_mean(&self) -> &Tensor {
        f32_buffer(&self.running_mean)
    }

    pub fn running_var(&self) -> &Tensor {
        f32_buffer(&self.running_var)
    }

    /// x `[N, C, H, W]` (or `[N, C]`) -> y of the same shape. Training mode uses and records
    /// batch statistics; eval mode the running ones.
    pub fn forward(&mut self, dev: &Device, x: &Tensor, train: bool) -> Tensor {
        let s = self.shape_for(x.shape());
        let y = self.y.f32(dev, x.shape());
        let (c, rm, rv) = (&self.cfg, f32_buffer(&self.running_mean), f32_buffer(&self.running_var));
        if train {
            batchnorm_forward_train(dev, &s, x, &self.weight.value, &self.bias.value, rm, rv, c.momentum, c.eps, c.relu, &y, &self.save_mean, &self.save_invstd);
            if let BufferValue::Count(n) = &mut self.num_batches_tracked.value {
                *n += 1;
            }
        } else {
            batchnorm_forward_eval(dev, &s, x, &self.weight.value, &self.bias.value, rm, rv, c.eps, c.relu, &y);
        }
        self.x = Some(x.clone());
        self.last_train = train;
        y
    }

    /// dy -> dx (same shape as x), and the weight and bias gradients after a training forward.
    /// After an eval forward (a frozen BN) only dx is computed.
    pub fn backward(&mut self, dev: &Device, dy: &Tensor, dx: &Tensor) {
        let x = self.x.as_ref().expect("BatchNorm2d::backward before forward");
        let s = self.shape_for(x.shape());
        let y = self.y.f32(dev, x.shape());
        if self.last_train {
            batchnorm_backward(dev, &s, x, &y, dy, &self.weight.value, &self.save_mean, &self.save_invstd, self.cfg.relu, dx, &self.weight.grad, &self.bias.grad);
        } else {
            batchnorm_backward_eval(dev, &s, &y, dy, &self.weight.value, f32_buffer(&self.running_var), self.cfg.eps, self.cfg.relu, dx);
        }
    }
}

impl HasState for BatchNorm2d {
    fn state<'a>(&'a self, out: &mut Vec<StateEntry<'a>>) {
        out.push(StateEntry::Param(&self.weight));
        out.push(StateEntry::Param(&self.bias));
        out.push(StateEntry::Buffer(&self.running_mean));
        out.push(StateEntry::Buffer(&self.running_var));
        out.push(StateEntry::Buffer(&self.num_batches_tracked));
    }
    fn state_mut<'a>(&'a mut self, out: &mut Vec<StateEntryMut<'a>>) {
        out.push(StateEntryMut::Param(&mut self.weight));
        out.push(StateEntryMut::Param(&mut self.bias));
        out.push(StateEntryMut::Buffer(&mut self.running_mean));
        out.push(StateEntryMut::Buffer(&mut self.running_var));
        out.push(StateEntryMut::Buffer(&mut self.num_batches_tracked));
    }
}

//! 2-D convolution layer (no bias, as in every ResNet): config -> init -> forward/backward.

use crate::kernels::conv2d::{conv2d_backward_data, conv2d_backward_weight, conv2d_forward, Conv2dShape};
use crate::kernels::{Device, Tensor};

use super::buffers::Slot;
use super::init::Init;
use super::param::{join, HasState, Param, StateEntry, StateEntryMut};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conv2dConfig {
    pub c_in: usize,
    pub c_out: usize,
    pub kernel: usize,
    pub stride: usize,
    pub pad: usize,
    pub groups: usize,
    pub init: Init,
}

impl Conv2dConfig {
    /// A `kernel` x `kernel` convolution, stride 1, "same" padding (kernel / 2), one group,
    /// torchvision's Kaiming-normal fan_out init.
    pub fn new(c_in: usize, c_out: usize, kernel: usize) -> Conv2dConfig {
        Conv2dConfig { c_in, c_out, kernel, stride: 1, pad: kernel / 2, groups: 1, init: Init::KaimingNormalFanOut }
    }

    pub fn with_stride(mut self, stride: usize) -> Self {
        self.stride = stride;
        self
    }

    pub fn with_pad(mut self, pad: usize) -> Self {
        self.pad = pad;
        self
    }

    pub fn with_groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }

    pub fn with_init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// Weight shape `[c_out, c_in / groups, kernel, kernel]`.
    pub fn weight_shape(&self) -> [usize; 4] {
        [self.c_out, self.c_in / self.groups, self.kernel, self.kernel]
    }

    /// The layer named `name` (its weight is `<name>.weight`), initialized from `seed`.
    pub fn init(self, dev: &Device, name: &str, seed: u64) -> Conv2d {
        assert!(self.c_in.is_multiple_of(self.groups) && self.c_out.is_multiple_of(self.groups), "{name}: channels {}->{} not divisible by groups {}", self.c_in, self.c_out, self.groups);
        let weight = Param::new(dev, join(name, "weight"), &self.weight_shape(), self.init, seed);
        Conv2d { cfg: self, weight, x: None, y: Slot::default() }
    }
}

pub struct Conv2d {
    pub cfg: Conv2dConfig,
    pub weight: Param,
    x: Option<Tensor>,
    y: Slot,
}

impl Conv2d {
    fn shape_for(&self, x: &[usize]) -> Conv2dShape {
        assert_eq!(x.len(), 4, "{}: input must be [N, C, H, W], got {x:?}", self.weight.name);
        assert_eq!(x[1], self.cfg.c_in, "{}: input has {} channels, layer expects {}", self.weight.name, x[1], self.cfg.c_in);
        let c = &self.cfg;
        Conv2dShape { n: x[0], c_in: c.c_in, h: x[2], w: x[3], c_out: c.c_out, kh: c.kernel, kw: c.kernel, stride: c.stride, pad: c.pad, groups: c.groups }
    }

    /// Output shape for an input shape `[N, c_in, H, W]`.
    pub fn output_shape(&self, x: &[usize]) -> [usize; 4] {
        let s = self.shape_for(x);
        [s.n, s.c_out, s.out_h(), s.out_w()]
    }

    /// x `[N, c_in, H, W]` -> y `[N, c_out, OH, OW]` (the returned tensor is this layer's
    /// storage: valid until its next forward). Keeps x for the backward.
    pub fn forward(&mut self, dev: &Device, x: &Tensor) -> Tensor {
        let s = self.shape_for(x.shape());
        let y = self.y.f32(dev, &[s.n, s.c_out, s.out_h(), s.out_w()]);
        conv2d_forward(dev, &s, x, &self.weight.value, &y);
        self.x = Some(x.clone());
        y
    }

    /// dy `[N, c_out, OH, OW]` -> writes `weight.grad` (when trainable) and dx `[N, c_in, H, W]`
    /// when asked for.
    pub fn backward(&mut self, dev: &Device, dy: &Tensor, dx: Option<&Tensor>) {
        let x = self.x.as_ref().expect("Conv2d::backward before forward");
        let s = self.shape_for(x.shape());
        if self.weight.trainable {
            conv2d_backward_weight(dev, &s, x, dy, &self.weight.grad);
        }
        if let Some(dx) = dx {
            conv2d_backward_data(dev, &s, dy, &self.weight.value, dx);
        }
    }
}

impl HasState for Conv2d {
    fn state<'a>(&'a self, out: &mut Vec<StateEntry<'a>>) {
        out.push(StateEntry::Param(&self.weight));
    }
    fn state_mut<'a>(&'a mut self, out: &mut Vec<StateEntryMut<'a>>) {
        out.push(StateEntryMut::Param(&mut self.weight));
    }
}

//! Pooling layers: global average pool (the ResNet feature) and max pool (the ImageNet stem).

use crate::kernels::pool::{global_avg_pool_backward, global_avg_pool_forward, max_pool_backward, max_pool_forward, MaxPoolShape};
use crate::kernels::{Device, Tensor};

use super::buffers::Slot;

#[derive(Default)]
pub struct GlobalAvgPool {
    y: Slot,
    in_shape: Vec<usize>,
}

impl GlobalAvgPool {
    /// x `[N, C, H, W]` -> y `[N, C]`.
    pub fn forward(&mut self, dev: &Device, x: &Tensor) -> Tensor {
        let s = x.shape();
        let y = self.y.f32(dev, &s[..2]);
        global_avg_pool_forward(dev, x, &y);
        self.in_shape.clear();
        self.in_shape.extend_from_slice(s);
        y
    }

    /// The input shape of the last forward.
    pub fn input_shape(&self) -> &[usize] {
        &self.in_shape
    }

    /// dy `[N, C]` -> dx `[N, C, H, W]`.
    pub fn backward(&mut self, dev: &Device, dy: &Tensor, dx: &Tensor) {
        global_avg_pool_backward(dev, dy, dx);
    }
}

pub struct MaxPool2d {
    pub kernel: usize,
    pub stride: usize,
    pub pad: usize,
    y: Slot,
    argmax: Slot,
    shape: Option<MaxPoolShape>,
}

impl MaxPool2d {
    pub fn new(kernel: usize, stride: usize, pad: usize) -> MaxPool2d {
        MaxPool2d { kernel, stride, pad, y: Slot::default(), argmax: Slot::default(), shape: None }
    }

    fn shape_for(&self, x: &[usize]) -> MaxPoolShape {
        MaxPoolShape { n: x[0], c: x[1], h: x[2], w: x[3], k: self.kernel, stride: self.stride, pad: self.pad }
    }

    pub fn output_shape(&self, x: &[usize]) -> [usize; 4] {
        let s = self.shape_for(x);
        [s.n, s.c, s.out_h(), s.out_w()]
    }

    /// x `[N, C, H, W]` -> y `[N, C, OH, OW]`, remembering where each maximum came from.
    pub fn forward(&mut self, dev: &Device, x: &Tensor) -> Tensor {
        let s = self.shape_for(x.shape());
        let out = [s.n, s.c, s.out_h(), s.out_w()];
        let y = self.y.f32(dev, &out);
        let argmax = self.argmax.u32(dev, &out);
        max_pool_forward(dev, &s, x, &y, &argmax);
        self.shape = Some(s);
        y
    }

    /// dy `[N, C, OH, OW]` -> dx `[N, C, H, W]`.
    pub fn backward(&mut self, dev: &Device, dy: &Tensor, dx: &Tensor) {
        let s = self.shape.expect("MaxPool2d::backward before forward");
        let argmax = self.argmax.u32(dev, &[s.n, s.c, s.out_h(), s.out_w()]);
        max_pool_backward(dev, &s, dy, &argmax, dx);
    }
}

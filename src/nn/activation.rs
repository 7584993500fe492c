//! ReLU as a standalone layer (inside ResNets it is fused into BatchNorm or the residual add).

use crate::kernels::elementwise::{relu_backward, relu_forward};
use crate::kernels::{Device, Tensor};

use super::buffers::Slot;

#[derive(Default)]
pub struct Relu {
    y: Slot,
    shape: Vec<usize>,
}

impl Relu {
    /// y = max(x, 0), same shape as x (this layer's storage).
    pub fn forward(&mut self, dev: &Device, x: &Tensor) -> Tensor {
        let y = self.y.f32(dev, x.shape());
        relu_forward(dev, x, &y);
        self.shape.clear();
        self.shape.extend_from_slice(x.shape());
        y
    }

    /// dx = dy where the forward output was positive, else 0.
    pub fn backward(&mut self, dev: &Device, dy: &Tensor, dx: &Tensor) {
        let y = self.y.f32(dev, &self.shape);
        relu_backward(dev, &y, dy, dx);
    }
}

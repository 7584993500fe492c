//! Residual blocks: the CIFAR BasicBlock with option-A shortcut and torchvision's Bottleneck.
//!
//! Both end in one fused kernel `relu(main + shortcut)`. Backward passes take their gradient
//! tensors from the backbone's `GradBuffers` and give each back as soon as it is consumed.

use crate::kernels::elementwise::{add_assign, add_relu, relu_backward, shortcut_a_backward, shortcut_a_forward};
use crate::kernels::{Device, Tensor};

use super::batchnorm::{BatchNorm2d, BatchNormConfig};
use super::buffers::{GradBuffers, Slot};
use super::conv::{Conv2d, Conv2dConfig};
use super::init::Init;
use super::param::{join, HasState, StateEntry, StateEntryMut};

/// conv3x3 -> BN -> ReLU -> conv3x3 -> BN, + shortcut, ReLU (He et al. 2016, CIFAR variant).
/// When the stride is 2 or the channels change, the shortcut is option A: subsample by 2 and pad
/// the new channels with zeros (no parameters).
pub struct BasicBlock {
    pub conv1: Conv2d,
    pub bn1: BatchNorm2d,
    pub conv2: Conv2d,
    pub bn2: BatchNorm2d,
    pub stride: usize,
    option_a: bool,
    x_shape: Vec<usize>,
    shortcut: Slot,
    out: Slot,
}

impl BasicBlock {
    /// The block named `name` (e.g. `layer2.0`), convolutions Kaiming-normal (fan_in) as the
    /// CIFAR reference implementation.
    pub fn new(dev: &Device, name: &str, c_in: usize, c_out: usize, stride: usize, seed: u64) -> BasicBlock {
        let conv = |c_in, stride, n: &str| Conv2dConfig::new(c_in, c_out, 3).with_stride(stride).with_init(Init::KaimingNormalFanIn).init(dev, &join(name, n), seed);
        BasicBlock {
            conv1: conv(c_in, stride, "conv1"),
            bn1: BatchNormConfig::new(c_out).with_relu(true).init(dev, &join(name, "bn1")),
            conv2: conv(c_out, 1, "conv2"),
            bn2: BatchNormConfig::new(c_out).init(dev, &join(name, "bn2")),
            stride,
            option_a: stride != 1 || c_in != c_out,
            x_shape: Vec::new(),
            shortcut: Slot::default(),
            out: Slot::default(),
        }
    }

    /// x `[N, C_in, H, W]` -> `[N, C_out, H / stride, W / stride]`.
    pub fn forward(&mut self, dev: &Device, x: &Tensor, train: bool) -> Tensor {
        let h = self.conv1.forward(dev, x);
        let h = self.bn1.forward(dev, &h, train);
        let h = self.conv2.forward(dev, &h);
        let h = self.bn2.forward(dev, &h, train);
        let out = self.out.f32(dev, h.shape());
        if self.option_a {
            let s = self.shortcut.f32(dev, h.shape());
            shortcut_a_forward(dev, x, &s, 2);
            add_relu(dev, &h, &s, &out);
        } else {
            add_relu(dev, &h, x, &out);
        }
        self.x_shape.clear();
        self.x_shape.extend_from_slice(x.shape());
        out
    }

    /// dout (lent by `grads`, consumed and given back) -> dx `[N, C_in, H, W]` (lent by `grads`).
    pub fn backward(&mut self, dev: &Device, dout: Tensor, grads: &mut GradBuffers) -> Tensor {
        let out_shape = dout.shape().to_vec();
        let out = self.out.f32(dev, &out_shape);
        let dsum = grads.acquire(dev, &out_shape);
        relu_backward(dev, &out, &dout, &dsum);
        grads.release(dout);

        let d_bn2 = grads.acquire(dev, &out_shape);
        self.bn2.backward(dev, &dsum, &d_bn2);
        let d_conv2 = grads.acquire(dev, &out_shape);
        self.conv2.backward(dev, &d_bn2, Some(&d_conv2));
        grads.release(d_bn2);
        let d_bn1 = grads.acquire(dev, &out_shape);
        self.bn1.backward(dev, &d_conv2, &d_bn1);
        grads.release(d_conv2);
        let dx = grads.acquire(dev, &self.x_shape);
        self.conv1.backward(dev, &d_bn1, Some(&dx));
        grads.release(d_bn1);

        if self.option_a {
            let d_short = grads.acquire(dev, &self.x_shape);
            shortcut_a_backward(dev, &dsum, &d_short, 2);
            add_assign(dev, &dx, &d_short);
            grads.release(d_short);
        } else {
            add_assign(dev, &dx, &dsum);
        }
        grads.release(dsum);
        dx
    }
}

impl HasState for BasicBlock {
    fn state<'a>(&'a self, out: &mut Vec<StateEntry<'a>>) {
        self.conv1.state(out);
        self.bn1.state(out);
        self.conv2.state(out);
        self.bn2.state(out);
    }
    fn state_mut<'a>(&'a mut self, out: &mut Vec<StateEntryMut<'a>>) {
        self.conv1.state_mut(out);
        self.bn1.state_mut(out);
        self.conv2.state_mut(out);
        self.bn2.state_mut(out);
    }
}

/// torchvision's Bottleneck (ResNet v1.5: the stride sits on the 3x3 conv): 1x1 -> 3x3 (groups)
/// -> 1x1 (x4 channels), each with BN, + identity or 1x1-conv+BN downsample, ReLU.
pub struct Bottleneck {
    pub conv1: Conv2d,
    pub bn1: BatchNorm2d,
    pub conv2: Conv2d,
    pub bn2: BatchNorm2d,
    pub conv3: Conv2d,
    pub bn3: BatchNorm2d,
    /// `downsample.0` (conv 1x1, stride) and `downsample.1` (BN).
    pub downsample: Option<(Conv2d, BatchNorm2d)>,
    x_shape: Vec<usize>,
    out: Slot,
}

impl Bottleneck {
    /// `width` = planes * width_per_group / 64 * groups; output channels planes * 4.
    #[allow(clippy::too_many_arguments)]
    pub fn new(dev: &Device, name: &str, c_in: usize, planes: usize, stride: usize, groups: usize, width_per_group: usize, seed: u64) -> Bottleneck {
        let width = planes * width_per_group / 64 * groups;
        let c_out = planes * super::arch::BOTTLENECK_EXPANSION;
        let bn = |c, relu, n: &str| BatchNormConfig::new(c).with_relu(relu).init(dev, &join(name, n));
        let downsample = (stride != 1 || c_in != c_out).then(|| {
            (
                Conv2dConfig::new(c_in, c_out, 1).with_stride(stride).init(dev, &join(name, "downsample.0"), seed),
                bn(c_out, false, "downsample.1"),
            )
        });
        Bottleneck {
            conv1: Conv2dConfig::new(c_in, width, 1).init(dev, &join(name, "conv1"), seed),
            bn1: bn(width, true, "bn1"),
            conv2: Conv2dConfig::new(width, width, 3).with_stride(stride).with_groups(groups).init(dev, &join(name, "conv2"), seed),
            bn2: bn(width, true, "bn2"),
            conv3: Conv2dConfig::new(width, c_out, 1).init(dev, &join(name, "conv3"), seed),
            bn3: bn(c_out, false, "bn3"),
            downsample,
            x_shape: Vec::new(),
            out: Slot::default(),
        }
    }

    /// x `[N, C_in, H, W]` -> `[N, 4 planes, H / stride, W / stride]`.
    pub fn forward(&mut self, dev: &Device, x: &Tensor, train: bool) -> Tensor {
        let h = self.conv1.forward(dev, x);
        let h = self.bn1.forward(dev, &h, train);
        let h = self.conv2.forward(dev, &h);
        let h = self.bn2.forward(dev, &h, train);
        let h = self.conv3.forward(dev, &h);
        let h = self.bn3.forward(dev, &h, train);
        let out = self.out.f32(dev, h.shape());
        match &mut self.downsample {
            Some((conv, bn)) => {
                let s = conv.forward(dev, x);
                let s = bn.forward(dev, &s, train);
                add_relu(dev, &h, &s, &out);
            }
            None => add_relu(dev, &h, x, &out),
        }
        self.x_shape.clear();
        self.x_shape.extend_from_slice(x.shape());
        out
    }

    /// dout (lent by `grads`, consumed and given back) -> dx `[N, C_in, H, W]` (lent by `grads`).
    pub fn backward(&mut self, dev: &Device, dout: Tensor, grads: &mut GradBuffers) -> Tensor {
        let out_shape = dout.shape().to_vec();
        let out = self.out.f32(dev, &out_shape);
        let dsum = grads.acquire(dev, &out_shape);
        relu_backward(dev, &out, &dout, &dsum);
        grads.release(dout);

        // Main branch, last layer first; each gradient is given back once the next is written.
        let width = self.conv1.cfg.c_out;
        let mid2 = [out_shape[0], width, out_shape[2], out_shape[3]];
        let mid1 = [self.x_shape[0], width, self.x_shape[2], self.x_shape[3]];
        let d_bn3 = grads.acquire(dev, &out_shape);
        self.bn3.backward(dev, &dsum, &d_bn3);
        let d_conv3 = grads.acquire(dev, &mid2);
        self.conv3.backward(dev, &d_bn3, Some(&d_conv3));
        grads.release(d_bn3);
        let d_bn2 = grads.acquire(dev, &mid2);
        self.bn2.backward(dev, &d_conv3, &d_bn2);
        grads.release(d_conv3);
        let d_conv2 = grads.acquire(dev, &mid1);
        self.conv2.backward(dev, &d_bn2, Some(&d_conv2));
        grads.release(d_bn2);
        let d_bn1 = grads.acquire(dev, &mid1);
        self.bn1.backward(dev, &d_conv2, &d_bn1);
        grads.release(d_conv2);
        let dx = grads.acquire(dev, &self.x_shape);
        self.conv1.backward(dev, &d_bn1, Some(&dx));
        grads.release(d_bn1);

        match &mut self.downsample {
            Some((conv, bn)) => {
                let d_bn = grads.acquire(dev, &out_shape);
                bn.backward(dev, &dsum, &d_bn);
                let d_short = grads.acquire(dev, &self.x_shape);
                conv.backward(dev, &d_bn, Some(&d_short));
                grads.release(d_bn);
                add_assign(dev, &dx, &d_short);
                grads.release(d_short);
            }
            None => add_assign(dev, &dx, &dsum),
        }
        grads.release(dsum);
        dx
    }
}

impl HasState for Bottleneck {
    fn state<'a>(&'a self, out: &mut Vec<StateEntry<'a>>) {
        for (conv, bn) in [(&self.conv1, &self.bn1), (&self.conv2, &self.bn2), (&self.conv3, &self.bn3)] {
            conv.state(out);
            bn.state(out);
        }
        if let Some((conv, bn)) = &self.downsample {
            conv.state(out);
            bn.state(out);
        }
    }
    fn state_mut<'a>(&'a mut self, out: &mut Vec<StateEntryMut<'a>>) {
        self.conv1.state_mut(out);
        self.bn1.state_mut(out);
        self.conv2.state_mut(out);
        self.bn2.state_mut(out);
        self.conv3.state_mut(out);
        self.bn3.state_mut(out);
        if let Some((conv, bn)) = &mut self.downsample {
            conv.state_mut(out);
            bn.state_mut(out);
        }
    }
}

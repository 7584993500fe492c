//! ResNet trunks: input images `[N, C, H, W]` -> pooled features `[N, D]`.
//!
//! State names follow torchvision (`conv1`, `bn1`, `layer1.0.conv1`, ...); CIFAR ResNets have
//! `layer1`..`layer3` of BasicBlocks, ImageNet ones a max-pooled 7x7 stem and `layer1`..`layer4`
//! of Bottlenecks.

use crate::error::Result;
use crate::kernels::{Device, Tensor};

use super::arch::{Arch, BOTTLENECK_EXPANSION};
use super::batchnorm::{BatchNorm2d, BatchNormConfig};
use super::blocks::{BasicBlock, Bottleneck};
use super::buffers::GradBuffers;
use super::conv::{Conv2d, Conv2dConfig};
use super::init::Init;
use super::param::{HasState, StateEntry, StateEntryMut};
use super::pool::{GlobalAvgPool, MaxPool2d};

// A handful per model, built once: their size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Block {
    Basic(BasicBlock),
    Bottleneck(Bottleneck),
}

impl Block {
    fn forward(&mut self, dev: &Device, x: &Tensor, train: bool) -> Tensor {
        match self {
            Block::Basic(b) => b.forward(dev, x, train),
            Block::Bottleneck(b) => b.forward(dev, x, train),
        }
    }

    fn backward(&mut self, dev: &Device, dout: Tensor, grads: &mut GradBuffers) -> Tensor {
        match self {
            Block::Basic(b) => b.backward(dev, dout, grads),
            Block::Bottleneck(b) => b.backward(dev, dout, grads),
        }
    }
}

impl HasState for Block {
    fn state<'a>(&'a self, out: &mut Vec<StateEntry<'a>>) {
        match self {
            Block::Basic(b) => b.state(out),
            Block::Bottleneck(b) => b.state(out),
        }
    }
    fn state_mut<'a>(&'a mut self, out: &mut Vec<StateEntryMut<'a>>) {
        match self {
            Block::Basic(b) => b.state_mut(out),
            Block::Bottleneck(b) => b.state_mut(out),
        }
    }
}

pub struct Backbone {
    pub arch: Arch,
    pub in_channels: usize,
    pub conv1: Conv2d,
    /// Stem BN with the ReLU fused.
    pub bn1: BatchNorm2d,
    pub maxpool: Option<MaxPool2d>,
    /// All residual blocks, stage by stage (`layer1.0`, `layer1.1`, ..., `layer2.0`, ...).
    pub blocks: Vec<Block>,
    pool: GlobalAvgPool,
    grads: GradBuffers,
    stem_shape: Vec<usize>,
}

impl Backbone {
    /// The trunk of `arch` for `in_channels`-channel inputs, initialized from `seed`
    /// (torchvision's init for ImageNet ResNets; Kaiming-normal fan_in for CIFAR ones).
    pub fn new(dev: &Device, arch: Arch, in_channels: usize, seed: u64) -> Result<Backbone> {
        arch.validate()?;
        let mut blocks = Vec::new();
        let (conv1, bn1, maxpool) = match arch {
            Arch::CifarResNet { depth, width } => {
                let conv1 = Conv2dConfig::new(in_channels, width, 3).with_init(Init::KaimingNormalFanIn).init(dev, "conv1", seed);
                let n = Arch::cifar_blocks_per_stage(depth);
                let mut c_in = width;
                for stage in 0..3 {
                    let c_out = width << stage;
                    for b in 0..n {
                        let stride = if stage > 0 && b == 0 { 2 } else { 1 };
                        let name = format!("layer{}.{b}", stage + 1);
                        blocks.push(Block::Basic(BasicBlock::new(dev, &name, c_in, c_out, stride, seed)));
                        c_in = c_out;
                    }
                }
                (conv1, BatchNormConfig::new(width).with_relu(true).init(dev, "bn1"), None)
            }
            Arch::ResNet50 | Arch::ResNeXt50_32x4d => {
                let spec = arch.bottleneck_spec().expect("bottleneck arch");
                let conv1 = Conv2dConfig::new(in_channels, 64, 7).with_stride(2).with_pad(3).init(dev, "conv1", seed);
                let mut c_in = 64;
                for (stage, &count) in spec.layers.iter().enumerate() {
                    let planes = 64 << stage;
                    for b in 0..count {
                        let stride = if stage > 0 && b == 0 { 2 } else { 1 };
                        let name = format!("layer{}.{b}", stage + 1);
                        blocks.push(Block::Bottleneck(Bottleneck::new(dev, &name, c_in, planes, stride, spec.groups, spec.width_per_group, seed)));
                        c_in = planes * BOTTLENECK_EXPANSION;
                    }
                }
                (conv1, BatchNormConfig::new(64).with_relu(true).init(dev, "bn1"), Some(MaxPool2d::new(3, 2, 1)))
            }
        };
        Ok(Backbone { arch, in_channels, conv1, bn1, maxpool, blocks, pool: GlobalAvgPool::default(), grads: GradBuffers::default(), stem_shape: Vec::new() })
    }

    /// Length D of the feature.
    pub fn feature_dim(&self) -> usize {
        self.arch.feature_dim()
    }

    /// x `[N, in_channels, H, W]` -> features `[N, D]` (this backbone's storage). `train` selects
    /// BatchNorm's batch statistics (and their running update) over the running ones.
    pub fn forward(&mut self, dev: &Device, x: &Tensor, train: bool) -> Tensor {
        let s = x.shape();
        assert!(s.len() == 4 && s[1] == self.in_channels, "{}: input {s:?}, expected [N, {}, H, W]", self.arch, self.in_channels);
        if let Err(e) = self.arch.check_input(s[1], s[2], s[3]) {
            panic!("{e}");
        }
        let h = self.conv1.forward(dev, x);
        let mut h = self.bn1.forward(dev, &h, train);
        self.stem_shape.clear();
        self.stem_shape.extend_from_slice(h.shape());
        if let Some(mp) = &mut self.maxpool {
            h = mp.forward(dev, &h);
        }
        for block in &mut self.blocks {
            h = block.forward(dev, &h, train);
        }
        self.pool.forward(dev, &h)
    }

    /// dfeature `[N, D]` -> gradients of every trainable parameter (written, not accumulated).
    /// Follows a training-mode forward (an eval-mode forward backpropagates through frozen BN).
    pub fn backward(&mut self, dev: &Device, dfeature: &Tensor) {
        let grads = &mut self.grads;
        let mut d = grads.acquire(dev, self.pool.input_shape());
        self.pool.backward(dev, dfeature, &d);
        for block in self.blocks.iter_mut().rev() {
            d = block.backward(dev, d, grads);
        }
        if let Some(mp) = &mut self.maxpool {
            let dd = grads.acquire(dev, &self.stem_shape);
            mp.backward(dev, &d, &dd);
            grads.release(std::mem::replace(&mut d, dd));
        }
        let d_bn = grads.acquire(dev, &self.stem_shape);
        self.bn1.backward(dev, &d, &d_bn);
        grads.release(d);
        self.conv1.backward(dev, &d_bn, None);
        grads.release(d_bn);
    }
}

impl HasState for Backbone {
    fn state<'a>(&'a self, out: &mut Vec<StateEntry<'a>>) {
        self.conv1.state(out);
        self.bn1.state(out);
        for b in &self.blocks {
            b.state(out);
        }
    }
    fn state_mut<'a>(&'a mut self, out: &mut Vec<StateEntryMut<'a>>) {
        self.conv1.state_mut(out);
        self.bn1.state_mut(out);
        for b in &mut self.blocks {
            b.state_mut(out);
        }
    }
}

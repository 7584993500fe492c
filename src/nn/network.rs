//! A network: one backbone and named heads, listed in one state_dict.
//!
//! `Network::new(dev, NetworkConfig::classifier(Arch::cifar(32), 3, 10), seed)` is a CIFAR
//! ResNet-32 with `fc`, exactly torchvision-named; SSD-LT adds heads (a second classifier, a
//! projection) by name. Forward returns tensors owned by the layers (valid until their next
//! forward); backward writes (not accumulates) every trainable parameter's gradient.

use crate::error::{Error, Result};
use crate::kernels::elementwise::add_assign;
use crate::kernels::{Device, Tensor};

use super::arch::Arch;
use super::backbone::Backbone;
use super::heads::{Head, HeadConfig};
use super::init::Init;
use super::param::{HasState, StateEntry, StateEntryMut};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkConfig {
    pub arch: Arch,
    pub in_channels: usize,
    pub heads: Vec<HeadConfig>,
}

impl NetworkConfig {
    /// Backbone with one linear classifier head `fc`.
    pub fn classifier(arch: Arch, in_channels: usize, classes: usize) -> NetworkConfig {
        NetworkConfig { arch, in_channels, heads: vec![HeadConfig::linear("fc", classes)] }
    }

    pub fn with_head(mut self, head: HeadConfig) -> NetworkConfig {
        self.heads.push(head);
        self
    }

    /// One line for checkpoint metadata: `resnet32 in=3 heads=fc:linear10`.
    pub fn describe(&self) -> String {
        let heads: Vec<String> = self.heads.iter().map(|h| h.describe()).collect();
        format!("{} in={} heads={}", self.arch, self.in_channels, heads.join(","))
    }

    /// Parameter count in closed form (backbone table plus heads).
    pub fn expected_param_count(&self) -> usize {
        let d = self.arch.feature_dim();
        let heads: usize = self
            .heads
            .iter()
            .map(|h| match h.kind {
                super::heads::HeadKind::Linear { classes } => d * classes + classes,
                super::heads::HeadKind::Projection { hidden, dim } => d * hidden + hidden + hidden * dim + dim,
            })
            .sum();
        self.arch.backbone_param_count(self.in_channels) + heads
    }
}

pub struct Network {
    pub config: NetworkConfig,
    pub backbone: Backbone,
    pub heads: Vec<Head>,
    feature: Option<Tensor>,
}

impl Network {
    /// Builds and initializes every layer from `seed` (same seed, same values on every device).
    pub fn new(dev: &Device, config: NetworkConfig, seed: u64) -> Result<Network> {
        let backbone = Backbone::new(dev, config.arch, config.in_channels, seed)?;
        let mut names = std::collections::HashSet::new();
        for h in &config.heads {
            let reserved = ["conv1", "bn1", "layer1", "layer2", "layer3", "layer4"];
            if h.name.is_empty() || h.name.contains('.') || reserved.contains(&h.name.as_str()) || !names.insert(h.name.clone()) {
                return Err(Error::invalid("head name", format!("`{}`: head names must be unique, non-empty, without dots and not a backbone module name", h.name)));
            }
        }
        let linear_init = match config.arch {
            Arch::CifarResNet { .. } => Init::KaimingNormalFanIn,
            _ => Init::PyTorchDefault,
        };
        let heads = config.heads.iter().map(|h| h.init(dev, backbone.feature_dim(), linear_init, seed)).collect();
        Ok(Network { config, backbone, heads, feature: None })
    }

    pub fn head_index(&self, name: &str) -> Option<usize> {
        self.heads.iter().position(|h| h.name() == name)
    }

    /// images `[N, C, H, W]` -> feature `[N, D]`.
    pub fn forward_features(&mut self, dev: &Device, x: &Tensor, train: bool) -> Tensor {
        let f = self.backbone.forward(dev, x, train);
        self.feature = Some(f.clone());
        f
    }

    /// Head `head` on the feature of the last `forward_features` -> `[N, out]`.
    pub fn forward_head(&mut self, dev: &Device, head: usize) -> Tensor {
        let f = self.feature.as_ref().expect("forward_head before forward_features");
        self.heads[head].forward(dev, f)
    }

    /// images `[N, C, H, W]` -> output of the first head `[N, out]` (logits of a classifier).
    pub fn forward(&mut self, dev: &Device, x: &Tensor, train: bool) -> Tensor {
        self.forward_features(dev, x, train);
        self.forward_head(dev, 0)
    }

    /// Backward from the gradients of some heads' outputs (`(head index, d output [N, out])`):
    /// their feature gradients are summed and sent through the backbone.
    pub fn backward(&mut self, dev: &Device, head_grads: &[(usize, &Tensor)]) {
        assert!(!head_grads.is_empty(), "Network::backward needs at least one head gradient");
        let mut dfeature: Option<Tensor> = None;
        for &(i, dy) in head_grads {
            let d = self.heads[i].backward(dev, dy);
            match &dfeature {
                None => dfeature = Some(d),
                Some(acc) => add_assign(dev, acc, &d),
            }
        }
        self.backbone.backward(dev, &dfeature.expect("one head"));
    }
}

impl HasState for Network {
    fn state<'a>(&'a self, out: &mut Vec<StateEntry<'a>>) {
        self.backbone.state(out);
        for h in &self.heads {
            h.state(out);
        }
    }
    fn state_mut<'a>(&'a mut self, out: &mut Vec<StateEntryMut<'a>>) {
        self.backbone.state_mut(out);
        for h in &mut self.heads {
            h.state_mut(out);
        }
    }
}

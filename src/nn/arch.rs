//! Architecture tables: which ResNet, its stages, input checks, and closed-form parameter counts.
//!
//! CIFAR-style ResNets (He et al. 2016, sec. 4.2): a 3x3 stem of `width` channels, three stages
//! of `width`, 2`width`, 4`width` channels with n = (depth - 2) / 6 BasicBlocks each, option-A
//! (parameter-free) shortcuts, global average pool. ImageNet-style ResNet-50 / ResNeXt-50 32x4d
//! follow torchvision: 7x7/2 stem, 3x3/2 max pool, Bottleneck stages [3, 4, 6, 3].

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// CIFAR ResNet of `depth` = 6n + 2 layers; `width` channels in the first stage (16 in the paper).
    CifarResNet { depth: usize, width: usize },
    /// torchvision `resnet50`.
    ResNet50,
    /// torchvision `resnext50_32x4d`.
    ResNeXt50_32x4d,
}

/// Stages of an ImageNet-style Bottleneck ResNet (torchvision's `ResNet(Bottleneck, layers, groups, width_per_group)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BottleneckSpec {
    pub layers: [usize; 4],
    pub groups: usize,
    pub width_per_group: usize,
}

/// Bottleneck output channels are 4x the stage's `planes`.
pub const BOTTLENECK_EXPANSION: usize = 4;

impl Arch {
    pub fn cifar(depth: usize) -> Arch {
        Arch::CifarResNet { depth, width: 16 }
    }

    /// Parses `resnet8` .. `resnet110` (CIFAR; `resnet32-w8` for another first-stage width),
    /// `resnet50` and `resnext50_32x4d`.
    pub fn parse(name: &str) -> Result<Arch> {
        let bad = || {
            Error::invalid(
                "architecture",
                format!("`{name}`: expected resnet<6n+2> (CIFAR, e.g. resnet32, optionally -w<width>), resnet50 or resnext50_32x4d"),
            )
        };
        match name {
            "resnet50" => return Ok(Arch::ResNet50),
            "resnext50_32x4d" => return Ok(Arch::ResNeXt50_32x4d),
            _ => {}
        }
        let rest = name.strip_prefix("resnet").ok_or_else(bad)?;
        let (depth, width) = match rest.split_once("-w") {
            Some((d, w)) => (d, w.parse::<usize>().map_err(|_| bad())?),
            None => (rest, 16),
        };
        let depth: usize = depth.parse().map_err(|_| bad())?;
        let arch = Arch::CifarResNet { depth, width };
        arch.validate()?;
        Ok(arch)
    }

    pub fn validate(&self) -> Result<()> {
        if let Arch::CifarResNet { depth, width } = *self {
            if depth < 8 || (depth - 2) % 6 != 0 {
                return Err(Error::invalid("architecture", format!("CIFAR ResNet depth {depth}: must be 6n + 2 with n >= 1 (8, 20, 32, 44, 56, 110)")));
            }
            if width == 0 || width % 2 != 0 {
                return Err(Error::invalid("architecture", format!("CIFAR ResNet width {width}: must be even (option-A shortcuts pad half the channels on each side)")));
            }
        }
        Ok(())
    }

    /// The name `parse` accepts.
    pub fn name(&self) -> String {
        match *self {
            Arch::CifarResNet { depth, width: 16 } => format!("resnet{depth}"),
            Arch::CifarResNet { depth, width } => format!("resnet{depth}-w{width}"),
            Arch::ResNet50 => "resnet50".into(),
            Arch::ResNeXt50_32x4d => "resnext50_32x4d".into(),
        }
    }

    /// Length of the pooled feature.
    pub fn feature_dim(&self) -> usize {
        match *self {
            Arch::CifarResNet { width, .. } => 4 * width,
            Arch::ResNet50 | Arch::ResNeXt50_32x4d => 512 * BOTTLENECK_EXPANSION,
        }
    }

    /// BasicBlocks per stage of a CIFAR ResNet.
    pub fn cifar_blocks_per_stage(depth: usize) -> usize {
        (depth - 2) / 6
    }

    pub fn bottleneck_spec(&self) -> Option<BottleneckSpec> {
        match self {
            Arch::CifarResNet { .. } => None,
            Arch::ResNet50 => Some(BottleneckSpec { layers: [3, 4, 6, 3], groups: 1, width_per_group: 64 }),
            Arch::ResNeXt50_32x4d => Some(BottleneckSpec { layers: [3, 4, 6, 3], groups: 32, width_per_group: 4 }),
        }
    }

    /// Checks an input of `channels` x `h` x `w` and returns the spatial size of the last stage.
    pub fn check_input(&self, channels: usize, h: usize, w: usize) -> Result<(usize, usize)> {
        if channels == 0 {
            return Err(Error::invalid("input", "0 channels"));
        }
        match self {
            Arch::CifarResNet { .. } => {
                if h == 0 || w == 0 || !h.is_multiple_of(4) || !w.is_multiple_of(4) {
                    return Err(Error::invalid(
                        "input",
                        format!("{h}x{w} for {}: CIFAR ResNets halve the size twice; height and width must be positive multiples of 4 (e.g. 28 or 32)", self.name()),
                    ));
                }
                Ok((h / 4, w / 4))
            }
            _ => {
                if h < 32 || w < 32 {
                    return Err(Error::invalid("input", format!("{h}x{w} for {}: ImageNet-style ResNets downsample 32x; use at least 32x32", self.name())));
                }
                // conv 7x7/2 pad 3, max pool 3x3/2 pad 1, then three stride-2 3x3 convs (pad 1).
                let down = |x: usize, k: usize, p: usize| (x + 2 * p - k) / 2 + 1;
                let mut hw = (down(h, 7, 3), down(w, 7, 3));
                hw = (down(hw.0, 3, 1), down(hw.1, 3, 1));
                for _ in 0..3 {
                    hw = (down(hw.0, 3, 1), down(hw.1, 3, 1));
                }
                Ok(hw)
            }
        }
    }

    /// Parameters of the backbone (no head) for `in_channels` input channels, in closed form
    /// from the architecture table (independent of the built model: tests compare the two).
    pub fn backbone_param_count(&self, in_channels: usize) -> usize {
        let bn = |c: usize| 2 * c;
        match *self {
            Arch::CifarResNet { depth, width } => {
                let n = Arch::cifar_blocks_per_stage(depth);
                let mut total = 9 * in_channels * width + bn(width);
                let mut c_prev = width;
                for stage in 0..3 {
                    let c = width << stage;
                    total += 9 * c_prev * c + 9 * c * c + 2 * bn(c);
                    total += (n - 1) * (2 * 9 * c * c + 2 * bn(c));
                    c_prev = c;
                }
                total
            }
            _ => {
                let spec = self.bottleneck_spec().expect("bottleneck arch");
                let mut total = 49 * in_channels * 64 + bn(64);
                let mut inplanes = 64;
                for (stage, &blocks) in spec.layers.iter().enumerate() {
                    let planes = 64 << stage;
                    let width = planes * spec.width_per_group / 64 * spec.groups;
                    let out = planes * BOTTLENECK_EXPANSION;
                    for b in 0..blocks {
                        let cin = if b == 0 { inplanes } else { out };
                        total += cin * width + bn(width);
                        total += 9 * width * (width / spec.groups) + bn(width);
                        total += width * out + bn(out);
                        if b == 0 {
                            total += cin * out + bn(out);
                        }
                    }
                    inplanes = out;
                }
                total
            }
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cifar_param_counts_are_the_published_ones() {
        // He et al. 2016 Table 6: ResNet-20 0.27M, ResNet-32 0.46M, ResNet-56 0.85M, ResNet-110 1.7M.
        assert_eq!(Arch::cifar(20).backbone_param_count(3) + 64 * 10 + 10, 269_722);
        assert_eq!(Arch::cifar(32).backbone_param_count(3) + 64 * 10 + 10, 464_154);
        assert_eq!(Arch::cifar(56).backbone_param_count(3) + 64 * 10 + 10, 853_018);
        assert_eq!(Arch::cifar(110).backbone_param_count(3) + 64 * 10 + 10, 1_727_962);
    }

    #[test]
    fn imagenet_param_counts_equal_torchvision() {
        assert_eq!(Arch::ResNet50.backbone_param_count(3) + 2048 * 1000 + 1000, 25_557_032);
        assert_eq!(Arch::ResNeXt50_32x4d.backbone_param_count(3) + 2048 * 1000 + 1000, 25_028_904);
    }

    #[test]
    fn names_round_trip_through_parse() {
        for a in [Arch::cifar(8), Arch::cifar(110), Arch::CifarResNet { depth: 20, width: 4 }, Arch::ResNet50, Arch::ResNeXt50_32x4d] {
            assert_eq!(Arch::parse(&a.name()).unwrap(), a);
        }
        assert!(Arch::parse("resnet33").is_err());
        assert!(Arch::parse("vgg16").is_err());
        assert!(Arch::parse("resnet20-w3").is_err());
    }

    #[test]
    fn input_checks_give_the_last_stage_size() {
        assert_eq!(Arch::cifar(32).check_input(3, 32, 32).unwrap(), (8, 8));
        assert_eq!(Arch::cifar(8).check_input(1, 28, 28).unwrap(), (7, 7));
        assert!(Arch::cifar(8).check_input(1, 30, 28).is_err());
        assert_eq!(Arch::ResNet50.check_input(3, 224, 224).unwrap(), (7, 7));
        assert_eq!(Arch::ResNet50.check_input(3, 64, 64).unwrap(), (2, 2));
    }
}

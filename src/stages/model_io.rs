//! A trained model in a stage's output folder: `network.json` (architecture, heads, which head
//! classifies by default) beside `model.safetensors` (the state_dict in torchvision names).
//! Every stage that produces a model writes both; every stage that reads one uses [`load_model`].

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{MODEL_FILE, NETWORK_FILE};
use crate::error::{Error, Result};
use crate::kernels::Device;
use crate::nn::{Arch, HeadConfig, HeadKind, Network, NetworkConfig};
use crate::store::checkpoint::{load_network, save_network};

/// Bumped when `network.json` changes incompatibly.
pub const MODEL_INFO_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadInfo {
    pub name: String,
    /// `linear` (`classes`) or `projection` (`hidden`, `dim`).
    pub kind: String,
    #[serde(default)]
    pub classes: Option<usize>,
    #[serde(default)]
    pub hidden: Option<usize>,
    #[serde(default)]
    pub dim: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInfo {
    pub version: u32,
    /// `Arch::name()`: `resnet20`, `resnext50_32x4d`, ...
    pub arch: String,
    pub in_channels: usize,
    pub heads: Vec<HeadInfo>,
    /// The head evaluation and calibration use unless told otherwise (`fc`, or `fc_soft` for a
    /// distilled student, as the paper reports).
    pub default_head: String,
    /// Fingerprint of the split lock the model was trained on.
    pub split_fingerprint: String,
}

impl ModelInfo {
    pub fn of(net: &Network, default_head: &str, split_fingerprint: &str) -> ModelInfo {
        let heads = net
            .config
            .heads
            .iter()
            .map(|h| match h.kind {
                HeadKind::Linear { classes } => HeadInfo { name: h.name.clone(), kind: "linear".into(), classes: Some(classes), hidden: None, dim: None },
                HeadKind::Projection { hidden, dim } => HeadInfo { name: h.name.clone(), kind: "projection".into(), classes: None, hidden: Some(hidden), dim: Some(dim) },
            })
            .collect();
        ModelInfo {
            version: MODEL_INFO_VERSION,
            arch: net.config.arch.name(),
            in_channels: net.config.in_channels,
            heads,
            default_head: default_head.to_string(),
            split_fingerprint: split_fingerprint.to_string(),
        }
    }

    pub fn network_config(&self, path: &Path) -> Result<NetworkConfig> {
        let bad = |m: String| Error::File { path: path.to_path_buf(), message: m };
        let arch = Arch::parse(&self.arch)?;
        let heads = self
            .heads
            .iter()
            .map(|h| match (h.kind.as_str(), h.classes, h.hidden, h.dim) {
                ("linear", Some(classes), _, _) => Ok(HeadConfig::linear(&h.name, classes)),
                ("projection", _, Some(hidden), Some(dim)) => Ok(HeadConfig::projection(&h.name, hidden, dim)),
                _ => Err(bad(format!("head `{}`: kind `{}` needs classes (linear) or hidden and dim (projection)", h.name, h.kind))),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(NetworkConfig { arch, in_channels: self.in_channels, heads })
    }
}

/// Writes `network.json` and `model.safetensors` into `dir`.
pub fn save_model(dir: &Path, net: &Network, default_head: &str, split_fingerprint: &str) -> Result<()> {
    if net.head_index(default_head).is_none() {
        return Err(Error::invalid("default head", format!("the network has no head `{default_head}`")));
    }
    let info = ModelInfo::of(net, default_head, split_fingerprint);
    let path = dir.join(NETWORK_FILE);
    let json = serde_json::to_string_pretty(&info).expect("model info serializes");
    std::fs::write(&path, json).map_err(|e| Error::io(&path, e))?;
    let extra = std::collections::BTreeMap::from([("split_fingerprint".to_string(), split_fingerprint.to_string())]);
    save_network(&dir.join(MODEL_FILE), net, &extra)
}

/// Reads the model a stage stored in `dir`.
pub fn load_model(dev: &Device, dir: &Path) -> Result<(Network, ModelInfo)> {
    let path = dir.join(NETWORK_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let info: ModelInfo = serde_json::from_str(&text).map_err(|e| Error::File { path: path.clone(), message: format!("line {}: {e}", e.line()) })?;
    if info.version != MODEL_INFO_VERSION {
        return Err(Error::File { path, message: format!("model info version {} (this ssdlt reads {MODEL_INFO_VERSION}); re-run the stage", info.version) });
    }
    let config = info.network_config(&path)?;
    let mut net = Network::new(dev, config, 0)?;
    load_network(&dir.join(MODEL_FILE), &mut net)?;
    Ok((net, info))
}

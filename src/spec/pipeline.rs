//! The top level of a pipeline file.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::dataset::DatasetSpec;
use super::stages::{OptimizerSpec, SamplerSpec, ScheduleSpec, StageSpec};
use crate::data::augment::AugmentPipeline;
use crate::kernels::DeviceChoice;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    pub pipeline: String,
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub device: DeviceChoice,
    pub dataset: DatasetSpec,
    #[serde(default)]
    pub defaults: Defaults,
    /// Stages in file order.
    pub stages: IndexMap<String, StageSpec>,
}

/// Values every `train` stage (and `calibrate` / `soft_labels` where the field exists, except
/// the sampler) takes unless it sets its own.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub batch_size: Option<usize>,
    #[serde(default)]
    pub optimizer: Option<OptimizerSpec>,
    #[serde(default)]
    pub schedule: Option<ScheduleSpec>,
    #[serde(default)]
    pub augment: Option<AugmentPipeline>,
    #[serde(default)]
    pub sampler: Option<SamplerSpec>,
}

/// Reads and parses a pipeline file. Errors name the file, line and column, the offending key
/// and a suggestion.
pub fn parse_file(path: &std::path::Path) -> crate::Result<PipelineSpec> {
    let text = std::fs::read_to_string(path).map_err(|e| crate::Error::io(path, e))?;
    parse_str(&text, path)
}

/// Parses pipeline YAML; `path` is only used in messages.
pub fn parse_str(text: &str, path: &std::path::Path) -> crate::Result<PipelineSpec> {
    serde_yaml::from_str(text).map_err(|e| crate::Error::File { path: path.to_path_buf(), message: e.to_string() })
}

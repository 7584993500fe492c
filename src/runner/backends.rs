//! The real [`PipelineData`] and [`StageExecutor`]: the dataset section's loader and the stage
//! registry. Tests use fakes instead (tests/pipeline_run.rs).

use std::path::Path;

use super::{PipelineData, StageExecutor};
use crate::error::Result;
use crate::plan::PlannedStage;
use crate::spec::dataset::LoadedData;
use crate::spec::pipeline::PipelineSpec;
use crate::stages::{StageContext, StageReport};

/// Loads `dataset:` with `DatasetSpec::load` (the split lock is written beside the pipeline file).
pub struct DatasetLoader;

impl PipelineData for DatasetLoader {
    fn load(&self, pipeline: &PipelineSpec, pipeline_file: &Path) -> Result<LoadedData> {
        pipeline.dataset.load(pipeline_file, pipeline.seed)
    }
}

/// Runs a stage with `crate::stages::run_stage`.
pub struct StageRegistry;

impl StageExecutor for StageRegistry {
    fn execute(&self, stage: &PlannedStage, ctx: &StageContext) -> Result<StageReport> {
        crate::stages::run_stage(&stage.spec, ctx)
    }
}

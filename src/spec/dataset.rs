//! The `dataset:` section of a pipeline file: which source, where its files are (relative to the
//! pipeline file), the long-tail profile, and how the section loads into the datasets stages use.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Which reader a dataset comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Synthetic,
    Cifar10,
    Cifar100,
    Mnist,
    FashionMnist,
    ImageList,
    Folder,
    Inat2018,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    pub source: SourceKind,
    /// Folder holding the source's files, relative to the pipeline file.
    #[serde(default)]
    pub root: Option<PathBuf>,
}

/// A pipeline's data once loaded: the long-tailed training split, the (balanced) test split, and
/// what every stage needs to turn a sample into network input.
pub struct LoadedData {
    pub train: crate::data::Dataset,
    pub test: crate::data::Dataset,
    /// Carved from the training data when the section asks for one (never from the test split).
    pub validation: Option<crate::data::Dataset>,
    pub lock: crate::data::split_lock::SplitLock,
    /// Where the split lock was written (beside the pipeline file) or read from.
    pub lock_path: PathBuf,
    /// Class statistics of `train` and the many/medium/few thresholds.
    pub stats: crate::data::long_tail::ClassStats,
    /// Deterministic steps before any augmentation (e.g. zero-pad 28 -> 32).
    pub prepare: crate::data::augment::AugmentPipeline,
    /// Steps after augmentation (normalize with the dataset's mean/std).
    pub finish: crate::data::augment::AugmentPipeline,
    /// `[C, H, W]` of a network input.
    pub sample_shape: [usize; 3],
}

impl LoadedData {
    /// `prepare`, then `augment`, then `finish`: the full list one view of a training sample goes through.
    pub fn train_pipeline(&self, augment: &crate::data::augment::AugmentPipeline) -> crate::data::augment::AugmentPipeline {
        let steps = self.prepare.steps.iter().chain(&augment.steps).chain(&self.finish.steps).cloned().collect();
        crate::data::augment::AugmentPipeline { steps }
    }

    /// The un-augmented view (view 0) for evaluation and soft labels: `prepare` then `finish`.
    pub fn eval_pipeline(&self) -> crate::data::augment::AugmentPipeline {
        self.train_pipeline(&crate::data::augment::AugmentPipeline::default())
    }
}

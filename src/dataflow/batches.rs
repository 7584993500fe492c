//! One epoch of batches: sample indices in sampler order -> decoded, augmented views -> batches.

use crate::data::augment::{assemble_batch, AugmentPipeline, Batch};
use crate::data::Dataset;
use crate::error::Result;

/// One epoch's worth of batch work.
pub struct BatchPlan<'a> {
    pub dataset: &'a Dataset,
    /// Sample indices of the epoch, in order (a sampler's `epoch(e)`).
    pub order: &'a [usize],
    pub batch_size: usize,
    /// Drop a last batch smaller than `batch_size`.
    pub drop_last: bool,
    /// Each batch carries one [`Batch`] per entry: (pipeline, view number in the replay key).
    pub views: &'a [(&'a AugmentPipeline, u32)],
    pub seed: u64,
    pub epoch: u64,
}

/// The views of one batch of samples.
pub struct ViewBatches {
    /// 0-based batch number within the epoch.
    pub index: usize,
    /// Dataset indices of the batch's samples.
    pub indices: Vec<usize>,
    /// One per `BatchPlan::views` entry, in that order.
    pub views: Vec<Batch>,
}

/// Calls `consume` with each batch of the epoch, in order, on the caller's thread.
pub fn for_each_batch(plan: &BatchPlan, mut consume: impl FnMut(ViewBatches) -> Result<()>) -> Result<()> {
    let bs = plan.batch_size.max(1);
    for (index, chunk) in plan.order.chunks(bs).enumerate() {
        if plan.drop_last && chunk.len() < bs {
            break;
        }
        let views = plan
            .views
            .iter()
            .map(|(pipeline, view)| assemble_batch(plan.dataset, chunk, pipeline, plan.seed, plan.epoch, *view))
            .collect::<Result<Vec<_>>>()?;
        consume(ViewBatches { index, indices: chunk.to_vec(), views })?;
    }
    Ok(())
}

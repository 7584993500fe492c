//! The timely operators of the batch stream, one per file, each an extension trait with a name:
//!
//! ```text
//! SampleSource ──slots──▶ AugmentViews ──views──▶ AssembleBatches ──batches──▶ DeliverBatches ──▶ queue
//!                              │ bad samples            │ bad batches              ▲
//!                              └────────────────────────┴──── faults (concat) ─────┘
//! ```
//!
//! - [`sample_source`]: this worker's shard of the epoch's batches, as (batch, slot, sample index)
//!   records in sampler order; it starts a batch only when the previous one left the worker
//!   (the [`Pacer`]), so memory stays bounded however long the epoch is.
//! - [`augment_views`]: decodes each sample and applies every view's augmentation list in
//!   parallel (rayon); a sample that fails becomes a [`BatchFault`] on the second output.
//! - [`assemble_batches`]: gathers a batch's views into `[N, C, H, W]` buffers in slot order; a
//!   batch whose views differ in size becomes a fault.
//! - [`deliver_batches`]: hands batches and faults, in batch order, to the bounded queue the
//!   consumer reads (never blocking the worker: a full queue parks the batch until the consumer
//!   takes one and wakes the operator).
//!
//! Records are keyed by batch and slot, so nothing depends on the order timely delivers
//! containers in; every random draw is keyed by (seed, epoch, sample id, view), so the batches are
//! bit-identical to assembling them one by one.

pub mod assemble_batches;
pub mod augment_views;
pub mod deliver_batches;
pub mod sample_source;

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use timely::scheduling::Activator;

use crate::data::augment::{view_rng, AugmentPipeline, Scratch};
use crate::data::{Dataset, Image};
use crate::error::{Error, Result};

/// One epoch's work, shared by every worker of the process.
pub struct EpochJob {
    pub dataset: Dataset,
    /// Sample indices in sampler order.
    pub order: Vec<usize>,
    pub batch_size: usize,
    pub drop_last: bool,
    /// (augmentation list, view number in the replay key), one per view of a batch.
    pub views: Vec<(AugmentPipeline, u32)>,
    pub seed: u64,
    pub epoch: u64,
}

impl EpochJob {
    /// Batches in the epoch (a last partial batch counts unless `drop_last`).
    pub fn batches(&self) -> usize {
        let bs = self.batch_size.max(1);
        let full = self.order.len() / bs;
        full + usize::from(!self.drop_last && !self.order.len().is_multiple_of(bs))
    }

    /// Dataset indices of batch `b`.
    pub fn batch_indices(&self, b: usize) -> &[usize] {
        let bs = self.batch_size.max(1);
        &self.order[b * bs..((b + 1) * bs).min(self.order.len())]
    }

    /// Every view of sample `slot.index`, decoded once and augmented per view.
    pub fn views_of(&self, slot: &SampleSlot, scratch: &mut Scratch) -> Result<Vec<Image>> {
        let i = slot.index;
        let sample = self.dataset.samples.get(i).ok_or_else(|| {
            Error::invalid(
                "batch",
                format!("sample index {i} is outside the {} samples of {}", self.dataset.len(), self.dataset.name),
            )
        })?;
        let decoded = self.dataset.image(i)?;
        let mut out = Vec::with_capacity(self.views.len());
        for (pipeline, view) in &self.views {
            let mut img = decoded.clone();
            let mut rng = view_rng(self.seed, self.epoch, &sample.id, *view);
            pipeline.apply(&mut img, &mut rng, scratch, &sample.id)?;
            out.push(img);
        }
        Ok(out)
    }
}

/// Sample `index` of the dataset at position `slot` of batch `batch` (`len` samples).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleSlot {
    pub batch: usize,
    pub slot: usize,
    pub len: usize,
    pub index: usize,
}

/// The augmented views of one sample, one per `EpochJob::views` entry.
#[derive(Debug)]
pub struct SampleViews {
    pub slot: SampleSlot,
    pub views: Vec<Image>,
}

/// A batch that cannot be made, and why (the error names the sample).
#[derive(Debug)]
pub struct BatchFault {
    pub batch: usize,
    pub error: Error,
}

/// Paces one worker's source: at most `limit` batches between the source and the queue, and a
/// stop signal (a fault was delivered, the consumer went away, or it cancelled).
pub struct Pacer {
    in_flight: Cell<usize>,
    limit: usize,
    stopped: Cell<bool>,
    cancel: Arc<AtomicBool>,
    source: RefCell<Option<Activator>>,
}

impl Pacer {
    pub fn new(limit: usize, cancel: Arc<AtomicBool>) -> Pacer {
        Pacer { in_flight: Cell::new(0), limit: limit.max(1), stopped: Cell::new(false), cancel, source: RefCell::new(None) }
    }

    /// Whether the stream should wind down.
    pub fn stopping(&self) -> bool {
        self.stopped.get() || self.cancel.load(Ordering::Acquire)
    }

    /// Whether the source may start another batch now.
    pub fn may_start(&self) -> bool {
        !self.stopping() && self.in_flight.get() < self.limit
    }

    pub fn started(&self) {
        self.in_flight.set(self.in_flight.get() + 1);
    }

    /// A batch left the worker: the source may start the next one.
    pub fn delivered(&self) {
        self.in_flight.set(self.in_flight.get().saturating_sub(1));
        self.wake_source();
    }

    pub fn stop(&self) {
        self.stopped.set(true);
        self.wake_source();
    }

    fn register_source(&self, activator: Activator) {
        *self.source.borrow_mut() = Some(activator);
    }

    fn wake_source(&self) {
        if let Some(a) = self.source.borrow().as_ref() {
            a.activate();
        }
    }
}

/// Runs `work`, turning a panic into an error naming `what` (operators never panic on data).
pub(crate) fn without_panics<T>(what: impl FnOnce() -> String, work: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
        Ok(r) => r,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(Error::invalid("batch", format!("{}: {msg}", what())))
        }
    }
}

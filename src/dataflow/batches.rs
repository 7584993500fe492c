//! One epoch of batches: sample indices in sampler order -> decoded, augmented views -> batches,
//! produced by timely workers ahead of the training step that consumes them.
//!
//! [`for_each_batch`] starts a timely computation for the epoch (the [`StreamConfig`] installed by
//! the command, else one worker thread) whose operators ([`super::operators`]) assemble this
//! worker's shard of batches and put them into a bounded queue ([`StreamConfig::prefetch`]
//! batches per worker). The caller's closure runs on the caller's thread and takes the batches in
//! order, so batch N+1 is being decoded and augmented while the closure trains on batch N. The
//! batches are bit-identical to assembling each one with
//! [`assemble_batch`](crate::data::augment::assemble_batch) in turn: every random draw is keyed by
//! (seed, epoch, sample id, view), not by which thread made it or when.
//!
//! A sample that cannot be decoded or augmented ends the epoch with its error (naming the
//! sample), after the batches before it; an error from the closure stops the workers.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};

use timely::dataflow::operators::Concat;
use timely::scheduling::SyncActivator;

use super::operators::assemble_batches::AssembleBatches;
use super::operators::augment_views::AugmentViews;
use super::operators::deliver_batches::{DeliverBatches, Outlet};
use super::operators::sample_source::SampleSource;
use super::operators::{EpochJob, Pacer};
pub use super::workers::{StreamConfig, WorkerArgs};
use crate::data::augment::{AugmentPipeline, Batch};
use crate::data::Dataset;
use crate::error::{Error, Result};

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
#[derive(Debug)]
pub struct ViewBatches {
    /// 0-based batch number within the epoch.
    pub index: usize,
    /// Dataset indices of the batch's samples.
    pub indices: Vec<usize>,
    /// One per `BatchPlan::views` entry, in that order.
    pub views: Vec<Batch>,
}

/// Calls `consume` with each batch of the epoch, in order, on the caller's thread, while the
/// workers of [`StreamConfig::current`] produce the next ones.
pub fn for_each_batch(plan: &BatchPlan, consume: impl FnMut(ViewBatches) -> Result<()>) -> Result<()> {
    for_each_batch_with(plan, &StreamConfig::current(), consume)
}

/// [`for_each_batch`] with an explicit worker configuration.
pub fn for_each_batch_with(
    plan: &BatchPlan,
    config: &StreamConfig,
    mut consume: impl FnMut(ViewBatches) -> Result<()>,
) -> Result<()> {
    let mut stream = BatchStream::start(plan, config)?;
    for batch in stream.by_ref() {
        consume(batch?)?;
    }
    stream.finish()
}

/// Batch `b`'s owner among `total` workers.
fn owner(batch: usize, total: usize) -> usize {
    batch % total.max(1)
}

/// The batches of one epoch as an iterator, produced ahead by timely workers. Dropping it early
/// stops the workers (at most one batch per worker is still finished, then discarded).
pub struct BatchStream {
    /// (batch number, local worker) in the order the consumer takes them.
    schedule: Vec<(usize, usize)>,
    next: usize,
    queues: Vec<Receiver<Result<ViewBatches>>>,
    wakers: Vec<Arc<Mutex<Option<SyncActivator>>>>,
    produced: Arc<AtomicUsize>,
    cancel: Arc<AtomicBool>,
    guards: Option<timely::communication::WorkerGuards<()>>,
    failed: bool,
}

impl BatchStream {
    /// Starts the workers on `plan` (the dataset and order are copied: the workers outlive the
    /// borrow).
    pub fn start(plan: &BatchPlan, config: &StreamConfig) -> Result<BatchStream> {
        let job = Arc::new(EpochJob {
            dataset: plan.dataset.clone(),
            order: plan.order.to_vec(),
            batch_size: plan.batch_size,
            drop_last: plan.drop_last,
            views: plan.views.iter().map(|(p, v)| ((*p).clone(), *v)).collect(),
            seed: plan.seed,
            epoch: plan.epoch,
        });
        let threads = config.threads.max(1);
        let total = threads * config.processes.max(1);
        let first_local = config.process * threads;
        let batches = job.batches();
        let schedule: Vec<(usize, usize)> = (0..batches)
            .filter_map(|b| {
                let g = owner(b, total);
                (first_local..first_local + threads).contains(&g).then(|| (b, g - first_local))
            })
            .collect();
        let capacity = config.prefetch.max(1);
        let (senders, queues): (Vec<_>, Vec<_>) = (0..threads).map(|_| sync_channel(capacity)).unzip();
        let senders: Arc<Vec<Mutex<Option<_>>>> = Arc::new(senders.into_iter().map(|s| Mutex::new(Some(s))).collect());
        let wakers: Vec<Arc<Mutex<Option<SyncActivator>>>> = (0..threads).map(|_| Arc::new(Mutex::new(None))).collect();
        let produced = Arc::new(AtomicUsize::new(0));
        let cancel = Arc::new(AtomicBool::new(false));

        let worker_wakers = wakers.clone();
        let worker_produced = produced.clone();
        let worker_cancel = cancel.clone();
        let guards = timely::execute(config.timely(), move |worker| {
            let global = worker.index();
            let local = global - first_local;
            let Some(queue) = senders.get(local).and_then(|s| s.lock().unwrap_or_else(|p| p.into_inner()).take()) else {
                return;
            };
            let expected: Vec<usize> = (global..batches).step_by(total).collect();
            let job = job.clone();
            let outlet_waker = worker_wakers[local].clone();
            let produced = worker_produced.clone();
            let cancel = worker_cancel.clone();
            worker.dataflow::<u64, _, _>(move |scope| {
                let pacer = std::rc::Rc::new(Pacer::new(1, cancel));
                let slots = scope.sample_source(job.clone(), pacer.clone(), global, total);
                let (views, bad_samples) = slots.augment_views(job.clone());
                let (assembled, bad_batches) = views.assemble_batches(job);
                assembled.deliver_batches(
                    bad_samples.concat(bad_batches),
                    Outlet { queue, expected, pacer, produced, waker: outlet_waker },
                );
            });
        })
        .map_err(|e| {
            Error::invalid(
                "timely workers",
                format!("{e} (with -n/--processes > 1 every process must be started, and the --hostfile ports free)"),
            )
        })?;
        Ok(BatchStream { schedule, next: 0, queues, wakers, produced, cancel, guards: Some(guards), failed: false })
    }

    /// Batches this process's consumer will receive.
    pub fn len(&self) -> usize {
        self.schedule.len()
    }

    pub fn is_empty(&self) -> bool {
        self.schedule.is_empty()
    }

    /// Batches (or faults) the workers have put into the queues so far, taken or not.
    pub fn produced(&self) -> usize {
        self.produced.load(Ordering::Acquire)
    }

    /// Batches taken by the consumer so far.
    pub fn consumed(&self) -> usize {
        self.next
    }

    /// Waits for the workers to finish and reports a worker that died.
    pub fn finish(mut self) -> Result<()> {
        self.join()
    }

    fn wake(&self, local: usize) {
        if let Some(a) = self.wakers[local].lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            // The worker may already have finished: nothing to wake then.
            let _ = a.activate();
        }
    }

    fn join(&mut self) -> Result<()> {
        let Some(guards) = self.guards.take() else { return Ok(()) };
        let mut first = None;
        for (i, r) in guards.join().into_iter().enumerate() {
            if let Err(message) = r {
                first.get_or_insert(Error::invalid("batch stream", format!("worker {i} stopped: {message}")));
            }
        }
        first.map_or(Ok(()), Err)
    }

    fn stop(&mut self) {
        self.cancel.store(true, Ordering::Release);
        for local in 0..self.wakers.len() {
            self.wake(local);
        }
        self.queues.clear();
    }
}

impl Iterator for BatchStream {
    type Item = Result<ViewBatches>;

    fn next(&mut self) -> Option<Result<ViewBatches>> {
        if self.failed {
            return None;
        }
        let &(batch, local) = self.schedule.get(self.next)?;
        let received = self.queues[local].recv();
        self.wake(local);
        self.next += 1;
        let item = match received {
            Ok(item) => item,
            Err(_) => {
                // The worker ended without delivering: it panicked, or its process's peers failed.
                self.stop();
                let why = self.join().err().map(|e| e.to_string()).unwrap_or_else(|| "no reason given".into());
                Err(Error::invalid("batch stream", format!("the worker assembling batch {batch} stopped early: {why}")))
            }
        };
        if item.is_err() {
            self.failed = true;
            self.stop();
        }
        Some(item)
    }
}

impl Drop for BatchStream {
    fn drop(&mut self) {
        self.stop();
        let _ = self.join();
    }
}

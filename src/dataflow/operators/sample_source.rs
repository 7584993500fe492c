//! `SampleSource`: the first operator of the batch stream. Emits this worker's shard of the
//! epoch — batches `b` with `b % peers == worker` — as one [`SampleSlot`] per sample, in sampler
//! order, at the epoch's timestamp. A batch is started only when the [`Pacer`] allows it, so the
//! source never runs more than one batch ahead of the queue; it stops when the pacer says so.

use std::rc::Rc;
use std::sync::Arc;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::source;
use timely::dataflow::{Scope, Stream};

use super::{EpochJob, Pacer, SampleSlot};

/// Extension trait for a dataflow scope.
pub trait SampleSource<'scope> {
    /// The slots of batches `worker, worker + peers, ...` of `job` (`worker` and `peers` in the
    /// global numbering: this worker's index and the total number of workers).
    fn sample_source(&self, job: Arc<EpochJob>, pacer: Rc<Pacer>, worker: usize, peers: usize)
        -> Stream<'scope, u64, Vec<SampleSlot>>;
}

impl<'scope> SampleSource<'scope> for Scope<'scope, u64> {
    fn sample_source(&self, job: Arc<EpochJob>, pacer: Rc<Pacer>, worker: usize, peers: usize) -> Stream<'scope, u64, Vec<SampleSlot>> {
        let scope = *self;
        source::<u64, CapacityContainerBuilder<Vec<SampleSlot>>, _, _>(*self, "SampleSource", move |mut cap, info| {
            pacer.register_source(scope.activator_for(info.address));
            cap.downgrade(&job.epoch);
            let mut cap = Some(cap);
            let total = job.batches();
            let mut next = worker;
            move |output| {
                if pacer.stopping() || next >= total {
                    cap = None;
                    return;
                }
                let Some(c) = cap.as_ref() else { return };
                while next < total && pacer.may_start() {
                    let indices = job.batch_indices(next);
                    let len = indices.len();
                    let batch = next;
                    output
                        .session(c)
                        .give_iterator(indices.iter().enumerate().map(|(slot, &index)| SampleSlot { batch, slot, len, index }));
                    pacer.started();
                    next += peers.max(1);
                }
                if next >= total {
                    cap = None;
                }
            }
        })
    }
}

//! `AssembleBatches`: gathers the augmented views of each batch and, once every slot has
//! arrived, copies them in slot order into one `[N, C, H, W]` [`Batch`] per view, exactly as
//! [`crate::data::augment::assemble_batch`] lays them out. A batch whose samples came out in
//! different sizes goes to the second output as a [`BatchFault`] naming the sample.

use std::collections::HashMap;
use std::sync::Arc;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::Stream;
use timely::progress::operate::FrontierInterest;

use super::{BatchFault, EpochJob, SampleViews};
use crate::data::augment::Batch;
use crate::data::Image;
use crate::dataflow::batches::ViewBatches;
use crate::error::{Error, Result};

/// Extension trait for a stream of augmented samples.
pub trait AssembleBatches<'scope> {
    /// (complete batches, faults).
    fn assemble_batches(self, job: Arc<EpochJob>) -> (Stream<'scope, u64, Vec<ViewBatches>>, Stream<'scope, u64, Vec<BatchFault>>);
}

/// The slots of one batch received so far.
struct Partial {
    slots: Vec<Option<Vec<Image>>>,
    filled: usize,
}

fn assemble(job: &EpochJob, batch: usize, slots: Vec<Option<Vec<Image>>>) -> Result<ViewBatches> {
    let indices = job.batch_indices(batch).to_vec();
    let mut per_slot: Vec<Vec<Image>> = slots.into_iter().map(|s| s.unwrap_or_default()).collect();
    let mut views = Vec::with_capacity(job.views.len());
    for v in 0..job.views.len() {
        let first = &per_slot[0][v];
        let (c, h, w) = (first.channels, first.height, first.width);
        let item = c * h * w;
        let mut data = vec![0f32; indices.len() * item];
        for (s, (out, sample_views)) in data.chunks_mut(item.max(1)).zip(per_slot.iter_mut()).enumerate() {
            let img = std::mem::replace(&mut sample_views[v], Image::zeros(0, 0, 0));
            if (img.channels, img.height, img.width) != (c, h, w) {
                return Err(Error::invalid(
                    "batch",
                    format!(
                        "sample `{}` became {}x{}x{} but the batch is {c}x{h}x{w}; end the augmentation list with a \
                         fixed-size step (resized_crop with size, or resize + center_crop)",
                        job.dataset.samples[indices[s]].id,
                        img.channels,
                        img.height,
                        img.width
                    ),
                ));
            }
            out.copy_from_slice(&img.data);
        }
        views.push(Batch {
            data,
            shape: [indices.len(), c, h, w],
            labels: indices.iter().map(|&i| job.dataset.samples[i].label).collect(),
        });
    }
    Ok(ViewBatches { index: batch, indices, views })
}

impl<'scope> AssembleBatches<'scope> for Stream<'scope, u64, Vec<SampleViews>> {
    fn assemble_batches(self, job: Arc<EpochJob>) -> (Stream<'scope, u64, Vec<ViewBatches>>, Stream<'scope, u64, Vec<BatchFault>>) {
        let mut builder = OperatorBuilder::new("AssembleBatches".to_owned(), self.scope());
        let mut input = builder.new_input(self, Pipeline);
        builder.set_notify_for(0, FrontierInterest::Never);
        let (ok_output, ok_stream) = builder.new_output();
        let (fault_output, fault_stream) = builder.new_output();
        let mut ok_output = OutputBuilder::<u64, CapacityContainerBuilder<Vec<ViewBatches>>>::from(ok_output);
        let mut fault_output = OutputBuilder::<u64, CapacityContainerBuilder<Vec<BatchFault>>>::from(fault_output);

        builder.build(move |_capabilities| {
            let mut partial: HashMap<usize, Partial> = HashMap::new();
            move |_frontiers| {
                let mut ok = ok_output.activate();
                let mut faults = fault_output.activate();
                input.for_each_stamp(|cap, containers| {
                    let mut ok = ok.session(&cap);
                    let mut faults = faults.session(&cap);
                    for sample in containers.flat_map(|c| c.drain(..)) {
                        let s = sample.slot;
                        let entry = partial.entry(s.batch).or_insert_with(|| Partial { slots: (0..s.len).map(|_| None).collect(), filled: 0 });
                        if entry.slots[s.slot].replace(sample.views).is_none() {
                            entry.filled += 1;
                        }
                        if entry.filled == s.len {
                            let done = partial.remove(&s.batch).expect("the entry was just filled");
                            match assemble(&job, s.batch, done.slots) {
                                Ok(batch) => ok.give(batch),
                                Err(error) => faults.give(BatchFault { batch: s.batch, error }),
                            }
                        }
                    }
                });
            }
        });
        (ok_stream, fault_stream)
    }
}

//! `AugmentViews`: decodes each sample once and runs every view's augmentation list on it, the
//! samples of a container in parallel (rayon, one scratch buffer pair per thread). Samples that
//! cannot be decoded or augmented go to the second output as [`BatchFault`]s naming the sample;
//! the rest go on as [`SampleViews`].

use std::sync::Arc;

use rayon::prelude::*;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::Stream;
use timely::progress::operate::FrontierInterest;

use super::{without_panics, BatchFault, EpochJob, SampleSlot, SampleViews};
use crate::data::augment::Scratch;

/// Extension trait for a stream of sample slots.
pub trait AugmentViews<'scope> {
    /// (augmented samples, faults).
    fn augment_views(self, job: Arc<EpochJob>) -> (Stream<'scope, u64, Vec<SampleViews>>, Stream<'scope, u64, Vec<BatchFault>>);
}

impl<'scope> AugmentViews<'scope> for Stream<'scope, u64, Vec<SampleSlot>> {
    fn augment_views(self, job: Arc<EpochJob>) -> (Stream<'scope, u64, Vec<SampleViews>>, Stream<'scope, u64, Vec<BatchFault>>) {
        let mut builder = OperatorBuilder::new("AugmentViews".to_owned(), self.scope());
        let mut input = builder.new_input(self, Pipeline);
        builder.set_notify_for(0, FrontierInterest::Never);
        let (ok_output, ok_stream) = builder.new_output();
        let (fault_output, fault_stream) = builder.new_output();
        let mut ok_output = OutputBuilder::<u64, CapacityContainerBuilder<Vec<SampleViews>>>::from(ok_output);
        let mut fault_output = OutputBuilder::<u64, CapacityContainerBuilder<Vec<BatchFault>>>::from(fault_output);

        builder.build(move |_capabilities| {
            move |_frontiers| {
                let mut ok = ok_output.activate();
                let mut faults = fault_output.activate();
                input.for_each_stamp(|cap, containers| {
                    let slots: Vec<SampleSlot> = containers.flat_map(|c| c.drain(..)).collect();
                    let results: Vec<Result<SampleViews, BatchFault>> = slots
                        .into_par_iter()
                        .map_init(Scratch::default, |scratch, slot| {
                            let id = || {
                                let id = job.dataset.samples.get(slot.index).map(|s| s.id.as_str()).unwrap_or("?");
                                format!("augmenting sample `{id}`")
                            };
                            without_panics(id, || job.views_of(&slot, scratch))
                                .map(|views| SampleViews { slot, views })
                                .map_err(|error| BatchFault { batch: slot.batch, error })
                        })
                        .collect();
                    let mut ok = ok.session(&cap);
                    let mut faults = faults.session(&cap);
                    for r in results {
                        match r {
                            Ok(views) => ok.give(views),
                            Err(fault) => faults.give(fault),
                        }
                    }
                });
            }
        });
        (ok_stream, fault_stream)
    }
}

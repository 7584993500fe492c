//! `DeliverBatches`: the last operator of the batch stream. Puts this worker's batches, and the
//! first fault of a batch that failed, into the bounded queue the consumer reads, in batch
//! order. It never blocks the worker: when the queue is full the batch waits in the operator,
//! and the consumer wakes the operator (a [`SyncActivator`]) each time it takes one. After a
//! fault, or when the consumer is gone, it stops the source and discards what still arrives.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::Stream;
use timely::scheduling::SyncActivator;

use super::{BatchFault, Pacer};
use crate::dataflow::batches::ViewBatches;
use crate::error::Result;

/// Where a worker's batches go.
pub struct Outlet {
    pub queue: SyncSender<Result<ViewBatches>>,
    /// The batch numbers this worker delivers, ascending.
    pub expected: Vec<usize>,
    pub pacer: Rc<Pacer>,
    /// Batches (and faults) this process has put into its queues.
    pub produced: Arc<AtomicUsize>,
    /// Receives the operator's activator, for the consumer to wake it.
    pub waker: Arc<Mutex<Option<SyncActivator>>>,
}

/// Extension trait for a stream of batches.
pub trait DeliverBatches<'scope> {
    fn deliver_batches(self, faults: Stream<'scope, u64, Vec<BatchFault>>, outlet: Outlet);
}

impl<'scope> DeliverBatches<'scope> for Stream<'scope, u64, Vec<ViewBatches>> {
    fn deliver_batches(self, faults: Stream<'scope, u64, Vec<BatchFault>>, outlet: Outlet) {
        let scope = self.scope();
        let mut builder = OperatorBuilder::new("DeliverBatches".to_owned(), scope);
        let mut batches_in = builder.new_input(self, Pipeline);
        let mut faults_in = builder.new_input(faults, Pipeline);
        let info = builder.operator_info();
        *outlet.waker.lock().unwrap_or_else(|p| p.into_inner()) = Some(scope.worker().sync_activator_for(info.address.to_vec()));
        let Outlet { queue, expected, pacer, produced, .. } = outlet;

        // Batches parked in `pending` hold no capability, so the operator reports itself
        // incomplete while any wait: otherwise timely would retire the dataflow (and drop them)
        // once the source is done, before a slow consumer has taken the last batches.
        builder.build_reschedule(move |_capabilities| {
            let mut pending: HashMap<usize, Result<ViewBatches>> = HashMap::new();
            let mut next = 0usize;
            move |_frontiers| {
                let stopping = pacer.stopping();
                batches_in.for_each(|_, data| {
                    for b in data.drain(..) {
                        if !stopping {
                            pending.insert(b.index, Ok(b));
                        }
                    }
                });
                faults_in.for_each(|_, data| {
                    for f in data.drain(..) {
                        if !stopping {
                            pending.entry(f.batch).or_insert(Err(f.error));
                        }
                    }
                });
                if stopping {
                    pending.clear();
                    pacer.stop();
                    return false;
                }
                while let Some(&want) = expected.get(next) {
                    let Some(item) = pending.remove(&want) else { break };
                    let failed = item.is_err();
                    match queue.try_send(item) {
                        Ok(()) => {
                            next += 1;
                            produced.fetch_add(1, Ordering::AcqRel);
                            if failed {
                                pending.clear();
                                pacer.stop();
                                break;
                            }
                            pacer.delivered();
                        }
                        Err(TrySendError::Full(item)) => {
                            pending.insert(want, item);
                            break;
                        }
                        Err(TrySendError::Disconnected(_)) => {
                            pending.clear();
                            pacer.stop();
                            break;
                        }
                    }
                }
                !pending.is_empty()
            }
        });
    }
}

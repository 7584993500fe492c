//! Reused activation and gradient storage.
//!
//! A layer's forward output lives in a `Slot`: allocated the first time a batch of that size (or
//! larger) is seen and afterwards handed out as a view of the needed length, so steady-state
//! steps allocate nothing and a smaller batch (eval, the last partial batch) reuses the storage.
//! Backward passes take their intermediate gradients from `GradBuffers`, a free list per
//! per-sample size: gradients die as soon as the next layer down has consumed them, so a whole
//! network's backward needs a handful of buffers per activation size instead of one per layer.

use std::collections::BTreeMap;

use crate::kernels::{Device, Tensor};

/// Storage for one tensor whose shape may change between calls (batch size), grown on demand.
#[derive(Default)]
pub struct Slot {
    storage: Option<Tensor>,
}

impl Slot {
    /// An f32 tensor of `shape` (contents unspecified: the op writing it overwrites it).
    pub fn f32(&mut self, dev: &Device, shape: &[usize]) -> Tensor {
        self.get(dev, shape, false)
    }

    /// A u32 tensor of `shape` (contents unspecified).
    pub fn u32(&mut self, dev: &Device, shape: &[usize]) -> Tensor {
        self.get(dev, shape, true)
    }

    fn get(&mut self, dev: &Device, shape: &[usize], u32: bool) -> Tensor {
        let len: usize = shape.iter().product();
        match &self.storage {
            Some(t) if t.len() >= len => t.reshape(shape),
            _ => {
                let t = if u32 { dev.zeros_u32(shape) } else { dev.zeros(shape) };
                self.storage = Some(t.clone());
                t
            }
        }
    }
}

/// Free lists of gradient tensors, keyed by the element count of one sample.
#[derive(Default)]
pub struct GradBuffers {
    /// Whole storages (largest shape each was allocated with) not in use.
    free: BTreeMap<usize, Vec<Tensor>>,
    /// Whole storages handed out, by tensor id.
    lent: Vec<Tensor>,
}

impl GradBuffers {
    /// A gradient tensor of `shape` (`shape[0]` is the batch); contents unspecified. Give it back
    /// with `release` once it has been consumed.
    pub fn acquire(&mut self, dev: &Device, shape: &[usize]) -> Tensor {
        let len: usize = shape.iter().product();
        let per_sample: usize = shape.iter().skip(1).product();
        let list = self.free.entry(per_sample).or_default();
        let whole = match list.iter().rposition(|t| t.len() >= len) {
            Some(i) => list.remove(i),
            None => {
                // The batch grew: drop one too-small storage of this kind so they do not pile up.
                if !list.is_empty() {
                    list.remove(0);
                }
                dev.zeros(shape)
            }
        };
        let view = whole.reshape(shape);
        self.lent.push(whole);
        view
    }

    /// Returns a tensor obtained from `acquire` (any view of it).
    pub fn release(&mut self, t: Tensor) {
        let i = self.lent.iter().rposition(|w| w.id() == t.id()).expect("GradBuffers::release of a tensor it did not lend");
        let whole = self.lent.swap_remove(i);
        let per_sample: usize = whole.shape().iter().skip(1).product();
        self.free.entry(per_sample).or_default().push(whole);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_gradients_are_reused_for_smaller_batches() {
        let dev = Device::cpu();
        let mut pool = GradBuffers::default();
        let a = pool.acquire(&dev, &[4, 3, 2, 2]);
        let b = pool.acquire(&dev, &[4, 3, 2, 2]);
        assert_ne!(a.id(), b.id());
        let (ida, idb) = (a.id(), b.id());
        pool.release(a);
        pool.release(b);
        let c = pool.acquire(&dev, &[2, 3, 2, 2]);
        assert!(c.id() == ida || c.id() == idb);
        assert_eq!(c.shape(), &[2, 3, 2, 2]);
        pool.release(c);
        let d = pool.acquire(&dev, &[4, 3, 2, 2]);
        assert!(d.id() == ida || d.id() == idb, "the full storage is remembered after a smaller view");
    }

    #[test]
    fn slots_grow_and_hand_out_views() {
        let dev = Device::cpu();
        let mut slot = Slot::default();
        let a = slot.f32(&dev, &[2, 5]);
        let b = slot.f32(&dev, &[1, 5]);
        assert_eq!(a.id(), b.id());
        let c = slot.f32(&dev, &[3, 5]);
        assert_ne!(a.id(), c.id());
    }
}

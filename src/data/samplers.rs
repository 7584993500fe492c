//! Epoch orders over a labelled dataset: instance-balanced, class-balanced (class-aware),
//! square-root and progressively balanced sampling (Kang et al., "Decoupling Representation and
//! Classifier", ICLR 2020; class-aware sampling after Shen et al. 2016, as SSD-LT stage II uses).
//!
//! Each epoch's order is a pure function of (seed, epoch): [`Sampler::epoch`] can be called for
//! any epoch in any order, on resume or on another machine, and gives the same indices.
//!
//! - instance-balanced: a permutation of all samples (class `c` appears `n_c` times).
//! - class-balanced: classes are visited in a shuffled cycle (reshuffled whenever it is used up);
//!   each visit takes `samples_per_class` images in a row from that class, walking a per-class
//!   permutation that is reshuffled when exhausted (the decoupling code's `ClassAwareSampler`).
//! - square-root: class `c` drawn with probability `sqrt(n_c) / sum sqrt(n_j)`, images within the
//!   class walked as above.
//! - progressively balanced: class probabilities `(1 - t/T) n_c/N + (t/T) / C` at epoch `t` of
//!   `T` (epochs past `T` stay class-balanced).
//!
//! Epochs are `len` draws long: the dataset size unless set (decoupling's class-aware sampler
//! uses `max_c n_c * C`; pass that to reproduce it).

use rand::seq::SliceRandom;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::seeding::derive_rng;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SamplerKind {
    InstanceBalanced,
    ClassBalanced { samples_per_class: usize },
    SquareRoot,
    ProgressivelyBalanced { total_epochs: u64 },
}

impl SamplerKind {
    fn domain(&self) -> &'static str {
        match self {
            SamplerKind::InstanceBalanced => "sampler/instance_balanced",
            SamplerKind::ClassBalanced { .. } => "sampler/class_balanced",
            SamplerKind::SquareRoot => "sampler/square_root",
            SamplerKind::ProgressivelyBalanced { .. } => "sampler/progressively_balanced",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Sampler {
    kind: SamplerKind,
    /// Sample indices of each class, ascending.
    by_class: Vec<Vec<usize>>,
    total: usize,
    len: usize,
    seed: u64,
}

/// Walks one class's samples in a permutation that is reshuffled when used up.
struct ClassCursor {
    order: Vec<usize>,
    next: usize,
}

impl ClassCursor {
    fn take(&mut self, rng: &mut ChaCha8Rng) -> usize {
        if self.next == self.order.len() {
            self.order.shuffle(rng);
            self.next = 0;
        }
        self.next += 1;
        self.order[self.next - 1]
    }
}

impl Sampler {
    /// A sampler over samples with `labels` (each < `classes`). Every class needs a sample for
    /// the balancing kinds.
    pub fn new(kind: SamplerKind, labels: &[u32], classes: usize, seed: u64) -> Result<Sampler> {
        let mut by_class = vec![Vec::new(); classes];
        for (i, &l) in labels.iter().enumerate() {
            let slot = by_class.get_mut(l as usize).ok_or_else(|| {
                Error::invalid("sampler labels", format!("sample {i} has label {l}, outside 0..{classes}"))
            })?;
            slot.push(i);
        }
        if labels.is_empty() {
            return Err(Error::invalid("sampler", "the dataset has no samples"));
        }
        if !matches!(kind, SamplerKind::InstanceBalanced) {
            if let Some(c) = by_class.iter().position(Vec::is_empty) {
                return Err(Error::invalid(
                    "sampler",
                    format!("class {c} has no samples, so {kind:?} cannot draw it; drop the class or use instance_balanced"),
                ));
            }
        }
        match kind {
            SamplerKind::ClassBalanced { samples_per_class: 0 } => {
                return Err(Error::invalid("class_balanced sampler", "samples_per_class must be at least 1"))
            }
            SamplerKind::ProgressivelyBalanced { total_epochs: 0 } => {
                return Err(Error::invalid("progressively_balanced sampler", "total_epochs must be at least 1"))
            }
            _ => {}
        }
        Ok(Sampler { kind, by_class, total: labels.len(), len: labels.len(), seed })
    }

    /// Sets the number of draws per epoch (instance-balanced epochs are always one permutation).
    pub fn with_epoch_len(mut self, len: usize) -> Sampler {
        self.len = len;
        self
    }

    pub fn kind(&self) -> SamplerKind {
        self.kind
    }

    pub fn epoch_len(&self) -> usize {
        match self.kind {
            SamplerKind::InstanceBalanced => self.total,
            _ => self.len,
        }
    }

    /// Expected share of each class among an epoch's draws.
    pub fn class_probabilities(&self, epoch: u64) -> Vec<f64> {
        let c = self.by_class.len() as f64;
        let n = self.total as f64;
        match self.kind {
            SamplerKind::InstanceBalanced => self.by_class.iter().map(|m| m.len() as f64 / n).collect(),
            SamplerKind::ClassBalanced { .. } => vec![1.0 / c; self.by_class.len()],
            SamplerKind::SquareRoot => {
                let sum: f64 = self.by_class.iter().map(|m| (m.len() as f64).sqrt()).sum();
                self.by_class.iter().map(|m| (m.len() as f64).sqrt() / sum).collect()
            }
            SamplerKind::ProgressivelyBalanced { total_epochs } => {
                let t = (epoch.min(total_epochs)) as f64 / total_epochs as f64;
                self.by_class.iter().map(|m| (1.0 - t) * m.len() as f64 / n + t / c).collect()
            }
        }
    }

    /// The sample indices of `epoch`, in order: a pure function of (seed, epoch).
    pub fn epoch(&self, epoch: u64) -> Vec<usize> {
        let mut rng = derive_rng(self.kind.domain(), self.seed, epoch, &[]);
        match self.kind {
            SamplerKind::InstanceBalanced => {
                let mut order: Vec<usize> = (0..self.total).collect();
                order.shuffle(&mut rng);
                order
            }
            SamplerKind::ClassBalanced { samples_per_class } => {
                let mut cursors = self.cursors(&mut rng);
                let mut classes: Vec<usize> = (0..self.by_class.len()).collect();
                let mut next_class = classes.len();
                let mut out = Vec::with_capacity(self.len);
                while out.len() < self.len {
                    if next_class == classes.len() {
                        classes.shuffle(&mut rng);
                        next_class = 0;
                    }
                    let c = classes[next_class];
                    next_class += 1;
                    for _ in 0..samples_per_class.min(self.len - out.len()) {
                        out.push(cursors[c].take(&mut rng));
                    }
                }
                out
            }
            SamplerKind::SquareRoot | SamplerKind::ProgressivelyBalanced { .. } => {
                let probs = self.class_probabilities(epoch);
                let mut cumulative = Vec::with_capacity(probs.len());
                let mut acc = 0.0;
                for p in &probs {
                    acc += p;
                    cumulative.push(acc);
                }
                let mut cursors = self.cursors(&mut rng);
                (0..self.len)
                    .map(|_| {
                        let u = rng.random_range(0.0..acc);
                        let c = cumulative.partition_point(|&x| x <= u).min(probs.len() - 1);
                        cursors[c].take(&mut rng)
                    })
                    .collect()
            }
        }
    }

    fn cursors(&self, rng: &mut ChaCha8Rng) -> Vec<ClassCursor> {
        self.by_class
            .iter()
            .map(|members| {
                let mut order = members.clone();
                order.shuffle(rng);
                ClassCursor { order, next: 0 }
            })
            .collect()
    }
}

//! Named parameters and buffers, and the state_dict view of a model.
//!
//! A `Param` carries its PyTorch state_dict name with its value, gradient and SGD momentum
//! buffer (all allocated once at construction). A `Buffer` is non-trained state: BatchNorm's
//! running statistics (f32 tensors) and `num_batches_tracked` (a host-side i64 counter, stored
//! as I64 in checkpoints as PyTorch does). Models list both in PyTorch's state_dict order, so
//! checkpoints load into the equivalent PyTorch module with `strict=True`.

use crate::kernels::{Device, Tensor};

use super::init::{init_values, Init};

/// A trainable tensor with its gradient and momentum buffer.
#[derive(Clone)]
pub struct Param {
    /// PyTorch state_dict name, e.g. `layer1.0.conv1.weight`.
    pub name: String,
    pub value: Tensor,
    /// Written (overwritten) by the backward pass.
    pub grad: Tensor,
    /// SGD momentum buffer.
    pub velocity: Tensor,
    /// False: the optimizer skips it and layers skip its gradient.
    pub trainable: bool,
}

impl Param {
    /// A parameter of `shape` called `name`, its value drawn by `init` from `seed`.
    pub fn new(dev: &Device, name: String, shape: &[usize], init: Init, seed: u64) -> Param {
        let value = dev.from_f32(shape, &init_values(init, shape, seed, &name));
        Param { name, value, grad: dev.zeros(shape), velocity: dev.zeros(shape), trainable: true }
    }

    pub fn shape(&self) -> &[usize] {
        self.value.shape()
    }

    pub fn len(&self) -> usize {
        self.value.len()
    }

    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }
}

/// The value of a non-trained state entry.
pub enum BufferValue {
    /// f32 tensor (BatchNorm running_mean / running_var).
    F32(Tensor),
    /// A host counter (BatchNorm num_batches_tracked; I64 in PyTorch).
    Count(i64),
}

/// Non-trained model state, saved in checkpoints.
pub struct Buffer {
    pub name: String,
    pub value: BufferValue,
}

impl Buffer {
    pub fn f32(dev: &Device, name: String, shape: &[usize], value: f32) -> Buffer {
        let len: usize = shape.iter().product();
        Buffer { name, value: BufferValue::F32(dev.from_f32(shape, &vec![value; len])) }
    }

    pub fn count(name: String) -> Buffer {
        Buffer { name, value: BufferValue::Count(0) }
    }

    /// Shape as PyTorch reports it (a counter is a 0-d tensor: `[]`).
    pub fn shape(&self) -> Vec<usize> {
        match &self.value {
            BufferValue::F32(t) => t.shape().to_vec(),
            BufferValue::Count(_) => Vec::new(),
        }
    }
}

/// One entry of a model's state_dict.
#[derive(Clone, Copy)]
pub enum StateEntry<'a> {
    Param(&'a Param),
    Buffer(&'a Buffer),
}

/// One entry of a model's state_dict, mutable (loading checkpoints, copying counters).
pub enum StateEntryMut<'a> {
    Param(&'a mut Param),
    Buffer(&'a mut Buffer),
}

impl StateEntry<'_> {
    pub fn name(&self) -> &str {
        match self {
            StateEntry::Param(p) => &p.name,
            StateEntry::Buffer(b) => &b.name,
        }
    }

    pub fn shape(&self) -> Vec<usize> {
        match self {
            StateEntry::Param(p) => p.shape().to_vec(),
            StateEntry::Buffer(b) => b.shape(),
        }
    }
}

impl StateEntryMut<'_> {
    pub fn name(&self) -> &str {
        match self {
            StateEntryMut::Param(p) => &p.name,
            StateEntryMut::Buffer(b) => &b.name,
        }
    }

    pub fn shape(&self) -> Vec<usize> {
        match self {
            StateEntryMut::Param(p) => p.shape().to_vec(),
            StateEntryMut::Buffer(b) => b.shape(),
        }
    }
}

/// Something with parameters and buffers, listed in PyTorch state_dict order.
pub trait HasState {
    fn state<'a>(&'a self, out: &mut Vec<StateEntry<'a>>);
    fn state_mut<'a>(&'a mut self, out: &mut Vec<StateEntryMut<'a>>);

    /// The parameters only, in state_dict order.
    fn params(&self) -> Vec<&Param> {
        let mut all = Vec::new();
        self.state(&mut all);
        all.into_iter()
            .filter_map(|e| match e {
                StateEntry::Param(p) => Some(p),
                StateEntry::Buffer(_) => None,
            })
            .collect()
    }

    /// Number of parameter elements (PyTorch's `sum(p.numel() for p in m.parameters())`).
    fn param_count(&self) -> usize {
        self.params().iter().map(|p| p.len()).sum()
    }

    /// Marks every parameter trainable or frozen.
    fn set_trainable(&mut self, trainable: bool) {
        let mut all = Vec::new();
        self.state_mut(&mut all);
        for e in all {
            if let StateEntryMut::Param(p) = e {
                p.trainable = trainable;
            }
        }
    }
}

/// Joins a module prefix and a name the way PyTorch does (`""` + `conv1` = `conv1`).
pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

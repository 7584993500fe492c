//! Layers, models, optimizers and schedules built on `crate::kernels`.
//!
//! Layers follow config -> init -> forward/backward with explicit backward passes (no autograd).
//! Every layer keeps its activations in storage allocated once per batch size, so a steady-state
//! training step allocates nothing; models list parameters and buffers under torchvision's
//! state_dict names, so checkpoints load into PyTorch.

pub mod arch;
pub mod buffers;
pub mod init;
pub mod param;
pub mod schedule;

pub use arch::Arch;
pub use buffers::{GradBuffers, Slot};
pub use init::Init;
pub use param::{Buffer, BufferValue, HasState, Param, StateEntry, StateEntryMut};
pub use schedule::{Decay, LrSchedule};

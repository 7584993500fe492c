//! Layers, models, optimizers and schedules built on `crate::kernels`.
//!
//! Layers follow config -> init -> forward/backward with explicit backward passes (no autograd).
//! Every layer keeps its activations in storage allocated once per batch size, so a steady-state
//! training step allocates nothing; models list parameters and buffers under torchvision's
//! state_dict names, so checkpoints load into PyTorch.

pub mod activation;
pub mod arch;
pub mod backbone;
pub mod batchnorm;
pub mod bench;
pub mod blocks;
pub mod buffers;
pub mod calibration;
pub mod conv;
pub mod distill;
pub mod heads;
pub mod init;
pub mod linear;
pub mod metrics;
pub mod moco;
pub mod multi_loss;
pub mod network;
pub mod optim;
pub mod param;
pub mod pool;
pub mod schedule;
pub mod train;

pub use arch::Arch;
pub use backbone::Backbone;
pub use heads::{Head, HeadConfig, HeadKind};
pub use network::{Network, NetworkConfig};
pub use optim::{copy_state, ema_update_state, Sgd, SgdConfig};
pub use train::{evaluate, predict_logits, ClassificationTrainer, EvalReport, StepLog};
pub use buffers::{GradBuffers, Slot};
pub use init::Init;
pub use multi_loss::{MultiLossLog, MultiLossTrainer, StepInput};
pub use param::{Buffer, BufferValue, HasState, Param, StateEntry, StateEntryMut};
pub use schedule::{Decay, LrSchedule};

//! Stored formats: safetensors checkpoints, soft labels, and the `.ssdlt/` stage store with its
//! run state and run records.

pub mod checkpoint;
pub mod layout;
pub mod runs;
pub mod soft_labels;

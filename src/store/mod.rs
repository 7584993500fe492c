//! Stored formats: safetensors checkpoints.

pub mod checkpoint;
pub mod soft_labels;

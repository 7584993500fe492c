//! Stored formats: safetensors checkpoints.

pub mod checkpoint;

//! Stored formats: safetensors checkpoints.

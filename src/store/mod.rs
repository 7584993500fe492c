//! Stored formats: safetensors checkpoints, the Arrow IPC files of soft labels, predictions and
//! metrics, and the checksummed part folders of the per-sample caches.

pub mod arrow_io;
pub mod checkpoint;
pub mod checksummed;
pub mod metrics;
pub mod run_view;
pub mod soft_labels;
pub mod tables;

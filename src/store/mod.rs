//! Stored formats: safetensors checkpoints, the Arrow IPC files of soft labels, predictions and
//! metrics, the checksummed part folders of the per-sample caches, and the `.ssdlt/` stage store
//! with its run state and run records.

pub mod arrow_io;
pub mod atomic;
pub mod checkpoint;
pub mod checksummed;
pub mod gc;
pub mod metrics;
pub mod layout;
pub mod runs;
pub mod run_view;
pub mod soft_labels;
pub mod tables;

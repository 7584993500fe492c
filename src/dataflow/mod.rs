//! The timely / differential-dataflow side of ssdlt (the only module that touches timely).
//!
//! - [`batches`]: samples -> augmented views -> batches for one epoch, produced by timely
//!   workers ahead of the training step that consumes them.
//! - [`operators`]: the timely operators of that stream, one per file.
//! - [`workers`]: timely's worker arguments (`-w`, `-n`, `-p`, `--hostfile`) and the stream's
//!   configuration.
//! - [`manifest`]: the dataset manifest as a differential collection; what changed since the
//!   last run and which samples still need work.

pub mod batches;
pub mod manifest;
pub mod operators;
pub mod workers;

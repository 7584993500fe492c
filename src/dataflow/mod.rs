//! The timely / differential-dataflow side of ssdlt (the only module that touches timely).
//!
//! - [`batches`]: samples -> augmented views -> batches for one epoch, produced ahead of the
//!   training step that consumes them.
//! - [`manifest`]: the dataset manifest as a differential collection; what changed since the
//!   last run and which samples still need work.

pub mod batches;
pub mod manifest;

//! ssdlt: long-tailed image classification with SSD-LT (self-supervision to distillation),
//! trained on our own WGSL kernels through wgpu or on a native CPU path.

pub mod cli;
pub mod data;
pub mod dataflow;
pub mod error;
pub mod gpu;
pub mod kernels;

pub use error::{Error, Result};
pub mod nn;
pub mod plan;
pub mod runner;
pub mod report;
pub mod spec;
pub mod stages;
pub mod store;

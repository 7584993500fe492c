//! The only module that talks to wgpu directly: adapter discovery, the device context, compiled
//! pipeline and bind-group caches, step encoders and readback.
//!
//! Kernels (in `crate::kernels`) hand this module a shader source, an entry point, uniform bytes
//! and the storage buffers to bind; everything wgpu-version-specific stays here because the wgpu
//! API moves between releases.

mod adapters;
mod context;

pub use adapters::{describe_adapters, pick_adapter, AdapterChoice, AdapterReport};
pub use context::{Binding, GpuBuffer, GpuContext, GpuTexture, KernelVariant, TexelFormat, TextureBinding};

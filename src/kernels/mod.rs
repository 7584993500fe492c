//! Ops, each with a WGSL implementation (in `shaders/`, dispatched through `crate::gpu`) and a
//! native CPU twin that is the reference it is tested against. One file per op family.
//!
//! Conventions every kernel follows:
//! - Outputs are tensors the caller allocated; ops never allocate except cached scratch.
//! - Reductions are deterministic: no float atomics on the GPU; on the CPU the work is split into
//!   fixed chunks whose partial results are combined in chunk order, so a seed reproduces a loss
//!   curve bit for bit whatever the thread timing.
//! - On wgpu, binding 0 is the uniform parameter block and storage buffers follow from 1; a 1-D
//!   launch of more than 65,535 workgroups spreads over y: the invocation index is
//!   `gid.x + gid.y * num_workgroups.x * WORKGROUP_SIZE`.

mod device;
pub mod cpu_simd;

pub mod gemm;
pub mod conv2d;
mod conv2d_cpu;
mod conv2d_phases;
mod conv2d_texture;
mod conv2d_products;
pub mod batchnorm;
pub mod elementwise;
pub mod pool;
pub mod losses;
pub mod contrastive;
pub mod optim;

/// The revision of the cpu device's kernels, in every stored output's fingerprint
/// (`runner::fingerprint::kernel_version`). Bump it when a change to them changes their results
/// (the order of a sum, fused multiply-adds), so outputs computed before run again. Revision 2:
/// the direct SIMD convolutions and batch-norm backward (`cpu_simd`).
pub const CPU_KERNELS_REVISION: u32 = 2;

pub use device::{CpuRead, CpuWrite, DType, Device, DeviceChoice, Tensor, WgpuDevice};

use crate::gpu::{Binding, GpuContext};

/// Our WGSL sources, embedded in the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shader {
    Gemm,
    /// The GEMM entry that needs subgroups (only compiled on devices that have them).
    GemmSubgroup,
    /// The subgroup GEMM reading its operands from textures (devices with subgroups only).
    GemmTexture,
    Conv2d,
    /// im2col, col2im and layout changes that lower convolutions onto the GEMM kernels.
    Conv2dLowering,
    /// Implicit-GEMM convolutions over textures (devices with subgroups of 8 only).
    Conv2dTexture,
    BatchNorm,
    Elementwise,
    Pool,
    Losses,
    Contrastive,
    Optim,
}

impl Shader {
    pub const ALL: [Shader; 12] = [
        Shader::Gemm,
        Shader::GemmSubgroup,
        Shader::GemmTexture,
        Shader::Conv2d,
        Shader::Conv2dLowering,
        Shader::Conv2dTexture,
        Shader::BatchNorm,
        Shader::Elementwise,
        Shader::Pool,
        Shader::Losses,
        Shader::Contrastive,
        Shader::Optim,
    ];

    /// File name under `shaders/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Shader::Gemm => "gemm.wgsl",
            Shader::GemmSubgroup => "gemm_subgroup.wgsl",
            Shader::GemmTexture => "gemm_texture.wgsl",
            Shader::Conv2d => "conv2d.wgsl",
            Shader::Conv2dLowering => "conv2d_lowering.wgsl",
            Shader::Conv2dTexture => "conv2d_texture.wgsl",
            Shader::BatchNorm => "batchnorm.wgsl",
            Shader::Elementwise => "elementwise.wgsl",
            Shader::Pool => "pool.wgsl",
            Shader::Losses => "losses.wgsl",
            Shader::Contrastive => "contrastive.wgsl",
            Shader::Optim => "optim.wgsl",
        }
    }

    pub fn source(self) -> &'static str {
        match self {
            Shader::Gemm => include_str!("../../shaders/gemm.wgsl"),
            Shader::GemmSubgroup => include_str!("../../shaders/gemm_subgroup.wgsl"),
            Shader::GemmTexture => include_str!("../../shaders/gemm_texture.wgsl"),
            Shader::Conv2d => include_str!("../../shaders/conv2d.wgsl"),
            Shader::Conv2dLowering => include_str!("../../shaders/conv2d_lowering.wgsl"),
            Shader::Conv2dTexture => include_str!("../../shaders/conv2d_texture.wgsl"),
            Shader::BatchNorm => include_str!("../../shaders/batchnorm.wgsl"),
            Shader::Elementwise => include_str!("../../shaders/elementwise.wgsl"),
            Shader::Pool => include_str!("../../shaders/pool.wgsl"),
            Shader::Losses => include_str!("../../shaders/losses.wgsl"),
            Shader::Contrastive => include_str!("../../shaders/contrastive.wgsl"),
            Shader::Optim => include_str!("../../shaders/optim.wgsl"),
        }
    }
}

/// Workgroup counts for `invocations` threads in workgroups of `workgroup_size`, spread over
/// x and y when x alone would pass the per-dimension limit.
pub fn grid(gpu: &GpuContext, invocations: usize, workgroup_size: u32) -> [u32; 3] {
    let groups = invocations.div_ceil(workgroup_size as usize) as u64;
    let max = gpu.max_workgroups_per_dimension() as u64;
    if groups <= max {
        [groups as u32, 1, 1]
    } else {
        let y = groups.div_ceil(max);
        [groups.div_ceil(y) as u32, y as u32, 1]
    }
}

/// Dispatches `entry` of `shader` with `params` at binding 0 and `tensors` at bindings 1, 2, ...
/// (the entry point must use every one of them).
pub fn launch<P: bytemuck::Pod>(gpu: &GpuContext, shader: Shader, entry: &'static str, params: &P, tensors: &[&Tensor], workgroups: [u32; 3]) {
    let bindings: Vec<Binding<'_>> = tensors.iter().enumerate().map(|(i, t)| t.bind(i as u32 + 1)).collect();
    gpu.dispatch(shader.file_name(), shader.source(), entry, &[], bytemuck::bytes_of(params), &bindings, workgroups);
}

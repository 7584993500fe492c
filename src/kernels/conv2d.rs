//! 2-D convolution (any kernel size, stride, zero padding, groups; no bias): forward and both
//! backwards, on the native CPU and in WGSL.
//!
//! CPU (`conv2d_cpu`): direct SIMD products over the shifted rows of the padded image, split
//! into stride parity planes (forward, backward-weight) and over padded dy phase by phase
//! (backward-data), no im2col; images split over rayon in chunks, the weight gradient summed over
//! a FIXED number of chunks in chunk order, so it is bit-identical whatever the thread timing.
//!
//! WGSL (`shaders/conv2d.wgsl`): implicit GEMM, no im2col buffer. Each invocation owns a block of
//! output channels x positions held in unrolled scalar accumulators (software adapters vectorize
//! across invocations, so adjacent invocations take adjacent positions). Backward-data is a
//! gather over the outputs that each input pixel feeds, dispatched per stride phase so every
//! invocation walks only the kernel taps that hit it. Backward-weight sums fixed slices of the
//! batch into partials and a second kernel adds them in slice order. No atomics anywhere.
//!
//! On software adapters with subgroups of 8, ungrouped 3x3 and 1x1 convolutions run on
//! `conv2d_texture` (implicit GEMMs over the activation packed into textures, 2-5x the lowered
//! path on the ResNet-32 layers: BENCHMARKS.md, session 6); other ungrouped ones `plan_software`
//! lowers (`lowered`): im2col / col2im and layout changes (shaders/conv2d_lowering.wgsl) around
//! `gemm::matmul`, 2-8x faster per CPU-second there than the implicit kernels.

use super::{grid, launch, Device, Shader, Tensor};

/// A convolution's geometry. x is `[n, c_in, h, w]`, the weight `[c_out, c_in / groups, kh, kw]`,
/// y is `[n, c_out, out_h, out_w]`; the same zero `pad` on every side, the same `stride` on both axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dShape {
    pub n: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub pad: usize,
    pub groups: usize,
}

impl Conv2dShape {
    pub fn out_h(&self) -> usize {
        (self.h + 2 * self.pad - self.kh) / self.stride + 1
    }

    pub fn out_w(&self) -> usize {
        (self.w + 2 * self.pad - self.kw) / self.stride + 1
    }

    /// 2 x multiply-adds of the forward (each backward costs the same).
    pub fn flops(&self) -> f64 {
        2.0 * (self.n * self.c_out * self.out_h() * self.out_w()) as f64 * (self.c_in / self.groups * self.kh * self.kw) as f64
    }

    fn x_len(&self) -> usize {
        self.n * self.c_in * self.h * self.w
    }
    fn y_len(&self) -> usize {
        self.n * self.c_out * self.out_h() * self.out_w()
    }
    fn w_len(&self) -> usize {
        self.c_out * (self.c_in / self.groups) * self.kh * self.kw
    }

    #[track_caller]
    fn check(&self, x: usize, w: usize, y: usize) {
        let s = self;
        assert!(s.n > 0 && s.stride > 0 && s.groups > 0 && s.kh > 0 && s.kw > 0, "conv2d: degenerate shape {s:?}");
        assert!(s.c_in.is_multiple_of(s.groups) && s.c_out.is_multiple_of(s.groups), "conv2d: groups {} must divide c_in {} and c_out {}", s.groups, s.c_in, s.c_out);
        assert!(s.h + 2 * s.pad >= s.kh && s.w + 2 * s.pad >= s.kw, "conv2d: kernel larger than the padded input in {s:?}");
        assert_eq!(x, s.x_len(), "conv2d: x has {x} elements, {s:?} needs {}", s.x_len());
        assert_eq!(w, s.w_len(), "conv2d: weight has {w} elements, {s:?} needs {}", s.w_len());
        assert_eq!(y, s.y_len(), "conv2d: y has {y} elements, {s:?} needs {}", s.y_len());
    }

}

/// y `[n, c_out, out_h, out_w]` = conv(x `[n, c_in, h, w]`, w `[c_out, c_in/groups, kh, kw]`).
pub fn conv2d_forward(dev: &Device, s: &Conv2dShape, x: &Tensor, w: &Tensor, y: &Tensor) {
    conv2d_forward_with(dev, ConvKernel::Auto, s, x, w, y);
}

/// dx `[n, c_in, h, w]` (overwritten) from dy `[n, c_out, out_h, out_w]` and w.
pub fn conv2d_backward_data(dev: &Device, s: &Conv2dShape, dy: &Tensor, w: &Tensor, dx: &Tensor) {
    conv2d_backward_data_with(dev, ConvKernel::Auto, s, dy, w, dx);
}

/// dw `[c_out, c_in/groups, kh, kw]` (overwritten) from x `[n, c_in, h, w]` and dy `[n, c_out, out_h, out_w]`.
pub fn conv2d_backward_weight(dev: &Device, s: &Conv2dShape, x: &Tensor, dy: &Tensor, dw: &Tensor) {
    conv2d_backward_weight_with(dev, ConvKernel::Auto, s, x, dy, dw);
}

/// `conv2d_forward` with the WGSL kernel forced (tests run each on any adapter; benchmarks
/// compare them). On the cpu device `kernel` is ignored.
pub fn conv2d_forward_with(dev: &Device, kernel: ConvKernel, s: &Conv2dShape, x: &Tensor, w: &Tensor, y: &Tensor) {
    s.check(x.len(), w.len(), y.len());
    match dev {
        Device::Cpu(_) => super::conv2d_cpu::forward(dev, s, x, w, y),
        Device::Wgpu(gpu) => match resolve(gpu, kernel, s) {
            ConvKernel::Lowered => lowered::forward(dev, gpu, s, x, w, y),
            ConvKernel::Textures => super::conv2d_texture::forward(dev, gpu, s, x, w, y),
            _ => wgsl::forward(gpu, s, x, w, y),
        },
    }
}

/// `conv2d_backward_data` with the WGSL kernel forced.
pub fn conv2d_backward_data_with(dev: &Device, kernel: ConvKernel, s: &Conv2dShape, dy: &Tensor, w: &Tensor, dx: &Tensor) {
    s.check(dx.len(), w.len(), dy.len());
    match dev {
        Device::Cpu(_) => super::conv2d_cpu::backward_data(dev, s, dy, w, dx),
        Device::Wgpu(gpu) => match resolve(gpu, kernel, s) {
            ConvKernel::Lowered => lowered::backward_data(dev, gpu, s, dy, w, dx),
            ConvKernel::Textures => super::conv2d_texture::backward_data(dev, gpu, s, dy, w, dx),
            _ => wgsl::backward_data(dev, gpu, s, dy, w, dx),
        },
    }
}

/// `conv2d_backward_weight` with the WGSL kernel forced.
pub fn conv2d_backward_weight_with(dev: &Device, kernel: ConvKernel, s: &Conv2dShape, x: &Tensor, dy: &Tensor, dw: &Tensor) {
    s.check(x.len(), dw.len(), dy.len());
    match dev {
        Device::Cpu(_) => super::conv2d_cpu::backward_weight(dev, s, x, dy, dw),
        Device::Wgpu(gpu) => match resolve(gpu, kernel, s) {
            ConvKernel::Lowered => lowered::backward_weight(dev, gpu, s, x, dy, dw),
            ConvKernel::Textures => super::conv2d_texture::backward_weight(dev, gpu, s, x, dy, dw),
            _ => wgsl::backward_weight(dev, gpu, s, x, dy, dw),
        },
    }
}

/// The WGSL kernel `ConvKernel::Auto` runs `s` with on `dev` (None on the cpu device).
pub fn conv2d_plan(dev: &Device, s: &Conv2dShape) -> Option<ConvKernel> {
    dev.gpu().map(|gpu| resolve(gpu, ConvKernel::Auto, s))
}

/// Whether the texture kernels compute `s` with x and dy read as they lie, not packed
/// (`conv2d_texture`'s plain kernels, all three passes alike); false on the cpu device or where
/// `conv2d_plan` is not `Textures`.
pub fn conv2d_texture_reads_in_place(dev: &Device, s: &Conv2dShape) -> bool {
    match dev.gpu() {
        Some(gpu) if resolve(gpu, ConvKernel::Auto, s) == ConvKernel::Textures => super::conv2d_texture::plain_fits(gpu, s),
        _ => false,
    }
}

/// How the WGSL path computes one pass of a convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvKernel {
    /// On a software adapter `Textures` where it runs the shape, else whatever `plan_software`
    /// picks; `Implicit` on real GPUs.
    Auto,
    /// The implicit-GEMM kernels of shaders/conv2d.wgsl (any shape, no scratch).
    Implicit,
    /// im2col / col2im (shaders/conv2d_lowering.wgsl) around `gemm::matmul`, whose kernel
    /// `gemm::plan_software` picks (groups = 1 only).
    Lowered,
    /// Implicit GEMMs over the activation packed into textures (shaders/conv2d_texture.wgsl):
    /// subgroups of 8, groups = 1, 3x3 or 1x1 kernels.
    Textures,
}

/// The kernel of all three passes on a software adapter: `Lowered` when the device has the
/// subgroup GEMM (which the lowered passes then run on), the convolution is ungrouped and its
/// column matrix fits one storage binding of `max_binding_bytes`; else `Implicit`. Measured on
/// lavapipe (ResNet-32 layers, batch 128), the lowering does 0.8-3.4 GFLOP per CPU-second
/// against 0.3-0.7 for the implicit kernels, in every pass and layer (without subgroups it was
/// not measured, so the implicit kernels stay).
pub fn plan_software(s: &Conv2dShape, subgroups: bool, max_binding_bytes: u64) -> ConvKernel {
    if subgroups && lowered::fits(s, max_binding_bytes) {
        ConvKernel::Lowered
    } else {
        ConvKernel::Implicit
    }
}

/// The kernel of one pass on this device (`Auto` resolved: real GPUs keep the implicit
/// kernels). A forced `Lowered` falls back to `Implicit` where it cannot run (groups > 1, or a
/// column matrix past the binding limit).
fn resolve(gpu: &crate::gpu::GpuContext, kernel: ConvKernel, s: &Conv2dShape) -> ConvKernel {
    let subgroups = super::gemm::subgroup_gemm_supported_on(gpu);
    match (kernel, gpu.variant()) {
        (ConvKernel::Auto, crate::gpu::KernelVariant::Tiled) => ConvKernel::Implicit,
        (ConvKernel::Auto | ConvKernel::Textures, crate::gpu::KernelVariant::Unrolled) if super::conv2d_texture::fits(gpu, s) => ConvKernel::Textures,
        (ConvKernel::Auto, crate::gpu::KernelVariant::Unrolled) => plan_software(s, subgroups, gpu.max_binding_bytes()),
        (ConvKernel::Lowered, _) if !lowered::fits(s, gpu.max_binding_bytes()) => ConvKernel::Implicit,
        (ConvKernel::Textures, _) if !super::conv2d_texture::fits(gpu, s) => resolve(gpu, ConvKernel::Lowered, s),
        (other, _) => other,
    }
}

mod lowered {
    //! Convolutions as im2col + GEMM (+ col2im) on the device: the column matrix is built by
    //! shaders/conv2d_lowering.wgsl into scratch and multiplied by `gemm::matmul`, so the
    //! convolution runs at the speed of the best GEMM kernel of the adapter. Outputs go through
    //! `[channels, n * positions]` scratch and a layout change back to `[n, channels, positions]`.

    use super::super::gemm::{matmul, GemmShape};
    use super::*;
    use crate::gpu::GpuContext;

    /// Mirrors `Lowering` in shaders/conv2d_lowering.wgsl.
    #[repr(C)]
    #[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
    struct Lowering {
        n: u32,
        c_in: u32,
        h: u32,
        w: u32,
        kh: u32,
        kw: u32,
        stride: u32,
        pad: u32,
        oh: u32,
        ow: u32,
        k: u32,
        k_rows: u32,
        rs: u32,
        ls: u32,
        channels: u32,
        _pad0: u32,
    }

    /// Rows of the column matrix: the reduction c_in * kh * kw rounded up to whole vec4s (the
    /// subgroup GEMM reads vec4s along it; the zero rows add nothing).
    pub(super) fn col_rows(s: &Conv2dShape) -> usize {
        (s.c_in / s.groups * s.kh * s.kw).div_ceil(4) * 4
    }

    /// Whether the lowering applies: no groups, images and channels within one dispatch
    /// dimension (65535, the WebGPU minimum), and every scratch matrix (the column matrix the
    /// largest) within one storage binding.
    pub(super) fn fits(s: &Conv2dShape, max_binding_bytes: u64) -> bool {
        let col_bytes = 4 * col_rows(s) as u64 * (s.n * s.out_h() * s.out_w()) as u64;
        s.groups == 1 && s.n.max(s.c_in).max(s.c_out) <= 65535 && col_bytes <= max_binding_bytes
    }

    fn u(v: usize, what: &str) -> u32 {
        u32::try_from(v).unwrap_or_else(|_| panic!("conv2d: {what} = {v} does not fit the 32-bit indices of the WGSL kernels"))
    }

    fn lowering(s: &Conv2dShape) -> Lowering {
        Lowering {
            n: u(s.n, "n"),
            c_in: u(s.c_in, "c_in"),
            h: u(s.h, "h"),
            w: u(s.w, "w"),
            kh: u(s.kh, "kh"),
            kw: u(s.kw, "kw"),
            stride: u(s.stride, "stride"),
            pad: u(s.pad, "pad"),
            oh: u(s.out_h(), "oh"),
            ow: u(s.out_w(), "ow"),
            k: u(s.c_in * s.kh * s.kw, "c_in * kh * kw"),
            ..Default::default()
        }
    }

    /// Dispatches `entry` over `[x / 64 workgroups, y, z]` (x: positions of one image or plane,
    /// y: channel, z: image; see the shader).
    fn run(gpu: &GpuContext, entry: &'static str, p: &Lowering, src: &Tensor, dst: &Tensor, [x, y, z]: [usize; 3]) {
        launch(gpu, Shader::Conv2dLowering, entry, p, &[src, dst], [u(x.div_ceil(64), "workgroups"), u(y, "channels"), u(z, "images")]);
    }

    /// col (k_rows x n*oh*ow; element (r, l) at r * rs + l * ls) from x.
    fn im2col(gpu: &GpuContext, s: &Conv2dShape, x: &Tensor, k_rows: usize, rs: usize, ls: usize, col: &Tensor) {
        let npos = s.n * s.out_h() * s.out_w();
        u(k_rows * npos, "col elements");
        let p = Lowering { k_rows: u(k_rows, "col rows"), rs: u(rs, "row stride"), ls: u(ls, "column stride"), ..lowering(s) };
        run(gpu, "conv2d_im2col", &p, x, col, [s.out_h() * s.out_w(), 1, s.n]);
    }

    fn to_channel_major(gpu: &GpuContext, s: &Conv2dShape, channels: usize, src: &Tensor, dst: &Tensor) {
        let p = Lowering { channels: u(channels, "channels"), ..lowering(s) };
        run(gpu, "conv2d_to_channel_major", &p, src, dst, [s.out_h() * s.out_w(), channels, s.n]);
    }

    fn from_channel_major(gpu: &GpuContext, s: &Conv2dShape, channels: usize, src: &Tensor, dst: &Tensor) {
        let p = Lowering { channels: u(channels, "channels"), ..lowering(s) };
        run(gpu, "conv2d_from_channel_major", &p, src, dst, [s.out_h() * s.out_w(), channels, s.n]);
    }

    pub(super) fn forward(dev: &Device, gpu: &GpuContext, s: &Conv2dShape, x: &Tensor, w: &Tensor, y: &Tensor) {
        let (k, k4, npos) = (s.c_in * s.kh * s.kw, col_rows(s), s.n * s.out_h() * s.out_w());
        let col = dev.scratch("conv2d.col", k4 * npos);
        im2col(gpu, s, x, k4, npos, 1, &col);
        let wk = if k4 == k {
            w.clone()
        } else {
            let padded = dev.scratch("conv2d.weight_rows", s.c_out * k4);
            let p = Lowering { k: u(k, "k"), k_rows: u(k4, "k rows"), ..Default::default() };
            run(gpu, "conv2d_pad_rows", &p, w, &padded, [k4, s.c_out, 1]);
            padded
        };
        let yt = dev.scratch("conv2d.channel_major", s.c_out * npos);
        matmul(dev, &GemmShape { m: s.c_out, n: npos, k: k4, trans_a: false, trans_b: false, accumulate: false }, &wk, &col, &yt);
        from_channel_major(gpu, s, s.c_out, &yt, y);
    }

    pub(super) fn backward_data(dev: &Device, gpu: &GpuContext, s: &Conv2dShape, dy: &Tensor, w: &Tensor, dx: &Tensor) {
        let (k, npos) = (s.c_in * s.kh * s.kw, s.n * s.out_h() * s.out_w());
        let dyt = dev.scratch("conv2d.channel_major", s.c_out * npos);
        to_channel_major(gpu, s, s.c_out, dy, &dyt);
        let dcol = dev.scratch("conv2d.col", k * npos);
        matmul(dev, &GemmShape { m: k, n: npos, k: s.c_out, trans_a: true, trans_b: false, accumulate: false }, w, &dyt, &dcol);
        let p = Lowering { rs: u(npos, "row stride"), ls: 1, ..lowering(s) };
        run(gpu, "conv2d_col2im", &p, &dcol, dx, [s.h * s.w, s.c_in, s.n]);
    }

    pub(super) fn backward_weight(dev: &Device, gpu: &GpuContext, s: &Conv2dShape, x: &Tensor, dy: &Tensor, dw: &Tensor) {
        let (k, npos) = (s.c_in * s.kh * s.kw, s.n * s.out_h() * s.out_w());
        let dyt = dev.scratch("conv2d.channel_major", s.c_out * npos);
        to_channel_major(gpu, s, s.c_out, dy, &dyt);
        // col^T [n*oh*ow, k]: the positions are the reduction of dw = dy_t . col^T.
        let col_t = dev.scratch("conv2d.col", npos * k);
        im2col(gpu, s, x, k, 1, k, &col_t);
        matmul(dev, &GemmShape { m: s.c_out, n: k, k: npos, trans_a: false, trans_b: false, accumulate: false }, &dyt, &col_t, dw);
    }
}

mod wgsl {
    //! Dispatch of the implicit-GEMM kernels in shaders/conv2d.wgsl. The same kernels serve both
    //! variants: they use no shared memory, which software adapters need and real GPUs tolerate.

    use super::*;
    use crate::gpu::GpuContext;

    const WG: usize = 8;
    /// Register blocks of the kernels (see the shader header).
    const FWD_CO: usize = 8;
    const FWD_P: usize = 4;
    const BWD_CI: usize = 8;
    const BWD_P: usize = 4;
    const WGT_CO: usize = 8;
    const WGT_CI: usize = 4;
    /// Backward-weight partials: at most this many slices, and at most this many floats in all
    /// (well under the 128 MiB binding limit).
    const MAX_SLICES: usize = 256;
    const MAX_PARTIAL_FLOATS: usize = 16 << 20;

    /// Mirrors `Params` in the shader.
    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    struct Params {
        n: u32,
        c_in: u32,
        h: u32,
        w: u32,
        c_out: u32,
        kh: u32,
        kw: u32,
        stride: u32,
        pad: u32,
        groups: u32,
        oh: u32,
        ow: u32,
        cin_g: u32,
        cout_g: u32,
        blocks: u32,
        slices: u32,
        w_len: u32,
        hq: u32,
        wq: u32,
        _pad0: u32,
    }

    fn params(s: &Conv2dShape) -> Params {
        let u = |v: usize| u32::try_from(v).expect("conv2d: dimension exceeds u32");
        Params {
            n: u(s.n),
            c_in: u(s.c_in),
            h: u(s.h),
            w: u(s.w),
            c_out: u(s.c_out),
            kh: u(s.kh),
            kw: u(s.kw),
            stride: u(s.stride),
            pad: u(s.pad),
            groups: u(s.groups),
            oh: u(s.out_h()),
            ow: u(s.out_w()),
            cin_g: u(s.c_in / s.groups),
            cout_g: u(s.c_out / s.groups),
            blocks: 0,
            slices: 0,
            w_len: u(s.w_len()),
            hq: 0,
            wq: 0,
            _pad0: 0,
        }
    }

    #[track_caller]
    fn check_binding(gpu: &GpuContext, what: &str, t: &Tensor) {
        assert!((t.len() * 4) as u64 <= gpu.max_binding_bytes(), "conv2d: {what} ({} floats) exceeds the adapter's storage binding limit", t.len());
    }

    /// Workgroups for `tiles` position tiles (over x, y) times `z` channel blocks.
    fn tiles_grid(gpu: &GpuContext, tiles: usize, z: usize) -> [u32; 3] {
        let [x, y, _] = grid(gpu, tiles * WG, WG as u32);
        assert!(z <= gpu.max_workgroups_per_dimension() as usize, "conv2d: {z} channel blocks exceed the dispatch limit");
        [x, y, z as u32]
    }

    pub(super) fn forward(gpu: &GpuContext, s: &Conv2dShape, x: &Tensor, w: &Tensor, y: &Tensor) {
        for (what, t) in [("x", x), ("weight", w), ("y", y)] {
            check_binding(gpu, what, t);
        }
        let mut p = params(s);
        let blocks = (s.c_out / s.groups).div_ceil(FWD_CO);
        p.blocks = blocks as u32;
        let tiles = (s.n * s.out_h() * s.out_w()).div_ceil(WG * FWD_P);
        launch(gpu, Shader::Conv2d, "conv2d_forward", &p, &[x, w, y], tiles_grid(gpu, tiles, s.groups * blocks));
    }

    pub(super) fn backward_data(_dev: &Device, gpu: &GpuContext, s: &Conv2dShape, dy: &Tensor, w: &Tensor, dx: &Tensor) {
        for (what, t) in [("dy", dy), ("weight", w), ("dx", dx)] {
            check_binding(gpu, what, t);
        }
        let mut p = params(s);
        let blocks = (s.c_in / s.groups).div_ceil(BWD_CI);
        let (hq, wq) = (s.h.div_ceil(s.stride), s.w.div_ceil(s.stride));
        p.blocks = blocks as u32;
        p.hq = hq as u32;
        p.wq = wq as u32;
        let tiles = (s.n * hq * wq).div_ceil(WG * BWD_P);
        let z = s.stride * s.stride * s.groups * blocks;
        launch(gpu, Shader::Conv2d, "conv2d_backward_data", &p, &[dy, w, dx], tiles_grid(gpu, tiles, z));
    }

    /// Slices of the n * oh * ow positions that backward-weight sums separately: a function of
    /// the shape only, so the order of the final sum never changes.
    pub(super) fn weight_slices(s: &Conv2dShape) -> usize {
        let positions = s.n * s.out_h() * s.out_w();
        MAX_SLICES.min(MAX_PARTIAL_FLOATS / s.w_len().max(1)).min(positions).max(1)
    }

    pub(super) fn backward_weight(dev: &Device, gpu: &GpuContext, s: &Conv2dShape, x: &Tensor, dy: &Tensor, dw: &Tensor) {
        for (what, t) in [("x", x), ("dy", dy), ("dw", dw)] {
            check_binding(gpu, what, t);
        }
        let slices = weight_slices(s);
        let partial = dev.scratch("conv2d.wgsl.dw_partial", slices * s.w_len());
        let mut p = params(s);
        let co_blocks = (s.c_out / s.groups).div_ceil(WGT_CO);
        let ci_blocks = (s.c_in / s.groups).div_ceil(WGT_CI);
        p.blocks = co_blocks as u32;
        p.hq = ci_blocks as u32;
        p.slices = slices as u32;
        let invocations = s.groups * co_blocks * ci_blocks * s.kh * s.kw * slices;
        launch(gpu, Shader::Conv2d, "conv2d_backward_weight_partial", &p, &[x, dy, &partial], grid(gpu, invocations, WG as u32));
        launch(gpu, Shader::Conv2d, "conv2d_backward_weight_reduce", &p, &[&partial, dw], grid(gpu, s.w_len(), WG as u32));
    }
}


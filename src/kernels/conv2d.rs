//! 2-D convolution (any kernel size, stride, zero padding, groups; no bias): forward and both
//! backwards, on the native CPU and in WGSL.
//!
//! CPU: lowered onto `gemm::sgemm_cpu` one image at a time (im2col / col2im through per-chunk
//! scratch columns; 1x1 stride-1 convs multiply the input in place). Images are split over rayon
//! in chunks; forward and backward-data write disjoint images, so their results do not depend on
//! the split. Backward-weight sums partial gradients over a FIXED number of image chunks and
//! adds the partials in chunk order, so it is bit-identical whatever the thread timing.
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

use rayon::prelude::*;

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
        Device::Cpu(_) => cpu::forward(dev, s, x, w, y),
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
        Device::Cpu(_) => cpu::backward_data(dev, s, dy, w, dx),
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
        Device::Cpu(_) => cpu::backward_weight(dev, s, x, dy, dw),
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

mod cpu {
    //! The native path, one image (and group) at a time. Stride-1 convolutions multiply the
    //! weights by shifted rows of the zero-padded image (im2col without the copy: output rows are
    //! computed `wp` wide and the `kw - 1` junk columns dropped); backward-data of a stride-1
    //! conv is the stride-1 forward of dy with the flipped, transposed kernel. Other strides go
    //! through im2col / col2im. Both lower onto `microkernel`.

    use super::microkernel::{gemm_nn, gemm_nt};
    use super::*;

    /// Backward-weight always sums this many image chunks (fewer when the batch is smaller),
    /// whatever the number of threads, so its float sums never change order.
    const WEIGHT_CHUNKS: usize = 8;

    /// A stride-1 convolution of one image (and group) as a product over shifted rows of its
    /// padded input `[cin, hp, wp]`.
    #[derive(Clone, Copy)]
    struct Shifted {
        cin: usize,
        h: usize,
        w: usize,
        kh: usize,
        kw: usize,
        ph: usize,
        pw: usize,
        hp: usize,
        wp: usize,
        oh: usize,
        ow: usize,
    }

    impl Shifted {
        #[allow(clippy::too_many_arguments)]
        fn new(cin: usize, h: usize, w: usize, kh: usize, kw: usize, ph: usize, pw: usize) -> Self {
            let (hp, wp) = (h + 2 * ph, w + 2 * pw);
            Shifted { cin, h, w, kh, kw, ph, pw, hp, wp, oh: hp - kh + 1, ow: wp - kw + 1 }
        }
        /// Length of an output row block: the last row stops at its last real column, so no
        /// shifted row reads past the padded image.
        fn p(&self) -> usize {
            (self.oh - 1) * self.wp + self.ow
        }
        fn pad_len(&self) -> usize {
            if self.ph == 0 && self.pw == 0 {
                0
            } else {
                self.cin * self.hp * self.wp
            }
        }
        /// Whether output rows carry junk columns to drop (any kernel wider than 1).
        fn has_junk(&self) -> bool {
            self.wp != self.ow
        }
        fn offsets(&self) -> Vec<usize> {
            let mut offs = Vec::with_capacity(self.cin * self.kh * self.kw);
            for ci in 0..self.cin {
                for ky in 0..self.kh {
                    for kx in 0..self.kw {
                        offs.push(ci * self.hp * self.wp + ky * self.wp + kx);
                    }
                }
            }
            offs
        }
        /// The padded input: `x` itself without padding, else a copy into `buf` with zero borders.
        fn padded<'a>(&self, x: &'a [f32], buf: &'a mut [f32]) -> &'a [f32] {
            if self.pad_len() == 0 {
                return &x[..self.cin * self.h * self.w];
            }
            let (h, w, hp, wp, ph, pw) = (self.h, self.w, self.hp, self.wp, self.ph, self.pw);
            for (dst, src) in buf.chunks_mut(hp * wp).zip(x.chunks(h * w)).take(self.cin) {
                dst[..ph * wp].fill(0.0);
                dst[(ph + h) * wp..].fill(0.0);
                for (drow, srow) in dst[ph * wp..(ph + h) * wp].chunks_mut(wp).zip(src.chunks(w)) {
                    drow[..pw].fill(0.0);
                    drow[pw..pw + w].copy_from_slice(srow);
                    drow[pw + w..].fill(0.0);
                }
            }
            &buf[..self.pad_len()]
        }
        /// rows x [oh, ow] from rows x p() (drops the junk columns).
        fn compact(&self, src: &[f32], rows: usize, dst: &mut [f32]) {
            let (p, ohw) = (self.p(), self.oh * self.ow);
            for r in 0..rows {
                let (s, d) = (&src[r * p..][..p], &mut dst[r * ohw..][..ohw]);
                for (oh, drow) in d.chunks_mut(self.ow).enumerate() {
                    drow.copy_from_slice(&s[oh * self.wp..][..self.ow]);
                }
            }
        }
        /// rows x p() from rows x [oh, ow], junk columns zero.
        fn expand(&self, src: &[f32], rows: usize, dst: &mut [f32]) {
            let (p, ohw) = (self.p(), self.oh * self.ow);
            for r in 0..rows {
                let (s, d) = (&src[r * ohw..][..ohw], &mut dst[r * p..][..p]);
                d.fill(0.0);
                for (oh, srow) in s.chunks(self.ow).enumerate() {
                    d[oh * self.wp..][..self.ow].copy_from_slice(srow);
                }
            }
        }
    }

    /// Sizes of one image and one group.
    #[derive(Clone, Copy)]
    struct Geometry {
        s: Conv2dShape,
        oh: usize,
        ow: usize,
        cin_g: usize,
        cout_g: usize,
        /// cin_g * kh * kw: the reduction length of the forward.
        k: usize,
    }

    impl Geometry {
        fn new(s: &Conv2dShape) -> Self {
            let cin_g = s.c_in / s.groups;
            Geometry { s: *s, oh: s.out_h(), ow: s.out_w(), cin_g, cout_g: s.c_out / s.groups, k: cin_g * s.kh * s.kw }
        }
        fn hw(&self) -> usize {
            self.s.h * self.s.w
        }
        fn ohw(&self) -> usize {
            self.oh * self.ow
        }
        fn x_img(&self) -> usize {
            self.s.c_in * self.hw()
        }
        fn y_img(&self) -> usize {
            self.s.c_out * self.ohw()
        }
        fn w_g(&self) -> usize {
            self.cout_g * self.k
        }
        /// The forward / backward-weight view of a stride-1 conv.
        fn shifted(&self) -> Option<Shifted> {
            let s = &self.s;
            (s.stride == 1).then(|| Shifted::new(self.cin_g, s.h, s.w, s.kh, s.kw, s.pad, s.pad))
        }
        /// Backward-data of a stride-1 conv as a forward over dy (needs pad < kernel size).
        fn shifted_transposed(&self) -> Option<Shifted> {
            let s = &self.s;
            (s.stride == 1 && s.pad < s.kh && s.pad < s.kw).then(|| Shifted::new(self.cout_g, self.oh, self.ow, s.kh, s.kw, s.kh - 1 - s.pad, s.kw - 1 - s.pad))
        }
        fn col_len(&self) -> usize {
            self.k * self.ohw()
        }
        /// Scratch lengths per image chunk (padded image or columns, junk-column rows) and the
        /// row offsets of the virtual B matrix, shared by forward and backward-weight.
        fn forward_lowering(&self) -> ([usize; 2], Vec<usize>) {
            match self.shifted() {
                Some(sh) => ([sh.pad_len(), if sh.has_junk() { self.cout_g * sh.p() } else { 0 }], sh.offsets()),
                None => ([self.col_len(), 0], (0..self.k).map(|r| r * self.ohw()).collect()),
            }
        }

        /// Output columns `ow` whose input column `ow*stride + kx - pad` lies inside [0, w).
        fn valid_ow(&self, kx: usize) -> (usize, usize) {
            let (s, pad, w) = (self.s.stride, self.s.pad, self.s.w);
            let lo = if pad > kx { (pad - kx).div_ceil(s) } else { 0 };
            let hi = if w + pad > kx { (w + pad - kx).div_ceil(s) } else { 0 };
            let hi = hi.min(self.ow);
            (lo.min(hi), hi)
        }

        /// col `[k, oh*ow]` from the `cin_g` channels of one image and group, `x [cin_g, h, w]`.
        fn im2col(&self, x: &[f32], col: &mut [f32]) {
            let Conv2dShape { h, w, kh, kw, stride, pad, .. } = self.s;
            let (oh_n, ow_n, ohw) = (self.oh, self.ow, self.ohw());
            for ci in 0..self.cin_g {
                let xc = &x[ci * h * w..][..h * w];
                for ky in 0..kh {
                    for kx in 0..kw {
                        let row = &mut col[((ci * kh + ky) * kw + kx) * ohw..][..ohw];
                        let (lo, hi) = self.valid_ow(kx);
                        for oh in 0..oh_n {
                            let dst = &mut row[oh * ow_n..][..ow_n];
                            let ih = (oh * stride + ky) as isize - pad as isize;
                            if ih < 0 || ih >= h as isize {
                                dst.fill(0.0);
                                continue;
                            }
                            let src = &xc[ih as usize * w..][..w];
                            dst[..lo].fill(0.0);
                            dst[hi..].fill(0.0);
                            if hi > lo {
                                let first = lo * stride + kx - pad;
                                for (d, v) in dst[lo..hi].iter_mut().zip(src[first..].iter().step_by(stride)) {
                                    *d = *v;
                                }
                            }
                        }
                    }
                }
            }
        }

        /// dx `[cin_g, h, w]` = col2im(col `[k, oh*ow]`): overwrites dx, adds rows in a fixed order.
        fn col2im(&self, col: &[f32], dx: &mut [f32]) {
            let Conv2dShape { h, w, kh, kw, stride, pad, .. } = self.s;
            let (oh_n, ow_n, ohw) = (self.oh, self.ow, self.ohw());
            dx[..self.cin_g * h * w].fill(0.0);
            for ci in 0..self.cin_g {
                let xc = &mut dx[ci * h * w..][..h * w];
                for ky in 0..kh {
                    for kx in 0..kw {
                        let row = &col[((ci * kh + ky) * kw + kx) * ohw..][..ohw];
                        let (lo, hi) = self.valid_ow(kx);
                        if hi <= lo {
                            continue;
                        }
                        for oh in 0..oh_n {
                            let ih = (oh * stride + ky) as isize - pad as isize;
                            if ih < 0 || ih >= h as isize {
                                continue;
                            }
                            let src = &row[oh * ow_n..][lo..hi];
                            let dst = &mut xc[ih as usize * w..][..w];
                            let first = lo * stride + kx - pad;
                            for (d, v) in dst[first..].iter_mut().step_by(stride).zip(src) {
                                *d += *v;
                            }
                        }
                    }
                }
            }
        }
    }

    /// Chunk c of `n` images split into `chunks` runs covers [start(c), start(c+1)).
    fn chunk_start(n: usize, chunks: usize, c: usize) -> usize {
        c * n / chunks
    }

    /// Chunks for ops whose result does not depend on the split (a few per thread, for balance).
    fn data_parallel_chunks(n: usize) -> usize {
        n.min(4 * rayon::current_num_threads().max(1))
    }

    /// Splits `buf` into consecutive pieces of the given lengths.
    fn carve<const K: usize>(mut buf: &mut [f32], lens: [usize; K]) -> [&mut [f32]; K] {
        lens.map(|len| {
            let (head, tail) = std::mem::take(&mut buf).split_at_mut(len);
            buf = tail;
            head
        })
    }

    /// Runs `f(chunk, first_image, out_chunk, work_chunk)` over `chunks` runs of images in
    /// parallel; `out` holds `per_image` values per image, `work` `work_len` values per chunk.
    fn for_each_chunk(n: usize, chunks: usize, per_image: usize, out: &mut [f32], work_len: usize, work: &mut [f32], f: impl Fn(usize, usize, &mut [f32], &mut [f32]) + Sync) {
        let mut pieces: Vec<(usize, &mut [f32], &mut [f32])> = Vec::with_capacity(chunks);
        let (mut rest, mut work_rest) = (&mut out[..n * per_image], &mut work[..chunks * work_len]);
        for c in 0..chunks {
            let imgs = chunk_start(n, chunks, c + 1) - chunk_start(n, chunks, c);
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(imgs * per_image);
            let (work_head, work_tail) = std::mem::take(&mut work_rest).split_at_mut(work_len);
            pieces.push((c, head, work_head));
            rest = tail;
            work_rest = work_tail;
        }
        if chunks == 1 {
            let (c, o, w) = pieces.pop().unwrap();
            f(c, chunk_start(n, chunks, c), o, w);
        } else {
            pieces.into_par_iter().for_each(|(c, o, w)| f(c, chunk_start(n, chunks, c), o, w));
        }
    }

    pub(super) fn forward(dev: &Device, s: &Conv2dShape, x: &Tensor, w: &Tensor, y: &Tensor) {
        let g = Geometry::new(s);
        let chunks = data_parallel_chunks(s.n);
        let sh = g.shifted();
        let (lens, offs) = g.forward_lowering();
        let work_len = lens.iter().sum::<usize>();
        let work_t = dev.scratch("conv2d.cpu.work", chunks * work_len);
        let (x, w) = (x.cpu(), w.cpu());
        let (x, w) = (x.f32(), w.f32());
        let (mut y, mut work) = (y.cpu_mut(), work_t.cpu_mut());
        let run = |_c: usize, first: usize, y_chunk: &mut [f32], work: &mut [f32]| {
            let [buf_a, buf_b] = carve(work, lens);
            for (i, y_img) in y_chunk.chunks_mut(g.y_img()).enumerate() {
                let x_img = &x[(first + i) * g.x_img()..][..g.x_img()];
                for grp in 0..s.groups {
                    let x_g = &x_img[grp * g.cin_g * g.hw()..][..g.cin_g * g.hw()];
                    let y_g = &mut y_img[grp * g.cout_g * g.ohw()..][..g.cout_g * g.ohw()];
                    let w_g = &w[grp * g.w_g()..][..g.w_g()];
                    match sh {
                        Some(sh) if sh.has_junk() => {
                            let b = sh.padded(x_g, buf_a);
                            gemm_nn(g.cout_g, sh.p(), w_g, g.k, 1, b, &offs, buf_b, sh.p(), false);
                            sh.compact(buf_b, g.cout_g, y_g);
                        }
                        Some(sh) => {
                            let b = sh.padded(x_g, buf_a);
                            gemm_nn(g.cout_g, sh.p(), w_g, g.k, 1, b, &offs, y_g, g.ohw(), false);
                        }
                        None => {
                            g.im2col(x_g, buf_a);
                            gemm_nn(g.cout_g, g.ohw(), w_g, g.k, 1, buf_a, &offs, y_g, g.ohw(), false);
                        }
                    }
                }
            }
        };
        for_each_chunk(s.n, chunks, g.y_img(), y.f32(), work_len, work.f32(), run);
    }

    pub(super) fn backward_data(dev: &Device, s: &Conv2dShape, dy: &Tensor, w: &Tensor, dx: &Tensor) {
        let g = Geometry::new(s);
        let chunks = data_parallel_chunks(s.n);
        let sh = g.shifted_transposed();
        let kk = s.kh * s.kw;
        // Flipped, transposed kernel per group: [cin_g, cout_g, kh, kw].
        let flip_t = dev.scratch("conv2d.cpu.flipped", if sh.is_some() { s.c_out * g.k } else { 0 });
        let lens = match sh {
            Some(sh) => [sh.pad_len(), if sh.has_junk() { g.cin_g * sh.p() } else { 0 }],
            None => [g.col_len(), 0],
        };
        let offs = match sh {
            Some(sh) => sh.offsets(),
            None => (0..g.cout_g).map(|co| co * g.ohw()).collect(),
        };
        let work_len = lens.iter().sum::<usize>();
        let work_t = dev.scratch("conv2d.cpu.work", chunks * work_len);
        let (dy, w) = (dy.cpu(), w.cpu());
        let (dy, w) = (dy.f32(), w.f32());
        let mut flip = flip_t.cpu_mut();
        let flip = flip.f32();
        if sh.is_some() {
            for grp in 0..s.groups {
                let (src, dst) = (&w[grp * g.w_g()..][..g.w_g()], &mut flip[grp * g.w_g()..][..g.w_g()]);
                for co in 0..g.cout_g {
                    for ci in 0..g.cin_g {
                        for t in 0..kk {
                            dst[(ci * g.cout_g + co) * kk + t] = src[(co * g.cin_g + ci) * kk + kk - 1 - t];
                        }
                    }
                }
            }
        }
        let flip: &[f32] = flip;
        let (mut dx, mut work) = (dx.cpu_mut(), work_t.cpu_mut());
        let run = |_c: usize, first: usize, dx_chunk: &mut [f32], work: &mut [f32]| {
            let [buf_a, buf_b] = carve(work, lens);
            for (i, dx_img) in dx_chunk.chunks_mut(g.x_img()).enumerate() {
                let dy_img = &dy[(first + i) * g.y_img()..][..g.y_img()];
                for grp in 0..s.groups {
                    let dy_g = &dy_img[grp * g.cout_g * g.ohw()..][..g.cout_g * g.ohw()];
                    let dx_g = &mut dx_img[grp * g.cin_g * g.hw()..][..g.cin_g * g.hw()];
                    let kt = g.cout_g * kk;
                    match sh {
                        Some(sh) if sh.has_junk() => {
                            let b = sh.padded(dy_g, buf_a);
                            gemm_nn(g.cin_g, sh.p(), &flip[grp * g.w_g()..][..g.w_g()], kt, 1, b, &offs, buf_b, sh.p(), false);
                            sh.compact(buf_b, g.cin_g, dx_g);
                        }
                        Some(sh) => {
                            let b = sh.padded(dy_g, buf_a);
                            gemm_nn(g.cin_g, sh.p(), &flip[grp * g.w_g()..][..g.w_g()], kt, 1, b, &offs, dx_g, g.hw(), false);
                        }
                        None => {
                            // dcol [k, ohw] = w_g^T [k, cout_g] . dy_g [cout_g, ohw], then col2im.
                            gemm_nn(g.k, g.ohw(), &w[grp * g.w_g()..][..g.w_g()], 1, g.k, dy_g, &offs, buf_a, g.ohw(), false);
                            g.col2im(buf_a, dx_g);
                        }
                    }
                }
            }
        };
        for_each_chunk(s.n, chunks, g.x_img(), dx.f32(), work_len, work.f32(), run);
    }

    pub(super) fn backward_weight(dev: &Device, s: &Conv2dShape, x: &Tensor, dy: &Tensor, dw: &Tensor) {
        let g = Geometry::new(s);
        let chunks = s.n.min(WEIGHT_CHUNKS);
        let wl = s.w_len();
        let sh = g.shifted();
        let (lens, offs) = g.forward_lowering();
        let work_len = lens.iter().sum::<usize>();
        let work_t = dev.scratch("conv2d.cpu.work", chunks * work_len);
        let partial_t = dev.scratch("conv2d.cpu.dw_partial", chunks * wl);
        let (x, dy) = (x.cpu(), dy.cpu());
        let (x, dy) = (x.f32(), dy.f32());
        let (mut work, mut partial) = (work_t.cpu_mut(), partial_t.cpu_mut());
        // Partial sums per fixed image chunk: chunk c's dw_g [cout_g, k] += dy_g . col^T.
        let run = |c: usize, first: usize, part: &mut [f32], work: &mut [f32]| {
            let [buf_a, buf_b] = carve(work, lens);
            let end = chunk_start(s.n, chunks, c + 1);
            for img in first..end {
                let x_img = &x[img * g.x_img()..][..g.x_img()];
                let dy_img = &dy[img * g.y_img()..][..g.y_img()];
                let acc = img > first;
                for grp in 0..s.groups {
                    let x_g = &x_img[grp * g.cin_g * g.hw()..][..g.cin_g * g.hw()];
                    let dy_g = &dy_img[grp * g.cout_g * g.ohw()..][..g.cout_g * g.ohw()];
                    let part_g = &mut part[grp * g.w_g()..][..g.w_g()];
                    match sh {
                        Some(sh) => {
                            let b = sh.padded(x_g, buf_a);
                            let a: &[f32] = if sh.has_junk() {
                                sh.expand(dy_g, g.cout_g, buf_b);
                                buf_b
                            } else {
                                dy_g
                            };
                            gemm_nt(g.cout_g, sh.p(), a, sh.p(), b, &offs, part_g, g.k, acc);
                        }
                        None => {
                            g.im2col(x_g, buf_a);
                            gemm_nt(g.cout_g, g.ohw(), dy_g, g.ohw(), buf_a, &offs, part_g, g.k, acc);
                        }
                    }
                }
            }
        };
        // One "image" per chunk in the output split: each chunk owns one partial of wl values.
        for_each_chunk(chunks, chunks, wl, partial.f32(), work_len, work.f32(), |c, _, part, work| run(c, chunk_start(s.n, chunks, c), part, work));
        let partial = &partial.f32()[..chunks * wl];
        let mut dw = dw.cpu_mut();
        let dw = dw.f32();
        dw.copy_from_slice(&partial[..wl]);
        for part in partial.chunks(wl).skip(1) {
            for (d, p) in dw.iter_mut().zip(part) {
                *d += *p;
            }
        }
    }
}

mod microkernel {
    //! The two products the CPU path lowers convolutions onto, over "virtual" matrices whose rows
    //! start at arbitrary offsets of one slice (an im2col matrix, or the shifted rows of a padded
    //! image, which is im2col without the copy), computed by the `gemm` crate after the virtual
    //! rows are gathered into a dense matrix. Each output element is summed in a fixed order.

    use std::cell::RefCell;

    /// C[i, j] (+)= sum_q A[i*a_rs + q*a_cs] * B[b_off[q] + j]  for i < m, j < n, q < b_off.len().
    #[allow(clippy::too_many_arguments)]
    pub fn gemm_nn(m: usize, n: usize, a: &[f32], a_rs: usize, a_cs: usize, b: &[f32], b_off: &[usize], c: &mut [f32], ldc: usize, accumulate: bool) {
        let k = b_off.len();
        if m == 0 || n == 0 {
            return;
        }
        assert!(k == 0 || (m - 1) * a_rs + (k - 1) * a_cs < a.len(), "gemm_nn: A too short");
        assert!(b_off.iter().all(|&o| o + n <= b.len()), "gemm_nn: B row past the end");
        assert!((m - 1) * ldc + n <= c.len() && ldc >= n, "gemm_nn: C too short");
        DENSE_B.with_borrow_mut(|dense| {
            dense.clear();
            for &off in b_off {
                dense.extend_from_slice(&b[off..off + n]);
            }
            product(m, n, k, a, a_rs, a_cs, dense, n, 1, c, ldc, accumulate);
        });
    }

    /// C[i, j] (+)= sum_q A[i*lda + q] * B[b_off[j] + q]  for i < m, j < b_off.len(), q < l.
    #[allow(clippy::too_many_arguments)]
    pub fn gemm_nt(m: usize, l: usize, a: &[f32], lda: usize, b: &[f32], b_off: &[usize], c: &mut [f32], ldc: usize, accumulate: bool) {
        let n = b_off.len();
        if m == 0 || n == 0 {
            return;
        }
        assert!((m - 1) * lda + l <= a.len(), "gemm_nt: A too short");
        assert!(b_off.iter().all(|&o| o + l <= b.len()), "gemm_nt: B row past the end");
        assert!((m - 1) * ldc + n <= c.len() && ldc >= n, "gemm_nt: C too short");
        DENSE_B.with_borrow_mut(|dense| {
            dense.clear();
            for &off in b_off {
                dense.extend_from_slice(&b[off..off + l]);
            }
            // rhs(q, j) = B[b_off[j] + q] = dense[j * l + q]
            product(m, n, l, a, lda, 1, dense, 1, l, c, ldc, accumulate);
        });
    }

    thread_local! {
        /// Gathered B of this thread, reused by every call.
        static DENSE_B: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    }

    /// C (m x n, row stride ldc) = (C if accumulate) + lhs · rhs with element strides.
    #[allow(clippy::too_many_arguments)]
    fn product(m: usize, n: usize, k: usize, lhs: &[f32], lhs_rs: usize, lhs_cs: usize, rhs: &[f32], rhs_rs: usize, rhs_cs: usize, c: &mut [f32], ldc: usize, accumulate: bool) {
        if k == 0 {
            if !accumulate {
                for i in 0..m {
                    c[i * ldc..][..n].fill(0.0);
                }
            }
            return;
        }
        // SAFETY: callers check that every (row, col) of lhs, rhs and C addressed through these
        // strides lies inside the slices; C does not alias the inputs.
        unsafe {
            gemm::gemm(
                m, n, k, c.as_mut_ptr(), 1, ldc as isize, accumulate,
                lhs.as_ptr(), lhs_cs as isize, lhs_rs as isize,
                rhs.as_ptr(), rhs_cs as isize, rhs_rs as isize,
                1.0, 1.0, false, false, false, gemm::Parallelism::None,
            );
        }
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


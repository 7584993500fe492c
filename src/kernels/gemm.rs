//! GEMM and linear layers: C = op(A) op(B), y = x W^T + b, on both devices.
//!
//! Everything dense in the engine ends here: linear layers directly, convolutions lowered onto
//! `matmul` by conv2d.rs. The CPU path is the `gemm` crate on rayon's threads. The WGSL path
//! (shaders/gemm.wgsl) has two families, chosen from the adapter's `KernelVariant`:
//! - `Unrolled` (lavapipe, llvmpipe): each invocation keeps a 16x16 (or 32x8, 64x2) block of C in
//!   scalar registers, SIMD lanes run along one dimension of C and read adjacent elements of the
//!   operand that runs along it. `plan_unrolled` picks the block and whether the lanes run along
//!   the columns of C or its rows (computing C^T = B^T A^T), from a cost model of padding waste and
//!   the transpose into scratch the lane operand may need, so tall-skinny shapes (convolution
//!   backward: 16384x288x32, 288x32x16384, 131072x16x144) are not padded to waste.
//!   Where the device has subgroups of 8 (lavapipe does), `plan_software` may pick instead the
//!   16x8, 32x8 or 64x8 kernels of shaders/gemm_subgroup.wgsl: on llvmpipe every storage load that is not
//!   provably uniform is a loop over the 8 SIMD lanes (worth ~100 multiply-adds), so that kernel
//!   loads vec4s and shares each loaded row of the other operand through subgroupBroadcast; it
//!   runs ~3x faster than 16x16 at 1024^3. Its operands are packed into vec4-aligned scratch
//!   when their layout or sizes need it. The same kernel with both operands copied into
//!   rgba32float textures (shaders/gemm_texture.wgsl: `textureLoad` is one vectorised fetch on
//!   llvmpipe, no lane loop) runs another 1.4-2.2x faster per CPU-second, copies included
//!   (BENCHMARKS.md, session 4), and is what `plan_software` picks where the textures fit.
//!   Where the lane operand is read where it lies and its rows are whole 64-column panels, it is
//!   copied panel by panel into a texture 16 texels wide (one copy per panel, no shader pass), so
//!   each workgroup streams its panel contiguously (`lane_operand_in_panels`; 1.4-1.6x per
//!   CPU-second at 1024^3, BENCHMARKS.md session 5).
//! - `Tiled` (real GPUs): 64x64 shared-memory tiles over strided operands, no transposes.
//!
//! Determinism: no atomics; every output element is summed over k in order by one invocation.

use rayon::prelude::*;

use super::{grid, launch, Device, Shader, Tensor};
use crate::gpu::{Binding, GpuContext, KernelVariant, TexelFormat, TextureBinding};

/// C[m,n] = (C if accumulate) + op(A)·op(B); A is [m,k] ([k,m] if trans_a), B is [k,n] ([n,k] if
/// trans_b); all row-major.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GemmShape {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub trans_a: bool,
    pub trans_b: bool,
    pub accumulate: bool,
}

impl GemmShape {
    /// 2·m·n·k: floating-point operations of one product.
    pub fn flops(&self) -> f64 {
        2.0 * self.m as f64 * self.n as f64 * self.k as f64
    }
}

/// The CPU GEMM on slices, through the `gemm` crate on `threads` rayon threads (1 = this thread).
/// Deterministic: the crate splits work over output blocks, never over k.
pub fn sgemm_cpu(s: &GemmShape, a: &[f32], b: &[f32], c: &mut [f32], threads: usize) {
    let GemmShape { m, n, k, trans_a, trans_b, accumulate } = *s;
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n, "sgemm_cpu: slices too short for {s:?}");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c[..m * n].fill(0.0);
        }
        return;
    }
    let (lhs_rs, lhs_cs) = if trans_a { (1, m as isize) } else { (k as isize, 1) };
    let (rhs_rs, rhs_cs) = if trans_b { (1, k as isize) } else { (n as isize, 1) };
    let parallelism = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    // SAFETY: the strides above address only elements inside `a`, `b` and `c`, whose lengths were
    // checked against m, n and k; `c` is borrowed mutably and does not alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            lhs_cs,
            lhs_rs,
            b.as_ptr(),
            rhs_cs,
            rhs_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// How the WGSL path computes one product (exposed so tests can force each path on any adapter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GemmKernel {
    /// Whatever `plan` picks for the adapter's `KernelVariant` and the shape.
    Auto,
    /// Shared-memory 64x64 tiles (the `Tiled` variant).
    Tiled,
    /// An unrolled register block, in the given orientation.
    Unrolled(Blocking, Orientation),
    /// A block of shaders/gemm_subgroup.wgsl (vec4 loads, rows shared by subgroup broadcast), in
    /// the given orientation; needs `subgroup_gemm_supported`.
    Subgroup(SubgroupRows, Orientation),
    /// The same block with both operands copied into textures first (shaders/gemm_texture.wgsl);
    /// needs `subgroup_gemm_supported` and operands that fit `texture_operands_fit`.
    SubgroupTextures(SubgroupRows, Orientation),
}

/// Rows of C per invocation of the subgroup kernels (x 8 columns): more rows share each loaded
/// row of the lane operand among more multiply-adds, fewer waste less on products with few rows
/// (convolutions with 16 or 32 channels).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubgroupRows {
    R16,
    R32,
    R64,
}

impl SubgroupRows {
    pub const ALL: [SubgroupRows; 3] = [SubgroupRows::R16, SubgroupRows::R32, SubgroupRows::R64];

    fn rows(self) -> usize {
        match self {
            SubgroupRows::R16 => 16,
            SubgroupRows::R32 => 32,
            SubgroupRows::R64 => 64,
        }
    }

    fn entry(self) -> &'static str {
        match self {
            SubgroupRows::R16 => "gemm_subgroup_16x8",
            SubgroupRows::R32 => "gemm_subgroup_32x8",
            SubgroupRows::R64 => "gemm_subgroup_64x8",
        }
    }

    fn texture_entry(self) -> &'static str {
        match self {
            SubgroupRows::R16 => "gemm_texture_16x8",
            SubgroupRows::R32 => "gemm_texture_32x8",
            SubgroupRows::R64 => "gemm_texture_64x8",
        }
    }

    fn texture_panels_entry(self) -> &'static str {
        match self {
            SubgroupRows::R16 => "gemm_texture_panels_16x8",
            SubgroupRows::R32 => "gemm_texture_panels_32x8",
            SubgroupRows::R64 => "gemm_texture_panels_64x8",
        }
    }

    /// Relative cost per multiply-add against `B16x16` (measured on lavapipe at 1024^3: 16x16
    /// 1.7 GFLOP per CPU-second; subgroup 16 rows 3.1, 32 rows 4.6, 64 rows 5.7).
    fn per_fma(self) -> f64 {
        match self {
            SubgroupRows::R16 => 0.55,
            SubgroupRows::R32 => 0.37,
            SubgroupRows::R64 => 0.3,
        }
    }

    /// `per_fma` of the texture kernels (accumulator-inner order), against 0.3 for 64 rows from
    /// storage: GFLOP per CPU-second on lavapipe, copies included, one run of
    /// `gemm_throughput_report` (BENCHMARKS.md session 5, "planner costs"): 16 / 32 / 64 rows
    /// 6.2 / 10.1 / 8.5 at 1024^3 (storage 64 rows 3.8), 5.2 / 6.0 / 4.7 on the conv shape
    /// 16384x32x288 (storage 2.0), 4.0 / 3.5 / 2.4 on dX 16384x288x32 (storage 1.6), best
    /// orientation each. 32 rows are the fastest on every shape but dX.
    fn per_fma_textures(self) -> f64 {
        match self {
            SubgroupRows::R16 => 0.18,
            SubgroupRows::R32 => 0.12,
            SubgroupRows::R64 => 0.14,
        }
    }

    /// `per_fma_textures` with the lane operand in panels (`lane_operand_in_panels`): the
    /// harness's t40 / t41 (32 / 64 rows, B in panels) against t35 / t34 (the same blocks with
    /// production's layout) at 1024^3, one run in the order A B B A, GFLOP per CPU-second: 1.69x /
    /// 1.54x (16 rows: taken as 32 rows' ratio, not measured).
    fn per_fma_texture_panels(self) -> f64 {
        match self {
            SubgroupRows::R16 => 0.107,
            SubgroupRows::R32 => 0.071,
            SubgroupRows::R64 => 0.091,
        }
    }
}

/// Register block of one invocation in the unrolled kernels: `rows` x `lanes` outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blocking {
    B16x16,
    B32x8,
    B64x2,
}

impl Blocking {
    pub const ALL: [Blocking; 3] = [Blocking::B16x16, Blocking::B32x8, Blocking::B64x2];

    fn entry(self) -> &'static str {
        match self {
            Blocking::B16x16 => "gemm_unrolled_16x16",
            Blocking::B32x8 => "gemm_unrolled_32x8",
            Blocking::B64x2 => "gemm_unrolled_64x2",
        }
    }

    /// (rows of C per invocation, lanes per invocation)
    fn dims(self) -> (usize, usize) {
        match self {
            Blocking::B16x16 => (16, 16),
            Blocking::B32x8 => (32, 8),
            Blocking::B64x2 => (64, 2),
        }
    }
}

/// Which dimension of C the SIMD lanes (adjacent invocations) run along in the unrolled kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orientation {
    /// Lanes along the columns of C: B must be [k, n] (transposed into scratch when `trans_b`).
    Columns,
    /// Lanes along the rows of C (computes C^T = B^T A^T): A must be [k, m] (transposed into
    /// scratch unless `trans_a`).
    Rows,
}

/// Invocations per workgroup of the unrolled entries (one SIMD vector of llvmpipe on AVX2);
/// must match `@workgroup_size` of `gemm_unrolled_*` in shaders/gemm.wgsl.
const UNROLLED_WORKGROUP: usize = 8;
/// Columns of C per invocation of the subgroup kernels (shaders/gemm_subgroup.wgsl).
const SUBGROUP_COLUMNS: usize = 8;
/// Relative cost of one element packed into scratch (a gather and a store).
const PACK_PER_ELEMENT: f64 = 20.0;
/// Relative cost of one element copied from a buffer into a texture (measured: ~0.8 ns, under
/// one multiply-add of the 16x16 kernel).
const COPY_PER_ELEMENT: f64 = 1.0;
/// Texels per row of the panel texture of `gemm_texture_panels_*`: the 64 columns (16 vec4s) of P
/// one workgroup reads; must match PANEL_TEXELS in tests/gen_gemm_wgsl.py.
const PANEL_TEXELS: usize = 16;
/// Texels per row of the operand textures (vec4 t of an operand is the texel (t % this, t / this));
/// must match TEXTURE_ROW_LOG2 in tests/gen_gemm_wgsl.py.
const TEXTURE_ROW_TEXELS: usize = 4096;
/// Output tile of `gemm_tiled`, per side.
const TILE: usize = 64;

/// Mirrors `GemmParams` in shaders/gemm.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct GemmParams {
    lanes: u32,
    rows: u32,
    k: u32,
    accumulate: u32,
    p_k: u32,
    p_l: u32,
    q_i: u32,
    q_k: u32,
    c_i: u32,
    c_l: u32,
    lane_blocks: u32,
    blocks: u32,
}

fn u32_of(v: usize, what: &str) -> u32 {
    u32::try_from(v).unwrap_or_else(|_| panic!("gemm: {what} = {v} does not fit the 32-bit indices of the WGSL kernels"))
}

/// C[m,n] = (C if accumulate) + op(A)·op(B); A is [m,k] ([k,m] if trans_a), B is [k,n] ([n,k] if
/// trans_b); all row-major (tensors may be larger views; the first m·k, k·n, m·n elements are used).
pub fn matmul(dev: &Device, s: &GemmShape, a: &Tensor, b: &Tensor, c: &Tensor) {
    matmul_with(dev, GemmKernel::Auto, s, a, b, c);
}

/// `matmul` with the WGSL kernel forced (tests run every kernel on any adapter; benchmarks compare
/// them). On the cpu device `kernel` is ignored.
pub fn matmul_with(dev: &Device, kernel: GemmKernel, s: &GemmShape, a: &Tensor, b: &Tensor, c: &Tensor) {
    assert!(
        a.len() >= s.m * s.k && b.len() >= s.k * s.n && c.len() >= s.m * s.n,
        "matmul {s:?}: tensors too small (a {:?}, b {:?}, c {:?})",
        a.shape(),
        b.shape(),
        c.shape()
    );
    match dev {
        Device::Cpu(_) => {
            let (a, b) = (a.cpu(), b.cpu());
            let mut c = c.cpu_mut();
            sgemm_cpu(s, a.f32(), b.f32(), c.f32(), rayon::current_num_threads());
        }
        Device::Wgpu(gpu) => matmul_wgpu(dev, gpu, kernel, s, a, b, c),
    }
}

/// The unrolled kernel `matmul` uses for a shape on a software adapter: the (blocking,
/// orientation) with the smallest estimated time.
pub fn plan_unrolled(s: &GemmShape) -> (Blocking, Orientation) {
    let mut best = (f64::INFINITY, Blocking::B16x16, Orientation::Columns);
    for orientation in [Orientation::Columns, Orientation::Rows] {
        for blocking in Blocking::ALL {
            let cost = unrolled_cost(s, blocking, orientation);
            if cost < best.0 {
                best = (cost, blocking, orientation);
            }
        }
    }
    (best.1, best.2)
}

/// Whether `GemmKernel::Subgroup` runs on this device: subgroups of exactly one workgroup of the
/// unrolled kernels (8 invocations: one AVX2 vector on llvmpipe).
pub fn subgroup_gemm_supported(dev: &Device) -> bool {
    dev.gpu().is_some_and(subgroup_gemm_supported_on)
}

/// `subgroup_gemm_supported` for a context.
pub fn subgroup_gemm_supported_on(gpu: &GpuContext) -> bool {
    gpu.has_subgroups_of(UNROLLED_WORKGROUP as u32)
}

/// What `GemmKernel::Subgroup` in `orientation` has to pack into scratch before it runs:
/// (pack the lane operand P, pack the row operand Q). The kernel reads whole vec4s: P rows of
/// whole vec4s and k rounded up to 4 rows, Q rows along k in whole vec4s.
fn subgroup_packing(s: &GemmShape, orientation: Orientation) -> (bool, bool) {
    let aligned = |v: usize| v.is_multiple_of(4);
    match orientation {
        // P = B [k, n] (packed when transposed or n is not whole vec4s); Q = A rows along k.
        Orientation::Columns => (s.trans_b || !aligned(s.n) || !aligned(s.k), s.trans_a || !aligned(s.k)),
        // P = A^T [k, m]; Q = B^T rows along k, contiguous only when B is [n, k].
        Orientation::Rows => (!s.trans_a || !aligned(s.m) || !aligned(s.k), !s.trans_b || !aligned(s.k)),
    }
}

/// Texture rows an operand of `floats` (a multiple of 4) takes, `TEXTURE_ROW_TEXELS` vec4s a row.
fn texture_rows(floats: usize) -> usize {
    (floats / 4).div_ceil(TEXTURE_ROW_TEXELS).max(1)
}

/// Whether `GemmKernel::SubgroupTextures` in `orientation` fits textures of at most
/// `max_texture_side` texels a side: rows of `TEXTURE_ROW_TEXELS` texels, the packed lane operand
/// ([k rounded up to 4, lanes rounded up to 4]) and row operand ([rows, k rounded up to 4]) each
/// in one texture.
pub fn texture_operands_fit(s: &GemmShape, orientation: Orientation, max_texture_side: u32) -> bool {
    let (lanes, rows) = match orientation {
        Orientation::Columns => (s.n, s.m),
        Orientation::Rows => (s.m, s.n),
    };
    let (lanes4, k4) = (lanes.div_ceil(4) * 4, s.k.div_ceil(4) * 4);
    let side = max_texture_side as usize;
    TEXTURE_ROW_TEXELS <= side && texture_rows(k4 * lanes4) <= side && texture_rows(rows * k4) <= side
}

/// Whether `GemmKernel::SubgroupTextures` in `orientation` reads its lane operand P in panels
/// (`gemm_texture_panels_*`): P is read where it lies (not packed into scratch), its rows are
/// whole panels of 64 columns (so a row is a multiple of 256 bytes, wgpu's copy alignment, and
/// the kernel needs no clamps), and its panels stacked, k rows each, fit a texture of
/// `max_texture_side` rows.
pub fn lane_operand_in_panels(s: &GemmShape, orientation: Orientation, max_texture_side: u32) -> bool {
    let lanes = match orientation {
        Orientation::Columns => s.n,
        Orientation::Rows => s.m,
    };
    let panel = 4 * PANEL_TEXELS;
    let (pack_p, _) = subgroup_packing(s, orientation);
    !pack_p && s.k > 0 && lanes.is_multiple_of(panel) && (lanes / panel) * s.k <= max_texture_side as usize
}

/// The subgroup kernel for a shape (from storage, or from textures where they fit
/// `max_texture_side`; 0 = never textures) and its estimated cost (in the units of
/// `plan_unrolled`'s model).
fn plan_subgroup(s: &GemmShape, max_texture_side: u32) -> (f64, GemmKernel) {
    let span = UNROLLED_WORKGROUP * SUBGROUP_COLUMNS;
    let k4 = s.k.div_ceil(4) * 4;
    SubgroupRows::ALL
        .into_iter()
        .flat_map(|r| [(r, Orientation::Columns), (r, Orientation::Rows)])
        .flat_map(|(block_rows, orientation)| {
            let bm = block_rows.rows();
            let (lanes, rows) = match orientation {
                Orientation::Columns => (s.n, s.m),
                Orientation::Rows => (s.m, s.n),
            };
            let (pack_p, pack_q) = subgroup_packing(s, orientation);
            let packed = pack_p as usize * k4 * lanes + pack_q as usize * rows * k4;
            let fmas = lanes.div_ceil(span) as f64 * span as f64 * rows.div_ceil(bm) as f64 * bm as f64 * k4 as f64;
            let storage = fmas * block_rows.per_fma() + packed as f64 * PACK_PER_ELEMENT;
            let copied = (k4 * lanes.div_ceil(4) * 4 + rows * k4) as f64;
            let per_fma = if lane_operand_in_panels(s, orientation, max_texture_side) {
                block_rows.per_fma_texture_panels()
            } else {
                block_rows.per_fma_textures()
            };
            let textures = fmas * per_fma + packed as f64 * PACK_PER_ELEMENT + copied * COPY_PER_ELEMENT;
            let mut plans = vec![(storage, GemmKernel::Subgroup(block_rows, orientation))];
            if texture_operands_fit(s, orientation, max_texture_side) {
                plans.push((textures, GemmKernel::SubgroupTextures(block_rows, orientation)));
            }
            plans
        })
        .fold((f64::INFINITY, GemmKernel::Subgroup(SubgroupRows::R64, Orientation::Columns)), |best, x| if x.0 < best.0 { x } else { best })
}

/// Estimated cost of an unrolled (blocking, orientation), the model `plan_unrolled` minimises.
fn unrolled_cost(s: &GemmShape, blocking: Blocking, orientation: Orientation) -> f64 {
    let (lanes, rows, transpose) = match orientation {
        Orientation::Columns => (s.n, s.m, if s.trans_b { s.n * s.k } else { 0 }),
        Orientation::Rows => (s.m, s.n, if s.trans_a { 0 } else { s.m * s.k }),
    };
    let (bm, bn) = blocking.dims();
    let span = UNROLLED_WORKGROUP * bn;
    // Lanes past the end return at once; the others compute their whole block.
    let padded_lanes = (lanes / span) * span + (lanes % span).min(UNROLLED_WORKGROUP) * bn;
    let padded_rows = rows.div_ceil(bm) * bm;
    // Relative cost per multiply-add of each block (measured on lavapipe), and of one
    // transposed element (a gather and a store, about 20 multiply-adds).
    let per_fma = match blocking {
        Blocking::B16x16 => 1.0,
        Blocking::B32x8 => 1.25,
        Blocking::B64x2 => 2.6,
    };
    padded_lanes as f64 * padded_rows as f64 * s.k as f64 * per_fma + transpose as f64 * PACK_PER_ELEMENT
}

/// The kernel `matmul` uses on a software adapter: the cheapest unrolled plan, or the subgroup
/// kernel when the device has it (`subgroups`) and it is estimated cheaper — with its operands in
/// textures where they fit `max_texture_side` (`GpuContext::kernel_texture_side`), which is cheaper
/// for every shape but tiny ones.
pub fn plan_software(s: &GemmShape, subgroups: bool, max_texture_side: u32) -> GemmKernel {
    let (blocking, orientation) = plan_unrolled(s);
    let unrolled = unrolled_cost(s, blocking, orientation);
    match plan_subgroup(s, max_texture_side) {
        (cost, kernel) if subgroups && cost < unrolled => kernel,
        _ => GemmKernel::Unrolled(blocking, orientation),
    }
}

fn matmul_wgpu(dev: &Device, gpu: &GpuContext, kernel: GemmKernel, s: &GemmShape, a: &Tensor, b: &Tensor, c: &Tensor) {
    let GemmShape { m, n, k, trans_a, trans_b, accumulate } = *s;
    if m == 0 || n == 0 {
        return;
    }
    for (v, what) in [(m * k, "m*k"), (k * n, "k*n"), (m * n, "m*n")] {
        u32_of(v, what);
    }
    let kernel = match kernel {
        GemmKernel::Auto => match gpu.variant() {
            KernelVariant::Tiled => GemmKernel::Tiled,
            KernelVariant::Unrolled => plan_software(s, gpu.has_subgroups_of(UNROLLED_WORKGROUP as u32), gpu.kernel_texture_side()),
        },
        other => other,
    };
    let accumulate = accumulate as u32;
    match kernel {
        GemmKernel::Auto => unreachable!("resolved above"),
        GemmKernel::Tiled => {
            let (p_k, p_l) = if trans_b { (1, k) } else { (n, 1) };
            let (q_i, q_k) = if trans_a { (1, m) } else { (k, 1) };
            let lane_blocks = n.div_ceil(TILE);
            let blocks = lane_blocks * m.div_ceil(TILE);
            let params = GemmParams {
                lanes: n as u32,
                rows: m as u32,
                k: k as u32,
                accumulate,
                p_k: p_k as u32,
                p_l: p_l as u32,
                q_i: q_i as u32,
                q_k: q_k as u32,
                c_i: n as u32,
                c_l: 1,
                lane_blocks: u32_of(lane_blocks, "lane blocks"),
                blocks: u32_of(blocks, "blocks"),
            };
            launch(gpu, Shader::Gemm, "gemm_tiled", &params, &[b, a, c], grid(gpu, blocks, 1));
        }
        GemmKernel::Subgroup(block_rows, orientation) | GemmKernel::SubgroupTextures(block_rows, orientation) => {
            let textures = matches!(kernel, GemmKernel::SubgroupTextures(..));
            assert!(
                gpu.has_subgroups_of(UNROLLED_WORKGROUP as u32),
                "gemm: the subgroup kernel needs subgroups of {UNROLLED_WORKGROUP} invocations, which this device lacks"
            );
            assert!(
                !textures || texture_operands_fit(s, orientation, gpu.kernel_texture_side()),
                "gemm {s:?}: the operands do not fit textures of {} texels a side",
                gpu.kernel_texture_side()
            );
            let (pack_p, pack_q) = subgroup_packing(s, orientation);
            // A vec4 array binding needs at least one whole vec4 behind it.
            let too_small = |t: &Tensor| t.gpu().bytes() < 16;
            // P: the lane operand with its element (kk, l) at kk * p_k + l * p_l; Q: the row operand
            // with (i, kk) at i * q_i + kk * q_k.
            let (lanes, rows, p_src, p_k, p_l, q_src, q_i, q_k, c_i, c_l) = match orientation {
                Orientation::Columns => {
                    let (p_k, p_l) = if trans_b { (1, k) } else { (n, 1) };
                    let (q_i, q_k) = if trans_a { (1, m) } else { (k, 1) };
                    (n, m, b, p_k, p_l, a, q_i, q_k, n, 1)
                }
                Orientation::Rows => {
                    let (p_k, p_l) = if trans_a { (m, 1) } else { (1, k) };
                    let (q_i, q_k) = if trans_b { (k, 1) } else { (1, n) };
                    (m, n, a, p_k, p_l, b, q_i, q_k, 1, n)
                }
            };
            let (lanes4, k4) = (lanes.div_ceil(4) * 4, k.div_ceil(4) * 4);
            // Packing and the GEMM that reads the scratch are recorded under one lock (see below).
            let _recording = LANE_OPERAND_SCRATCH.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let p = if pack_p || too_small(p_src) {
                let t = dev.scratch("gemm-lane-operand", (k4 * lanes4).max(4));
                pack_wgpu(gpu, p_src, (k4, k), lanes, p_k, p_l, lanes4, &t);
                t
            } else {
                p_src.clone()
            };
            let q = if pack_q || too_small(q_src) {
                let t = dev.scratch("gemm-row-operand", (rows * k4).max(4));
                pack_wgpu(gpu, q_src, (rows, rows), k, q_i, q_k, k4, &t);
                t
            } else {
                q_src.clone()
            };
            let (bm, bn) = (block_rows.rows(), SUBGROUP_COLUMNS);
            let lane_blocks = lanes.div_ceil(UNROLLED_WORKGROUP * bn);
            let blocks = lane_blocks * rows.div_ceil(bm);
            let params = GemmParams {
                lanes: lanes as u32,
                rows: rows as u32,
                k: u32_of(k4 / 4, "k / 4"),
                accumulate,
                p_k: u32_of(lanes4 / 4, "lanes / 4"),
                p_l: 1,
                q_i: u32_of(k4 / 4, "k / 4"),
                q_k: 1,
                c_i: c_i as u32,
                c_l: c_l as u32,
                lane_blocks: u32_of(lane_blocks, "lane blocks"),
                blocks: u32_of(blocks, "blocks"),
            };
            if textures {
                // Row after row, TEXTURE_ROW_TEXELS vec4s a row: the vec4 indices of the storage
                // kernel address the textures unchanged.
                let upload = |slot: &'static str, t: &Tensor, floats: usize| {
                    let texture = dev.scratch_texture(slot, TEXTURE_ROW_TEXELS as u32, texture_rows(floats) as u32, TexelFormat::Rgba32Float);
                    gpu.copy_to_texture_linear(t.gpu(), (floats / 4) as u64, &texture);
                    texture
                };
                let panels = lane_operand_in_panels(s, orientation, gpu.kernel_texture_side());
                let p_texture = if panels {
                    // Panel after panel, PANEL_TEXELS vec4s (64 columns) of each of the k rows of P:
                    // one copy per panel from P where it lies (P is unpacked, so k4 == k).
                    let (panel_bytes, count) = ((PANEL_TEXELS * 16) as u64, lanes / (4 * PANEL_TEXELS));
                    let texture = dev.scratch_texture("gemm-lane-panels", PANEL_TEXELS as u32, (count * k4) as u32, TexelFormat::Rgba32Float);
                    for panel in 0..count {
                        gpu.copy_to_texture_rows(p.gpu(), panel as u64 * panel_bytes, (lanes * 4) as u32, &texture, (panel * k4) as u32, k4 as u32);
                    }
                    texture
                } else {
                    upload("gemm-lane-texture", &p, k4 * lanes4)
                };
                let q_texture = upload("gemm-row-texture", &q, rows * k4);
                let entry = if panels { block_rows.texture_panels_entry() } else { block_rows.texture_entry() };
                let shader = Shader::GemmTexture;
                gpu.dispatch_with_textures(
                    shader.file_name(),
                    shader.source(),
                    entry,
                    &[],
                    bytemuck::bytes_of(&params),
                    &[c.bind(3)],
                    &[TextureBinding { index: 1, texture: &p_texture }, TextureBinding { index: 2, texture: &q_texture }],
                    grid(gpu, blocks, 1),
                );
            } else {
                launch(gpu, Shader::GemmSubgroup, block_rows.entry(), &params, &[&p, &q, c], grid(gpu, blocks, 1));
            }
        }
        GemmKernel::Unrolled(blocking, orientation) => {
            let (bm, bn) = blocking.dims();
            // P: the operand the lanes run along, as [k, lanes]; Q: the other, Q[i, kk] by strides.
            let (lanes, rows, p_src, p_transposed, q, q_i, q_k, c_i, c_l) = match orientation {
                Orientation::Columns => {
                    let (q_i, q_k) = if trans_a { (1, m) } else { (k, 1) };
                    (n, m, b, trans_b, a, q_i, q_k, n, 1)
                }
                Orientation::Rows => {
                    let (q_i, q_k) = if trans_b { (k, 1) } else { (1, n) };
                    (m, n, a, !trans_a, b, q_i, q_k, 1, n)
                }
            };
            // The transpose and the GEMM that reads it are recorded under one lock: threads sharing
            // the device (tests, a benchmark beside training) then cannot record their own
            // transpose into the shared scratch between ours and its reader.
            let _recording = LANE_OPERAND_SCRATCH.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let p = if p_transposed && k > 0 {
                // p_src is [lanes, k]: transpose it to [k, lanes] so the lanes read adjacent elements.
                let t = dev.scratch("gemm-lane-operand", lanes * k);
                transpose_wgpu(gpu, p_src, lanes, k, &t);
                t
            } else {
                p_src.clone()
            };
            let lane_blocks = lanes.div_ceil(UNROLLED_WORKGROUP * bn);
            let blocks = lane_blocks * rows.div_ceil(bm);
            let params = GemmParams {
                lanes: lanes as u32,
                rows: rows as u32,
                k: k as u32,
                accumulate,
                p_k: lanes as u32,
                p_l: 1,
                q_i: q_i as u32,
                q_k: q_k as u32,
                c_i: c_i as u32,
                c_l: c_l as u32,
                lane_blocks: u32_of(lane_blocks, "lane blocks"),
                blocks: u32_of(blocks, "blocks"),
            };
            launch(gpu, Shader::Gemm, blocking.entry(), &params, &[&p, q, c], grid(gpu, blocks, 1));
        }
    }
}

/// Held while a transposed lane operand is written to scratch and read by its GEMM.
static LANE_OPERAND_SCRATCH: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Records out[cols, rows] = src[rows, cols]^T.
fn transpose_wgpu(gpu: &GpuContext, src: &Tensor, rows: usize, cols: usize, out: &Tensor) {
    let params = GemmParams { lanes: cols as u32, rows: rows as u32, ..Default::default() };
    dispatch_pc(gpu, "gemm_transpose", &params, src, out, grid(gpu, rows * cols, 64));
}

/// Records out[r * out_stride + col] = src[r * rs + col * cs] for r < src_rows and col < cols,
/// zero elsewhere, for r < out_rows and col < out_stride (`rows` = (out_rows, src_rows)): whole
/// vec4 rows, and k rounded up to 4, for the subgroup kernel.
#[allow(clippy::too_many_arguments)]
fn pack_wgpu(gpu: &GpuContext, src: &Tensor, rows: (usize, usize), cols: usize, rs: usize, cs: usize, out_stride: usize, out: &Tensor) {
    let (rows, src_rows) = rows;
    let params = GemmParams {
        lanes: u32_of(cols, "pack columns"),
        rows: u32_of(rows, "pack rows"),
        k: u32_of(src_rows, "pack source rows"),
        p_k: u32_of(rs, "pack row stride"),
        p_l: u32_of(cs, "pack column stride"),
        c_i: u32_of(out_stride, "pack output stride"),
        ..Default::default()
    };
    u32_of(rows * out_stride, "packed elements");
    dispatch_pc(gpu, "gemm_pack", &params, src, out, grid(gpu, rows * out_stride, 64));
}

/// Dispatches an entry that reads `p` (binding 1) and writes `c` (binding 3).
fn dispatch_pc(gpu: &GpuContext, entry: &'static str, params: &GemmParams, p: &Tensor, c: &Tensor, workgroups: [u32; 3]) {
    let shader = Shader::Gemm;
    let bindings = [Binding { index: 1, buffer: p.gpu() }, Binding { index: 3, buffer: c.gpu() }];
    gpu.dispatch(shader.file_name(), shader.source(), entry, &[], bytemuck::bytes_of(params), &bindings, workgroups);
}

/// (batch rows, features) of a `[N, features]` tensor (any shape with `features` trailing elements
/// per row).
fn rows_of(t: &Tensor, features: usize, what: &str) -> usize {
    assert!(features > 0 && t.len().is_multiple_of(features), "{what} {:?} is not [N, {features}]", t.shape());
    t.len() / features
}

/// y[N,out] = x[N,in] · w[out,in]^T (+ bias[out]).
pub fn linear_forward(dev: &Device, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, y: &Tensor) {
    let (out, inp) = (w.shape()[0], w.len() / w.shape()[0]);
    let n = rows_of(x, inp, "linear input");
    assert_eq!(y.len(), n * out, "linear output {:?} is not [{n}, {out}]", y.shape());
    if let Some(bias) = bias {
        assert_eq!(bias.len(), out, "bias {:?} is not [{out}]", bias.shape());
        broadcast_rows(dev, bias, n, y);
    }
    let s = GemmShape { m: n, n: out, k: inp, trans_a: false, trans_b: true, accumulate: bias.is_some() };
    matmul(dev, &s, x, w, y);
}

/// dx[N,in] = dy[N,out]·w[out,in] (when dx is Some), dw[out,in] = dy^T·x, db[out] = column sums
/// of dy (when Some). Overwrites the gradients.
pub fn linear_backward(dev: &Device, x: &Tensor, w: &Tensor, dy: &Tensor, dx: Option<&Tensor>, dw: &Tensor, db: Option<&Tensor>) {
    let (out, inp) = (w.shape()[0], w.len() / w.shape()[0]);
    let n = rows_of(x, inp, "linear input");
    assert_eq!(dy.len(), n * out, "linear dy {:?} is not [{n}, {out}]", dy.shape());
    assert_eq!(dw.len(), out * inp, "linear dw {:?} is not [{out}, {inp}]", dw.shape());
    if let Some(dx) = dx {
        assert_eq!(dx.len(), n * inp, "linear dx {:?} is not [{n}, {inp}]", dx.shape());
        matmul(dev, &GemmShape { m: n, n: inp, k: out, trans_a: false, trans_b: false, accumulate: false }, dy, w, dx);
    }
    matmul(dev, &GemmShape { m: out, n: inp, k: n, trans_a: true, trans_b: false, accumulate: false }, dy, x, dw);
    if let Some(db) = db {
        assert_eq!(db.len(), out, "linear db {:?} is not [{out}]", db.shape());
        column_sums(dev, dy, n, out, db);
    }
}

/// y[rows, v.len()] = v in every row.
fn broadcast_rows(dev: &Device, v: &Tensor, rows: usize, y: &Tensor) {
    let cols = v.len();
    match dev {
        Device::Cpu(_) => {
            let v = v.cpu();
            let v = v.f32();
            let mut y = y.cpu_mut();
            y.f32()[..rows * cols].par_chunks_mut(cols).for_each(|row| row.copy_from_slice(v));
        }
        Device::Wgpu(gpu) => {
            let params = GemmParams { lanes: u32_of(cols, "columns"), rows: u32_of(rows, "rows"), ..Default::default() };
            dispatch_pc(gpu, "gemm_broadcast_rows", &params, v, y, grid(gpu, rows * cols, 64));
        }
    }
}

/// Rows summed per chunk on the CPU; chunk partials are added in chunk order.
const COLUMN_SUM_CHUNK_ROWS: usize = 64;

/// out[cols] = column sums of x[rows, cols], deterministic on both devices.
fn column_sums(dev: &Device, x: &Tensor, rows: usize, cols: usize, out: &Tensor) {
    if cols == 0 {
        return;
    }
    match dev {
        Device::Cpu(_) => {
            let x = x.cpu();
            let x = &x.f32()[..rows * cols];
            let partials: Vec<Vec<f32>> = x
                .par_chunks(COLUMN_SUM_CHUNK_ROWS * cols)
                .map(|chunk| {
                    let mut sum = vec![0f32; cols];
                    for row in chunk.chunks_exact(cols) {
                        sum.iter_mut().zip(row).for_each(|(s, v)| *s += v);
                    }
                    sum
                })
                .collect();
            let mut out = out.cpu_mut();
            let out = &mut out.f32()[..cols];
            out.fill(0.0);
            for partial in &partials {
                out.iter_mut().zip(partial).for_each(|(s, v)| *s += v);
            }
        }
        Device::Wgpu(gpu) => {
            let params = GemmParams { lanes: u32_of(cols, "columns"), rows: u32_of(rows, "rows"), ..Default::default() };
            dispatch_pc(gpu, "gemm_column_sums", &params, x, out, grid(gpu, cols, 64));
        }
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    fn naive(s: &GemmShape, a: &[f32], b: &[f32], c: &mut [f32]) {
        for i in 0..s.m {
            for j in 0..s.n {
                let mut acc = if s.accumulate { c[i * s.n + j] } else { 0.0 };
                for p in 0..s.k {
                    let av = if s.trans_a { a[p * s.m + i] } else { a[i * s.k + p] };
                    let bv = if s.trans_b { b[j * s.k + p] } else { b[p * s.n + j] };
                    acc += av * bv;
                }
                c[i * s.n + j] = acc;
            }
        }
    }

    #[test]
    fn sgemm_cpu_matches_naive_loops_for_every_transpose() {
        for (ta, tb, acc) in [(false, false, false), (true, false, true), (false, true, false), (true, true, true)] {
            let s = GemmShape { m: 7, n: 13, k: 5, trans_a: ta, trans_b: tb, accumulate: acc };
            let a: Vec<f32> = (0..35).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..65).map(|i| (i as f32 * 0.11).cos()).collect();
            let mut want = vec![0.5f32; 91];
            let mut got = want.clone();
            naive(&s, &a, &b, &mut want);
            sgemm_cpu(&s, &a, &b, &mut got, 2);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-5, "{s:?}: {g} vs {w}");
            }
        }
    }
}

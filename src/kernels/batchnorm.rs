//! Batch normalization over x viewed as [N, C, HW] (HW = 1 for [N, C] features), with optional
//! fused ReLU: training forward (batch statistics, running statistics updated as PyTorch does),
//! eval forward, and both backwards.
//!
//! PyTorch semantics (`nn.BatchNorm2d` / `BatchNorm1d`): training normalizes with the batch mean
//! and the biased batch variance, and updates `running = (1 - momentum) * running + momentum *
//! batch` with the unbiased variance (m / (m - 1), m = N * HW values per channel).
//!
//! CPU: one rayon task per channel does the whole channel (mean pass, squared-deviation pass,
//! output pass), so the channel's values are read from memory once and re-read from cache; the
//! statistics are two-pass for stability, each row summed in vector lanes and rows added in f64 in
//! order, so the result does not depend on thread timing (the backward runs on the cpu device's
//! SIMD level, `cpu_simd`). WGSL: one workgroup per channel does the
//! same in one dispatch with a fixed-order tree reduction (see shaders/batchnorm.wgsl); this single
//! implementation serves both kernel variants, since the few barriers sit outside the element loops.

use bytemuck::{Pod, Zeroable};
use rayon::prelude::*;

use super::cpu_simd::{dispatch, Simd, SimdLevel, SimdOp};
use super::elementwise::CPU_CHUNK;
use super::{grid, launch, Device, Shader, Tensor};

/// x viewed as [n, c, hw]; hw = 1 for [N, C] features.
#[derive(Clone, Copy, Debug)]
pub struct BatchNormShape {
    pub n: usize,
    pub c: usize,
    pub hw: usize,
}

impl BatchNormShape {
    /// Elements of x.
    pub fn len(&self) -> usize {
        self.n * self.c * self.hw
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Values per channel (the m of the statistics).
    pub fn per_channel(&self) -> usize {
        self.n * self.hw
    }
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct BnParams {
    n: u32,
    c: u32,
    hw: u32,
    relu: u32,
    momentum: f32,
    eps: f32,
    unbias: f32,
    inv_m: f32,
}

const WG: u32 = 256;

fn params(s: &BatchNormShape, momentum: f32, eps: f32, relu: bool) -> BnParams {
    let m = s.per_channel();
    BnParams {
        n: s.n as u32,
        c: s.c as u32,
        hw: s.hw as u32,
        relu: relu as u32,
        momentum,
        eps,
        unbias: unbias(m),
        inv_m: 1.0 / m.max(1) as f32,
    }
}

/// Bessel's factor m / (m - 1) for the running variance; with a single value per channel (which
/// PyTorch refuses in training) the biased variance, 0, is used as is.
fn unbias(m: usize) -> f32 {
    if m > 1 {
        m as f32 / (m - 1) as f32
    } else {
        1.0
    }
}

fn check(what: &str, s: &BatchNormShape, act: &[&Tensor], per_channel: &[&Tensor]) {
    for t in act {
        assert_eq!(t.len(), s.len(), "{what}: tensor {:?} does not hold {s:?}", t.shape());
    }
    for t in per_channel {
        assert_eq!(t.len(), s.c, "{what}: per-channel tensor {:?} should have {} entries", t.shape(), s.c);
    }
}

/// Sum of `f(v)` over a row in 16 f32 lanes (vectorizes), lanes then tail combined in order.
#[inline]
fn row_sum(row: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0f32; 16];
    let chunks = row.chunks_exact(16);
    let tail = chunks.remainder();
    for ch in chunks {
        for k in 0..16 {
            acc[k] += f(ch[k]);
        }
    }
    let mut s = 0f32;
    for &v in tail {
        s += f(v);
    }
    for a in acc {
        s += a;
    }
    s
}

/// Output rows of a tensor written by several rayon tasks, each owning distinct rows.
struct DisjointRows {
    ptr: *mut f32,
    len: usize,
}

// SAFETY: tasks only touch the disjoint ranges they are handed (see `row`).
unsafe impl Sync for DisjointRows {}
unsafe impl Send for DisjointRows {}

impl DisjointRows {
    fn new(data: &mut [f32]) -> Self {
        DisjointRows { ptr: data.as_mut_ptr(), len: data.len() }
    }

    /// # Safety
    /// No two live slices returned by this may overlap (callers hand each channel's rows to one task).
    #[allow(clippy::mut_from_ref)]
    unsafe fn row(&self, start: usize, len: usize) -> &mut [f32] {
        assert!(start + len <= self.len, "row {start}+{len} outside {}", self.len);
        std::slice::from_raw_parts_mut(self.ptr.add(start), len)
    }
}

/// Per-channel (mean, invstd, biased var) of x [n, c, hw] and y = relu?(x * a + b) written in the same task.
fn forward_train_cpu(s: &BatchNormShape, x: &[f32], gamma: &[f32], beta: &[f32], eps: f32, relu: bool, y: &mut [f32]) -> Vec<(f32, f32, f32)> {
    let BatchNormShape { n, c, hw } = *s;
    let m = (n * hw) as f64;
    let out = DisjointRows::new(y);
    (0..c)
        .into_par_iter()
        .map(|ch| {
            let row = |b: usize| &x[(b * c + ch) * hw..][..hw];
            let mut sum = 0f64;
            for b in 0..n {
                sum += row_sum(row(b), |v| v) as f64;
            }
            let mean = (sum / m) as f32;
            let mut sq = 0f64;
            for b in 0..n {
                sq += row_sum(row(b), |v| (v - mean) * (v - mean)) as f64;
            }
            let var = (sq / m) as f32;
            let invstd = 1.0 / (var + eps).sqrt();
            let a = gamma[ch] * invstd;
            let shift = beta[ch] - mean * a;
            for b in 0..n {
                // SAFETY: row (b, ch) belongs to this channel's task only.
                let yr = unsafe { out.row((b * c + ch) * hw, hw) };
                if relu {
                    for (o, &v) in yr.iter_mut().zip(row(b)) {
                        *o = (v * a + shift).max(0.0);
                    }
                } else {
                    for (o, &v) in yr.iter_mut().zip(row(b)) {
                        *o = v * a + shift;
                    }
                }
            }
            (mean, invstd, var)
        })
        .collect()
}

/// Training-mode batch norm: x, y [N, C, HW]; gamma, beta, running_mean, running_var, save_mean,
/// save_invstd [C]. Normalizes with the batch mean and biased variance, y = relu?(gamma * xhat +
/// beta); updates running_mean/var in place (var unbiased); saves mean and 1/sqrt(var + eps).
#[allow(clippy::too_many_arguments)]
pub fn batchnorm_forward_train(
    dev: &Device,
    s: &BatchNormShape,
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    momentum: f32,
    eps: f32,
    relu: bool,
    y: &Tensor,
    save_mean: &Tensor,
    save_invstd: &Tensor,
) {
    check("batchnorm_forward_train", s, &[x, y], &[gamma, beta, running_mean, running_var, save_mean, save_invstd]);
    if s.is_empty() {
        return;
    }
    match dev {
        Device::Cpu(_) => {
            let stats = {
                let (xg, g, b, mut yg) = (x.cpu(), gamma.cpu(), beta.cpu(), y.cpu_mut());
                forward_train_cpu(s, &xg.f32()[..s.len()], g.f32(), b.f32(), eps, relu, &mut yg.f32()[..s.len()])
            };
            let (mut rm, mut rv, mut sm, mut si) = (running_mean.cpu_mut(), running_var.cpu_mut(), save_mean.cpu_mut(), save_invstd.cpu_mut());
            let (rm, rv, sm, si) = (rm.f32(), rv.f32(), sm.f32(), si.f32());
            let k = unbias(s.per_channel());
            for (ch, &(mean, invstd, var)) in stats.iter().enumerate() {
                sm[ch] = mean;
                si[ch] = invstd;
                rm[ch] = (1.0 - momentum) * rm[ch] + momentum * mean;
                rv[ch] = (1.0 - momentum) * rv[ch] + momentum * var * k;
            }
        }
        Device::Wgpu(gpu) => {
            assert!(s.c as u32 <= gpu.max_workgroups_per_dimension(), "batchnorm: {} channels exceed one dispatch row", s.c);
            launch(
                gpu,
                Shader::BatchNorm,
                "batchnorm_forward_train",
                &params(s, momentum, eps, relu),
                &[x, gamma, beta, running_mean, running_var, y, save_mean, save_invstd],
                [s.c as u32, 1, 1],
            );
        }
    }
}

/// Rows of [N*C, HW] per rayon task in the element-wise eval kernels.
fn rows_per_task(hw: usize) -> usize {
    (CPU_CHUNK / hw.max(1)).max(1)
}

/// Eval-mode batch norm with the running statistics: x, y [N, C, HW]; the rest [C].
/// y = relu?((x - running_mean) * gamma / sqrt(running_var + eps) + beta).
#[allow(clippy::too_many_arguments)]
pub fn batchnorm_forward_eval(dev: &Device, s: &BatchNormShape, x: &Tensor, gamma: &Tensor, beta: &Tensor, running_mean: &Tensor, running_var: &Tensor, eps: f32, relu: bool, y: &Tensor) {
    check("batchnorm_forward_eval", s, &[x, y], &[gamma, beta, running_mean, running_var]);
    if s.is_empty() {
        return;
    }
    match dev {
        Device::Cpu(_) => {
            let (g, b, rm, rv) = (gamma.cpu(), beta.cpu(), running_mean.cpu(), running_var.cpu());
            let (g, b, rm, rv) = (g.f32(), b.f32(), rm.f32(), rv.f32());
            let scale: Vec<f32> = (0..s.c).map(|ch| g[ch] / (rv[ch] + eps).sqrt()).collect();
            let (xg, mut yg) = (x.cpu(), y.cpu_mut());
            let (x, y) = (&xg.f32()[..s.len()], &mut yg.f32()[..s.len()]);
            let per = rows_per_task(s.hw) * s.hw;
            y.par_chunks_mut(per).zip(x.par_chunks(per)).enumerate().for_each(|(t, (y, x))| {
                let row0 = t * per / s.hw;
                for (r, (y, x)) in y.chunks_exact_mut(s.hw).zip(x.chunks_exact(s.hw)).enumerate() {
                    let ch = (row0 + r) % s.c;
                    let (a, mu, be) = (scale[ch], rm[ch], b[ch]);
                    for (o, &v) in y.iter_mut().zip(x) {
                        let t = (v - mu) * a + be;
                        *o = if relu { t.max(0.0) } else { t };
                    }
                }
            });
        }
        Device::Wgpu(gpu) => {
            launch(
                gpu,
                Shader::BatchNorm,
                "batchnorm_forward_eval",
                &params(s, 0.0, eps, relu),
                &[x, gamma, beta, running_mean, running_var, y],
                grid(gpu, s.len(), WG),
            );
        }
    }
}

/// dy masked by the fused ReLU (y is the forward output), as a bit mask: a compare and an and.
#[inline(always)]
fn relu_mask(g: f32, y: f32) -> f32 {
    f32::from_bits(g.to_bits() & ((y > 0.0) as u32).wrapping_neg())
}

/// Per-channel (dgamma, dbeta) and dx for the training backward, one rayon task per channel,
/// each on the cpu device's SIMD level (`ChannelBackward`).
#[allow(clippy::too_many_arguments)]
fn backward_cpu(level: SimdLevel, s: &BatchNormShape, x: &[f32], y: &[f32], dy: &[f32], gamma: &[f32], mean: &[f32], invstd: &[f32], relu: bool, dx: &mut [f32]) -> Vec<(f32, f32)> {
    let out = DisjointRows::new(dx);
    (0..s.c)
        .into_par_iter()
        .map(|ch| dispatch(level, ChannelBackward { s, x, y, dy, dx: &out, ch, mean: mean[ch], invstd: invstd[ch], gamma: gamma[ch], relu }))
        .collect()
}

/// One channel of the training backward: the sums of dy (masked by the fused ReLU where y is not
/// positive) and of dy * (x - mean), each row in vector lanes added in lane order and rows added in
/// f64 in order; then dx. Returns (dgamma, dbeta).
struct ChannelBackward<'a> {
    s: &'a BatchNormShape,
    x: &'a [f32],
    y: &'a [f32],
    dy: &'a [f32],
    dx: &'a DisjointRows,
    ch: usize,
    mean: f32,
    invstd: f32,
    gamma: f32,
    relu: bool,
}

impl SimdOp for ChannelBackward<'_> {
    type Output = (f32, f32);
    #[inline(always)]
    fn run<S: Simd>(self) -> (f32, f32) {
        let BatchNormShape { n, c, hw } = *self.s;
        let lanes = S::LANES;
        let (whole, rest) = (hw / lanes * lanes, hw % lanes);
        let mu = S::splat(self.mean);
        let row = |b: usize| (b * c + self.ch) * hw;
        // dy, masked by the fused ReLU, at (start + j): `rest` lanes where partial.
        let masked = |at: usize, partial: bool| {
            // SAFETY: `at` starts a whole vector (or the `rest` values) inside the row.
            let load = |t: &[f32]| unsafe { if partial { S::load_partial(t.as_ptr().add(at), rest) } else { S::load(t.as_ptr().add(at)) } };
            let g = load(self.dy);
            (if self.relu { S::where_positive(load(self.y), g) } else { g }, load(self.x))
        };
        let (mut sum_g, mut sum_gx) = (0f64, 0f64);
        for b in 0..n {
            let (mut acc_g, mut acc_gx) = (S::zero(), S::zero());
            let start = row(b);
            for j in (0..whole).step_by(lanes) {
                let (g, x) = masked(start + j, false);
                acc_g = S::add(acc_g, g);
                acc_gx = S::mul_add(g, S::sub(x, mu), acc_gx);
            }
            if rest > 0 {
                let (g, x) = masked(start + whole, true);
                acc_g = S::add(acc_g, g);
                acc_gx = S::mul_add(g, S::sub(x, mu), acc_gx);
            }
            sum_g += S::sum_lanes(acc_g) as f64;
            sum_gx += S::sum_lanes(acc_gx) as f64;
        }
        let inv_m = 1.0 / (n * hw) as f32;
        let sum_g = sum_g as f32;
        let dgamma = (sum_gx as f32) * self.invstd;
        let (k1, mean_g, k2) = (self.gamma * self.invstd, sum_g * inv_m, dgamma * self.invstd * inv_m);
        let (k1, mean_g, k2) = (S::splat(k1), S::splat(mean_g), S::splat(k2));
        // dx = k1 * (g - mean_g - (x - mean) * k2)
        let dx_of = |(g, x): (S::V, S::V)| S::mul(k1, S::sub(S::sub(g, mean_g), S::mul(S::sub(x, mu), k2)));
        for b in 0..n {
            let start = row(b);
            // SAFETY: row (b, ch) belongs to this channel's task only.
            let dx = unsafe { self.dx.row(start, hw) }.as_mut_ptr();
            // SAFETY: the stores stay inside the row of hw values.
            unsafe {
                for j in (0..whole).step_by(lanes) {
                    S::store(dx.add(j), dx_of(masked(start + j, false)));
                }
                if rest > 0 {
                    S::store_partial(dx.add(whole), rest, dx_of(masked(start + whole, true)));
                }
            }
        }
        (dgamma, sum_g)
    }
}

/// Backward of the training forward: x, y (forward output; masks dy when relu), dy, dx [N, C, HW];
/// gamma, save_mean, save_invstd, dgamma, dbeta [C]. Overwrites dx, dgamma, dbeta.
#[allow(clippy::too_many_arguments)]
pub fn batchnorm_backward(
    dev: &Device,
    s: &BatchNormShape,
    x: &Tensor,
    y: &Tensor,
    dy: &Tensor,
    gamma: &Tensor,
    save_mean: &Tensor,
    save_invstd: &Tensor,
    relu: bool,
    dx: &Tensor,
    dgamma: &Tensor,
    dbeta: &Tensor,
) {
    check("batchnorm_backward", s, &[x, y, dy, dx], &[gamma, save_mean, save_invstd, dgamma, dbeta]);
    if s.is_empty() {
        return;
    }
    match dev {
        Device::Cpu(_) => {
            let grads = {
                let (xg, yg, dyg, g, sm, si, mut dxg) = (x.cpu(), y.cpu(), dy.cpu(), gamma.cpu(), save_mean.cpu(), save_invstd.cpu(), dx.cpu_mut());
                let n = s.len();
                let level = dev.simd_level().expect("the cpu device");
                backward_cpu(level, s, &xg.f32()[..n], &yg.f32()[..n], &dyg.f32()[..n], g.f32(), sm.f32(), si.f32(), relu, &mut dxg.f32()[..n])
            };
            let (mut dg, mut db) = (dgamma.cpu_mut(), dbeta.cpu_mut());
            let (dg, db) = (dg.f32(), db.f32());
            for (ch, &(g, b)) in grads.iter().enumerate() {
                dg[ch] = g;
                db[ch] = b;
            }
        }
        Device::Wgpu(gpu) => {
            assert!(s.c as u32 <= gpu.max_workgroups_per_dimension(), "batchnorm: {} channels exceed one dispatch row", s.c);
            launch(
                gpu,
                Shader::BatchNorm,
                "batchnorm_backward",
                &params(s, 0.0, 0.0, relu),
                &[x, y, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta],
                [s.c as u32, 1, 1],
            );
        }
    }
}

/// Backward through an eval-mode (frozen) batch norm, dx only: y (forward output; masks dy when
/// relu), dy, dx [N, C, HW]; gamma, running_var [C]. dx = dy * gamma / sqrt(running_var + eps).
#[allow(clippy::too_many_arguments)]
pub fn batchnorm_backward_eval(dev: &Device, s: &BatchNormShape, y: &Tensor, dy: &Tensor, gamma: &Tensor, running_var: &Tensor, eps: f32, relu: bool, dx: &Tensor) {
    check("batchnorm_backward_eval", s, &[y, dy, dx], &[gamma, running_var]);
    if s.is_empty() {
        return;
    }
    match dev {
        Device::Cpu(_) => {
            let (g, rv) = (gamma.cpu(), running_var.cpu());
            let (g, rv) = (g.f32(), rv.f32());
            let scale: Vec<f32> = (0..s.c).map(|ch| g[ch] / (rv[ch] + eps).sqrt()).collect();
            let (yg, dyg, mut dxg) = (y.cpu(), dy.cpu(), dx.cpu_mut());
            let n = s.len();
            let (y, dy, dx) = (&yg.f32()[..n], &dyg.f32()[..n], &mut dxg.f32()[..n]);
            let per = rows_per_task(s.hw) * s.hw;
            dx.par_chunks_mut(per).zip(dy.par_chunks(per).zip(y.par_chunks(per))).enumerate().for_each(|(t, (dx, (dy, y)))| {
                let row0 = t * per / s.hw;
                for (r, ((dx, dy), y)) in dx.chunks_exact_mut(s.hw).zip(dy.chunks_exact(s.hw)).zip(y.chunks_exact(s.hw)).enumerate() {
                    let a = scale[(row0 + r) % s.c];
                    if relu {
                        for ((o, &g), &y) in dx.iter_mut().zip(dy).zip(y) {
                            *o = relu_mask(g, y) * a;
                        }
                    } else {
                        for (o, &g) in dx.iter_mut().zip(dy) {
                            *o = g * a;
                        }
                    }
                }
            });
        }
        Device::Wgpu(gpu) => {
            launch(gpu, Shader::BatchNorm, "batchnorm_backward_eval", &params(s, 0.0, eps, relu), &[y, dy, gamma, running_var, dx], grid(gpu, s.len(), WG));
        }
    }
}

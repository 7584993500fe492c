//! Element-wise ops: ReLU, residual add, option-A shortcut, L2 normalize, per-class scales (LWS),
//! copy and fill.
//!
//! These run on every layer of a training step and are memory-bound, so the CPU twin makes one
//! pass over the data in fixed chunks on rayon's pool (ReLU fused where the caller asks), and the
//! WGSL takes one element per invocation. The few reductions here (row norms, class-scale
//! gradients) sum in a fixed order on both devices, so repeats are bit-identical.

use bytemuck::{Pod, Zeroable};
use rayon::prelude::*;

use super::{grid, launch, Device, Shader, Tensor};

/// Elements per rayon task in the flat CPU ops: large enough that scheduling costs nothing next
/// to the memory traffic, small enough to spread [128,16,32,32] activations over many cores.
pub(crate) const CPU_CHUNK: usize = 1 << 15;

/// Below this many elements a flat CPU op runs on the calling thread.
pub(crate) const CPU_SERIAL_BELOW: usize = 1 << 15;

const WG: u32 = 256;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct FlatParams {
    len: u32,
    alpha: f32,
    _pad: [u32; 2],
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ShortcutParams {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
    c2: u32,
    h2: u32,
    w2: u32,
    stride: u32,
    pad: u32,
    len: u32,
    _pad: [u32; 2],
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct RowParams {
    rows: u32,
    cols: u32,
    eps: f32,
    _pad: u32,
}

/// `out[i] = f(a[i])` over fixed chunks in parallel.
pub(crate) fn cpu_map1(a: &[f32], out: &mut [f32], f: impl Fn(f32) -> f32 + Sync) {
    assert_eq!(a.len(), out.len(), "element-wise op: input has {} elements, output {}", a.len(), out.len());
    let run = |(a, o): (&[f32], &mut [f32])| {
        for (o, &a) in o.iter_mut().zip(a) {
            *o = f(a);
        }
    };
    if a.len() < CPU_SERIAL_BELOW {
        run((a, out));
    } else {
        a.par_chunks(CPU_CHUNK).zip(out.par_chunks_mut(CPU_CHUNK)).for_each(run);
    }
}

/// `out[i] = f(a[i], b[i])` over fixed chunks in parallel.
pub(crate) fn cpu_map2(a: &[f32], b: &[f32], out: &mut [f32], f: impl Fn(f32, f32) -> f32 + Sync) {
    assert!(a.len() == out.len() && b.len() == out.len(), "element-wise op: inputs of {} and {} elements, output {}", a.len(), b.len(), out.len());
    let run = |((a, b), o): ((&[f32], &[f32]), &mut [f32])| {
        for ((o, &a), &b) in o.iter_mut().zip(a).zip(b) {
            *o = f(a, b);
        }
    };
    if a.len() < CPU_SERIAL_BELOW {
        run(((a, b), out));
    } else {
        a.par_chunks(CPU_CHUNK).zip(b.par_chunks(CPU_CHUNK)).zip(out.par_chunks_mut(CPU_CHUNK)).for_each(run);
    }
}

/// `acc[i] = f(acc[i], a[i])` in place over fixed chunks in parallel.
fn cpu_update(acc: &mut [f32], a: &[f32], f: impl Fn(f32, f32) -> f32 + Sync) {
    assert_eq!(a.len(), acc.len(), "element-wise op: input has {} elements, accumulator {}", a.len(), acc.len());
    let run = |(o, a): (&mut [f32], &[f32])| {
        for (o, &a) in o.iter_mut().zip(a) {
            *o = f(*o, a);
        }
    };
    if a.len() < CPU_SERIAL_BELOW {
        run((acc, a));
    } else {
        acc.par_chunks_mut(CPU_CHUNK).zip(a.par_chunks(CPU_CHUNK)).for_each(run);
    }
}

fn flat_launch(dev: &Device, entry: &'static str, len: usize, alpha: f32, tensors: &[&Tensor]) {
    let gpu = dev.gpu().expect("flat_launch on a cpu device");
    let params = FlatParams { len: len as u32, alpha, _pad: [0; 2] };
    launch(gpu, Shader::Elementwise, entry, &params, tensors, grid(gpu, len, WG));
}

fn check_same_len(what: &str, a: &Tensor, b: &Tensor) {
    assert_eq!(a.len(), b.len(), "{what}: tensors of {:?} and {:?} differ in size", a.shape(), b.shape());
}

/// y = max(x, 0). x and y have the same number of elements (any shape).
pub fn relu_forward(dev: &Device, x: &Tensor, y: &Tensor) {
    check_same_len("relu_forward", x, y);
    match dev {
        Device::Cpu(_) => cpu_map1(&x.cpu().f32()[..x.len()], &mut y.cpu_mut().f32()[..y.len()], |v| v.max(0.0)),
        Device::Wgpu(_) => flat_launch(dev, "relu_forward", x.len(), 0.0, &[x, y]),
    }
}

/// dx = dy * (y > 0), with y the forward output. All three the same size.
pub fn relu_backward(dev: &Device, y: &Tensor, dy: &Tensor, dx: &Tensor) {
    check_same_len("relu_backward", y, dy);
    check_same_len("relu_backward", y, dx);
    match dev {
        Device::Cpu(_) => cpu_map2(&y.cpu().f32()[..y.len()], &dy.cpu().f32()[..dy.len()], &mut dx.cpu_mut().f32()[..dx.len()], |y, g| if y > 0.0 { g } else { 0.0 }),
        Device::Wgpu(_) => flat_launch(dev, "relu_backward", y.len(), 0.0, &[y, dy, dx]),
    }
}

/// out = a + b, all the same size.
pub fn add(dev: &Device, a: &Tensor, b: &Tensor, out: &Tensor) {
    check_same_len("add", a, b);
    check_same_len("add", a, out);
    match dev {
        Device::Cpu(_) => cpu_map2(&a.cpu().f32()[..a.len()], &b.cpu().f32()[..b.len()], &mut out.cpu_mut().f32()[..out.len()], |a, b| a + b),
        Device::Wgpu(_) => flat_launch(dev, "add", a.len(), 0.0, &[a, b, out]),
    }
}

/// out = relu(a + b): the residual join of a basic block, all the same size.
pub fn add_relu(dev: &Device, a: &Tensor, b: &Tensor, out: &Tensor) {
    check_same_len("add_relu", a, b);
    check_same_len("add_relu", a, out);
    match dev {
        Device::Cpu(_) => cpu_map2(&a.cpu().f32()[..a.len()], &b.cpu().f32()[..b.len()], &mut out.cpu_mut().f32()[..out.len()], |a, b| (a + b).max(0.0)),
        Device::Wgpu(_) => flat_launch(dev, "add_relu", a.len(), 0.0, &[a, b, out]),
    }
}

/// acc += x, in place on acc (gradient accumulation where two branches meet). Same size.
pub fn add_assign(dev: &Device, acc: &Tensor, x: &Tensor) {
    check_same_len("add_assign", acc, x);
    match dev {
        Device::Cpu(_) => cpu_update(&mut acc.cpu_mut().f32()[..acc.len()], &x.cpu().f32()[..x.len()], |acc, x| acc + x),
        Device::Wgpu(_) => flat_launch(dev, "add_assign", x.len(), 0.0, &[x, acc]),
    }
}

/// y = alpha * x, same size. `alpha` is a per-call constant (it keys a cached uniform on wgpu).
pub fn scale(dev: &Device, x: &Tensor, alpha: f32, y: &Tensor) {
    check_same_len("scale", x, y);
    match dev {
        Device::Cpu(_) => cpu_map1(&x.cpu().f32()[..x.len()], &mut y.cpu_mut().f32()[..y.len()], |v| alpha * v),
        Device::Wgpu(_) => flat_launch(dev, "scale", x.len(), alpha, &[x, y]),
    }
}

/// dst = src, bit for bit (f32 or u32 tensors of the same size).
pub fn copy(dev: &Device, src: &Tensor, dst: &Tensor) {
    check_same_len("copy", src, dst);
    match dev {
        Device::Cpu(_) => {
            let (s, mut d) = (src.cpu(), dst.cpu_mut());
            let (s, d) = (&s.f32()[..src.len()], &mut d.f32()[..dst.len()]);
            if s.len() < CPU_SERIAL_BELOW {
                d.copy_from_slice(s);
            } else {
                d.par_chunks_mut(CPU_CHUNK).zip(s.par_chunks(CPU_CHUNK)).for_each(|(d, s)| d.copy_from_slice(s));
            }
        }
        Device::Wgpu(gpu) => gpu.copy(src.gpu(), 0, dst.gpu(), 0, src.len() as u64 * 4),
    }
}

/// Every element of the f32 tensor `t` set to `value`.
pub fn fill(dev: &Device, t: &Tensor, value: f32) {
    match dev {
        Device::Cpu(_) => {
            let mut g = t.cpu_mut();
            let d = &mut g.f32()[..t.len()];
            if d.len() < CPU_SERIAL_BELOW {
                d.fill(value);
            } else {
                d.par_chunks_mut(CPU_CHUNK).for_each(|d| d.fill(value));
            }
        }
        Device::Wgpu(_) => flat_launch(dev, "fill", t.len(), value, &[t]),
    }
}

/// Geometry of an option-A shortcut: x [n, c, h, w] -> y [n, c2, h2, w2].
#[derive(Clone, Copy, Debug)]
struct ShortcutGeometry {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    c2: usize,
    h2: usize,
    w2: usize,
    stride: usize,
    pad: usize,
}

fn shortcut_geometry(x_shape: &[usize], y_shape: &[usize], stride: usize) -> ShortcutGeometry {
    assert!(x_shape.len() == 4 && y_shape.len() == 4, "shortcut_a: x {x_shape:?} and y {y_shape:?} must be [N,C,H,W]");
    assert!(stride >= 1, "shortcut_a: stride must be at least 1");
    let [n, c, h, w] = [x_shape[0], x_shape[1], x_shape[2], x_shape[3]];
    let [n2, c2, h2, w2] = [y_shape[0], y_shape[1], y_shape[2], y_shape[3]];
    assert!(
        n2 == n && c2 >= c && (c2 - c) % 2 == 0 && h2 == h.div_ceil(stride) && w2 == w.div_ceil(stride),
        "shortcut_a: x {x_shape:?} with stride {stride} cannot give y {y_shape:?} (want [N, C + 2*pad, ceil(H/stride), ceil(W/stride)])"
    );
    ShortcutGeometry { n, c, h, w, c2, h2, w2, stride, pad: (c2 - c) / 2 }
}

fn shortcut_params(g: &ShortcutGeometry, len: usize) -> ShortcutParams {
    ShortcutParams {
        n: g.n as u32,
        c: g.c as u32,
        h: g.h as u32,
        w: g.w as u32,
        c2: g.c2 as u32,
        h2: g.h2 as u32,
        w2: g.w2 as u32,
        stride: g.stride as u32,
        pad: g.pad as u32,
        len: len as u32,
        _pad: [0; 2],
    }
}

/// Option-A (parameter-free) shortcut of the CIFAR ResNets: x [N,C,H,W] -> y [N,C2,ceil(H/s),ceil(W/s)],
/// y[n, pad + c, i, j] = x[n, c, s*i, s*j] and zero in the 2*pad added channels, pad = (C2-C)/2.
/// With C2 == C and stride 1 it is a copy.
pub fn shortcut_a_forward(dev: &Device, x: &Tensor, y: &Tensor, stride: usize) {
    let g = shortcut_geometry(x.shape(), y.shape(), stride);
    match dev {
        Device::Cpu(_) => {
            let (x, mut y) = (x.cpu(), y.cpu_mut());
            let (x, y) = (x.f32(), &mut y.f32()[..g.n * g.c2 * g.h2 * g.w2]);
            let plane_out = g.h2 * g.w2;
            let run = |(p, out): (usize, &mut [f32])| {
                let (n, k) = (p / g.c2, p % g.c2);
                if k < g.pad || k >= g.pad + g.c {
                    out.fill(0.0);
                    return;
                }
                let src = &x[(n * g.c + k - g.pad) * g.h * g.w..][..g.h * g.w];
                if g.stride == 1 {
                    out.copy_from_slice(src);
                    return;
                }
                for (i, row) in out.chunks_exact_mut(g.w2).enumerate() {
                    let src_row = &src[i * g.stride * g.w..][..g.w];
                    for (j, o) in row.iter_mut().enumerate() {
                        *o = src_row[j * g.stride];
                    }
                }
            };
            if y.len() < CPU_SERIAL_BELOW {
                y.chunks_mut(plane_out.max(1)).enumerate().for_each(run);
            } else {
                y.par_chunks_mut(plane_out.max(1)).enumerate().for_each(run);
            }
        }
        Device::Wgpu(gpu) => {
            let len = y.len();
            launch(gpu, Shader::Elementwise, "shortcut_a_forward", &shortcut_params(&g, len), &[x, y], grid(gpu, len, WG));
        }
    }
}

/// Backward of `shortcut_a_forward`: dy [N,C2,ceil(H/s),ceil(W/s)] -> dx [N,C,H,W] (overwritten;
/// zero at positions the stride skipped).
pub fn shortcut_a_backward(dev: &Device, dy: &Tensor, dx: &Tensor, stride: usize) {
    let g = shortcut_geometry(dx.shape(), dy.shape(), stride);
    match dev {
        Device::Cpu(_) => {
            let (dy, mut dx) = (dy.cpu(), dx.cpu_mut());
            let (dy, dx) = (dy.f32(), &mut dx.f32()[..g.n * g.c * g.h * g.w]);
            let run = |(p, out): (usize, &mut [f32])| {
                let (n, c) = (p / g.c, p % g.c);
                let src = &dy[(n * g.c2 + c + g.pad) * g.h2 * g.w2..][..g.h2 * g.w2];
                if g.stride == 1 {
                    out.copy_from_slice(src);
                    return;
                }
                out.fill(0.0);
                for (i, src_row) in src.chunks_exact(g.w2).enumerate() {
                    let row = &mut out[i * g.stride * g.w..][..g.w];
                    for (j, &v) in src_row.iter().enumerate() {
                        row[j * g.stride] = v;
                    }
                }
            };
            let plane = (g.h * g.w).max(1);
            if dx.len() < CPU_SERIAL_BELOW {
                dx.chunks_mut(plane).enumerate().for_each(run);
            } else {
                dx.par_chunks_mut(plane).enumerate().for_each(run);
            }
        }
        Device::Wgpu(gpu) => {
            let len = dx.len();
            launch(gpu, Shader::Elementwise, "shortcut_a_backward", &shortcut_params(&g, len), &[dy, dx], grid(gpu, len, WG));
        }
    }
}

fn rows_cols(what: &str, t: &Tensor) -> (usize, usize) {
    let s = t.shape();
    assert!(s.len() == 2, "{what}: expected a [N, D] tensor, got {s:?}");
    (s[0], s[1])
}

/// Rows per rayon task for row-wise ops on [rows, cols]: about CPU_CHUNK elements per task.
fn rows_per_task(cols: usize) -> usize {
    (CPU_CHUNK / cols.max(1)).max(1)
}

/// Row-wise L2 normalize, x [N, D] -> y [N, D]: y = x / max(||x||, eps) (PyTorch F.normalize, p=2, dim=1).
pub fn l2_normalize_forward(dev: &Device, x: &Tensor, eps: f32, y: &Tensor) {
    let (rows, cols) = rows_cols("l2_normalize_forward", x);
    check_same_len("l2_normalize_forward", x, y);
    match dev {
        Device::Cpu(_) => {
            let (x, mut y) = (x.cpu(), y.cpu_mut());
            let (x, y) = (&x.f32()[..rows * cols], &mut y.f32()[..rows * cols]);
            if cols == 0 {
                return;
            }
            let per = rows_per_task(cols) * cols;
            x.par_chunks(per).zip(y.par_chunks_mut(per)).for_each(|(x, y)| {
                for (x, y) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
                    let norm = x.iter().fold(0f32, |s, v| s + v * v).sqrt();
                    let inv = 1.0 / norm.max(eps);
                    for (y, &x) in y.iter_mut().zip(x) {
                        *y = x * inv;
                    }
                }
            });
        }
        Device::Wgpu(gpu) => {
            let p = RowParams { rows: rows as u32, cols: cols as u32, eps, _pad: 0 };
            launch(gpu, Shader::Elementwise, "l2_normalize_forward", &p, &[x, y], grid(gpu, rows, 64));
        }
    }
}

/// Backward of `l2_normalize_forward`: x, y (the forward output), dy [N, D] -> dx [N, D]:
/// dx = (dy - y (y·dy)) / ||x|| for rows with ||x|| >= eps, dy / eps for rows below it (where the
/// clamp holds the divisor constant).
pub fn l2_normalize_backward(dev: &Device, x: &Tensor, y: &Tensor, dy: &Tensor, eps: f32, dx: &Tensor) {
    let (rows, cols) = rows_cols("l2_normalize_backward", x);
    for t in [y, dy, dx] {
        check_same_len("l2_normalize_backward", x, t);
    }
    match dev {
        Device::Cpu(_) => {
            let (x, y, dy, mut dx) = (x.cpu(), y.cpu(), dy.cpu(), dx.cpu_mut());
            let n = rows * cols;
            let (x, y, dy, dx) = (&x.f32()[..n], &y.f32()[..n], &dy.f32()[..n], &mut dx.f32()[..n]);
            if cols == 0 {
                return;
            }
            let per = rows_per_task(cols) * cols;
            dx.par_chunks_mut(per).enumerate().for_each(|(t, dx)| {
                let base = t * per;
                for (r, dx) in dx.chunks_exact_mut(cols).enumerate() {
                    let o = base + r * cols;
                    let (x, y, dy) = (&x[o..o + cols], &y[o..o + cols], &dy[o..o + cols]);
                    let mut s = 0f32;
                    let mut ydy = 0f32;
                    for j in 0..cols {
                        s += x[j] * x[j];
                        ydy += y[j] * dy[j];
                    }
                    let norm = s.sqrt();
                    if norm >= eps {
                        let inv = 1.0 / norm;
                        for j in 0..cols {
                            dx[j] = (dy[j] - y[j] * ydy) * inv;
                        }
                    } else {
                        let inv = 1.0 / eps;
                        for j in 0..cols {
                            dx[j] = dy[j] * inv;
                        }
                    }
                }
            });
        }
        Device::Wgpu(gpu) => {
            let p = RowParams { rows: rows as u32, cols: cols as u32, eps, _pad: 0 };
            launch(gpu, Shader::Elementwise, "l2_normalize_backward", &p, &[x, y, dy, dx], grid(gpu, rows, 64));
        }
    }
}

/// Learnable weight scaling (LWS): logits [N, C], scales [C] -> y [N, C], y[n,c] = logits[n,c] * scales[c].
pub fn class_scale_forward(dev: &Device, logits: &Tensor, scales: &Tensor, y: &Tensor) {
    let (rows, cols) = rows_cols("class_scale_forward", logits);
    assert_eq!(scales.len(), cols, "class_scale_forward: scales has {} entries for {cols} classes", scales.len());
    check_same_len("class_scale_forward", logits, y);
    match dev {
        Device::Cpu(_) => class_scale_cpu(logits.cpu().f32(), scales.cpu().f32(), &mut y.cpu_mut().f32()[..rows * cols], rows, cols),
        Device::Wgpu(gpu) => {
            let p = RowParams { rows: rows as u32, cols: cols as u32, eps: 0.0, _pad: 0 };
            launch(gpu, Shader::Elementwise, "class_scale_forward", &p, &[logits, scales, y], grid(gpu, rows * cols, WG));
        }
    }
}

fn class_scale_cpu(a: &[f32], scales: &[f32], out: &mut [f32], rows: usize, cols: usize) {
    if cols == 0 {
        return;
    }
    let per = rows_per_task(cols) * cols;
    let a = &a[..rows * cols];
    out.par_chunks_mut(per).zip(a.par_chunks(per)).for_each(|(o, a)| {
        for (o, a) in o.chunks_exact_mut(cols).zip(a.chunks_exact(cols)) {
            for ((o, &a), &s) in o.iter_mut().zip(a).zip(scales) {
                *o = a * s;
            }
        }
    });
}

/// Backward of `class_scale_forward`: dscales [C] = sum over n of dy[n,c] * logits[n,c] (summed in
/// row order on both devices); dlogits [N, C] = dy * scales when Some.
pub fn class_scale_backward(dev: &Device, logits: &Tensor, scales: &Tensor, dy: &Tensor, dlogits: Option<&Tensor>, dscales: &Tensor) {
    let (rows, cols) = rows_cols("class_scale_backward", logits);
    assert_eq!(scales.len(), cols, "class_scale_backward: scales has {} entries for {cols} classes", scales.len());
    assert_eq!(dscales.len(), cols, "class_scale_backward: dscales has {} entries for {cols} classes", dscales.len());
    check_same_len("class_scale_backward", logits, dy);
    if let Some(dl) = dlogits {
        check_same_len("class_scale_backward", logits, dl);
    }
    match dev {
        Device::Cpu(_) => {
            let (l, dyg) = (logits.cpu(), dy.cpu());
            let (l, dyv) = (&l.f32()[..rows * cols], &dyg.f32()[..rows * cols]);
            {
                let mut ds = dscales.cpu_mut();
                let ds = &mut ds.f32()[..cols];
                // Fixed column blocks in parallel; each column sums its rows in order.
                const COLS_PER_TASK: usize = 256;
                ds.par_chunks_mut(COLS_PER_TASK).enumerate().for_each(|(b, ds)| {
                    let c0 = b * COLS_PER_TASK;
                    ds.fill(0.0);
                    for r in 0..rows {
                        let o = r * cols + c0;
                        for (j, d) in ds.iter_mut().enumerate() {
                            *d += dyv[o + j] * l[o + j];
                        }
                    }
                });
            }
            if let Some(dl) = dlogits {
                class_scale_cpu(dyv, scales.cpu().f32(), &mut dl.cpu_mut().f32()[..rows * cols], rows, cols);
            }
        }
        Device::Wgpu(gpu) => {
            let p = RowParams { rows: rows as u32, cols: cols as u32, eps: 0.0, _pad: 0 };
            launch(gpu, Shader::Elementwise, "class_scale_backward_scales", &p, &[logits, dy, dscales], grid(gpu, cols, 64));
            if let Some(dl) = dlogits {
                launch(gpu, Shader::Elementwise, "class_scale_forward", &p, &[dy, scales, dl], grid(gpu, rows * cols, WG));
            }
        }
    }
}

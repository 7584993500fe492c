//! Pooling: global average pool (the head of every ResNet) and max pool with argmax indices (the
//! ImageNet-style stem), forward and backward, PyTorch semantics (`adaptive_avg_pool2d(x, 1)`,
//! `max_pool2d(x, k, stride, pad, return_indices=True)` with floor output size).
//!
//! CPU: rayon over fixed groups of (n, c) planes. Backwards are deterministic on both devices:
//! the CPU scatters each plane's outputs in row-major order, the WGSL gathers per input element in
//! that same order.

use bytemuck::{Pod, Zeroable};
use rayon::prelude::*;

use super::elementwise::CPU_CHUNK;
use super::{grid, launch, Device, Shader, Tensor};

const WG: u32 = 256;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable, Default)]
struct PoolParams {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
    k: u32,
    stride: u32,
    pad: u32,
    oh: u32,
    ow: u32,
    len: u32,
    _pad: [u32; 2],
}

/// Planes per rayon task for planes of `plane` elements: about CPU_CHUNK elements per task.
fn planes_per_task(plane: usize) -> usize {
    (CPU_CHUNK / plane.max(1)).max(1)
}

fn nchw(what: &str, t: &Tensor) -> [usize; 4] {
    let s = t.shape();
    assert!(s.len() == 4, "{what}: expected [N,C,H,W], got {s:?}");
    [s[0], s[1], s[2], s[3]]
}

/// Global average pool: x [N,C,H,W] -> y [N,C], the mean of each plane.
pub fn global_avg_pool_forward(dev: &Device, x: &Tensor, y: &Tensor) {
    let [n, c, h, w] = nchw("global_avg_pool_forward", x);
    assert_eq!(y.len(), n * c, "global_avg_pool_forward: y {:?} should hold [{n}, {c}]", y.shape());
    let hw = h * w;
    if n * c == 0 || hw == 0 {
        return;
    }
    match dev {
        Device::Cpu(_) => {
            let (xg, mut yg) = (x.cpu(), y.cpu_mut());
            let (x, y) = (&xg.f32()[..n * c * hw], &mut yg.f32()[..n * c]);
            let per = planes_per_task(hw);
            let inv = 1.0 / hw as f32;
            y.par_chunks_mut(per).zip(x.par_chunks(per * hw)).for_each(|(y, x)| {
                for (o, plane) in y.iter_mut().zip(x.chunks_exact(hw)) {
                    let mut acc = [0f32; 8];
                    let chunks = plane.chunks_exact(8);
                    let mut s = 0f32;
                    for &v in chunks.remainder() {
                        s += v;
                    }
                    for ch in chunks {
                        for k in 0..8 {
                            acc[k] += ch[k];
                        }
                    }
                    for a in acc {
                        s += a;
                    }
                    *o = s * inv;
                }
            });
        }
        Device::Wgpu(gpu) => {
            let p = PoolParams { n: n as u32, c: c as u32, h: h as u32, w: w as u32, len: (n * c) as u32, ..Default::default() };
            launch(gpu, Shader::Pool, "global_avg_pool_forward", &p, &[x, y], grid(gpu, n * c, WG));
        }
    }
}

/// Backward of the global average pool: dy [N,C] -> dx [N,C,H,W], dx = dy / (H*W) broadcast.
pub fn global_avg_pool_backward(dev: &Device, dy: &Tensor, dx: &Tensor) {
    let [n, c, h, w] = nchw("global_avg_pool_backward", dx);
    assert_eq!(dy.len(), n * c, "global_avg_pool_backward: dy {:?} should hold [{n}, {c}]", dy.shape());
    let hw = h * w;
    if n * c == 0 || hw == 0 {
        return;
    }
    match dev {
        Device::Cpu(_) => {
            let (dyg, mut dxg) = (dy.cpu(), dx.cpu_mut());
            let (dy, dx) = (&dyg.f32()[..n * c], &mut dxg.f32()[..n * c * hw]);
            let per = planes_per_task(hw);
            let inv = 1.0 / hw as f32;
            dx.par_chunks_mut(per * hw).zip(dy.par_chunks(per)).for_each(|(dx, dy)| {
                for (plane, &g) in dx.chunks_exact_mut(hw).zip(dy) {
                    plane.fill(g * inv);
                }
            });
        }
        Device::Wgpu(gpu) => {
            let p = PoolParams { n: n as u32, c: c as u32, h: h as u32, w: w as u32, len: (n * c * hw) as u32, ..Default::default() };
            launch(gpu, Shader::Pool, "global_avg_pool_backward", &p, &[dy, dx], grid(gpu, n * c * hw, WG));
        }
    }
}

/// Max pool geometry: x [n, c, h, w], square window k, stride, zero-size padding `pad` (<= k/2).
#[derive(Clone, Copy, Debug)]
pub struct MaxPoolShape {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
}

impl MaxPoolShape {
    /// floor((h + 2 pad - k) / stride) + 1
    pub fn out_h(&self) -> usize {
        (self.h + 2 * self.pad - self.k) / self.stride + 1
    }
    /// floor((w + 2 pad - k) / stride) + 1
    pub fn out_w(&self) -> usize {
        (self.w + 2 * self.pad - self.k) / self.stride + 1
    }

    fn check(&self) {
        assert!(
            self.k >= 1 && self.stride >= 1 && 2 * self.pad <= self.k && self.h + 2 * self.pad >= self.k && self.w + 2 * self.pad >= self.k,
            "max pool {self:?}: need k >= 1, stride >= 1, pad <= k/2 and the window inside the padded input"
        );
    }

    fn params(&self, len: usize) -> PoolParams {
        PoolParams {
            n: self.n as u32,
            c: self.c as u32,
            h: self.h as u32,
            w: self.w as u32,
            k: self.k as u32,
            stride: self.stride as u32,
            pad: self.pad as u32,
            oh: self.out_h() as u32,
            ow: self.out_w() as u32,
            len: len as u32,
            _pad: [0; 2],
        }
    }
}

/// Max pool: x [N,C,H,W] -> y and argmax (u32) [N,C,out_h,out_w]; argmax is the index h*W + w of
/// the maximum inside its input plane (as PyTorch's return_indices), the first one on ties.
pub fn max_pool_forward(dev: &Device, s: &MaxPoolShape, x: &Tensor, y: &Tensor, argmax: &Tensor) {
    s.check();
    let (oh, ow) = (s.out_h(), s.out_w());
    let planes = s.n * s.c;
    assert_eq!(x.len(), planes * s.h * s.w, "max_pool_forward: x {:?} does not hold {s:?}", x.shape());
    assert!(y.len() == planes * oh * ow && argmax.len() == y.len(), "max_pool_forward: y {:?} / argmax {:?} should hold [{}, {}, {oh}, {ow}]", y.shape(), argmax.shape(), s.n, s.c);
    if y.is_empty() {
        return;
    }
    match dev {
        Device::Cpu(_) => {
            let (xg, mut yg, mut ag) = (x.cpu(), y.cpu_mut(), argmax.cpu_mut());
            let (x, y, arg) = (&xg.f32()[..x.len()], &mut yg.f32()[..planes * oh * ow], &mut ag.u32()[..planes * oh * ow]);
            let (h, w, k, st, pad) = (s.h as isize, s.w as isize, s.k as isize, s.stride as isize, s.pad as isize);
            let per = planes_per_task(oh * ow);
            y.par_chunks_mut(per * oh * ow).zip(arg.par_chunks_mut(per * oh * ow)).zip(x.par_chunks(per * s.h * s.w)).for_each(|((y, arg), x)| {
                for ((y, arg), x) in y.chunks_exact_mut(oh * ow).zip(arg.chunks_exact_mut(oh * ow)).zip(x.chunks_exact(s.h * s.w)) {
                    for oy in 0..oh {
                        let y0 = oy as isize * st - pad;
                        let (ys, ye) = (y0.max(0) as usize, (y0 + k).min(h) as usize);
                        for ox in 0..ow {
                            let x0 = ox as isize * st - pad;
                            let (xs, xe) = (x0.max(0) as usize, (x0 + k).min(w) as usize);
                            let mut best = x[ys * s.w + xs];
                            let mut at = ys * s.w + xs;
                            for yy in ys..ye {
                                for xx in xs..xe {
                                    let v = x[yy * s.w + xx];
                                    if v > best || v.is_nan() {
                                        best = v;
                                        at = yy * s.w + xx;
                                    }
                                }
                            }
                            y[oy * ow + ox] = best;
                            arg[oy * ow + ox] = at as u32;
                        }
                    }
                }
            });
        }
        Device::Wgpu(gpu) => {
            let len = y.len();
            launch(gpu, Shader::Pool, "max_pool_forward", &s.params(len), &[x, y, argmax], grid(gpu, len, WG));
        }
    }
}

/// Backward of the max pool: dy and argmax [N,C,out_h,out_w] -> dx [N,C,H,W] (overwritten): each
/// dy goes to the input its argmax names, overlapping windows summed in row-major output order.
pub fn max_pool_backward(dev: &Device, s: &MaxPoolShape, dy: &Tensor, argmax: &Tensor, dx: &Tensor) {
    s.check();
    let (oh, ow) = (s.out_h(), s.out_w());
    let planes = s.n * s.c;
    let plane_in = s.h * s.w;
    assert_eq!(dx.len(), planes * plane_in, "max_pool_backward: dx {:?} does not hold {s:?}", dx.shape());
    assert!(dy.len() == planes * oh * ow && argmax.len() == dy.len(), "max_pool_backward: dy {:?} / argmax {:?} should hold [{}, {}, {oh}, {ow}]", dy.shape(), argmax.shape(), s.n, s.c);
    if dx.is_empty() {
        return;
    }
    match dev {
        Device::Cpu(_) => {
            let (dyg, ag, mut dxg) = (dy.cpu(), argmax.cpu(), dx.cpu_mut());
            let (dy, arg, dx) = (&dyg.f32()[..planes * oh * ow], &ag.u32()[..planes * oh * ow], &mut dxg.f32()[..planes * plane_in]);
            let per = planes_per_task(plane_in);
            dx.par_chunks_mut(per * plane_in).zip(dy.par_chunks(per * oh * ow).zip(arg.par_chunks(per * oh * ow))).for_each(|(dx, (dy, arg))| {
                for (dx, (dy, arg)) in dx.chunks_exact_mut(plane_in).zip(dy.chunks_exact(oh * ow).zip(arg.chunks_exact(oh * ow))) {
                    dx.fill(0.0);
                    for (&g, &a) in dy.iter().zip(arg) {
                        dx[a as usize] += g;
                    }
                }
            });
        }
        Device::Wgpu(gpu) => {
            let len = dx.len();
            launch(gpu, Shader::Pool, "max_pool_backward", &s.params(len), &[dy, argmax, dx], grid(gpu, len, WG));
        }
    }
}

//! The cpu device's convolutions: one image (and group) at a time on the direct SIMD products of
//! `conv2d_products`, images split over rayon in chunks. Any kernel size, stride, padding and
//! groups; no im2col.
//!
//! - forward and backward-weight read x as `stride x stride` parity planes of the zero-padded
//!   image (`StridedPlanes`): every kernel tap of an output position is then the position's flat
//!   index plus a fixed offset, whatever the stride, so the products read the taps where they
//!   lie. Output rows are computed `wq` wide and the junk columns dropped.
//! - backward-data is the transposed convolution, one product per stride phase of dx (the pixels
//!   one set of kernel taps reaches, `conv2d_phases`) over zero-padded dy, scattered into dx.
//! - forward and backward-data write disjoint images, so their results do not depend on the
//!   split; backward-weight sums a FIXED number of image chunks and adds the partials in chunk
//!   order, so it is bit-identical whatever the thread timing.

use rayon::prelude::*;

use super::conv2d::Conv2dShape;
use super::conv2d_phases::{dy_padding, phases, Phase};
use super::conv2d_products::{shifted_product, weight_product};
use super::cpu_simd::SimdLevel;
use super::{Device, Tensor};

/// Backward-weight always sums this many image chunks (fewer when the batch is smaller),
/// whatever the number of threads, so its float sums never change order.
const WEIGHT_CHUNKS: usize = 8;

/// The SIMD level of the cpu device the products run on.
fn simd(dev: &Device) -> SimdLevel {
    dev.simd_level().expect("the cpu convolutions run on the cpu device")
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
    /// x `[cin_g, h, w]` of group `grp` of image `img`.
    fn x_group<'a>(&self, x: &'a [f32], img: usize, grp: usize) -> &'a [f32] {
        &x[img * self.x_img() + grp * self.cin_g * self.hw()..][..self.cin_g * self.hw()]
    }
    /// dy `[cout_g, oh, ow]` of group `grp` of image `img`.
    fn y_group<'a>(&self, y: &'a [f32], img: usize, grp: usize) -> &'a [f32] {
        &y[img * self.y_img() + grp * self.cout_g * self.ohw()..][..self.cout_g * self.ohw()]
    }
}

/// One image and group of x as forward and backward-weight read it: each of `c` channels
/// zero-padded by `pad` and split into `stride x stride` parity planes of `hq x wq`, plane
/// (py, px) holding the padded pixels (i * stride + py, j * stride + px). Tap (ky, kx) of output
/// (oy, ox) is then plane (ky % stride, kx % stride) at (oy + ky / stride, ox + kx / stride): the
/// output's flat index oy * wq + ox plus an offset of the tap alone.
#[derive(Clone, Copy)]
struct StridedPlanes {
    c: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    pad: usize,
    hq: usize,
    wq: usize,
    oh: usize,
    ow: usize,
}

impl StridedPlanes {
    fn new(g: &Geometry) -> Self {
        let s = &g.s;
        let (hp, wp) = (s.h + 2 * s.pad, s.w + 2 * s.pad);
        StridedPlanes { c: g.cin_g, h: s.h, w: s.w, kh: s.kh, kw: s.kw, stride: s.stride, pad: s.pad, hq: hp.div_ceil(s.stride), wq: wp.div_ceil(s.stride), oh: g.oh, ow: g.ow }
    }

    /// Stride 1 without padding: x itself is the one plane of each channel.
    fn in_place(&self) -> bool {
        self.stride == 1 && self.pad == 0
    }

    /// Scratch floats the planes need (none in place): the planes, and at strides above 1 one
    /// padded input row to split.
    fn len(&self) -> usize {
        if self.in_place() {
            0
        } else {
            self.c * self.stride * self.stride * self.hq * self.wq + if self.stride > 1 { self.stride * self.wq } else { 0 }
        }
    }

    /// Output positions the products compute: `oh` rows `wq` apart, the last one `ow` long (each
    /// tap of the last position is then the last pixel it reads).
    fn positions(&self) -> usize {
        (self.oh - 1) * self.wq + self.ow
    }

    /// Whether output rows carry junk columns to drop.
    fn has_junk(&self) -> bool {
        self.wq != self.ow
    }

    /// The offset of each tap (ci, ky, kx), in the weight's order.
    fn offsets(&self) -> Vec<usize> {
        let st = self.stride;
        let mut offs = Vec::with_capacity(self.c * self.kh * self.kw);
        for ci in 0..self.c {
            for ky in 0..self.kh {
                for kx in 0..self.kw {
                    let plane = (ci * st + ky % st) * st + kx % st;
                    offs.push(plane * self.hq * self.wq + (ky / st) * self.wq + kx / st);
                }
            }
        }
        offs
    }

    /// The planes of `x [c, h, w]`: x itself in place, else written into `buf`.
    fn planes<'a>(&self, x: &'a [f32], buf: &'a mut [f32]) -> &'a [f32] {
        let (h, w, st, pad, wq) = (self.h, self.w, self.stride, self.pad, self.wq);
        if self.in_place() {
            return &x[..self.c * h * w];
        }
        let plane_len = self.hq * wq;
        let planes_len = self.c * st * st * plane_len;
        let (planes, row_buf) = buf[..self.len()].split_at_mut(planes_len);
        for (ci, channel) in planes.chunks_mut(st * st * plane_len).enumerate() {
            let src = &x[ci * h * w..][..h * w];
            // Padded row i * st + py is row i of the planes (py, px) for every px.
            for (i, py) in (0..self.hq).flat_map(|i| (0..st).map(move |py| (i, py))) {
                let y = (i * st + py) as isize - pad as isize;
                let inside = y >= 0 && y < h as isize;
                let src_row = if inside { &src[y as usize * w..][..w] } else { &[][..] };
                if st == 1 {
                    place_padded(&mut channel[i * wq..][..wq], pad, src_row);
                    continue;
                }
                // The padded row in full (st * wq >= w + 2 * pad), then every st-th column of it.
                if inside {
                    place_padded(row_buf, pad, src_row);
                }
                for px in 0..st {
                    let row = &mut channel[(py * st + px) * plane_len + i * wq..][..wq];
                    if !inside {
                        row.fill(0.0);
                    } else if st == 2 {
                        every_nth::<2>(row_buf, px, row);
                    } else {
                        for (j, d) in row.iter_mut().enumerate() {
                            *d = row_buf[j * st + px];
                        }
                    }
                }
            }
        }
        planes
    }

    /// `rows` x [oh, ow] from `rows` x positions() (drops the junk columns).
    fn compact(&self, src: &[f32], rows: usize, dst: &mut [f32]) {
        let (p, ohw) = (self.positions(), self.oh * self.ow);
        for r in 0..rows {
            let (s, d) = (&src[r * p..][..p], &mut dst[r * ohw..][..ohw]);
            for (oh, drow) in d.chunks_mut(self.ow).enumerate() {
                drow.copy_from_slice(&s[oh * self.wq..][..self.ow]);
            }
        }
    }
}

/// `row` = `src` at column `left`, zero around it (all zero for an empty `src`).
#[inline]
fn place_padded(row: &mut [f32], left: usize, src: &[f32]) {
    row[..left].fill(0.0);
    row[left..left + src.len()].copy_from_slice(src);
    row[left + src.len()..].fill(0.0);
}

/// `dst[j] = src[j * N + first]` for every j of dst (whole groups of N, which vectorises).
#[inline]
fn every_nth<const N: usize>(src: &[f32], first: usize, dst: &mut [f32]) {
    let Some((last, head)) = dst.split_last_mut() else { return };
    let src = &src[first..];
    for (d, group) in head.iter_mut().zip(src.chunks_exact(N)) {
        *d = group[0];
    }
    *last = src[head.len() * N];
}

/// `t [positions, channels]` = `src [channels, oh, ow]` with output row oy at position
/// oy * pitch (the planes' layout); the `pitch - ow` junk positions between rows are 0.
fn transpose_positions(src: &[f32], channels: usize, oh: usize, ow: usize, pitch: usize, t: &mut [f32]) {
    let positions = (oh - 1) * pitch + ow;
    let t = &mut t[..positions * channels];
    for oy in 0..oh - 1 {
        t[(oy * pitch + ow) * channels..(oy + 1) * pitch * channels].fill(0.0);
    }
    // Tiles of 16 positions of one row: every channel's 16 in order, written into the tile's
    // 16 x channels floats of t, which stay in the L1 cache while the channels fill them.
    let ohw = oh * ow;
    for oy in 0..oh {
        for ox0 in (0..ow).step_by(16) {
            let len = (ow - ox0).min(16);
            let tile = &mut t[(oy * pitch + ox0) * channels..][..len * channels];
            for i in 0..channels {
                let from = &src[i * ohw + oy * ow + ox0..][..len];
                for (k, &v) in from.iter().enumerate() {
                    tile[k * channels + i] = v;
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
    let level = simd(dev);
    let g = Geometry::new(s);
    let chunks = data_parallel_chunks(s.n);
    let planes = StridedPlanes::new(&g);
    let offs = planes.offsets();
    let lens = [planes.len(), if planes.has_junk() { g.cout_g * planes.positions() } else { 0 }];
    let work_len = lens.iter().sum::<usize>();
    let work_t = dev.scratch("conv2d.cpu.work", chunks * work_len);
    let (x, w) = (x.cpu(), w.cpu());
    let (x, w) = (x.f32(), w.f32());
    let (mut y, mut work) = (y.cpu_mut(), work_t.cpu_mut());
    let run = |_c: usize, first: usize, y_chunk: &mut [f32], work: &mut [f32]| {
        let [buf_planes, buf_wide] = carve(work, lens);
        for (i, y_img) in y_chunk.chunks_mut(g.y_img()).enumerate() {
            for grp in 0..s.groups {
                let b = planes.planes(g.x_group(x, first + i, grp), buf_planes);
                let y_g = &mut y_img[grp * g.cout_g * g.ohw()..][..g.cout_g * g.ohw()];
                let w_g = &w[grp * g.w_g()..][..g.w_g()];
                if planes.has_junk() {
                    shifted_product(level, g.cout_g, planes.positions(), w_g, g.k, 1, b, &offs, buf_wide, planes.positions());
                    planes.compact(buf_wide, g.cout_g, y_g);
                } else {
                    shifted_product(level, g.cout_g, planes.positions(), w_g, g.k, 1, b, &offs, y_g, g.ohw());
                }
            }
        }
    };
    for_each_chunk(s.n, chunks, g.y_img(), y.f32(), work_len, work.f32(), run);
}

/// One stride phase of dx along both axes, as a product over the padded dy.
struct PhasePair {
    y: Phase,
    x: Phase,
    /// Its kernel taps per (dx channel, dy channel) of a group: y.taps * x.taps.
    taps: usize,
    /// Offset of tap (co, ty, tx) in the padded dy planes, in that order.
    offs: Vec<usize>,
    /// Where its weights start in the packed weights of a group.
    w_base: usize,
    /// Positions of its product: y.count rows, `wp` apart.
    positions: usize,
}

/// dy of one image and group padded for every phase's taps: `cout_g` planes of hp x wp, dy at
/// (top, left); and the phase pairs of dx that have pixels, their weights packed one after the
/// other (`w_len` floats per group).
struct TransposedPhases {
    top: usize,
    left: usize,
    hp: usize,
    wp: usize,
    pairs: Vec<PhasePair>,
    w_len: usize,
}

impl TransposedPhases {
    fn new(g: &Geometry) -> Self {
        let s = &g.s;
        let (py, px) = (phases(s.h, s.kh, s.stride, s.pad), phases(s.w, s.kw, s.stride, s.pad));
        let ((top, hp), (left, wp)) = (dy_padding(&py, g.oh), dy_padding(&px, g.ow));
        let mut pairs = Vec::new();
        let mut w_len = 0;
        for a in py.iter().filter(|a| a.count > 0) {
            for b in px.iter().filter(|b| b.count > 0) {
                let mut offs = Vec::with_capacity(g.cout_g * a.taps * b.taps);
                for co in 0..g.cout_g {
                    for ty in 0..a.taps {
                        for tx in 0..b.taps {
                            // Non-negative: `top` and `left` pad dy for the phase that reaches furthest back.
                            let row = a.first + (top + ty) as isize;
                            let col = b.first + (left + tx) as isize;
                            offs.push(co * hp * wp + row as usize * wp + col as usize);
                        }
                    }
                }
                pairs.push(PhasePair { y: *a, x: *b, taps: a.taps * b.taps, offs, w_base: w_len, positions: (a.count - 1) * wp + b.count });
                w_len += g.cin_g * g.cout_g * a.taps * b.taps;
            }
        }
        TransposedPhases { top, left, hp, wp, pairs, w_len }
    }

    /// `packed` (groups x w_len) = for each group and phase pair, w_phase [cin_g, (co, ty, tx)] =
    /// w[co, ci, k_max - stride * ty, k_max - stride * tx] of `w [c_out, cin_g, kh, kw]`.
    fn pack_weights(&self, g: &Geometry, w: &[f32], packed: &mut [f32]) {
        let s = &g.s;
        let (kk, st) = (s.kh * s.kw, s.stride);
        for grp in 0..s.groups {
            let (src, dst) = (&w[grp * g.w_g()..][..g.w_g()], &mut packed[grp * self.w_len..][..self.w_len]);
            for pair in &self.pairs {
                let mut at = pair.w_base;
                for ci in 0..g.cin_g {
                    for co in 0..g.cout_g {
                        for ty in 0..pair.y.taps {
                            for tx in 0..pair.x.taps {
                                let (ky, kx) = (pair.y.k_max - st * ty, pair.x.k_max - st * tx);
                                dst[at] = src[(co * g.cin_g + ci) * kk + ky * s.kw + kx];
                                at += 1;
                            }
                        }
                    }
                }
            }
        }
    }
}

pub(super) fn backward_data(dev: &Device, s: &Conv2dShape, dy: &Tensor, w: &Tensor, dx: &Tensor) {
    let level = simd(dev);
    let g = Geometry::new(s);
    let chunks = data_parallel_chunks(s.n);
    let t = TransposedPhases::new(&g);
    let TransposedPhases { top, left, hp, wp, ref pairs, w_len } = t;
    let w_packed = dev.scratch("conv2d.cpu.phase_weights", (s.groups * w_len).max(1));
    t.pack_weights(&g, w.cpu().f32(), w_packed.cpu_mut().f32());
    let widest = pairs.iter().map(|p| p.positions).max().unwrap_or(0);
    let lens = [g.cout_g * hp * wp, g.cin_g * widest];
    let work_len = lens.iter().sum::<usize>();
    let work_t = dev.scratch("conv2d.cpu.work", chunks * work_len);
    let (dy, packed) = (dy.cpu(), w_packed.cpu());
    let (dy, packed) = (dy.f32(), packed.f32());
    let (mut dx, mut work) = (dx.cpu_mut(), work_t.cpu_mut());
    let run = |_c: usize, first: usize, dx_chunk: &mut [f32], work: &mut [f32]| {
        let [padded, phase_out] = carve(work, lens);
        for (i, dx_img) in dx_chunk.chunks_mut(g.x_img()).enumerate() {
            for grp in 0..s.groups {
                pad_planes(g.y_group(dy, first + i, grp), g.cout_g, (g.oh, g.ow), (top, left), (hp, wp), padded);
                let dx_g = &mut dx_img[grp * g.cin_g * g.hw()..][..g.cin_g * g.hw()];
                for pair in pairs {
                    let out = &mut phase_out[..g.cin_g * pair.positions];
                    if pair.taps == 0 {
                        out.fill(0.0);
                    } else {
                        let w_phase = &packed[grp * w_len + pair.w_base..][..g.cin_g * g.cout_g * pair.taps];
                        shifted_product(level, g.cin_g, pair.positions, w_phase, g.cout_g * pair.taps, 1, padded, &pair.offs, out, pair.positions);
                    }
                    scatter_phase(out, pair, wp, s, g.cin_g, dx_g);
                }
            }
        }
    };
    for_each_chunk(s.n, chunks, g.x_img(), dx.f32(), work_len, work.f32(), run);
}

/// `dst [c, hp, wp]` = `src [c, h, w]` placed at (top, left), zero around it.
fn pad_planes(src: &[f32], c: usize, (h, w): (usize, usize), (top, left): (usize, usize), (hp, wp): (usize, usize), dst: &mut [f32]) {
    for (plane, channel) in dst[..c * hp * wp].chunks_mut(hp * wp).zip(src.chunks(h * w)) {
        plane[..top * wp].fill(0.0);
        plane[(top + h) * wp..].fill(0.0);
        for (row, src_row) in plane[top * wp..(top + h) * wp].chunks_mut(wp).zip(channel.chunks(w)) {
            place_padded(row, left, src_row);
        }
    }
}

/// dx pixels (a * stride + y.phase, b * stride + x.phase) of every channel from the phase's
/// product rows (positions a * wp + b).
fn scatter_phase(out: &[f32], pair: &PhasePair, wp: usize, s: &Conv2dShape, channels: usize, dx: &mut [f32]) {
    let (h, w, st) = (s.h, s.w, s.stride);
    for (src, dst) in out.chunks(pair.positions).zip(dx.chunks_mut(h * w)).take(channels) {
        for a in 0..pair.y.count {
            let row = &mut dst[(a * st + pair.y.phase) * w..][..w];
            let from = &src[a * wp..][..pair.x.count];
            if st == 1 {
                row.copy_from_slice(from);
            } else {
                for (d, v) in row[pair.x.phase..].iter_mut().step_by(st).zip(from) {
                    *d = *v;
                }
            }
        }
    }
}

pub(super) fn backward_weight(dev: &Device, s: &Conv2dShape, x: &Tensor, dy: &Tensor, dw: &Tensor) {
    let level = simd(dev);
    let g = Geometry::new(s);
    let chunks = s.n.min(WEIGHT_CHUNKS);
    let wl = s.c_out * g.k;
    let planes = StridedPlanes::new(&g);
    let offs = planes.offsets();
    let positions = planes.positions();
    // Per chunk: the planes, dy transposed [positions, cout_g], and the group's dW transposed
    // [k, cout_g] summed over the chunk's images.
    let lens = [planes.len(), positions * g.cout_g, g.k * g.cout_g];
    let work_len = lens.iter().sum::<usize>();
    let work_t = dev.scratch("conv2d.cpu.work", chunks * work_len);
    let partial_t = dev.scratch("conv2d.cpu.dw_partial", chunks * wl);
    let (x, dy) = (x.cpu(), dy.cpu());
    let (x, dy) = (x.f32(), dy.f32());
    let (mut work, mut partial) = (work_t.cpu_mut(), partial_t.cpu_mut());
    // Partial sums per fixed image chunk: chunk c's dw_g [cout_g, k] = the sum over its images,
    // in order, of dy_g . x_cols^T, each over its positions in order.
    // One "image" per chunk in for_each_chunk's split: each chunk owns one partial of wl values.
    let run = |c: usize, _: usize, part: &mut [f32], work: &mut [f32]| {
        let [buf_planes, dy_t, acc_t] = carve(work, lens);
        let (first, end) = (chunk_start(s.n, chunks, c), chunk_start(s.n, chunks, c + 1));
        for grp in 0..s.groups {
            acc_t.fill(0.0);
            for img in first..end {
                let b = planes.planes(g.x_group(x, img, grp), buf_planes);
                transpose_positions(g.y_group(dy, img, grp), g.cout_g, g.oh, g.ow, planes.wq, dy_t);
                weight_product(level, g.cout_g, g.k, positions, dy_t, g.cout_g, b, &offs, acc_t, g.cout_g);
            }
            let part_g = &mut part[grp * g.w_g()..][..g.w_g()];
            for (j, column) in acc_t.chunks(g.cout_g).enumerate() {
                for (i, v) in column.iter().enumerate() {
                    part_g[i * g.k + j] = *v;
                }
            }
        }
    };
    for_each_chunk(chunks, chunks, wl, partial.f32(), work_len, work.f32(), run);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every tap offset of every output position reads the padded pixel the definition names,
    /// for strides 1 to 3, odd and even sizes, kernels wider than the stride and not.
    #[test]
    fn strided_planes_put_every_tap_at_its_position_plus_a_fixed_offset() {
        for (h, w, k, stride, pad) in [(5, 7, 3, 1, 1), (8, 8, 3, 2, 1), (7, 9, 3, 2, 1), (9, 6, 1, 2, 0), (11, 10, 7, 2, 3), (8, 7, 5, 3, 2), (6, 6, 1, 1, 0)] {
            let s = Conv2dShape { n: 1, c_in: 2, h, w, c_out: 1, kh: k, kw: k, stride, pad, groups: 1 };
            let g = Geometry::new(&s);
            let planes = StridedPlanes::new(&g);
            let x: Vec<f32> = (0..2 * h * w).map(|i| i as f32 + 1.0).collect();
            let mut buf = vec![f32::NAN; planes.len()];
            let b = planes.planes(&x, &mut buf).to_vec();
            let offs = planes.offsets();
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let q = oy * planes.wq + ox;
                    for (t, off) in offs.iter().enumerate() {
                        let (ci, ky, kx) = (t / (k * k), t / k % k, t % k);
                        let (iy, ix) = ((oy * stride + ky) as isize - pad as isize, (ox * stride + kx) as isize - pad as isize);
                        let want = if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize { 0.0 } else { x[(ci * h + iy as usize) * w + ix as usize] };
                        assert_eq!(b[q + off], want, "{s:?} output ({oy}, {ox}) tap ({ci}, {ky}, {kx})");
                    }
                }
            }
        }
    }
}

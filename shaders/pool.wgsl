// Pooling: global average pool and max pool (with argmax), forward and backward. Host code:
// src/kernels/pool.rs. Every backward is a gather (each invocation owns one input-gradient element
// and sums its contributions in a fixed order), so there are no atomics and repeats are bit-identical.

struct Pool {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
    k: u32,
    stride: u32,
    pad: u32,
    oh: u32,
    ow: u32,
    len: u32,     // elements this entry writes
    _pad0: u32,
    _pad1: u32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Pool;

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

// ---- global average pool: x [N, C, H, W] -> y [N, C] ---------------------------------------

@group(0) @binding(1) var<storage, read> ga_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> ga_y: array<f32>;

// One invocation per (n, c): the plane's sum in order, divided by H*W.
@compute @workgroup_size(256)
fn global_avg_pool_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = flat_index(gid, nwg);
    if (r >= p.len) { return; }
    let hw = p.h * p.w;
    let base = r * hw;
    var s = 0.0;
    for (var i = 0u; i < hw; i++) {
        s += ga_x[base + i];
    }
    ga_y[r] = s / f32(hw);
}

@group(0) @binding(1) var<storage, read> gab_dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> gab_dx: array<f32>;

// dx[n, c, i, j] = dy[n, c] / (H*W); one invocation per dx element.
@compute @workgroup_size(256)
fn global_avg_pool_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.len) { return; }
    let hw = p.h * p.w;
    gab_dx[i] = gab_dy[i / hw] / f32(hw);
}

// ---- max pool ----------------------------------------------------------------------------------

@group(0) @binding(1) var<storage, read> mp_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> mp_y: array<f32>;
@group(0) @binding(3) var<storage, read_write> mp_arg: array<u32>;

// One invocation per output: the max over the window (padding never wins, as PyTorch pads with
// -inf), first maximum in row-major window order, NaN propagating; argmax is the index in the
// input plane (h * W + w).
@compute @workgroup_size(256)
fn max_pool_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let o = flat_index(gid, nwg);
    if (o >= p.len) { return; }
    let ox = o % p.ow;
    let oy = (o / p.ow) % p.oh;
    let plane = o / (p.ow * p.oh);
    let y0 = i32(oy * p.stride) - i32(p.pad);
    let x0 = i32(ox * p.stride) - i32(p.pad);
    let ys = u32(max(y0, 0));
    let xs = u32(max(x0, 0));
    let ye = u32(min(y0 + i32(p.k), i32(p.h)));
    let xe = u32(min(x0 + i32(p.k), i32(p.w)));
    let base = plane * p.h * p.w;
    var best = mp_x[base + ys * p.w + xs];
    var arg = ys * p.w + xs;
    for (var yy = ys; yy < ye; yy++) {
        for (var xx = xs; xx < xe; xx++) {
            let v = mp_x[base + yy * p.w + xx];
            if (v > best || v != v) {
                best = v;
                arg = yy * p.w + xx;
            }
        }
    }
    mp_y[o] = best;
    mp_arg[o] = arg;
}

@group(0) @binding(1) var<storage, read> mpb_dy: array<f32>;
@group(0) @binding(2) var<storage, read> mpb_arg: array<u32>;
@group(0) @binding(3) var<storage, read_write> mpb_dx: array<f32>;

// One invocation per dx element: the sum, over the outputs whose window covers it (row-major
// order, the same order the CPU scatters in), of dy where the argmax points here.
@compute @workgroup_size(256)
fn max_pool_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.len) { return; }
    let ix = i % p.w;
    let iy = (i / p.w) % p.h;
    let plane = i / (p.w * p.h);
    let here = iy * p.w + ix;
    // outputs o with o*stride - pad <= i <= o*stride - pad + k - 1
    var oy0 = 0u;
    if (iy + p.pad + 1u > p.k) {
        oy0 = (iy + p.pad + 1u - p.k + p.stride - 1u) / p.stride;
    }
    var ox0 = 0u;
    if (ix + p.pad + 1u > p.k) {
        ox0 = (ix + p.pad + 1u - p.k + p.stride - 1u) / p.stride;
    }
    let oy1 = min((iy + p.pad) / p.stride + 1u, p.oh);
    let ox1 = min((ix + p.pad) / p.stride + 1u, p.ow);
    let obase = plane * p.oh * p.ow;
    var s = 0.0;
    for (var oy = oy0; oy < oy1; oy++) {
        for (var ox = ox0; ox < ox1; ox++) {
            let o = obase + oy * p.ow + ox;
            if (mpb_arg[o] == here) {
                s += mpb_dy[o];
            }
        }
    }
    mpb_dx[i] = s;
}

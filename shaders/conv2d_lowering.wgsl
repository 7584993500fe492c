// Lowering of convolutions onto the GEMM kernels (src/kernels/conv2d.rs, software adapters):
// im2col, col2im and the two layout changes between [n, c, positions] and [c, n * positions].
// One invocation per output element, no shared memory, no atomics: col2im sums the kernel taps
// that hit one input pixel in a fixed order, so results are bit-identical run to run.
//
// Shapes (groups = 1): x [n, c_in, h, w], y [n, c_out, oh, ow]; col has K = c_in * kh * kw rows
// r = (ci * kh + ky) * kw + kx and n * oh * ow columns l = (img * oh + oy) * ow + ox; element (r, l)
// lives at r * rs + l * ls, and rows k <= r < k_rows (padding to whole vec4s) are zero.

struct Lowering {
    n: u32, c_in: u32, h: u32, w: u32,
    kh: u32, kw: u32, stride: u32, pad: u32,
    oh: u32, ow: u32, k: u32, k_rows: u32,
    rs: u32, ls: u32, channels: u32, total: u32,
}

@group(0) @binding(0) var<uniform> p: Lowering;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 64u;
}

// dst = col of src = x; one invocation per element of the k_rows x (n * oh * ow) matrix.
@compute @workgroup_size(64)
fn conv2d_im2col(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = flat(gid, nwg);
    if (e >= p.total) {
        return;
    }
    let npos = p.n * p.oh * p.ow;
    let r = e / npos;
    let l = e % npos;
    var v = 0.0;
    if (r < p.k) {
        let khw = p.kh * p.kw;
        let ci = r / khw;
        let ky = (r % khw) / p.kw;
        let kx = r % p.kw;
        let img = l / (p.oh * p.ow);
        let oy = (l / p.ow) % p.oh;
        let ox = l % p.ow;
        let iy = i32(oy * p.stride + ky) - i32(p.pad);
        let ix = i32(ox * p.stride + kx) - i32(p.pad);
        if (iy >= 0 && ix >= 0 && iy < i32(p.h) && ix < i32(p.w)) {
            v = src[((img * p.c_in + ci) * p.h + u32(iy)) * p.w + u32(ix)];
        }
    }
    dst[r * p.rs + l * p.ls] = v;
}

// dst = dx [n, c_in, h, w] from src = the col-shaped gradient (layout as for im2col): each input
// pixel adds, in tap order, the columns of the outputs that read it.
@compute @workgroup_size(64)
fn conv2d_col2im(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = flat(gid, nwg);
    if (e >= p.total) {
        return;
    }
    let ix = e % p.w;
    let iy = (e / p.w) % p.h;
    let ci = (e / (p.w * p.h)) % p.c_in;
    let img = e / (p.w * p.h * p.c_in);
    var acc = 0.0;
    for (var ky = 0u; ky < p.kh; ky = ky + 1u) {
        let ty = i32(iy + p.pad) - i32(ky);
        if (ty < 0 || u32(ty) % p.stride != 0u || u32(ty) / p.stride >= p.oh) {
            continue;
        }
        let oy = u32(ty) / p.stride;
        for (var kx = 0u; kx < p.kw; kx = kx + 1u) {
            let tx = i32(ix + p.pad) - i32(kx);
            if (tx < 0 || u32(tx) % p.stride != 0u || u32(tx) / p.stride >= p.ow) {
                continue;
            }
            let ox = u32(tx) / p.stride;
            let r = (ci * p.kh + ky) * p.kw + kx;
            let l = (img * p.oh + oy) * p.ow + ox;
            acc = acc + src[r * p.rs + l * p.ls];
        }
    }
    dst[e] = acc;
}

// dst [channels, n * oh * ow] from src [n, channels, oh * ow].
@compute @workgroup_size(64)
fn conv2d_to_channel_major(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = flat(gid, nwg);
    if (e >= p.total) {
        return;
    }
    let ohw = p.oh * p.ow;
    let npos = p.n * ohw;
    let c = e / npos;
    let l = e % npos;
    dst[e] = src[((l / ohw) * p.channels + c) * ohw + l % ohw];
}

// dst [n, channels, oh * ow] from src [channels, n * oh * ow].
@compute @workgroup_size(64)
fn conv2d_from_channel_major(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = flat(gid, nwg);
    if (e >= p.total) {
        return;
    }
    let ohw = p.oh * p.ow;
    let q = e % ohw;
    let c = (e / ohw) % p.channels;
    let img = e / (ohw * p.channels);
    dst[e] = src[c * (p.n * ohw) + img * ohw + q];
}

// dst [channels, k_rows] = src [channels, k] with zero columns k <= r < k_rows (weights padded
// to whole vec4s along the reduction).
@compute @workgroup_size(64)
fn conv2d_pad_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = flat(gid, nwg);
    if (e >= p.total) {
        return;
    }
    let c = e / p.k_rows;
    let r = e % p.k_rows;
    var v = 0.0;
    if (r < p.k) {
        v = src[c * p.k + r];
    }
    dst[e] = v;
}

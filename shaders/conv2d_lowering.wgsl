// Lowering of convolutions onto the GEMM kernels (src/kernels/conv2d.rs, software adapters):
// im2col, col2im and the two layout changes between [n, c, positions] and [c, n * positions].
// No shared memory, no atomics: col2im sums the kernel taps that hit one input pixel in a fixed
// order, so results are bit-identical run to run.
//
// Why the dispatch shapes (measured on lavapipe): an integer division by a runtime value is
// scalarised per SIMD lane (tens of cycles each), so a kernel that splits a flat index into
// (image, channel, row, column) per element runs slower than the GEMM it feeds. Here workgroup
// ids carry the image (z) and the channel (y) and x runs over the positions of one image: two
// divisions per invocation, none per element; im2col loops over the taps of one position.
//
// Shapes (groups = 1): x [n, c_in, h, w], y [n, c_out, oh, ow]; col has K = c_in * kh * kw rows
// r = (ci * kh + ky) * kw + kx and n * oh * ow columns l = (img * oh + oy) * ow + ox; element (r, l)
// lives at r * rs + l * ls, and rows k <= r < k_rows (padding to whole vec4s) are zero.

struct Lowering {
    n: u32, c_in: u32, h: u32, w: u32,
    kh: u32, kw: u32, stride: u32, pad: u32,
    oh: u32, ow: u32, k: u32, k_rows: u32,
    rs: u32, ls: u32, channels: u32, _pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Lowering;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

// dst = col of src = x. Workgroups: x over the oh * ow positions of one image (64 each), y = 1,
// z = image; one invocation writes all k_rows rows of one column.
@compute @workgroup_size(64)
fn conv2d_im2col(@builtin(global_invocation_id) gid: vec3<u32>) {
    let q = gid.x;
    let ohw = p.oh * p.ow;
    if (q >= ohw) {
        return;
    }
    let img = gid.z;
    let oy = q / p.ow;
    let ox = q - oy * p.ow;
    let l = (img * ohw + q) * p.ls;
    let y0 = i32(oy * p.stride) - i32(p.pad);
    let x0 = i32(ox * p.stride) - i32(p.pad);
    let hw = p.h * p.w;
    var r = 0u;
    for (var ci = 0u; ci < p.c_in; ci = ci + 1u) {
        let plane = (img * p.c_in + ci) * hw;
        for (var ky = 0u; ky < p.kh; ky = ky + 1u) {
            let iy = y0 + i32(ky);
            let row_ok = iy >= 0 && iy < i32(p.h);
            for (var kx = 0u; kx < p.kw; kx = kx + 1u) {
                let ix = x0 + i32(kx);
                let ok = row_ok && ix >= 0 && ix < i32(p.w);
                // Out-of-image taps read a valid address and keep zero: no divergent branch.
                let at = select(0u, plane + u32(iy) * p.w + u32(ix), ok);
                dst[r * p.rs + l] = select(0.0, src[at], ok);
                r = r + 1u;
            }
        }
    }
    for (; r < p.k_rows; r = r + 1u) {
        dst[r * p.rs + l] = 0.0;
    }
}

// dst = dx [n, c_in, h, w] from src = the col-shaped gradient (layout as for im2col): each input
// pixel adds, in tap order, the columns of the outputs that read it. Workgroups: x over the
// h * w pixels of one plane, y = input channel, z = image.
@compute @workgroup_size(64)
fn conv2d_col2im(@builtin(global_invocation_id) gid: vec3<u32>) {
    let e = gid.x;
    let hw = p.h * p.w;
    if (e >= hw) {
        return;
    }
    let ci = gid.y;
    let img = gid.z;
    let iy = e / p.w;
    let ix = e - iy * p.w;
    // Taps ky with (iy + pad - ky) = oy * stride, oy < oh: ky runs down from the largest.
    let ty = iy + p.pad;
    let tx = ix + p.pad;
    let oy_hi = min(ty / p.stride, p.oh - 1u);
    let ox_hi = min(tx / p.stride, p.ow - 1u);
    var acc = 0.0;
    for (var oy = i32(oy_hi); oy >= 0; oy = oy - 1) {
        let ky = ty - u32(oy) * p.stride;
        if (ky >= p.kh) {
            break;
        }
        for (var ox = i32(ox_hi); ox >= 0; ox = ox - 1) {
            let kx = tx - u32(ox) * p.stride;
            if (kx >= p.kw) {
                break;
            }
            let r = (ci * p.kh + ky) * p.kw + kx;
            let l = (img * p.oh + u32(oy)) * p.ow + u32(ox);
            acc = acc + src[r * p.rs + l * p.ls];
        }
    }
    dst[(img * p.c_in + ci) * hw + e] = acc;
}

// dst [channels, n * oh * ow] from src [n, channels, oh * ow]. Workgroups: x over the oh * ow
// positions, y = channel, z = image.
@compute @workgroup_size(64)
fn conv2d_to_channel_major(@builtin(global_invocation_id) gid: vec3<u32>) {
    let ohw = p.oh * p.ow;
    if (gid.x >= ohw) {
        return;
    }
    let c = gid.y;
    let img = gid.z;
    dst[c * (p.n * ohw) + img * ohw + gid.x] = src[(img * p.channels + c) * ohw + gid.x];
}

// dst [n, channels, oh * ow] from src [channels, n * oh * ow]. Workgroups as above.
@compute @workgroup_size(64)
fn conv2d_from_channel_major(@builtin(global_invocation_id) gid: vec3<u32>) {
    let ohw = p.oh * p.ow;
    if (gid.x >= ohw) {
        return;
    }
    let c = gid.y;
    let img = gid.z;
    dst[(img * p.channels + c) * ohw + gid.x] = src[c * (p.n * ohw) + img * ohw + gid.x];
}

// dst [channels, k_rows] = src [channels, k] with zero columns k <= r < k_rows (weights padded
// to whole vec4s along the reduction). Workgroups: x over k_rows, y = channel.
@compute @workgroup_size(64)
fn conv2d_pad_rows(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    if (r >= p.k_rows) {
        return;
    }
    let c = gid.y;
    var v = 0.0;
    if (r < p.k) {
        v = src[c * p.k + r];
    }
    dst[c * p.k_rows + r] = v;
}

// 2-D convolution as implicit GEMM (no im2col buffer): forward, backward-data, backward-weight.
// Shapes: x [n, c_in, h, w], weight [c_out, c_in/groups, kh, kw], y [n, c_out, oh, ow].
//
// Software adapters (lavapipe, llvmpipe) run each workgroup as SIMD over invocations, so every
// invocation keeps a register block of fully unrolled scalar accumulators and adjacent
// invocations take adjacent positions (their loads are contiguous). No shared memory, no
// barriers, no atomics: every output element is summed in a fixed order by one invocation.
// The host (src/kernels/conv2d.rs) picks the dispatch sizes; blocks per invocation:
//   forward          8 output channels x 4 output positions
//   backward-data    8 input channels x 4 input positions (dispatched per stride phase)
//   backward-weight  8 output channels x 4 input channels of one tap, over one slice of
//                    the positions; a second pass adds the slices in order.

struct Params {
    n: u32, c_in: u32, h: u32, w: u32,
    c_out: u32, kh: u32, kw: u32, stride: u32,
    pad: u32, groups: u32, oh: u32, ow: u32,
    cin_g: u32, cout_g: u32, blocks: u32, slices: u32,
    w_len: u32, hq: u32, wq: u32, _pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> fx: array<f32>;
@group(0) @binding(2) var<storage, read> fwt: array<f32>;
@group(0) @binding(3) var<storage, read_write> fy: array<f32>;

// y = conv(x, w). Workgroups: x, y over position tiles of 32; z = group * p.blocks + channel block.
@compute @workgroup_size(8)
fn conv2d_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let tile = wid.x + wid.y * nwg.x;
    let g = wid.z / p.blocks;
    let co0 = (wid.z % p.blocks) * 8u;
    let ohw = p.oh * p.ow;
    let hw = p.h * p.w;
    let np = p.n * ohw;
    let khw = p.kh * p.kw;
    let xg = g * p.cin_g * hw;
    let q0 = tile * 32u + 0u + lid.x;
    let v0 = q0 < np;
    let n0 = select(0u, q0 / ohw, v0);
    let r0 = select(0u, q0 % ohw, v0);
    let ih0 = i32((r0 / p.ow) * p.stride) - i32(p.pad);
    let iw0 = i32((r0 % p.ow) * p.stride) - i32(p.pad);
    let xb0 = n0 * p.c_in * hw + xg;
    let q1 = tile * 32u + 8u + lid.x;
    let v1 = q1 < np;
    let n1 = select(0u, q1 / ohw, v1);
    let r1 = select(0u, q1 % ohw, v1);
    let ih1 = i32((r1 / p.ow) * p.stride) - i32(p.pad);
    let iw1 = i32((r1 % p.ow) * p.stride) - i32(p.pad);
    let xb1 = n1 * p.c_in * hw + xg;
    let q2 = tile * 32u + 16u + lid.x;
    let v2 = q2 < np;
    let n2 = select(0u, q2 / ohw, v2);
    let r2 = select(0u, q2 % ohw, v2);
    let ih2 = i32((r2 / p.ow) * p.stride) - i32(p.pad);
    let iw2 = i32((r2 % p.ow) * p.stride) - i32(p.pad);
    let xb2 = n2 * p.c_in * hw + xg;
    let q3 = tile * 32u + 24u + lid.x;
    let v3 = q3 < np;
    let n3 = select(0u, q3 / ohw, v3);
    let r3 = select(0u, q3 % ohw, v3);
    let ih3 = i32((r3 / p.ow) * p.stride) - i32(p.pad);
    let iw3 = i32((r3 % p.ow) * p.stride) - i32(p.pad);
    let xb3 = n3 * p.c_in * hw + xg;
    let wb0 = (g * p.cout_g + min(co0 + 0u, p.cout_g - 1u)) * p.cin_g * khw;
    let wb1 = (g * p.cout_g + min(co0 + 1u, p.cout_g - 1u)) * p.cin_g * khw;
    let wb2 = (g * p.cout_g + min(co0 + 2u, p.cout_g - 1u)) * p.cin_g * khw;
    let wb3 = (g * p.cout_g + min(co0 + 3u, p.cout_g - 1u)) * p.cin_g * khw;
    let wb4 = (g * p.cout_g + min(co0 + 4u, p.cout_g - 1u)) * p.cin_g * khw;
    let wb5 = (g * p.cout_g + min(co0 + 5u, p.cout_g - 1u)) * p.cin_g * khw;
    let wb6 = (g * p.cout_g + min(co0 + 6u, p.cout_g - 1u)) * p.cin_g * khw;
    let wb7 = (g * p.cout_g + min(co0 + 7u, p.cout_g - 1u)) * p.cin_g * khw;
    var a0_0 = 0.0; var a0_1 = 0.0; var a0_2 = 0.0; var a0_3 = 0.0;
    var a1_0 = 0.0; var a1_1 = 0.0; var a1_2 = 0.0; var a1_3 = 0.0;
    var a2_0 = 0.0; var a2_1 = 0.0; var a2_2 = 0.0; var a2_3 = 0.0;
    var a3_0 = 0.0; var a3_1 = 0.0; var a3_2 = 0.0; var a3_3 = 0.0;
    var a4_0 = 0.0; var a4_1 = 0.0; var a4_2 = 0.0; var a4_3 = 0.0;
    var a5_0 = 0.0; var a5_1 = 0.0; var a5_2 = 0.0; var a5_3 = 0.0;
    var a6_0 = 0.0; var a6_1 = 0.0; var a6_2 = 0.0; var a6_3 = 0.0;
    var a7_0 = 0.0; var a7_1 = 0.0; var a7_2 = 0.0; var a7_3 = 0.0;
    for (var ky = 0u; ky < p.kh; ky++) {
        for (var kx = 0u; kx < p.kw; kx++) {
            let y0 = ih0 + i32(ky);
            let x0 = iw0 + i32(kx);
            let ok0 = v0 && y0 >= 0 && y0 < i32(p.h) && x0 >= 0 && x0 < i32(p.w);
            let o0 = select(0u, xb0 + u32(y0) * p.w + u32(x0), ok0);
            let m0 = select(0.0, 1.0, ok0);
            let y1 = ih1 + i32(ky);
            let x1 = iw1 + i32(kx);
            let ok1 = v1 && y1 >= 0 && y1 < i32(p.h) && x1 >= 0 && x1 < i32(p.w);
            let o1 = select(0u, xb1 + u32(y1) * p.w + u32(x1), ok1);
            let m1 = select(0.0, 1.0, ok1);
            let y2 = ih2 + i32(ky);
            let x2 = iw2 + i32(kx);
            let ok2 = v2 && y2 >= 0 && y2 < i32(p.h) && x2 >= 0 && x2 < i32(p.w);
            let o2 = select(0u, xb2 + u32(y2) * p.w + u32(x2), ok2);
            let m2 = select(0.0, 1.0, ok2);
            let y3 = ih3 + i32(ky);
            let x3 = iw3 + i32(kx);
            let ok3 = v3 && y3 >= 0 && y3 < i32(p.h) && x3 >= 0 && x3 < i32(p.w);
            let o3 = select(0u, xb3 + u32(y3) * p.w + u32(x3), ok3);
            let m3 = select(0.0, 1.0, ok3);
            let t = ky * p.kw + kx;
            for (var ci = 0u; ci < p.cin_g; ci++) {
                let b0 = fx[o0 + ci * hw] * m0;
                let b1 = fx[o1 + ci * hw] * m1;
                let b2 = fx[o2 + ci * hw] * m2;
                let b3 = fx[o3 + ci * hw] * m3;
                let w0 = fwt[wb0 + ci * khw + t];
                a0_0 += w0 * b0; a0_1 += w0 * b1; a0_2 += w0 * b2; a0_3 += w0 * b3;
                let w1 = fwt[wb1 + ci * khw + t];
                a1_0 += w1 * b0; a1_1 += w1 * b1; a1_2 += w1 * b2; a1_3 += w1 * b3;
                let w2 = fwt[wb2 + ci * khw + t];
                a2_0 += w2 * b0; a2_1 += w2 * b1; a2_2 += w2 * b2; a2_3 += w2 * b3;
                let w3 = fwt[wb3 + ci * khw + t];
                a3_0 += w3 * b0; a3_1 += w3 * b1; a3_2 += w3 * b2; a3_3 += w3 * b3;
                let w4 = fwt[wb4 + ci * khw + t];
                a4_0 += w4 * b0; a4_1 += w4 * b1; a4_2 += w4 * b2; a4_3 += w4 * b3;
                let w5 = fwt[wb5 + ci * khw + t];
                a5_0 += w5 * b0; a5_1 += w5 * b1; a5_2 += w5 * b2; a5_3 += w5 * b3;
                let w6 = fwt[wb6 + ci * khw + t];
                a6_0 += w6 * b0; a6_1 += w6 * b1; a6_2 += w6 * b2; a6_3 += w6 * b3;
                let w7 = fwt[wb7 + ci * khw + t];
                a7_0 += w7 * b0; a7_1 += w7 * b1; a7_2 += w7 * b2; a7_3 += w7 * b3;
            }
        }
    }
    if (v0) {
        let yb = (n0 * p.c_out + g * p.cout_g + co0) * ohw + r0;
        if (co0 + 0u < p.cout_g) { fy[yb + 0u * ohw] = a0_0; }
        if (co0 + 1u < p.cout_g) { fy[yb + 1u * ohw] = a1_0; }
        if (co0 + 2u < p.cout_g) { fy[yb + 2u * ohw] = a2_0; }
        if (co0 + 3u < p.cout_g) { fy[yb + 3u * ohw] = a3_0; }
        if (co0 + 4u < p.cout_g) { fy[yb + 4u * ohw] = a4_0; }
        if (co0 + 5u < p.cout_g) { fy[yb + 5u * ohw] = a5_0; }
        if (co0 + 6u < p.cout_g) { fy[yb + 6u * ohw] = a6_0; }
        if (co0 + 7u < p.cout_g) { fy[yb + 7u * ohw] = a7_0; }
    }
    if (v1) {
        let yb = (n1 * p.c_out + g * p.cout_g + co0) * ohw + r1;
        if (co0 + 0u < p.cout_g) { fy[yb + 0u * ohw] = a0_1; }
        if (co0 + 1u < p.cout_g) { fy[yb + 1u * ohw] = a1_1; }
        if (co0 + 2u < p.cout_g) { fy[yb + 2u * ohw] = a2_1; }
        if (co0 + 3u < p.cout_g) { fy[yb + 3u * ohw] = a3_1; }
        if (co0 + 4u < p.cout_g) { fy[yb + 4u * ohw] = a4_1; }
        if (co0 + 5u < p.cout_g) { fy[yb + 5u * ohw] = a5_1; }
        if (co0 + 6u < p.cout_g) { fy[yb + 6u * ohw] = a6_1; }
        if (co0 + 7u < p.cout_g) { fy[yb + 7u * ohw] = a7_1; }
    }
    if (v2) {
        let yb = (n2 * p.c_out + g * p.cout_g + co0) * ohw + r2;
        if (co0 + 0u < p.cout_g) { fy[yb + 0u * ohw] = a0_2; }
        if (co0 + 1u < p.cout_g) { fy[yb + 1u * ohw] = a1_2; }
        if (co0 + 2u < p.cout_g) { fy[yb + 2u * ohw] = a2_2; }
        if (co0 + 3u < p.cout_g) { fy[yb + 3u * ohw] = a3_2; }
        if (co0 + 4u < p.cout_g) { fy[yb + 4u * ohw] = a4_2; }
        if (co0 + 5u < p.cout_g) { fy[yb + 5u * ohw] = a5_2; }
        if (co0 + 6u < p.cout_g) { fy[yb + 6u * ohw] = a6_2; }
        if (co0 + 7u < p.cout_g) { fy[yb + 7u * ohw] = a7_2; }
    }
    if (v3) {
        let yb = (n3 * p.c_out + g * p.cout_g + co0) * ohw + r3;
        if (co0 + 0u < p.cout_g) { fy[yb + 0u * ohw] = a0_3; }
        if (co0 + 1u < p.cout_g) { fy[yb + 1u * ohw] = a1_3; }
        if (co0 + 2u < p.cout_g) { fy[yb + 2u * ohw] = a2_3; }
        if (co0 + 3u < p.cout_g) { fy[yb + 3u * ohw] = a3_3; }
        if (co0 + 4u < p.cout_g) { fy[yb + 4u * ohw] = a4_3; }
        if (co0 + 5u < p.cout_g) { fy[yb + 5u * ohw] = a5_3; }
        if (co0 + 6u < p.cout_g) { fy[yb + 6u * ohw] = a6_3; }
        if (co0 + 7u < p.cout_g) { fy[yb + 7u * ohw] = a7_3; }
    }
}

@group(0) @binding(1) var<storage, read> ddy: array<f32>;
@group(0) @binding(2) var<storage, read> dwt: array<f32>;
@group(0) @binding(3) var<storage, read_write> ddx: array<f32>;

// dx = gather over the outputs each input pixel feeds. Input pixels are taken one stride phase
// (ih % stride, iw % stride) at a time so that every invocation walks the same kernel taps: the
// taps with ky = (ph + pad) mod stride, step stride. Workgroups: x, y over position tiles of
// 32 within a phase (p.hq x p.wq positions per image); z = (phase * groups + group) *
// p.blocks + channel block.
@compute @workgroup_size(8)
fn conv2d_backward_data(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let tile = wid.x + wid.y * nwg.x;
    let blk = wid.z % p.blocks;
    let g = (wid.z / p.blocks) % p.groups;
    let phase = wid.z / (p.blocks * p.groups);
    let ph = phase / p.stride;
    let pw = phase % p.stride;
    let ci0 = blk * 8u;
    let ohw = p.oh * p.ow;
    let hw = p.h * p.w;
    let khw = p.kh * p.kw;
    let nq = p.n * p.hq * p.wq;
    let ky0 = (ph + p.pad) % p.stride;
    let kx0 = (pw + p.pad) % p.stride;
    let dyg = g * p.cout_g * ohw;
    let q0 = tile * 32u + 0u + lid.x;
    let n0 = q0 / (p.hq * p.wq);
    let r0 = q0 % (p.hq * p.wq);
    let ih0 = ph + (r0 / p.wq) * p.stride;
    let iw0 = pw + (r0 % p.wq) * p.stride;
    let v0 = q0 < nq && ih0 < p.h && iw0 < p.w;
    let db0 = select(0u, n0, v0) * p.c_out * ohw + dyg;
    let q1 = tile * 32u + 8u + lid.x;
    let n1 = q1 / (p.hq * p.wq);
    let r1 = q1 % (p.hq * p.wq);
    let ih1 = ph + (r1 / p.wq) * p.stride;
    let iw1 = pw + (r1 % p.wq) * p.stride;
    let v1 = q1 < nq && ih1 < p.h && iw1 < p.w;
    let db1 = select(0u, n1, v1) * p.c_out * ohw + dyg;
    let q2 = tile * 32u + 16u + lid.x;
    let n2 = q2 / (p.hq * p.wq);
    let r2 = q2 % (p.hq * p.wq);
    let ih2 = ph + (r2 / p.wq) * p.stride;
    let iw2 = pw + (r2 % p.wq) * p.stride;
    let v2 = q2 < nq && ih2 < p.h && iw2 < p.w;
    let db2 = select(0u, n2, v2) * p.c_out * ohw + dyg;
    let q3 = tile * 32u + 24u + lid.x;
    let n3 = q3 / (p.hq * p.wq);
    let r3 = q3 % (p.hq * p.wq);
    let ih3 = ph + (r3 / p.wq) * p.stride;
    let iw3 = pw + (r3 % p.wq) * p.stride;
    let v3 = q3 < nq && ih3 < p.h && iw3 < p.w;
    let db3 = select(0u, n3, v3) * p.c_out * ohw + dyg;
    let wb0 = g * p.cout_g * p.cin_g * khw + min(ci0 + 0u, p.cin_g - 1u) * khw;
    let wb1 = g * p.cout_g * p.cin_g * khw + min(ci0 + 1u, p.cin_g - 1u) * khw;
    let wb2 = g * p.cout_g * p.cin_g * khw + min(ci0 + 2u, p.cin_g - 1u) * khw;
    let wb3 = g * p.cout_g * p.cin_g * khw + min(ci0 + 3u, p.cin_g - 1u) * khw;
    let wb4 = g * p.cout_g * p.cin_g * khw + min(ci0 + 4u, p.cin_g - 1u) * khw;
    let wb5 = g * p.cout_g * p.cin_g * khw + min(ci0 + 5u, p.cin_g - 1u) * khw;
    let wb6 = g * p.cout_g * p.cin_g * khw + min(ci0 + 6u, p.cin_g - 1u) * khw;
    let wb7 = g * p.cout_g * p.cin_g * khw + min(ci0 + 7u, p.cin_g - 1u) * khw;
    var a0_0 = 0.0; var a0_1 = 0.0; var a0_2 = 0.0; var a0_3 = 0.0;
    var a1_0 = 0.0; var a1_1 = 0.0; var a1_2 = 0.0; var a1_3 = 0.0;
    var a2_0 = 0.0; var a2_1 = 0.0; var a2_2 = 0.0; var a2_3 = 0.0;
    var a3_0 = 0.0; var a3_1 = 0.0; var a3_2 = 0.0; var a3_3 = 0.0;
    var a4_0 = 0.0; var a4_1 = 0.0; var a4_2 = 0.0; var a4_3 = 0.0;
    var a5_0 = 0.0; var a5_1 = 0.0; var a5_2 = 0.0; var a5_3 = 0.0;
    var a6_0 = 0.0; var a6_1 = 0.0; var a6_2 = 0.0; var a6_3 = 0.0;
    var a7_0 = 0.0; var a7_1 = 0.0; var a7_2 = 0.0; var a7_3 = 0.0;
    for (var ky = ky0; ky < p.kh; ky += p.stride) {
        for (var kx = kx0; kx < p.kw; kx += p.stride) {
            let y0 = i32(ih0 + p.pad) - i32(ky);
            let x0 = i32(iw0 + p.pad) - i32(kx);
            let ok0 = v0 && y0 >= 0 && x0 >= 0 && u32(y0) / p.stride < p.oh && u32(x0) / p.stride < p.ow;
            var o0 = select(0u, db0 + (u32(y0) / p.stride) * p.ow + u32(x0) / p.stride, ok0);
            let m0 = select(0.0, 1.0, ok0);
            let y1 = i32(ih1 + p.pad) - i32(ky);
            let x1 = i32(iw1 + p.pad) - i32(kx);
            let ok1 = v1 && y1 >= 0 && x1 >= 0 && u32(y1) / p.stride < p.oh && u32(x1) / p.stride < p.ow;
            var o1 = select(0u, db1 + (u32(y1) / p.stride) * p.ow + u32(x1) / p.stride, ok1);
            let m1 = select(0.0, 1.0, ok1);
            let y2 = i32(ih2 + p.pad) - i32(ky);
            let x2 = i32(iw2 + p.pad) - i32(kx);
            let ok2 = v2 && y2 >= 0 && x2 >= 0 && u32(y2) / p.stride < p.oh && u32(x2) / p.stride < p.ow;
            var o2 = select(0u, db2 + (u32(y2) / p.stride) * p.ow + u32(x2) / p.stride, ok2);
            let m2 = select(0.0, 1.0, ok2);
            let y3 = i32(ih3 + p.pad) - i32(ky);
            let x3 = i32(iw3 + p.pad) - i32(kx);
            let ok3 = v3 && y3 >= 0 && x3 >= 0 && u32(y3) / p.stride < p.oh && u32(x3) / p.stride < p.ow;
            var o3 = select(0u, db3 + (u32(y3) / p.stride) * p.ow + u32(x3) / p.stride, ok3);
            let m3 = select(0.0, 1.0, ok3);
            var t = ky * p.kw + kx;
            for (var co = 0u; co < p.cout_g; co++) {
                let b0 = ddy[o0] * m0;
                let b1 = ddy[o1] * m1;
                let b2 = ddy[o2] * m2;
                let b3 = ddy[o3] * m3;
                let w0 = dwt[wb0 + t];
                a0_0 += w0 * b0; a0_1 += w0 * b1; a0_2 += w0 * b2; a0_3 += w0 * b3;
                let w1 = dwt[wb1 + t];
                a1_0 += w1 * b0; a1_1 += w1 * b1; a1_2 += w1 * b2; a1_3 += w1 * b3;
                let w2 = dwt[wb2 + t];
                a2_0 += w2 * b0; a2_1 += w2 * b1; a2_2 += w2 * b2; a2_3 += w2 * b3;
                let w3 = dwt[wb3 + t];
                a3_0 += w3 * b0; a3_1 += w3 * b1; a3_2 += w3 * b2; a3_3 += w3 * b3;
                let w4 = dwt[wb4 + t];
                a4_0 += w4 * b0; a4_1 += w4 * b1; a4_2 += w4 * b2; a4_3 += w4 * b3;
                let w5 = dwt[wb5 + t];
                a5_0 += w5 * b0; a5_1 += w5 * b1; a5_2 += w5 * b2; a5_3 += w5 * b3;
                let w6 = dwt[wb6 + t];
                a6_0 += w6 * b0; a6_1 += w6 * b1; a6_2 += w6 * b2; a6_3 += w6 * b3;
                let w7 = dwt[wb7 + t];
                a7_0 += w7 * b0; a7_1 += w7 * b1; a7_2 += w7 * b2; a7_3 += w7 * b3;
                o0 += ohw;
                o1 += ohw;
                o2 += ohw;
                o3 += ohw;
                t += p.cin_g * khw;
            }
        }
    }
    if (v0) {
        let xb = (n0 * p.c_in + g * p.cin_g + ci0) * hw + ih0 * p.w + iw0;
        if (ci0 + 0u < p.cin_g) { ddx[xb + 0u * hw] = a0_0; }
        if (ci0 + 1u < p.cin_g) { ddx[xb + 1u * hw] = a1_0; }
        if (ci0 + 2u < p.cin_g) { ddx[xb + 2u * hw] = a2_0; }
        if (ci0 + 3u < p.cin_g) { ddx[xb + 3u * hw] = a3_0; }
        if (ci0 + 4u < p.cin_g) { ddx[xb + 4u * hw] = a4_0; }
        if (ci0 + 5u < p.cin_g) { ddx[xb + 5u * hw] = a5_0; }
        if (ci0 + 6u < p.cin_g) { ddx[xb + 6u * hw] = a6_0; }
        if (ci0 + 7u < p.cin_g) { ddx[xb + 7u * hw] = a7_0; }
    }
    if (v1) {
        let xb = (n1 * p.c_in + g * p.cin_g + ci0) * hw + ih1 * p.w + iw1;
        if (ci0 + 0u < p.cin_g) { ddx[xb + 0u * hw] = a0_1; }
        if (ci0 + 1u < p.cin_g) { ddx[xb + 1u * hw] = a1_1; }
        if (ci0 + 2u < p.cin_g) { ddx[xb + 2u * hw] = a2_1; }
        if (ci0 + 3u < p.cin_g) { ddx[xb + 3u * hw] = a3_1; }
        if (ci0 + 4u < p.cin_g) { ddx[xb + 4u * hw] = a4_1; }
        if (ci0 + 5u < p.cin_g) { ddx[xb + 5u * hw] = a5_1; }
        if (ci0 + 6u < p.cin_g) { ddx[xb + 6u * hw] = a6_1; }
        if (ci0 + 7u < p.cin_g) { ddx[xb + 7u * hw] = a7_1; }
    }
    if (v2) {
        let xb = (n2 * p.c_in + g * p.cin_g + ci0) * hw + ih2 * p.w + iw2;
        if (ci0 + 0u < p.cin_g) { ddx[xb + 0u * hw] = a0_2; }
        if (ci0 + 1u < p.cin_g) { ddx[xb + 1u * hw] = a1_2; }
        if (ci0 + 2u < p.cin_g) { ddx[xb + 2u * hw] = a2_2; }
        if (ci0 + 3u < p.cin_g) { ddx[xb + 3u * hw] = a3_2; }
        if (ci0 + 4u < p.cin_g) { ddx[xb + 4u * hw] = a4_2; }
        if (ci0 + 5u < p.cin_g) { ddx[xb + 5u * hw] = a5_2; }
        if (ci0 + 6u < p.cin_g) { ddx[xb + 6u * hw] = a6_2; }
        if (ci0 + 7u < p.cin_g) { ddx[xb + 7u * hw] = a7_2; }
    }
    if (v3) {
        let xb = (n3 * p.c_in + g * p.cin_g + ci0) * hw + ih3 * p.w + iw3;
        if (ci0 + 0u < p.cin_g) { ddx[xb + 0u * hw] = a0_3; }
        if (ci0 + 1u < p.cin_g) { ddx[xb + 1u * hw] = a1_3; }
        if (ci0 + 2u < p.cin_g) { ddx[xb + 2u * hw] = a2_3; }
        if (ci0 + 3u < p.cin_g) { ddx[xb + 3u * hw] = a3_3; }
        if (ci0 + 4u < p.cin_g) { ddx[xb + 4u * hw] = a4_3; }
        if (ci0 + 5u < p.cin_g) { ddx[xb + 5u * hw] = a5_3; }
        if (ci0 + 6u < p.cin_g) { ddx[xb + 6u * hw] = a6_3; }
        if (ci0 + 7u < p.cin_g) { ddx[xb + 7u * hw] = a7_3; }
    }
}

@group(0) @binding(1) var<storage, read> wx: array<f32>;
@group(0) @binding(2) var<storage, read> wdy: array<f32>;
@group(0) @binding(3) var<storage, read_write> wpart: array<f32>;

// Partial weight gradients: slice s of p.slices sums the positions q = s, s + slices, ... of
// the n * oh * ow outputs (adjacent invocations take adjacent slices, so adjacent positions)
// into wpart[s * w_len + weight index]. Invocation id = block * slices + s, where block runs
// over (group, output-channel block, input-channel block, tap); p.blocks = blocks per group
// of output channels (8 each), p.hq = blocks of input channels (4 each).
@compute @workgroup_size(8)
fn conv2d_backward_weight_partial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let id = gid.x + gid.y * nwg.x * 8u;
    let khw = p.kh * p.kw;
    let total = p.groups * p.blocks * p.hq * khw * p.slices;
    if (id >= total) { return; }
    let s = id % p.slices;
    var b = id / p.slices;
    let t = b % khw;
    b = b / khw;
    let ci0 = (b % p.hq) * 4u;
    b = b / p.hq;
    let co0 = (b % p.blocks) * 8u;
    let g = b / p.blocks;
    let ky = t / p.kw;
    let kx = t % p.kw;
    let ohw = p.oh * p.ow;
    let hw = p.h * p.w;
    let np = p.n * ohw;
    let c0 = (g * p.cout_g + min(co0 + 0u, p.cout_g - 1u)) * ohw;
    let c1 = (g * p.cout_g + min(co0 + 1u, p.cout_g - 1u)) * ohw;
    let c2 = (g * p.cout_g + min(co0 + 2u, p.cout_g - 1u)) * ohw;
    let c3 = (g * p.cout_g + min(co0 + 3u, p.cout_g - 1u)) * ohw;
    let c4 = (g * p.cout_g + min(co0 + 4u, p.cout_g - 1u)) * ohw;
    let c5 = (g * p.cout_g + min(co0 + 5u, p.cout_g - 1u)) * ohw;
    let c6 = (g * p.cout_g + min(co0 + 6u, p.cout_g - 1u)) * ohw;
    let c7 = (g * p.cout_g + min(co0 + 7u, p.cout_g - 1u)) * ohw;
    let e0 = (g * p.cin_g + min(ci0 + 0u, p.cin_g - 1u)) * hw;
    let e1 = (g * p.cin_g + min(ci0 + 1u, p.cin_g - 1u)) * hw;
    let e2 = (g * p.cin_g + min(ci0 + 2u, p.cin_g - 1u)) * hw;
    let e3 = (g * p.cin_g + min(ci0 + 3u, p.cin_g - 1u)) * hw;
    var a0_0 = 0.0; var a0_1 = 0.0; var a0_2 = 0.0; var a0_3 = 0.0;
    var a1_0 = 0.0; var a1_1 = 0.0; var a1_2 = 0.0; var a1_3 = 0.0;
    var a2_0 = 0.0; var a2_1 = 0.0; var a2_2 = 0.0; var a2_3 = 0.0;
    var a3_0 = 0.0; var a3_1 = 0.0; var a3_2 = 0.0; var a3_3 = 0.0;
    var a4_0 = 0.0; var a4_1 = 0.0; var a4_2 = 0.0; var a4_3 = 0.0;
    var a5_0 = 0.0; var a5_1 = 0.0; var a5_2 = 0.0; var a5_3 = 0.0;
    var a6_0 = 0.0; var a6_1 = 0.0; var a6_2 = 0.0; var a6_3 = 0.0;
    var a7_0 = 0.0; var a7_1 = 0.0; var a7_2 = 0.0; var a7_3 = 0.0;
    for (var q = s; q < np; q += p.slices) {
        let n = q / ohw;
        let r = q % ohw;
        let y = i32((r / p.ow) * p.stride + ky) - i32(p.pad);
        let x = i32((r % p.ow) * p.stride + kx) - i32(p.pad);
        let ok = y >= 0 && y < i32(p.h) && x >= 0 && x < i32(p.w);
        let o = select(0u, n * p.c_in * hw + u32(y) * p.w + u32(x), ok);
        let m = select(0.0, 1.0, ok);
        let d = n * p.c_out * ohw + r;
        let b0 = wx[o + e0] * m;
        let b1 = wx[o + e1] * m;
        let b2 = wx[o + e2] * m;
        let b3 = wx[o + e3] * m;
        let d0 = wdy[d + c0];
        a0_0 += d0 * b0; a0_1 += d0 * b1; a0_2 += d0 * b2; a0_3 += d0 * b3;
        let d1 = wdy[d + c1];
        a1_0 += d1 * b0; a1_1 += d1 * b1; a1_2 += d1 * b2; a1_3 += d1 * b3;
        let d2 = wdy[d + c2];
        a2_0 += d2 * b0; a2_1 += d2 * b1; a2_2 += d2 * b2; a2_3 += d2 * b3;
        let d3 = wdy[d + c3];
        a3_0 += d3 * b0; a3_1 += d3 * b1; a3_2 += d3 * b2; a3_3 += d3 * b3;
        let d4 = wdy[d + c4];
        a4_0 += d4 * b0; a4_1 += d4 * b1; a4_2 += d4 * b2; a4_3 += d4 * b3;
        let d5 = wdy[d + c5];
        a5_0 += d5 * b0; a5_1 += d5 * b1; a5_2 += d5 * b2; a5_3 += d5 * b3;
        let d6 = wdy[d + c6];
        a6_0 += d6 * b0; a6_1 += d6 * b1; a6_2 += d6 * b2; a6_3 += d6 * b3;
        let d7 = wdy[d + c7];
        a7_0 += d7 * b0; a7_1 += d7 * b1; a7_2 += d7 * b2; a7_3 += d7 * b3;
    }
    let base = s * p.w_len;
    if (co0 + 0u < p.cout_g && ci0 + 0u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 0u) * p.cin_g + ci0 + 0u) * khw + t] = a0_0; }
    if (co0 + 0u < p.cout_g && ci0 + 1u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 0u) * p.cin_g + ci0 + 1u) * khw + t] = a0_1; }
    if (co0 + 0u < p.cout_g && ci0 + 2u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 0u) * p.cin_g + ci0 + 2u) * khw + t] = a0_2; }
    if (co0 + 0u < p.cout_g && ci0 + 3u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 0u) * p.cin_g + ci0 + 3u) * khw + t] = a0_3; }
    if (co0 + 1u < p.cout_g && ci0 + 0u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 1u) * p.cin_g + ci0 + 0u) * khw + t] = a1_0; }
    if (co0 + 1u < p.cout_g && ci0 + 1u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 1u) * p.cin_g + ci0 + 1u) * khw + t] = a1_1; }
    if (co0 + 1u < p.cout_g && ci0 + 2u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 1u) * p.cin_g + ci0 + 2u) * khw + t] = a1_2; }
    if (co0 + 1u < p.cout_g && ci0 + 3u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 1u) * p.cin_g + ci0 + 3u) * khw + t] = a1_3; }
    if (co0 + 2u < p.cout_g && ci0 + 0u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 2u) * p.cin_g + ci0 + 0u) * khw + t] = a2_0; }
    if (co0 + 2u < p.cout_g && ci0 + 1u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 2u) * p.cin_g + ci0 + 1u) * khw + t] = a2_1; }
    if (co0 + 2u < p.cout_g && ci0 + 2u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 2u) * p.cin_g + ci0 + 2u) * khw + t] = a2_2; }
    if (co0 + 2u < p.cout_g && ci0 + 3u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 2u) * p.cin_g + ci0 + 3u) * khw + t] = a2_3; }
    if (co0 + 3u < p.cout_g && ci0 + 0u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 3u) * p.cin_g + ci0 + 0u) * khw + t] = a3_0; }
    if (co0 + 3u < p.cout_g && ci0 + 1u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 3u) * p.cin_g + ci0 + 1u) * khw + t] = a3_1; }
    if (co0 + 3u < p.cout_g && ci0 + 2u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 3u) * p.cin_g + ci0 + 2u) * khw + t] = a3_2; }
    if (co0 + 3u < p.cout_g && ci0 + 3u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 3u) * p.cin_g + ci0 + 3u) * khw + t] = a3_3; }
    if (co0 + 4u < p.cout_g && ci0 + 0u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 4u) * p.cin_g + ci0 + 0u) * khw + t] = a4_0; }
    if (co0 + 4u < p.cout_g && ci0 + 1u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 4u) * p.cin_g + ci0 + 1u) * khw + t] = a4_1; }
    if (co0 + 4u < p.cout_g && ci0 + 2u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 4u) * p.cin_g + ci0 + 2u) * khw + t] = a4_2; }
    if (co0 + 4u < p.cout_g && ci0 + 3u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 4u) * p.cin_g + ci0 + 3u) * khw + t] = a4_3; }
    if (co0 + 5u < p.cout_g && ci0 + 0u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 5u) * p.cin_g + ci0 + 0u) * khw + t] = a5_0; }
    if (co0 + 5u < p.cout_g && ci0 + 1u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 5u) * p.cin_g + ci0 + 1u) * khw + t] = a5_1; }
    if (co0 + 5u < p.cout_g && ci0 + 2u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 5u) * p.cin_g + ci0 + 2u) * khw + t] = a5_2; }
    if (co0 + 5u < p.cout_g && ci0 + 3u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 5u) * p.cin_g + ci0 + 3u) * khw + t] = a5_3; }
    if (co0 + 6u < p.cout_g && ci0 + 0u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 6u) * p.cin_g + ci0 + 0u) * khw + t] = a6_0; }
    if (co0 + 6u < p.cout_g && ci0 + 1u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 6u) * p.cin_g + ci0 + 1u) * khw + t] = a6_1; }
    if (co0 + 6u < p.cout_g && ci0 + 2u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 6u) * p.cin_g + ci0 + 2u) * khw + t] = a6_2; }
    if (co0 + 6u < p.cout_g && ci0 + 3u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 6u) * p.cin_g + ci0 + 3u) * khw + t] = a6_3; }
    if (co0 + 7u < p.cout_g && ci0 + 0u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 7u) * p.cin_g + ci0 + 0u) * khw + t] = a7_0; }
    if (co0 + 7u < p.cout_g && ci0 + 1u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 7u) * p.cin_g + ci0 + 1u) * khw + t] = a7_1; }
    if (co0 + 7u < p.cout_g && ci0 + 2u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 7u) * p.cin_g + ci0 + 2u) * khw + t] = a7_2; }
    if (co0 + 7u < p.cout_g && ci0 + 3u < p.cin_g) { wpart[base + ((g * p.cout_g + co0 + 7u) * p.cin_g + ci0 + 3u) * khw + t] = a7_3; }
}

@group(0) @binding(1) var<storage, read> rpart: array<f32>;
@group(0) @binding(2) var<storage, read_write> rdw: array<f32>;

// dw[i] = sum over slices s in order of wpart[s * w_len + i].
@compute @workgroup_size(8)
fn conv2d_backward_weight_reduce(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 8u;
    if (i >= p.w_len) { return; }
    var acc = 0.0;
    for (var s = 0u; s < p.slices; s++) {
        acc += rpart[s * p.w_len + i];
    }
    rdw[i] = acc;
}

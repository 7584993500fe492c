// GEMM kernels for src/kernels/gemm.rs.
//
// Every GEMM entry computes C[i, l] = (C[i, l] if accumulate) + sum_k Q[i, k] * P[k, l] where the
// operands are addressed through strides in `GemmParams`, so one entry serves all four transpose
// combinations and both orientations (C = A.B with l over columns, or C^T = B^T.A^T with l over
// rows of C; the host picks). Workgroups are numbered linearly over x and y
// (`wid.x + wid.y * nwg.x`), block = row_block * lane_blocks + lane_block.
//
// `gemm_unrolled_<BM>x<BN>` (software adapters: lavapipe, llvmpipe): one invocation holds a
// BM x BN block of C in scalar variables, fully unrolled (no local arrays, no shared memory: both
// are slow on those adapters). A workgroup is 8 invocations, one SIMD vector on llvmpipe; lane t
// takes the lanes l0 + t + 8 * j, j < BN, so adjacent invocations read adjacent P elements. P
// must be contiguous along l (p_l == 1; the host transposes it into scratch otherwise). Out-of-range
// rows and lanes load clamped (valid) addresses and are not stored. The unrolled bodies are
// generated; they follow one pattern and differ only in BM and BN.
//
// `gemm_tiled` (real GPUs): 64 x 64 tiles of C through workgroup memory, k in steps of 16, each of
// the 16 x 16 invocations holds 4 x 4 outputs; any strides.

struct GemmParams {
    lanes: u32,        // L: extent of C along l
    rows: u32,         // I: extent of C along i
    k: u32,
    accumulate: u32,   // 1: add to the existing C
    p_k: u32,
    p_l: u32,
    q_i: u32,
    q_k: u32,
    c_i: u32,
    c_l: u32,
    lane_blocks: u32,  // workgroups along l
    blocks: u32,       // lane_blocks * row blocks
}

@group(0) @binding(0) var<uniform> params: GemmParams;
@group(0) @binding(1) var<storage, read> p: array<f32>;
@group(0) @binding(2) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

fn store_c(i: u32, l: u32, value: f32) {
    if (i < params.rows && l < params.lanes) {
        let idx = i * params.c_i + l * params.c_l;
        if (params.accumulate != 0u) {
            c[idx] = c[idx] + value;
        } else {
            c[idx] = value;
        }
    }
}

@compute @workgroup_size(8)
fn gemm_unrolled_16x16(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let block = wid.x + wid.y * nwg.x;
    let lane_block = block % params.lane_blocks;
    let i0 = (block / params.lane_blocks) * 16u;
    let l0 = lane_block * 128u + lid.x;
    let lmax = params.lanes - 1u;
    let imax = params.rows - 1u;
    let x0 = min(l0 + 0u, lmax);
    let x1 = min(l0 + 8u, lmax);
    let x2 = min(l0 + 16u, lmax);
    let x3 = min(l0 + 24u, lmax);
    let x4 = min(l0 + 32u, lmax);
    let x5 = min(l0 + 40u, lmax);
    let x6 = min(l0 + 48u, lmax);
    let x7 = min(l0 + 56u, lmax);
    let x8 = min(l0 + 64u, lmax);
    let x9 = min(l0 + 72u, lmax);
    let x10 = min(l0 + 80u, lmax);
    let x11 = min(l0 + 88u, lmax);
    let x12 = min(l0 + 96u, lmax);
    let x13 = min(l0 + 104u, lmax);
    let x14 = min(l0 + 112u, lmax);
    let x15 = min(l0 + 120u, lmax);
    let r0 = min(i0 + 0u, imax) * params.q_i;
    let r1 = min(i0 + 1u, imax) * params.q_i;
    let r2 = min(i0 + 2u, imax) * params.q_i;
    let r3 = min(i0 + 3u, imax) * params.q_i;
    let r4 = min(i0 + 4u, imax) * params.q_i;
    let r5 = min(i0 + 5u, imax) * params.q_i;
    let r6 = min(i0 + 6u, imax) * params.q_i;
    let r7 = min(i0 + 7u, imax) * params.q_i;
    let r8 = min(i0 + 8u, imax) * params.q_i;
    let r9 = min(i0 + 9u, imax) * params.q_i;
    let r10 = min(i0 + 10u, imax) * params.q_i;
    let r11 = min(i0 + 11u, imax) * params.q_i;
    let r12 = min(i0 + 12u, imax) * params.q_i;
    let r13 = min(i0 + 13u, imax) * params.q_i;
    let r14 = min(i0 + 14u, imax) * params.q_i;
    let r15 = min(i0 + 15u, imax) * params.q_i;
    var c0_0 = 0.0; var c0_1 = 0.0; var c0_2 = 0.0; var c0_3 = 0.0; var c0_4 = 0.0; var c0_5 = 0.0; var c0_6 = 0.0; var c0_7 = 0.0; var c0_8 = 0.0; var c0_9 = 0.0; var c0_10 = 0.0; var c0_11 = 0.0; var c0_12 = 0.0; var c0_13 = 0.0; var c0_14 = 0.0; var c0_15 = 0.0;
    var c1_0 = 0.0; var c1_1 = 0.0; var c1_2 = 0.0; var c1_3 = 0.0; var c1_4 = 0.0; var c1_5 = 0.0; var c1_6 = 0.0; var c1_7 = 0.0; var c1_8 = 0.0; var c1_9 = 0.0; var c1_10 = 0.0; var c1_11 = 0.0; var c1_12 = 0.0; var c1_13 = 0.0; var c1_14 = 0.0; var c1_15 = 0.0;
    var c2_0 = 0.0; var c2_1 = 0.0; var c2_2 = 0.0; var c2_3 = 0.0; var c2_4 = 0.0; var c2_5 = 0.0; var c2_6 = 0.0; var c2_7 = 0.0; var c2_8 = 0.0; var c2_9 = 0.0; var c2_10 = 0.0; var c2_11 = 0.0; var c2_12 = 0.0; var c2_13 = 0.0; var c2_14 = 0.0; var c2_15 = 0.0;
    var c3_0 = 0.0; var c3_1 = 0.0; var c3_2 = 0.0; var c3_3 = 0.0; var c3_4 = 0.0; var c3_5 = 0.0; var c3_6 = 0.0; var c3_7 = 0.0; var c3_8 = 0.0; var c3_9 = 0.0; var c3_10 = 0.0; var c3_11 = 0.0; var c3_12 = 0.0; var c3_13 = 0.0; var c3_14 = 0.0; var c3_15 = 0.0;
    var c4_0 = 0.0; var c4_1 = 0.0; var c4_2 = 0.0; var c4_3 = 0.0; var c4_4 = 0.0; var c4_5 = 0.0; var c4_6 = 0.0; var c4_7 = 0.0; var c4_8 = 0.0; var c4_9 = 0.0; var c4_10 = 0.0; var c4_11 = 0.0; var c4_12 = 0.0; var c4_13 = 0.0; var c4_14 = 0.0; var c4_15 = 0.0;
    var c5_0 = 0.0; var c5_1 = 0.0; var c5_2 = 0.0; var c5_3 = 0.0; var c5_4 = 0.0; var c5_5 = 0.0; var c5_6 = 0.0; var c5_7 = 0.0; var c5_8 = 0.0; var c5_9 = 0.0; var c5_10 = 0.0; var c5_11 = 0.0; var c5_12 = 0.0; var c5_13 = 0.0; var c5_14 = 0.0; var c5_15 = 0.0;
    var c6_0 = 0.0; var c6_1 = 0.0; var c6_2 = 0.0; var c6_3 = 0.0; var c6_4 = 0.0; var c6_5 = 0.0; var c6_6 = 0.0; var c6_7 = 0.0; var c6_8 = 0.0; var c6_9 = 0.0; var c6_10 = 0.0; var c6_11 = 0.0; var c6_12 = 0.0; var c6_13 = 0.0; var c6_14 = 0.0; var c6_15 = 0.0;
    var c7_0 = 0.0; var c7_1 = 0.0; var c7_2 = 0.0; var c7_3 = 0.0; var c7_4 = 0.0; var c7_5 = 0.0; var c7_6 = 0.0; var c7_7 = 0.0; var c7_8 = 0.0; var c7_9 = 0.0; var c7_10 = 0.0; var c7_11 = 0.0; var c7_12 = 0.0; var c7_13 = 0.0; var c7_14 = 0.0; var c7_15 = 0.0;
    var c8_0 = 0.0; var c8_1 = 0.0; var c8_2 = 0.0; var c8_3 = 0.0; var c8_4 = 0.0; var c8_5 = 0.0; var c8_6 = 0.0; var c8_7 = 0.0; var c8_8 = 0.0; var c8_9 = 0.0; var c8_10 = 0.0; var c8_11 = 0.0; var c8_12 = 0.0; var c8_13 = 0.0; var c8_14 = 0.0; var c8_15 = 0.0;
    var c9_0 = 0.0; var c9_1 = 0.0; var c9_2 = 0.0; var c9_3 = 0.0; var c9_4 = 0.0; var c9_5 = 0.0; var c9_6 = 0.0; var c9_7 = 0.0; var c9_8 = 0.0; var c9_9 = 0.0; var c9_10 = 0.0; var c9_11 = 0.0; var c9_12 = 0.0; var c9_13 = 0.0; var c9_14 = 0.0; var c9_15 = 0.0;
    var c10_0 = 0.0; var c10_1 = 0.0; var c10_2 = 0.0; var c10_3 = 0.0; var c10_4 = 0.0; var c10_5 = 0.0; var c10_6 = 0.0; var c10_7 = 0.0; var c10_8 = 0.0; var c10_9 = 0.0; var c10_10 = 0.0; var c10_11 = 0.0; var c10_12 = 0.0; var c10_13 = 0.0; var c10_14 = 0.0; var c10_15 = 0.0;
    var c11_0 = 0.0; var c11_1 = 0.0; var c11_2 = 0.0; var c11_3 = 0.0; var c11_4 = 0.0; var c11_5 = 0.0; var c11_6 = 0.0; var c11_7 = 0.0; var c11_8 = 0.0; var c11_9 = 0.0; var c11_10 = 0.0; var c11_11 = 0.0; var c11_12 = 0.0; var c11_13 = 0.0; var c11_14 = 0.0; var c11_15 = 0.0;
    var c12_0 = 0.0; var c12_1 = 0.0; var c12_2 = 0.0; var c12_3 = 0.0; var c12_4 = 0.0; var c12_5 = 0.0; var c12_6 = 0.0; var c12_7 = 0.0; var c12_8 = 0.0; var c12_9 = 0.0; var c12_10 = 0.0; var c12_11 = 0.0; var c12_12 = 0.0; var c12_13 = 0.0; var c12_14 = 0.0; var c12_15 = 0.0;
    var c13_0 = 0.0; var c13_1 = 0.0; var c13_2 = 0.0; var c13_3 = 0.0; var c13_4 = 0.0; var c13_5 = 0.0; var c13_6 = 0.0; var c13_7 = 0.0; var c13_8 = 0.0; var c13_9 = 0.0; var c13_10 = 0.0; var c13_11 = 0.0; var c13_12 = 0.0; var c13_13 = 0.0; var c13_14 = 0.0; var c13_15 = 0.0;
    var c14_0 = 0.0; var c14_1 = 0.0; var c14_2 = 0.0; var c14_3 = 0.0; var c14_4 = 0.0; var c14_5 = 0.0; var c14_6 = 0.0; var c14_7 = 0.0; var c14_8 = 0.0; var c14_9 = 0.0; var c14_10 = 0.0; var c14_11 = 0.0; var c14_12 = 0.0; var c14_13 = 0.0; var c14_14 = 0.0; var c14_15 = 0.0;
    var c15_0 = 0.0; var c15_1 = 0.0; var c15_2 = 0.0; var c15_3 = 0.0; var c15_4 = 0.0; var c15_5 = 0.0; var c15_6 = 0.0; var c15_7 = 0.0; var c15_8 = 0.0; var c15_9 = 0.0; var c15_10 = 0.0; var c15_11 = 0.0; var c15_12 = 0.0; var c15_13 = 0.0; var c15_14 = 0.0; var c15_15 = 0.0;
    var po = 0u;
    var qo = 0u;
    for (var kk = 0u; kk < params.k; kk = kk + 1u) {
        let p0 = p[po + x0];
        let p1 = p[po + x1];
        let p2 = p[po + x2];
        let p3 = p[po + x3];
        let p4 = p[po + x4];
        let p5 = p[po + x5];
        let p6 = p[po + x6];
        let p7 = p[po + x7];
        let p8 = p[po + x8];
        let p9 = p[po + x9];
        let p10 = p[po + x10];
        let p11 = p[po + x11];
        let p12 = p[po + x12];
        let p13 = p[po + x13];
        let p14 = p[po + x14];
        let p15 = p[po + x15];
        let q0 = q[qo + r0];
        let q1 = q[qo + r1];
        let q2 = q[qo + r2];
        let q3 = q[qo + r3];
        let q4 = q[qo + r4];
        let q5 = q[qo + r5];
        let q6 = q[qo + r6];
        let q7 = q[qo + r7];
        let q8 = q[qo + r8];
        let q9 = q[qo + r9];
        let q10 = q[qo + r10];
        let q11 = q[qo + r11];
        let q12 = q[qo + r12];
        let q13 = q[qo + r13];
        let q14 = q[qo + r14];
        let q15 = q[qo + r15];
        c0_0 = fma(q0, p0, c0_0); c0_1 = fma(q0, p1, c0_1); c0_2 = fma(q0, p2, c0_2); c0_3 = fma(q0, p3, c0_3); c0_4 = fma(q0, p4, c0_4); c0_5 = fma(q0, p5, c0_5); c0_6 = fma(q0, p6, c0_6); c0_7 = fma(q0, p7, c0_7); c0_8 = fma(q0, p8, c0_8); c0_9 = fma(q0, p9, c0_9); c0_10 = fma(q0, p10, c0_10); c0_11 = fma(q0, p11, c0_11); c0_12 = fma(q0, p12, c0_12); c0_13 = fma(q0, p13, c0_13); c0_14 = fma(q0, p14, c0_14); c0_15 = fma(q0, p15, c0_15);
        c1_0 = fma(q1, p0, c1_0); c1_1 = fma(q1, p1, c1_1); c1_2 = fma(q1, p2, c1_2); c1_3 = fma(q1, p3, c1_3); c1_4 = fma(q1, p4, c1_4); c1_5 = fma(q1, p5, c1_5); c1_6 = fma(q1, p6, c1_6); c1_7 = fma(q1, p7, c1_7); c1_8 = fma(q1, p8, c1_8); c1_9 = fma(q1, p9, c1_9); c1_10 = fma(q1, p10, c1_10); c1_11 = fma(q1, p11, c1_11); c1_12 = fma(q1, p12, c1_12); c1_13 = fma(q1, p13, c1_13); c1_14 = fma(q1, p14, c1_14); c1_15 = fma(q1, p15, c1_15);
        c2_0 = fma(q2, p0, c2_0); c2_1 = fma(q2, p1, c2_1); c2_2 = fma(q2, p2, c2_2); c2_3 = fma(q2, p3, c2_3); c2_4 = fma(q2, p4, c2_4); c2_5 = fma(q2, p5, c2_5); c2_6 = fma(q2, p6, c2_6); c2_7 = fma(q2, p7, c2_7); c2_8 = fma(q2, p8, c2_8); c2_9 = fma(q2, p9, c2_9); c2_10 = fma(q2, p10, c2_10); c2_11 = fma(q2, p11, c2_11); c2_12 = fma(q2, p12, c2_12); c2_13 = fma(q2, p13, c2_13); c2_14 = fma(q2, p14, c2_14); c2_15 = fma(q2, p15, c2_15);
        c3_0 = fma(q3, p0, c3_0); c3_1 = fma(q3, p1, c3_1); c3_2 = fma(q3, p2, c3_2); c3_3 = fma(q3, p3, c3_3); c3_4 = fma(q3, p4, c3_4); c3_5 = fma(q3, p5, c3_5); c3_6 = fma(q3, p6, c3_6); c3_7 = fma(q3, p7, c3_7); c3_8 = fma(q3, p8, c3_8); c3_9 = fma(q3, p9, c3_9); c3_10 = fma(q3, p10, c3_10); c3_11 = fma(q3, p11, c3_11); c3_12 = fma(q3, p12, c3_12); c3_13 = fma(q3, p13, c3_13); c3_14 = fma(q3, p14, c3_14); c3_15 = fma(q3, p15, c3_15);
        c4_0 = fma(q4, p0, c4_0); c4_1 = fma(q4, p1, c4_1); c4_2 = fma(q4, p2, c4_2); c4_3 = fma(q4, p3, c4_3); c4_4 = fma(q4, p4, c4_4); c4_5 = fma(q4, p5, c4_5); c4_6 = fma(q4, p6, c4_6); c4_7 = fma(q4, p7, c4_7); c4_8 = fma(q4, p8, c4_8); c4_9 = fma(q4, p9, c4_9); c4_10 = fma(q4, p10, c4_10); c4_11 = fma(q4, p11, c4_11); c4_12 = fma(q4, p12, c4_12); c4_13 = fma(q4, p13, c4_13); c4_14 = fma(q4, p14, c4_14); c4_15 = fma(q4, p15, c4_15);
        c5_0 = fma(q5, p0, c5_0); c5_1 = fma(q5, p1, c5_1); c5_2 = fma(q5, p2, c5_2); c5_3 = fma(q5, p3, c5_3); c5_4 = fma(q5, p4, c5_4); c5_5 = fma(q5, p5, c5_5); c5_6 = fma(q5, p6, c5_6); c5_7 = fma(q5, p7, c5_7); c5_8 = fma(q5, p8, c5_8); c5_9 = fma(q5, p9, c5_9); c5_10 = fma(q5, p10, c5_10); c5_11 = fma(q5, p11, c5_11); c5_12 = fma(q5, p12, c5_12); c5_13 = fma(q5, p13, c5_13); c5_14 = fma(q5, p14, c5_14); c5_15 = fma(q5, p15, c5_15);
        c6_0 = fma(q6, p0, c6_0); c6_1 = fma(q6, p1, c6_1); c6_2 = fma(q6, p2, c6_2); c6_3 = fma(q6, p3, c6_3); c6_4 = fma(q6, p4, c6_4); c6_5 = fma(q6, p5, c6_5); c6_6 = fma(q6, p6, c6_6); c6_7 = fma(q6, p7, c6_7); c6_8 = fma(q6, p8, c6_8); c6_9 = fma(q6, p9, c6_9); c6_10 = fma(q6, p10, c6_10); c6_11 = fma(q6, p11, c6_11); c6_12 = fma(q6, p12, c6_12); c6_13 = fma(q6, p13, c6_13); c6_14 = fma(q6, p14, c6_14); c6_15 = fma(q6, p15, c6_15);
        c7_0 = fma(q7, p0, c7_0); c7_1 = fma(q7, p1, c7_1); c7_2 = fma(q7, p2, c7_2); c7_3 = fma(q7, p3, c7_3); c7_4 = fma(q7, p4, c7_4); c7_5 = fma(q7, p5, c7_5); c7_6 = fma(q7, p6, c7_6); c7_7 = fma(q7, p7, c7_7); c7_8 = fma(q7, p8, c7_8); c7_9 = fma(q7, p9, c7_9); c7_10 = fma(q7, p10, c7_10); c7_11 = fma(q7, p11, c7_11); c7_12 = fma(q7, p12, c7_12); c7_13 = fma(q7, p13, c7_13); c7_14 = fma(q7, p14, c7_14); c7_15 = fma(q7, p15, c7_15);
        c8_0 = fma(q8, p0, c8_0); c8_1 = fma(q8, p1, c8_1); c8_2 = fma(q8, p2, c8_2); c8_3 = fma(q8, p3, c8_3); c8_4 = fma(q8, p4, c8_4); c8_5 = fma(q8, p5, c8_5); c8_6 = fma(q8, p6, c8_6); c8_7 = fma(q8, p7, c8_7); c8_8 = fma(q8, p8, c8_8); c8_9 = fma(q8, p9, c8_9); c8_10 = fma(q8, p10, c8_10); c8_11 = fma(q8, p11, c8_11); c8_12 = fma(q8, p12, c8_12); c8_13 = fma(q8, p13, c8_13); c8_14 = fma(q8, p14, c8_14); c8_15 = fma(q8, p15, c8_15);
        c9_0 = fma(q9, p0, c9_0); c9_1 = fma(q9, p1, c9_1); c9_2 = fma(q9, p2, c9_2); c9_3 = fma(q9, p3, c9_3); c9_4 = fma(q9, p4, c9_4); c9_5 = fma(q9, p5, c9_5); c9_6 = fma(q9, p6, c9_6); c9_7 = fma(q9, p7, c9_7); c9_8 = fma(q9, p8, c9_8); c9_9 = fma(q9, p9, c9_9); c9_10 = fma(q9, p10, c9_10); c9_11 = fma(q9, p11, c9_11); c9_12 = fma(q9, p12, c9_12); c9_13 = fma(q9, p13, c9_13); c9_14 = fma(q9, p14, c9_14); c9_15 = fma(q9, p15, c9_15);
        c10_0 = fma(q10, p0, c10_0); c10_1 = fma(q10, p1, c10_1); c10_2 = fma(q10, p2, c10_2); c10_3 = fma(q10, p3, c10_3); c10_4 = fma(q10, p4, c10_4); c10_5 = fma(q10, p5, c10_5); c10_6 = fma(q10, p6, c10_6); c10_7 = fma(q10, p7, c10_7); c10_8 = fma(q10, p8, c10_8); c10_9 = fma(q10, p9, c10_9); c10_10 = fma(q10, p10, c10_10); c10_11 = fma(q10, p11, c10_11); c10_12 = fma(q10, p12, c10_12); c10_13 = fma(q10, p13, c10_13); c10_14 = fma(q10, p14, c10_14); c10_15 = fma(q10, p15, c10_15);
        c11_0 = fma(q11, p0, c11_0); c11_1 = fma(q11, p1, c11_1); c11_2 = fma(q11, p2, c11_2); c11_3 = fma(q11, p3, c11_3); c11_4 = fma(q11, p4, c11_4); c11_5 = fma(q11, p5, c11_5); c11_6 = fma(q11, p6, c11_6); c11_7 = fma(q11, p7, c11_7); c11_8 = fma(q11, p8, c11_8); c11_9 = fma(q11, p9, c11_9); c11_10 = fma(q11, p10, c11_10); c11_11 = fma(q11, p11, c11_11); c11_12 = fma(q11, p12, c11_12); c11_13 = fma(q11, p13, c11_13); c11_14 = fma(q11, p14, c11_14); c11_15 = fma(q11, p15, c11_15);
        c12_0 = fma(q12, p0, c12_0); c12_1 = fma(q12, p1, c12_1); c12_2 = fma(q12, p2, c12_2); c12_3 = fma(q12, p3, c12_3); c12_4 = fma(q12, p4, c12_4); c12_5 = fma(q12, p5, c12_5); c12_6 = fma(q12, p6, c12_6); c12_7 = fma(q12, p7, c12_7); c12_8 = fma(q12, p8, c12_8); c12_9 = fma(q12, p9, c12_9); c12_10 = fma(q12, p10, c12_10); c12_11 = fma(q12, p11, c12_11); c12_12 = fma(q12, p12, c12_12); c12_13 = fma(q12, p13, c12_13); c12_14 = fma(q12, p14, c12_14); c12_15 = fma(q12, p15, c12_15);
        c13_0 = fma(q13, p0, c13_0); c13_1 = fma(q13, p1, c13_1); c13_2 = fma(q13, p2, c13_2); c13_3 = fma(q13, p3, c13_3); c13_4 = fma(q13, p4, c13_4); c13_5 = fma(q13, p5, c13_5); c13_6 = fma(q13, p6, c13_6); c13_7 = fma(q13, p7, c13_7); c13_8 = fma(q13, p8, c13_8); c13_9 = fma(q13, p9, c13_9); c13_10 = fma(q13, p10, c13_10); c13_11 = fma(q13, p11, c13_11); c13_12 = fma(q13, p12, c13_12); c13_13 = fma(q13, p13, c13_13); c13_14 = fma(q13, p14, c13_14); c13_15 = fma(q13, p15, c13_15);
        c14_0 = fma(q14, p0, c14_0); c14_1 = fma(q14, p1, c14_1); c14_2 = fma(q14, p2, c14_2); c14_3 = fma(q14, p3, c14_3); c14_4 = fma(q14, p4, c14_4); c14_5 = fma(q14, p5, c14_5); c14_6 = fma(q14, p6, c14_6); c14_7 = fma(q14, p7, c14_7); c14_8 = fma(q14, p8, c14_8); c14_9 = fma(q14, p9, c14_9); c14_10 = fma(q14, p10, c14_10); c14_11 = fma(q14, p11, c14_11); c14_12 = fma(q14, p12, c14_12); c14_13 = fma(q14, p13, c14_13); c14_14 = fma(q14, p14, c14_14); c14_15 = fma(q14, p15, c14_15);
        c15_0 = fma(q15, p0, c15_0); c15_1 = fma(q15, p1, c15_1); c15_2 = fma(q15, p2, c15_2); c15_3 = fma(q15, p3, c15_3); c15_4 = fma(q15, p4, c15_4); c15_5 = fma(q15, p5, c15_5); c15_6 = fma(q15, p6, c15_6); c15_7 = fma(q15, p7, c15_7); c15_8 = fma(q15, p8, c15_8); c15_9 = fma(q15, p9, c15_9); c15_10 = fma(q15, p10, c15_10); c15_11 = fma(q15, p11, c15_11); c15_12 = fma(q15, p12, c15_12); c15_13 = fma(q15, p13, c15_13); c15_14 = fma(q15, p14, c15_14); c15_15 = fma(q15, p15, c15_15);
        po = po + params.p_k;
        qo = qo + params.q_k;
    }
    store_c(i0 + 0u, l0 + 0u, c0_0); store_c(i0 + 0u, l0 + 8u, c0_1); store_c(i0 + 0u, l0 + 16u, c0_2); store_c(i0 + 0u, l0 + 24u, c0_3); store_c(i0 + 0u, l0 + 32u, c0_4); store_c(i0 + 0u, l0 + 40u, c0_5); store_c(i0 + 0u, l0 + 48u, c0_6); store_c(i0 + 0u, l0 + 56u, c0_7); store_c(i0 + 0u, l0 + 64u, c0_8); store_c(i0 + 0u, l0 + 72u, c0_9); store_c(i0 + 0u, l0 + 80u, c0_10); store_c(i0 + 0u, l0 + 88u, c0_11); store_c(i0 + 0u, l0 + 96u, c0_12); store_c(i0 + 0u, l0 + 104u, c0_13); store_c(i0 + 0u, l0 + 112u, c0_14); store_c(i0 + 0u, l0 + 120u, c0_15);
    store_c(i0 + 1u, l0 + 0u, c1_0); store_c(i0 + 1u, l0 + 8u, c1_1); store_c(i0 + 1u, l0 + 16u, c1_2); store_c(i0 + 1u, l0 + 24u, c1_3); store_c(i0 + 1u, l0 + 32u, c1_4); store_c(i0 + 1u, l0 + 40u, c1_5); store_c(i0 + 1u, l0 + 48u, c1_6); store_c(i0 + 1u, l0 + 56u, c1_7); store_c(i0 + 1u, l0 + 64u, c1_8); store_c(i0 + 1u, l0 + 72u, c1_9); store_c(i0 + 1u, l0 + 80u, c1_10); store_c(i0 + 1u, l0 + 88u, c1_11); store_c(i0 + 1u, l0 + 96u, c1_12); store_c(i0 + 1u, l0 + 104u, c1_13); store_c(i0 + 1u, l0 + 112u, c1_14); store_c(i0 + 1u, l0 + 120u, c1_15);
    store_c(i0 + 2u, l0 + 0u, c2_0); store_c(i0 + 2u, l0 + 8u, c2_1); store_c(i0 + 2u, l0 + 16u, c2_2); store_c(i0 + 2u, l0 + 24u, c2_3); store_c(i0 + 2u, l0 + 32u, c2_4); store_c(i0 + 2u, l0 + 40u, c2_5); store_c(i0 + 2u, l0 + 48u, c2_6); store_c(i0 + 2u, l0 + 56u, c2_7); store_c(i0 + 2u, l0 + 64u, c2_8); store_c(i0 + 2u, l0 + 72u, c2_9); store_c(i0 + 2u, l0 + 80u, c2_10); store_c(i0 + 2u, l0 + 88u, c2_11); store_c(i0 + 2u, l0 + 96u, c2_12); store_c(i0 + 2u, l0 + 104u, c2_13); store_c(i0 + 2u, l0 + 112u, c2_14); store_c(i0 + 2u, l0 + 120u, c2_15);
    store_c(i0 + 3u, l0 + 0u, c3_0); store_c(i0 + 3u, l0 + 8u, c3_1); store_c(i0 + 3u, l0 + 16u, c3_2); store_c(i0 + 3u, l0 + 24u, c3_3); store_c(i0 + 3u, l0 + 32u, c3_4); store_c(i0 + 3u, l0 + 40u, c3_5); store_c(i0 + 3u, l0 + 48u, c3_6); store_c(i0 + 3u, l0 + 56u, c3_7); store_c(i0 + 3u, l0 + 64u, c3_8); store_c(i0 + 3u, l0 + 72u, c3_9); store_c(i0 + 3u, l0 + 80u, c3_10); store_c(i0 + 3u, l0 + 88u, c3_11); store_c(i0 + 3u, l0 + 96u, c3_12); store_c(i0 + 3u, l0 + 104u, c3_13); store_c(i0 + 3u, l0 + 112u, c3_14); store_c(i0 + 3u, l0 + 120u, c3_15);
    store_c(i0 + 4u, l0 + 0u, c4_0); store_c(i0 + 4u, l0 + 8u, c4_1); store_c(i0 + 4u, l0 + 16u, c4_2); store_c(i0 + 4u, l0 + 24u, c4_3); store_c(i0 + 4u, l0 + 32u, c4_4); store_c(i0 + 4u, l0 + 40u, c4_5); store_c(i0 + 4u, l0 + 48u, c4_6); store_c(i0 + 4u, l0 + 56u, c4_7); store_c(i0 + 4u, l0 + 64u, c4_8); store_c(i0 + 4u, l0 + 72u, c4_9); store_c(i0 + 4u, l0 + 80u, c4_10); store_c(i0 + 4u, l0 + 88u, c4_11); store_c(i0 + 4u, l0 + 96u, c4_12); store_c(i0 + 4u, l0 + 104u, c4_13); store_c(i0 + 4u, l0 + 112u, c4_14); store_c(i0 + 4u, l0 + 120u, c4_15);
    store_c(i0 + 5u, l0 + 0u, c5_0); store_c(i0 + 5u, l0 + 8u, c5_1); store_c(i0 + 5u, l0 + 16u, c5_2); store_c(i0 + 5u, l0 + 24u, c5_3); store_c(i0 + 5u, l0 + 32u, c5_4); store_c(i0 + 5u, l0 + 40u, c5_5); store_c(i0 + 5u, l0 + 48u, c5_6); store_c(i0 + 5u, l0 + 56u, c5_7); store_c(i0 + 5u, l0 + 64u, c5_8); store_c(i0 + 5u, l0 + 72u, c5_9); store_c(i0 + 5u, l0 + 80u, c5_10); store_c(i0 + 5u, l0 + 88u, c5_11); store_c(i0 + 5u, l0 + 96u, c5_12); store_c(i0 + 5u, l0 + 104u, c5_13); store_c(i0 + 5u, l0 + 112u, c5_14); store_c(i0 + 5u, l0 + 120u, c5_15);
    store_c(i0 + 6u, l0 + 0u, c6_0); store_c(i0 + 6u, l0 + 8u, c6_1); store_c(i0 + 6u, l0 + 16u, c6_2); store_c(i0 + 6u, l0 + 24u, c6_3); store_c(i0 + 6u, l0 + 32u, c6_4); store_c(i0 + 6u, l0 + 40u, c6_5); store_c(i0 + 6u, l0 + 48u, c6_6); store_c(i0 + 6u, l0 + 56u, c6_7); store_c(i0 + 6u, l0 + 64u, c6_8); store_c(i0 + 6u, l0 + 72u, c6_9); store_c(i0 + 6u, l0 + 80u, c6_10); store_c(i0 + 6u, l0 + 88u, c6_11); store_c(i0 + 6u, l0 + 96u, c6_12); store_c(i0 + 6u, l0 + 104u, c6_13); store_c(i0 + 6u, l0 + 112u, c6_14); store_c(i0 + 6u, l0 + 120u, c6_15);
    store_c(i0 + 7u, l0 + 0u, c7_0); store_c(i0 + 7u, l0 + 8u, c7_1); store_c(i0 + 7u, l0 + 16u, c7_2); store_c(i0 + 7u, l0 + 24u, c7_3); store_c(i0 + 7u, l0 + 32u, c7_4); store_c(i0 + 7u, l0 + 40u, c7_5); store_c(i0 + 7u, l0 + 48u, c7_6); store_c(i0 + 7u, l0 + 56u, c7_7); store_c(i0 + 7u, l0 + 64u, c7_8); store_c(i0 + 7u, l0 + 72u, c7_9); store_c(i0 + 7u, l0 + 80u, c7_10); store_c(i0 + 7u, l0 + 88u, c7_11); store_c(i0 + 7u, l0 + 96u, c7_12); store_c(i0 + 7u, l0 + 104u, c7_13); store_c(i0 + 7u, l0 + 112u, c7_14); store_c(i0 + 7u, l0 + 120u, c7_15);
    store_c(i0 + 8u, l0 + 0u, c8_0); store_c(i0 + 8u, l0 + 8u, c8_1); store_c(i0 + 8u, l0 + 16u, c8_2); store_c(i0 + 8u, l0 + 24u, c8_3); store_c(i0 + 8u, l0 + 32u, c8_4); store_c(i0 + 8u, l0 + 40u, c8_5); store_c(i0 + 8u, l0 + 48u, c8_6); store_c(i0 + 8u, l0 + 56u, c8_7); store_c(i0 + 8u, l0 + 64u, c8_8); store_c(i0 + 8u, l0 + 72u, c8_9); store_c(i0 + 8u, l0 + 80u, c8_10); store_c(i0 + 8u, l0 + 88u, c8_11); store_c(i0 + 8u, l0 + 96u, c8_12); store_c(i0 + 8u, l0 + 104u, c8_13); store_c(i0 + 8u, l0 + 112u, c8_14); store_c(i0 + 8u, l0 + 120u, c8_15);
    store_c(i0 + 9u, l0 + 0u, c9_0); store_c(i0 + 9u, l0 + 8u, c9_1); store_c(i0 + 9u, l0 + 16u, c9_2); store_c(i0 + 9u, l0 + 24u, c9_3); store_c(i0 + 9u, l0 + 32u, c9_4); store_c(i0 + 9u, l0 + 40u, c9_5); store_c(i0 + 9u, l0 + 48u, c9_6); store_c(i0 + 9u, l0 + 56u, c9_7); store_c(i0 + 9u, l0 + 64u, c9_8); store_c(i0 + 9u, l0 + 72u, c9_9); store_c(i0 + 9u, l0 + 80u, c9_10); store_c(i0 + 9u, l0 + 88u, c9_11); store_c(i0 + 9u, l0 + 96u, c9_12); store_c(i0 + 9u, l0 + 104u, c9_13); store_c(i0 + 9u, l0 + 112u, c9_14); store_c(i0 + 9u, l0 + 120u, c9_15);
    store_c(i0 + 10u, l0 + 0u, c10_0); store_c(i0 + 10u, l0 + 8u, c10_1); store_c(i0 + 10u, l0 + 16u, c10_2); store_c(i0 + 10u, l0 + 24u, c10_3); store_c(i0 + 10u, l0 + 32u, c10_4); store_c(i0 + 10u, l0 + 40u, c10_5); store_c(i0 + 10u, l0 + 48u, c10_6); store_c(i0 + 10u, l0 + 56u, c10_7); store_c(i0 + 10u, l0 + 64u, c10_8); store_c(i0 + 10u, l0 + 72u, c10_9); store_c(i0 + 10u, l0 + 80u, c10_10); store_c(i0 + 10u, l0 + 88u, c10_11); store_c(i0 + 10u, l0 + 96u, c10_12); store_c(i0 + 10u, l0 + 104u, c10_13); store_c(i0 + 10u, l0 + 112u, c10_14); store_c(i0 + 10u, l0 + 120u, c10_15);
    store_c(i0 + 11u, l0 + 0u, c11_0); store_c(i0 + 11u, l0 + 8u, c11_1); store_c(i0 + 11u, l0 + 16u, c11_2); store_c(i0 + 11u, l0 + 24u, c11_3); store_c(i0 + 11u, l0 + 32u, c11_4); store_c(i0 + 11u, l0 + 40u, c11_5); store_c(i0 + 11u, l0 + 48u, c11_6); store_c(i0 + 11u, l0 + 56u, c11_7); store_c(i0 + 11u, l0 + 64u, c11_8); store_c(i0 + 11u, l0 + 72u, c11_9); store_c(i0 + 11u, l0 + 80u, c11_10); store_c(i0 + 11u, l0 + 88u, c11_11); store_c(i0 + 11u, l0 + 96u, c11_12); store_c(i0 + 11u, l0 + 104u, c11_13); store_c(i0 + 11u, l0 + 112u, c11_14); store_c(i0 + 11u, l0 + 120u, c11_15);
    store_c(i0 + 12u, l0 + 0u, c12_0); store_c(i0 + 12u, l0 + 8u, c12_1); store_c(i0 + 12u, l0 + 16u, c12_2); store_c(i0 + 12u, l0 + 24u, c12_3); store_c(i0 + 12u, l0 + 32u, c12_4); store_c(i0 + 12u, l0 + 40u, c12_5); store_c(i0 + 12u, l0 + 48u, c12_6); store_c(i0 + 12u, l0 + 56u, c12_7); store_c(i0 + 12u, l0 + 64u, c12_8); store_c(i0 + 12u, l0 + 72u, c12_9); store_c(i0 + 12u, l0 + 80u, c12_10); store_c(i0 + 12u, l0 + 88u, c12_11); store_c(i0 + 12u, l0 + 96u, c12_12); store_c(i0 + 12u, l0 + 104u, c12_13); store_c(i0 + 12u, l0 + 112u, c12_14); store_c(i0 + 12u, l0 + 120u, c12_15);
    store_c(i0 + 13u, l0 + 0u, c13_0); store_c(i0 + 13u, l0 + 8u, c13_1); store_c(i0 + 13u, l0 + 16u, c13_2); store_c(i0 + 13u, l0 + 24u, c13_3); store_c(i0 + 13u, l0 + 32u, c13_4); store_c(i0 + 13u, l0 + 40u, c13_5); store_c(i0 + 13u, l0 + 48u, c13_6); store_c(i0 + 13u, l0 + 56u, c13_7); store_c(i0 + 13u, l0 + 64u, c13_8); store_c(i0 + 13u, l0 + 72u, c13_9); store_c(i0 + 13u, l0 + 80u, c13_10); store_c(i0 + 13u, l0 + 88u, c13_11); store_c(i0 + 13u, l0 + 96u, c13_12); store_c(i0 + 13u, l0 + 104u, c13_13); store_c(i0 + 13u, l0 + 112u, c13_14); store_c(i0 + 13u, l0 + 120u, c13_15);
    store_c(i0 + 14u, l0 + 0u, c14_0); store_c(i0 + 14u, l0 + 8u, c14_1); store_c(i0 + 14u, l0 + 16u, c14_2); store_c(i0 + 14u, l0 + 24u, c14_3); store_c(i0 + 14u, l0 + 32u, c14_4); store_c(i0 + 14u, l0 + 40u, c14_5); store_c(i0 + 14u, l0 + 48u, c14_6); store_c(i0 + 14u, l0 + 56u, c14_7); store_c(i0 + 14u, l0 + 64u, c14_8); store_c(i0 + 14u, l0 + 72u, c14_9); store_c(i0 + 14u, l0 + 80u, c14_10); store_c(i0 + 14u, l0 + 88u, c14_11); store_c(i0 + 14u, l0 + 96u, c14_12); store_c(i0 + 14u, l0 + 104u, c14_13); store_c(i0 + 14u, l0 + 112u, c14_14); store_c(i0 + 14u, l0 + 120u, c14_15);
    store_c(i0 + 15u, l0 + 0u, c15_0); store_c(i0 + 15u, l0 + 8u, c15_1); store_c(i0 + 15u, l0 + 16u, c15_2); store_c(i0 + 15u, l0 + 24u, c15_3); store_c(i0 + 15u, l0 + 32u, c15_4); store_c(i0 + 15u, l0 + 40u, c15_5); store_c(i0 + 15u, l0 + 48u, c15_6); store_c(i0 + 15u, l0 + 56u, c15_7); store_c(i0 + 15u, l0 + 64u, c15_8); store_c(i0 + 15u, l0 + 72u, c15_9); store_c(i0 + 15u, l0 + 80u, c15_10); store_c(i0 + 15u, l0 + 88u, c15_11); store_c(i0 + 15u, l0 + 96u, c15_12); store_c(i0 + 15u, l0 + 104u, c15_13); store_c(i0 + 15u, l0 + 112u, c15_14); store_c(i0 + 15u, l0 + 120u, c15_15);
}

@compute @workgroup_size(8)
fn gemm_unrolled_32x8(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let block = wid.x + wid.y * nwg.x;
    let lane_block = block % params.lane_blocks;
    let i0 = (block / params.lane_blocks) * 32u;
    let l0 = lane_block * 64u + lid.x;
    let lmax = params.lanes - 1u;
    let imax = params.rows - 1u;
    let x0 = min(l0 + 0u, lmax);
    let x1 = min(l0 + 8u, lmax);
    let x2 = min(l0 + 16u, lmax);
    let x3 = min(l0 + 24u, lmax);
    let x4 = min(l0 + 32u, lmax);
    let x5 = min(l0 + 40u, lmax);
    let x6 = min(l0 + 48u, lmax);
    let x7 = min(l0 + 56u, lmax);
    let r0 = min(i0 + 0u, imax) * params.q_i;
    let r1 = min(i0 + 1u, imax) * params.q_i;
    let r2 = min(i0 + 2u, imax) * params.q_i;
    let r3 = min(i0 + 3u, imax) * params.q_i;
    let r4 = min(i0 + 4u, imax) * params.q_i;
    let r5 = min(i0 + 5u, imax) * params.q_i;
    let r6 = min(i0 + 6u, imax) * params.q_i;
    let r7 = min(i0 + 7u, imax) * params.q_i;
    let r8 = min(i0 + 8u, imax) * params.q_i;
    let r9 = min(i0 + 9u, imax) * params.q_i;
    let r10 = min(i0 + 10u, imax) * params.q_i;
    let r11 = min(i0 + 11u, imax) * params.q_i;
    let r12 = min(i0 + 12u, imax) * params.q_i;
    let r13 = min(i0 + 13u, imax) * params.q_i;
    let r14 = min(i0 + 14u, imax) * params.q_i;
    let r15 = min(i0 + 15u, imax) * params.q_i;
    let r16 = min(i0 + 16u, imax) * params.q_i;
    let r17 = min(i0 + 17u, imax) * params.q_i;
    let r18 = min(i0 + 18u, imax) * params.q_i;
    let r19 = min(i0 + 19u, imax) * params.q_i;
    let r20 = min(i0 + 20u, imax) * params.q_i;
    let r21 = min(i0 + 21u, imax) * params.q_i;
    let r22 = min(i0 + 22u, imax) * params.q_i;
    let r23 = min(i0 + 23u, imax) * params.q_i;
    let r24 = min(i0 + 24u, imax) * params.q_i;
    let r25 = min(i0 + 25u, imax) * params.q_i;
    let r26 = min(i0 + 26u, imax) * params.q_i;
    let r27 = min(i0 + 27u, imax) * params.q_i;
    let r28 = min(i0 + 28u, imax) * params.q_i;
    let r29 = min(i0 + 29u, imax) * params.q_i;
    let r30 = min(i0 + 30u, imax) * params.q_i;
    let r31 = min(i0 + 31u, imax) * params.q_i;
    var c0_0 = 0.0; var c0_1 = 0.0; var c0_2 = 0.0; var c0_3 = 0.0; var c0_4 = 0.0; var c0_5 = 0.0; var c0_6 = 0.0; var c0_7 = 0.0;
    var c1_0 = 0.0; var c1_1 = 0.0; var c1_2 = 0.0; var c1_3 = 0.0; var c1_4 = 0.0; var c1_5 = 0.0; var c1_6 = 0.0; var c1_7 = 0.0;
    var c2_0 = 0.0; var c2_1 = 0.0; var c2_2 = 0.0; var c2_3 = 0.0; var c2_4 = 0.0; var c2_5 = 0.0; var c2_6 = 0.0; var c2_7 = 0.0;
    var c3_0 = 0.0; var c3_1 = 0.0; var c3_2 = 0.0; var c3_3 = 0.0; var c3_4 = 0.0; var c3_5 = 0.0; var c3_6 = 0.0; var c3_7 = 0.0;
    var c4_0 = 0.0; var c4_1 = 0.0; var c4_2 = 0.0; var c4_3 = 0.0; var c4_4 = 0.0; var c4_5 = 0.0; var c4_6 = 0.0; var c4_7 = 0.0;
    var c5_0 = 0.0; var c5_1 = 0.0; var c5_2 = 0.0; var c5_3 = 0.0; var c5_4 = 0.0; var c5_5 = 0.0; var c5_6 = 0.0; var c5_7 = 0.0;
    var c6_0 = 0.0; var c6_1 = 0.0; var c6_2 = 0.0; var c6_3 = 0.0; var c6_4 = 0.0; var c6_5 = 0.0; var c6_6 = 0.0; var c6_7 = 0.0;
    var c7_0 = 0.0; var c7_1 = 0.0; var c7_2 = 0.0; var c7_3 = 0.0; var c7_4 = 0.0; var c7_5 = 0.0; var c7_6 = 0.0; var c7_7 = 0.0;
    var c8_0 = 0.0; var c8_1 = 0.0; var c8_2 = 0.0; var c8_3 = 0.0; var c8_4 = 0.0; var c8_5 = 0.0; var c8_6 = 0.0; var c8_7 = 0.0;
    var c9_0 = 0.0; var c9_1 = 0.0; var c9_2 = 0.0; var c9_3 = 0.0; var c9_4 = 0.0; var c9_5 = 0.0; var c9_6 = 0.0; var c9_7 = 0.0;
    var c10_0 = 0.0; var c10_1 = 0.0; var c10_2 = 0.0; var c10_3 = 0.0; var c10_4 = 0.0; var c10_5 = 0.0; var c10_6 = 0.0; var c10_7 = 0.0;
    var c11_0 = 0.0; var c11_1 = 0.0; var c11_2 = 0.0; var c11_3 = 0.0; var c11_4 = 0.0; var c11_5 = 0.0; var c11_6 = 0.0; var c11_7 = 0.0;
    var c12_0 = 0.0; var c12_1 = 0.0; var c12_2 = 0.0; var c12_3 = 0.0; var c12_4 = 0.0; var c12_5 = 0.0; var c12_6 = 0.0; var c12_7 = 0.0;
    var c13_0 = 0.0; var c13_1 = 0.0; var c13_2 = 0.0; var c13_3 = 0.0; var c13_4 = 0.0; var c13_5 = 0.0; var c13_6 = 0.0; var c13_7 = 0.0;
    var c14_0 = 0.0; var c14_1 = 0.0; var c14_2 = 0.0; var c14_3 = 0.0; var c14_4 = 0.0; var c14_5 = 0.0; var c14_6 = 0.0; var c14_7 = 0.0;
    var c15_0 = 0.0; var c15_1 = 0.0; var c15_2 = 0.0; var c15_3 = 0.0; var c15_4 = 0.0; var c15_5 = 0.0; var c15_6 = 0.0; var c15_7 = 0.0;
    var c16_0 = 0.0; var c16_1 = 0.0; var c16_2 = 0.0; var c16_3 = 0.0; var c16_4 = 0.0; var c16_5 = 0.0; var c16_6 = 0.0; var c16_7 = 0.0;
    var c17_0 = 0.0; var c17_1 = 0.0; var c17_2 = 0.0; var c17_3 = 0.0; var c17_4 = 0.0; var c17_5 = 0.0; var c17_6 = 0.0; var c17_7 = 0.0;
    var c18_0 = 0.0; var c18_1 = 0.0; var c18_2 = 0.0; var c18_3 = 0.0; var c18_4 = 0.0; var c18_5 = 0.0; var c18_6 = 0.0; var c18_7 = 0.0;
    var c19_0 = 0.0; var c19_1 = 0.0; var c19_2 = 0.0; var c19_3 = 0.0; var c19_4 = 0.0; var c19_5 = 0.0; var c19_6 = 0.0; var c19_7 = 0.0;
    var c20_0 = 0.0; var c20_1 = 0.0; var c20_2 = 0.0; var c20_3 = 0.0; var c20_4 = 0.0; var c20_5 = 0.0; var c20_6 = 0.0; var c20_7 = 0.0;
    var c21_0 = 0.0; var c21_1 = 0.0; var c21_2 = 0.0; var c21_3 = 0.0; var c21_4 = 0.0; var c21_5 = 0.0; var c21_6 = 0.0; var c21_7 = 0.0;
    var c22_0 = 0.0; var c22_1 = 0.0; var c22_2 = 0.0; var c22_3 = 0.0; var c22_4 = 0.0; var c22_5 = 0.0; var c22_6 = 0.0; var c22_7 = 0.0;
    var c23_0 = 0.0; var c23_1 = 0.0; var c23_2 = 0.0; var c23_3 = 0.0; var c23_4 = 0.0; var c23_5 = 0.0; var c23_6 = 0.0; var c23_7 = 0.0;
    var c24_0 = 0.0; var c24_1 = 0.0; var c24_2 = 0.0; var c24_3 = 0.0; var c24_4 = 0.0; var c24_5 = 0.0; var c24_6 = 0.0; var c24_7 = 0.0;
    var c25_0 = 0.0; var c25_1 = 0.0; var c25_2 = 0.0; var c25_3 = 0.0; var c25_4 = 0.0; var c25_5 = 0.0; var c25_6 = 0.0; var c25_7 = 0.0;
    var c26_0 = 0.0; var c26_1 = 0.0; var c26_2 = 0.0; var c26_3 = 0.0; var c26_4 = 0.0; var c26_5 = 0.0; var c26_6 = 0.0; var c26_7 = 0.0;
    var c27_0 = 0.0; var c27_1 = 0.0; var c27_2 = 0.0; var c27_3 = 0.0; var c27_4 = 0.0; var c27_5 = 0.0; var c27_6 = 0.0; var c27_7 = 0.0;
    var c28_0 = 0.0; var c28_1 = 0.0; var c28_2 = 0.0; var c28_3 = 0.0; var c28_4 = 0.0; var c28_5 = 0.0; var c28_6 = 0.0; var c28_7 = 0.0;
    var c29_0 = 0.0; var c29_1 = 0.0; var c29_2 = 0.0; var c29_3 = 0.0; var c29_4 = 0.0; var c29_5 = 0.0; var c29_6 = 0.0; var c29_7 = 0.0;
    var c30_0 = 0.0; var c30_1 = 0.0; var c30_2 = 0.0; var c30_3 = 0.0; var c30_4 = 0.0; var c30_5 = 0.0; var c30_6 = 0.0; var c30_7 = 0.0;
    var c31_0 = 0.0; var c31_1 = 0.0; var c31_2 = 0.0; var c31_3 = 0.0; var c31_4 = 0.0; var c31_5 = 0.0; var c31_6 = 0.0; var c31_7 = 0.0;
    var po = 0u;
    var qo = 0u;
    for (var kk = 0u; kk < params.k; kk = kk + 1u) {
        let p0 = p[po + x0];
        let p1 = p[po + x1];
        let p2 = p[po + x2];
        let p3 = p[po + x3];
        let p4 = p[po + x4];
        let p5 = p[po + x5];
        let p6 = p[po + x6];
        let p7 = p[po + x7];
        let q0 = q[qo + r0];
        let q1 = q[qo + r1];
        let q2 = q[qo + r2];
        let q3 = q[qo + r3];
        let q4 = q[qo + r4];
        let q5 = q[qo + r5];
        let q6 = q[qo + r6];
        let q7 = q[qo + r7];
        let q8 = q[qo + r8];
        let q9 = q[qo + r9];
        let q10 = q[qo + r10];
        let q11 = q[qo + r11];
        let q12 = q[qo + r12];
        let q13 = q[qo + r13];
        let q14 = q[qo + r14];
        let q15 = q[qo + r15];
        let q16 = q[qo + r16];
        let q17 = q[qo + r17];
        let q18 = q[qo + r18];
        let q19 = q[qo + r19];
        let q20 = q[qo + r20];
        let q21 = q[qo + r21];
        let q22 = q[qo + r22];
        let q23 = q[qo + r23];
        let q24 = q[qo + r24];
        let q25 = q[qo + r25];
        let q26 = q[qo + r26];
        let q27 = q[qo + r27];
        let q28 = q[qo + r28];
        let q29 = q[qo + r29];
        let q30 = q[qo + r30];
        let q31 = q[qo + r31];
        c0_0 = fma(q0, p0, c0_0); c0_1 = fma(q0, p1, c0_1); c0_2 = fma(q0, p2, c0_2); c0_3 = fma(q0, p3, c0_3); c0_4 = fma(q0, p4, c0_4); c0_5 = fma(q0, p5, c0_5); c0_6 = fma(q0, p6, c0_6); c0_7 = fma(q0, p7, c0_7);
        c1_0 = fma(q1, p0, c1_0); c1_1 = fma(q1, p1, c1_1); c1_2 = fma(q1, p2, c1_2); c1_3 = fma(q1, p3, c1_3); c1_4 = fma(q1, p4, c1_4); c1_5 = fma(q1, p5, c1_5); c1_6 = fma(q1, p6, c1_6); c1_7 = fma(q1, p7, c1_7);
        c2_0 = fma(q2, p0, c2_0); c2_1 = fma(q2, p1, c2_1); c2_2 = fma(q2, p2, c2_2); c2_3 = fma(q2, p3, c2_3); c2_4 = fma(q2, p4, c2_4); c2_5 = fma(q2, p5, c2_5); c2_6 = fma(q2, p6, c2_6); c2_7 = fma(q2, p7, c2_7);
        c3_0 = fma(q3, p0, c3_0); c3_1 = fma(q3, p1, c3_1); c3_2 = fma(q3, p2, c3_2); c3_3 = fma(q3, p3, c3_3); c3_4 = fma(q3, p4, c3_4); c3_5 = fma(q3, p5, c3_5); c3_6 = fma(q3, p6, c3_6); c3_7 = fma(q3, p7, c3_7);
        c4_0 = fma(q4, p0, c4_0); c4_1 = fma(q4, p1, c4_1); c4_2 = fma(q4, p2, c4_2); c4_3 = fma(q4, p3, c4_3); c4_4 = fma(q4, p4, c4_4); c4_5 = fma(q4, p5, c4_5); c4_6 = fma(q4, p6, c4_6); c4_7 = fma(q4, p7, c4_7);
        c5_0 = fma(q5, p0, c5_0); c5_1 = fma(q5, p1, c5_1); c5_2 = fma(q5, p2, c5_2); c5_3 = fma(q5, p3, c5_3); c5_4 = fma(q5, p4, c5_4); c5_5 = fma(q5, p5, c5_5); c5_6 = fma(q5, p6, c5_6); c5_7 = fma(q5, p7, c5_7);
        c6_0 = fma(q6, p0, c6_0); c6_1 = fma(q6, p1, c6_1); c6_2 = fma(q6, p2, c6_2); c6_3 = fma(q6, p3, c6_3); c6_4 = fma(q6, p4, c6_4); c6_5 = fma(q6, p5, c6_5); c6_6 = fma(q6, p6, c6_6); c6_7 = fma(q6, p7, c6_7);
        c7_0 = fma(q7, p0, c7_0); c7_1 = fma(q7, p1, c7_1); c7_2 = fma(q7, p2, c7_2); c7_3 = fma(q7, p3, c7_3); c7_4 = fma(q7, p4, c7_4); c7_5 = fma(q7, p5, c7_5); c7_6 = fma(q7, p6, c7_6); c7_7 = fma(q7, p7, c7_7);
        c8_0 = fma(q8, p0, c8_0); c8_1 = fma(q8, p1, c8_1); c8_2 = fma(q8, p2, c8_2); c8_3 = fma(q8, p3, c8_3); c8_4 = fma(q8, p4, c8_4); c8_5 = fma(q8, p5, c8_5); c8_6 = fma(q8, p6, c8_6); c8_7 = fma(q8, p7, c8_7);
        c9_0 = fma(q9, p0, c9_0); c9_1 = fma(q9, p1, c9_1); c9_2 = fma(q9, p2, c9_2); c9_3 = fma(q9, p3, c9_3); c9_4 = fma(q9, p4, c9_4); c9_5 = fma(q9, p5, c9_5); c9_6 = fma(q9, p6, c9_6); c9_7 = fma(q9, p7, c9_7);
        c10_0 = fma(q10, p0, c10_0); c10_1 = fma(q10, p1, c10_1); c10_2 = fma(q10, p2, c10_2); c10_3 = fma(q10, p3, c10_3); c10_4 = fma(q10, p4, c10_4); c10_5 = fma(q10, p5, c10_5); c10_6 = fma(q10, p6, c10_6); c10_7 = fma(q10, p7, c10_7);
        c11_0 = fma(q11, p0, c11_0); c11_1 = fma(q11, p1, c11_1); c11_2 = fma(q11, p2, c11_2); c11_3 = fma(q11, p3, c11_3); c11_4 = fma(q11, p4, c11_4); c11_5 = fma(q11, p5, c11_5); c11_6 = fma(q11, p6, c11_6); c11_7 = fma(q11, p7, c11_7);
        c12_0 = fma(q12, p0, c12_0); c12_1 = fma(q12, p1, c12_1); c12_2 = fma(q12, p2, c12_2); c12_3 = fma(q12, p3, c12_3); c12_4 = fma(q12, p4, c12_4); c12_5 = fma(q12, p5, c12_5); c12_6 = fma(q12, p6, c12_6); c12_7 = fma(q12, p7, c12_7);
        c13_0 = fma(q13, p0, c13_0); c13_1 = fma(q13, p1, c13_1); c13_2 = fma(q13, p2, c13_2); c13_3 = fma(q13, p3, c13_3); c13_4 = fma(q13, p4, c13_4); c13_5 = fma(q13, p5, c13_5); c13_6 = fma(q13, p6, c13_6); c13_7 = fma(q13, p7, c13_7);
        c14_0 = fma(q14, p0, c14_0); c14_1 = fma(q14, p1, c14_1); c14_2 = fma(q14, p2, c14_2); c14_3 = fma(q14, p3, c14_3); c14_4 = fma(q14, p4, c14_4); c14_5 = fma(q14, p5, c14_5); c14_6 = fma(q14, p6, c14_6); c14_7 = fma(q14, p7, c14_7);
        c15_0 = fma(q15, p0, c15_0); c15_1 = fma(q15, p1, c15_1); c15_2 = fma(q15, p2, c15_2); c15_3 = fma(q15, p3, c15_3); c15_4 = fma(q15, p4, c15_4); c15_5 = fma(q15, p5, c15_5); c15_6 = fma(q15, p6, c15_6); c15_7 = fma(q15, p7, c15_7);
        c16_0 = fma(q16, p0, c16_0); c16_1 = fma(q16, p1, c16_1); c16_2 = fma(q16, p2, c16_2); c16_3 = fma(q16, p3, c16_3); c16_4 = fma(q16, p4, c16_4); c16_5 = fma(q16, p5, c16_5); c16_6 = fma(q16, p6, c16_6); c16_7 = fma(q16, p7, c16_7);
        c17_0 = fma(q17, p0, c17_0); c17_1 = fma(q17, p1, c17_1); c17_2 = fma(q17, p2, c17_2); c17_3 = fma(q17, p3, c17_3); c17_4 = fma(q17, p4, c17_4); c17_5 = fma(q17, p5, c17_5); c17_6 = fma(q17, p6, c17_6); c17_7 = fma(q17, p7, c17_7);
        c18_0 = fma(q18, p0, c18_0); c18_1 = fma(q18, p1, c18_1); c18_2 = fma(q18, p2, c18_2); c18_3 = fma(q18, p3, c18_3); c18_4 = fma(q18, p4, c18_4); c18_5 = fma(q18, p5, c18_5); c18_6 = fma(q18, p6, c18_6); c18_7 = fma(q18, p7, c18_7);
        c19_0 = fma(q19, p0, c19_0); c19_1 = fma(q19, p1, c19_1); c19_2 = fma(q19, p2, c19_2); c19_3 = fma(q19, p3, c19_3); c19_4 = fma(q19, p4, c19_4); c19_5 = fma(q19, p5, c19_5); c19_6 = fma(q19, p6, c19_6); c19_7 = fma(q19, p7, c19_7);
        c20_0 = fma(q20, p0, c20_0); c20_1 = fma(q20, p1, c20_1); c20_2 = fma(q20, p2, c20_2); c20_3 = fma(q20, p3, c20_3); c20_4 = fma(q20, p4, c20_4); c20_5 = fma(q20, p5, c20_5); c20_6 = fma(q20, p6, c20_6); c20_7 = fma(q20, p7, c20_7);
        c21_0 = fma(q21, p0, c21_0); c21_1 = fma(q21, p1, c21_1); c21_2 = fma(q21, p2, c21_2); c21_3 = fma(q21, p3, c21_3); c21_4 = fma(q21, p4, c21_4); c21_5 = fma(q21, p5, c21_5); c21_6 = fma(q21, p6, c21_6); c21_7 = fma(q21, p7, c21_7);
        c22_0 = fma(q22, p0, c22_0); c22_1 = fma(q22, p1, c22_1); c22_2 = fma(q22, p2, c22_2); c22_3 = fma(q22, p3, c22_3); c22_4 = fma(q22, p4, c22_4); c22_5 = fma(q22, p5, c22_5); c22_6 = fma(q22, p6, c22_6); c22_7 = fma(q22, p7, c22_7);
        c23_0 = fma(q23, p0, c23_0); c23_1 = fma(q23, p1, c23_1); c23_2 = fma(q23, p2, c23_2); c23_3 = fma(q23, p3, c23_3); c23_4 = fma(q23, p4, c23_4); c23_5 = fma(q23, p5, c23_5); c23_6 = fma(q23, p6, c23_6); c23_7 = fma(q23, p7, c23_7);
        c24_0 = fma(q24, p0, c24_0); c24_1 = fma(q24, p1, c24_1); c24_2 = fma(q24, p2, c24_2); c24_3 = fma(q24, p3, c24_3); c24_4 = fma(q24, p4, c24_4); c24_5 = fma(q24, p5, c24_5); c24_6 = fma(q24, p6, c24_6); c24_7 = fma(q24, p7, c24_7);
        c25_0 = fma(q25, p0, c25_0); c25_1 = fma(q25, p1, c25_1); c25_2 = fma(q25, p2, c25_2); c25_3 = fma(q25, p3, c25_3); c25_4 = fma(q25, p4, c25_4); c25_5 = fma(q25, p5, c25_5); c25_6 = fma(q25, p6, c25_6); c25_7 = fma(q25, p7, c25_7);
        c26_0 = fma(q26, p0, c26_0); c26_1 = fma(q26, p1, c26_1); c26_2 = fma(q26, p2, c26_2); c26_3 = fma(q26, p3, c26_3); c26_4 = fma(q26, p4, c26_4); c26_5 = fma(q26, p5, c26_5); c26_6 = fma(q26, p6, c26_6); c26_7 = fma(q26, p7, c26_7);
        c27_0 = fma(q27, p0, c27_0); c27_1 = fma(q27, p1, c27_1); c27_2 = fma(q27, p2, c27_2); c27_3 = fma(q27, p3, c27_3); c27_4 = fma(q27, p4, c27_4); c27_5 = fma(q27, p5, c27_5); c27_6 = fma(q27, p6, c27_6); c27_7 = fma(q27, p7, c27_7);
        c28_0 = fma(q28, p0, c28_0); c28_1 = fma(q28, p1, c28_1); c28_2 = fma(q28, p2, c28_2); c28_3 = fma(q28, p3, c28_3); c28_4 = fma(q28, p4, c28_4); c28_5 = fma(q28, p5, c28_5); c28_6 = fma(q28, p6, c28_6); c28_7 = fma(q28, p7, c28_7);
        c29_0 = fma(q29, p0, c29_0); c29_1 = fma(q29, p1, c29_1); c29_2 = fma(q29, p2, c29_2); c29_3 = fma(q29, p3, c29_3); c29_4 = fma(q29, p4, c29_4); c29_5 = fma(q29, p5, c29_5); c29_6 = fma(q29, p6, c29_6); c29_7 = fma(q29, p7, c29_7);
        c30_0 = fma(q30, p0, c30_0); c30_1 = fma(q30, p1, c30_1); c30_2 = fma(q30, p2, c30_2); c30_3 = fma(q30, p3, c30_3); c30_4 = fma(q30, p4, c30_4); c30_5 = fma(q30, p5, c30_5); c30_6 = fma(q30, p6, c30_6); c30_7 = fma(q30, p7, c30_7);
        c31_0 = fma(q31, p0, c31_0); c31_1 = fma(q31, p1, c31_1); c31_2 = fma(q31, p2, c31_2); c31_3 = fma(q31, p3, c31_3); c31_4 = fma(q31, p4, c31_4); c31_5 = fma(q31, p5, c31_5); c31_6 = fma(q31, p6, c31_6); c31_7 = fma(q31, p7, c31_7);
        po = po + params.p_k;
        qo = qo + params.q_k;
    }
    store_c(i0 + 0u, l0 + 0u, c0_0); store_c(i0 + 0u, l0 + 8u, c0_1); store_c(i0 + 0u, l0 + 16u, c0_2); store_c(i0 + 0u, l0 + 24u, c0_3); store_c(i0 + 0u, l0 + 32u, c0_4); store_c(i0 + 0u, l0 + 40u, c0_5); store_c(i0 + 0u, l0 + 48u, c0_6); store_c(i0 + 0u, l0 + 56u, c0_7);
    store_c(i0 + 1u, l0 + 0u, c1_0); store_c(i0 + 1u, l0 + 8u, c1_1); store_c(i0 + 1u, l0 + 16u, c1_2); store_c(i0 + 1u, l0 + 24u, c1_3); store_c(i0 + 1u, l0 + 32u, c1_4); store_c(i0 + 1u, l0 + 40u, c1_5); store_c(i0 + 1u, l0 + 48u, c1_6); store_c(i0 + 1u, l0 + 56u, c1_7);
    store_c(i0 + 2u, l0 + 0u, c2_0); store_c(i0 + 2u, l0 + 8u, c2_1); store_c(i0 + 2u, l0 + 16u, c2_2); store_c(i0 + 2u, l0 + 24u, c2_3); store_c(i0 + 2u, l0 + 32u, c2_4); store_c(i0 + 2u, l0 + 40u, c2_5); store_c(i0 + 2u, l0 + 48u, c2_6); store_c(i0 + 2u, l0 + 56u, c2_7);
    store_c(i0 + 3u, l0 + 0u, c3_0); store_c(i0 + 3u, l0 + 8u, c3_1); store_c(i0 + 3u, l0 + 16u, c3_2); store_c(i0 + 3u, l0 + 24u, c3_3); store_c(i0 + 3u, l0 + 32u, c3_4); store_c(i0 + 3u, l0 + 40u, c3_5); store_c(i0 + 3u, l0 + 48u, c3_6); store_c(i0 + 3u, l0 + 56u, c3_7);
    store_c(i0 + 4u, l0 + 0u, c4_0); store_c(i0 + 4u, l0 + 8u, c4_1); store_c(i0 + 4u, l0 + 16u, c4_2); store_c(i0 + 4u, l0 + 24u, c4_3); store_c(i0 + 4u, l0 + 32u, c4_4); store_c(i0 + 4u, l0 + 40u, c4_5); store_c(i0 + 4u, l0 + 48u, c4_6); store_c(i0 + 4u, l0 + 56u, c4_7);
    store_c(i0 + 5u, l0 + 0u, c5_0); store_c(i0 + 5u, l0 + 8u, c5_1); store_c(i0 + 5u, l0 + 16u, c5_2); store_c(i0 + 5u, l0 + 24u, c5_3); store_c(i0 + 5u, l0 + 32u, c5_4); store_c(i0 + 5u, l0 + 40u, c5_5); store_c(i0 + 5u, l0 + 48u, c5_6); store_c(i0 + 5u, l0 + 56u, c5_7);
    store_c(i0 + 6u, l0 + 0u, c6_0); store_c(i0 + 6u, l0 + 8u, c6_1); store_c(i0 + 6u, l0 + 16u, c6_2); store_c(i0 + 6u, l0 + 24u, c6_3); store_c(i0 + 6u, l0 + 32u, c6_4); store_c(i0 + 6u, l0 + 40u, c6_5); store_c(i0 + 6u, l0 + 48u, c6_6); store_c(i0 + 6u, l0 + 56u, c6_7);
    store_c(i0 + 7u, l0 + 0u, c7_0); store_c(i0 + 7u, l0 + 8u, c7_1); store_c(i0 + 7u, l0 + 16u, c7_2); store_c(i0 + 7u, l0 + 24u, c7_3); store_c(i0 + 7u, l0 + 32u, c7_4); store_c(i0 + 7u, l0 + 40u, c7_5); store_c(i0 + 7u, l0 + 48u, c7_6); store_c(i0 + 7u, l0 + 56u, c7_7);
    store_c(i0 + 8u, l0 + 0u, c8_0); store_c(i0 + 8u, l0 + 8u, c8_1); store_c(i0 + 8u, l0 + 16u, c8_2); store_c(i0 + 8u, l0 + 24u, c8_3); store_c(i0 + 8u, l0 + 32u, c8_4); store_c(i0 + 8u, l0 + 40u, c8_5); store_c(i0 + 8u, l0 + 48u, c8_6); store_c(i0 + 8u, l0 + 56u, c8_7);
    store_c(i0 + 9u, l0 + 0u, c9_0); store_c(i0 + 9u, l0 + 8u, c9_1); store_c(i0 + 9u, l0 + 16u, c9_2); store_c(i0 + 9u, l0 + 24u, c9_3); store_c(i0 + 9u, l0 + 32u, c9_4); store_c(i0 + 9u, l0 + 40u, c9_5); store_c(i0 + 9u, l0 + 48u, c9_6); store_c(i0 + 9u, l0 + 56u, c9_7);
    store_c(i0 + 10u, l0 + 0u, c10_0); store_c(i0 + 10u, l0 + 8u, c10_1); store_c(i0 + 10u, l0 + 16u, c10_2); store_c(i0 + 10u, l0 + 24u, c10_3); store_c(i0 + 10u, l0 + 32u, c10_4); store_c(i0 + 10u, l0 + 40u, c10_5); store_c(i0 + 10u, l0 + 48u, c10_6); store_c(i0 + 10u, l0 + 56u, c10_7);
    store_c(i0 + 11u, l0 + 0u, c11_0); store_c(i0 + 11u, l0 + 8u, c11_1); store_c(i0 + 11u, l0 + 16u, c11_2); store_c(i0 + 11u, l0 + 24u, c11_3); store_c(i0 + 11u, l0 + 32u, c11_4); store_c(i0 + 11u, l0 + 40u, c11_5); store_c(i0 + 11u, l0 + 48u, c11_6); store_c(i0 + 11u, l0 + 56u, c11_7);
    store_c(i0 + 12u, l0 + 0u, c12_0); store_c(i0 + 12u, l0 + 8u, c12_1); store_c(i0 + 12u, l0 + 16u, c12_2); store_c(i0 + 12u, l0 + 24u, c12_3); store_c(i0 + 12u, l0 + 32u, c12_4); store_c(i0 + 12u, l0 + 40u, c12_5); store_c(i0 + 12u, l0 + 48u, c12_6); store_c(i0 + 12u, l0 + 56u, c12_7);
    store_c(i0 + 13u, l0 + 0u, c13_0); store_c(i0 + 13u, l0 + 8u, c13_1); store_c(i0 + 13u, l0 + 16u, c13_2); store_c(i0 + 13u, l0 + 24u, c13_3); store_c(i0 + 13u, l0 + 32u, c13_4); store_c(i0 + 13u, l0 + 40u, c13_5); store_c(i0 + 13u, l0 + 48u, c13_6); store_c(i0 + 13u, l0 + 56u, c13_7);
    store_c(i0 + 14u, l0 + 0u, c14_0); store_c(i0 + 14u, l0 + 8u, c14_1); store_c(i0 + 14u, l0 + 16u, c14_2); store_c(i0 + 14u, l0 + 24u, c14_3); store_c(i0 + 14u, l0 + 32u, c14_4); store_c(i0 + 14u, l0 + 40u, c14_5); store_c(i0 + 14u, l0 + 48u, c14_6); store_c(i0 + 14u, l0 + 56u, c14_7);
    store_c(i0 + 15u, l0 + 0u, c15_0); store_c(i0 + 15u, l0 + 8u, c15_1); store_c(i0 + 15u, l0 + 16u, c15_2); store_c(i0 + 15u, l0 + 24u, c15_3); store_c(i0 + 15u, l0 + 32u, c15_4); store_c(i0 + 15u, l0 + 40u, c15_5); store_c(i0 + 15u, l0 + 48u, c15_6); store_c(i0 + 15u, l0 + 56u, c15_7);
    store_c(i0 + 16u, l0 + 0u, c16_0); store_c(i0 + 16u, l0 + 8u, c16_1); store_c(i0 + 16u, l0 + 16u, c16_2); store_c(i0 + 16u, l0 + 24u, c16_3); store_c(i0 + 16u, l0 + 32u, c16_4); store_c(i0 + 16u, l0 + 40u, c16_5); store_c(i0 + 16u, l0 + 48u, c16_6); store_c(i0 + 16u, l0 + 56u, c16_7);
    store_c(i0 + 17u, l0 + 0u, c17_0); store_c(i0 + 17u, l0 + 8u, c17_1); store_c(i0 + 17u, l0 + 16u, c17_2); store_c(i0 + 17u, l0 + 24u, c17_3); store_c(i0 + 17u, l0 + 32u, c17_4); store_c(i0 + 17u, l0 + 40u, c17_5); store_c(i0 + 17u, l0 + 48u, c17_6); store_c(i0 + 17u, l0 + 56u, c17_7);
    store_c(i0 + 18u, l0 + 0u, c18_0); store_c(i0 + 18u, l0 + 8u, c18_1); store_c(i0 + 18u, l0 + 16u, c18_2); store_c(i0 + 18u, l0 + 24u, c18_3); store_c(i0 + 18u, l0 + 32u, c18_4); store_c(i0 + 18u, l0 + 40u, c18_5); store_c(i0 + 18u, l0 + 48u, c18_6); store_c(i0 + 18u, l0 + 56u, c18_7);
    store_c(i0 + 19u, l0 + 0u, c19_0); store_c(i0 + 19u, l0 + 8u, c19_1); store_c(i0 + 19u, l0 + 16u, c19_2); store_c(i0 + 19u, l0 + 24u, c19_3); store_c(i0 + 19u, l0 + 32u, c19_4); store_c(i0 + 19u, l0 + 40u, c19_5); store_c(i0 + 19u, l0 + 48u, c19_6); store_c(i0 + 19u, l0 + 56u, c19_7);
    store_c(i0 + 20u, l0 + 0u, c20_0); store_c(i0 + 20u, l0 + 8u, c20_1); store_c(i0 + 20u, l0 + 16u, c20_2); store_c(i0 + 20u, l0 + 24u, c20_3); store_c(i0 + 20u, l0 + 32u, c20_4); store_c(i0 + 20u, l0 + 40u, c20_5); store_c(i0 + 20u, l0 + 48u, c20_6); store_c(i0 + 20u, l0 + 56u, c20_7);
    store_c(i0 + 21u, l0 + 0u, c21_0); store_c(i0 + 21u, l0 + 8u, c21_1); store_c(i0 + 21u, l0 + 16u, c21_2); store_c(i0 + 21u, l0 + 24u, c21_3); store_c(i0 + 21u, l0 + 32u, c21_4); store_c(i0 + 21u, l0 + 40u, c21_5); store_c(i0 + 21u, l0 + 48u, c21_6); store_c(i0 + 21u, l0 + 56u, c21_7);
    store_c(i0 + 22u, l0 + 0u, c22_0); store_c(i0 + 22u, l0 + 8u, c22_1); store_c(i0 + 22u, l0 + 16u, c22_2); store_c(i0 + 22u, l0 + 24u, c22_3); store_c(i0 + 22u, l0 + 32u, c22_4); store_c(i0 + 22u, l0 + 40u, c22_5); store_c(i0 + 22u, l0 + 48u, c22_6); store_c(i0 + 22u, l0 + 56u, c22_7);
    store_c(i0 + 23u, l0 + 0u, c23_0); store_c(i0 + 23u, l0 + 8u, c23_1); store_c(i0 + 23u, l0 + 16u, c23_2); store_c(i0 + 23u, l0 + 24u, c23_3); store_c(i0 + 23u, l0 + 32u, c23_4); store_c(i0 + 23u, l0 + 40u, c23_5); store_c(i0 + 23u, l0 + 48u, c23_6); store_c(i0 + 23u, l0 + 56u, c23_7);
    store_c(i0 + 24u, l0 + 0u, c24_0); store_c(i0 + 24u, l0 + 8u, c24_1); store_c(i0 + 24u, l0 + 16u, c24_2); store_c(i0 + 24u, l0 + 24u, c24_3); store_c(i0 + 24u, l0 + 32u, c24_4); store_c(i0 + 24u, l0 + 40u, c24_5); store_c(i0 + 24u, l0 + 48u, c24_6); store_c(i0 + 24u, l0 + 56u, c24_7);
    store_c(i0 + 25u, l0 + 0u, c25_0); store_c(i0 + 25u, l0 + 8u, c25_1); store_c(i0 + 25u, l0 + 16u, c25_2); store_c(i0 + 25u, l0 + 24u, c25_3); store_c(i0 + 25u, l0 + 32u, c25_4); store_c(i0 + 25u, l0 + 40u, c25_5); store_c(i0 + 25u, l0 + 48u, c25_6); store_c(i0 + 25u, l0 + 56u, c25_7);
    store_c(i0 + 26u, l0 + 0u, c26_0); store_c(i0 + 26u, l0 + 8u, c26_1); store_c(i0 + 26u, l0 + 16u, c26_2); store_c(i0 + 26u, l0 + 24u, c26_3); store_c(i0 + 26u, l0 + 32u, c26_4); store_c(i0 + 26u, l0 + 40u, c26_5); store_c(i0 + 26u, l0 + 48u, c26_6); store_c(i0 + 26u, l0 + 56u, c26_7);
    store_c(i0 + 27u, l0 + 0u, c27_0); store_c(i0 + 27u, l0 + 8u, c27_1); store_c(i0 + 27u, l0 + 16u, c27_2); store_c(i0 + 27u, l0 + 24u, c27_3); store_c(i0 + 27u, l0 + 32u, c27_4); store_c(i0 + 27u, l0 + 40u, c27_5); store_c(i0 + 27u, l0 + 48u, c27_6); store_c(i0 + 27u, l0 + 56u, c27_7);
    store_c(i0 + 28u, l0 + 0u, c28_0); store_c(i0 + 28u, l0 + 8u, c28_1); store_c(i0 + 28u, l0 + 16u, c28_2); store_c(i0 + 28u, l0 + 24u, c28_3); store_c(i0 + 28u, l0 + 32u, c28_4); store_c(i0 + 28u, l0 + 40u, c28_5); store_c(i0 + 28u, l0 + 48u, c28_6); store_c(i0 + 28u, l0 + 56u, c28_7);
    store_c(i0 + 29u, l0 + 0u, c29_0); store_c(i0 + 29u, l0 + 8u, c29_1); store_c(i0 + 29u, l0 + 16u, c29_2); store_c(i0 + 29u, l0 + 24u, c29_3); store_c(i0 + 29u, l0 + 32u, c29_4); store_c(i0 + 29u, l0 + 40u, c29_5); store_c(i0 + 29u, l0 + 48u, c29_6); store_c(i0 + 29u, l0 + 56u, c29_7);
    store_c(i0 + 30u, l0 + 0u, c30_0); store_c(i0 + 30u, l0 + 8u, c30_1); store_c(i0 + 30u, l0 + 16u, c30_2); store_c(i0 + 30u, l0 + 24u, c30_3); store_c(i0 + 30u, l0 + 32u, c30_4); store_c(i0 + 30u, l0 + 40u, c30_5); store_c(i0 + 30u, l0 + 48u, c30_6); store_c(i0 + 30u, l0 + 56u, c30_7);
    store_c(i0 + 31u, l0 + 0u, c31_0); store_c(i0 + 31u, l0 + 8u, c31_1); store_c(i0 + 31u, l0 + 16u, c31_2); store_c(i0 + 31u, l0 + 24u, c31_3); store_c(i0 + 31u, l0 + 32u, c31_4); store_c(i0 + 31u, l0 + 40u, c31_5); store_c(i0 + 31u, l0 + 48u, c31_6); store_c(i0 + 31u, l0 + 56u, c31_7);
}

@compute @workgroup_size(8)
fn gemm_unrolled_64x2(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let block = wid.x + wid.y * nwg.x;
    let lane_block = block % params.lane_blocks;
    let i0 = (block / params.lane_blocks) * 64u;
    let l0 = lane_block * 16u + lid.x;
    let lmax = params.lanes - 1u;
    let imax = params.rows - 1u;
    let x0 = min(l0 + 0u, lmax);
    let x1 = min(l0 + 8u, lmax);
    let r0 = min(i0 + 0u, imax) * params.q_i;
    let r1 = min(i0 + 1u, imax) * params.q_i;
    let r2 = min(i0 + 2u, imax) * params.q_i;
    let r3 = min(i0 + 3u, imax) * params.q_i;
    let r4 = min(i0 + 4u, imax) * params.q_i;
    let r5 = min(i0 + 5u, imax) * params.q_i;
    let r6 = min(i0 + 6u, imax) * params.q_i;
    let r7 = min(i0 + 7u, imax) * params.q_i;
    let r8 = min(i0 + 8u, imax) * params.q_i;
    let r9 = min(i0 + 9u, imax) * params.q_i;
    let r10 = min(i0 + 10u, imax) * params.q_i;
    let r11 = min(i0 + 11u, imax) * params.q_i;
    let r12 = min(i0 + 12u, imax) * params.q_i;
    let r13 = min(i0 + 13u, imax) * params.q_i;
    let r14 = min(i0 + 14u, imax) * params.q_i;
    let r15 = min(i0 + 15u, imax) * params.q_i;
    let r16 = min(i0 + 16u, imax) * params.q_i;
    let r17 = min(i0 + 17u, imax) * params.q_i;
    let r18 = min(i0 + 18u, imax) * params.q_i;
    let r19 = min(i0 + 19u, imax) * params.q_i;
    let r20 = min(i0 + 20u, imax) * params.q_i;
    let r21 = min(i0 + 21u, imax) * params.q_i;
    let r22 = min(i0 + 22u, imax) * params.q_i;
    let r23 = min(i0 + 23u, imax) * params.q_i;
    let r24 = min(i0 + 24u, imax) * params.q_i;
    let r25 = min(i0 + 25u, imax) * params.q_i;
    let r26 = min(i0 + 26u, imax) * params.q_i;
    let r27 = min(i0 + 27u, imax) * params.q_i;
    let r28 = min(i0 + 28u, imax) * params.q_i;
    let r29 = min(i0 + 29u, imax) * params.q_i;
    let r30 = min(i0 + 30u, imax) * params.q_i;
    let r31 = min(i0 + 31u, imax) * params.q_i;
    let r32 = min(i0 + 32u, imax) * params.q_i;
    let r33 = min(i0 + 33u, imax) * params.q_i;
    let r34 = min(i0 + 34u, imax) * params.q_i;
    let r35 = min(i0 + 35u, imax) * params.q_i;
    let r36 = min(i0 + 36u, imax) * params.q_i;
    let r37 = min(i0 + 37u, imax) * params.q_i;
    let r38 = min(i0 + 38u, imax) * params.q_i;
    let r39 = min(i0 + 39u, imax) * params.q_i;
    let r40 = min(i0 + 40u, imax) * params.q_i;
    let r41 = min(i0 + 41u, imax) * params.q_i;
    let r42 = min(i0 + 42u, imax) * params.q_i;
    let r43 = min(i0 + 43u, imax) * params.q_i;
    let r44 = min(i0 + 44u, imax) * params.q_i;
    let r45 = min(i0 + 45u, imax) * params.q_i;
    let r46 = min(i0 + 46u, imax) * params.q_i;
    let r47 = min(i0 + 47u, imax) * params.q_i;
    let r48 = min(i0 + 48u, imax) * params.q_i;
    let r49 = min(i0 + 49u, imax) * params.q_i;
    let r50 = min(i0 + 50u, imax) * params.q_i;
    let r51 = min(i0 + 51u, imax) * params.q_i;
    let r52 = min(i0 + 52u, imax) * params.q_i;
    let r53 = min(i0 + 53u, imax) * params.q_i;
    let r54 = min(i0 + 54u, imax) * params.q_i;
    let r55 = min(i0 + 55u, imax) * params.q_i;
    let r56 = min(i0 + 56u, imax) * params.q_i;
    let r57 = min(i0 + 57u, imax) * params.q_i;
    let r58 = min(i0 + 58u, imax) * params.q_i;
    let r59 = min(i0 + 59u, imax) * params.q_i;
    let r60 = min(i0 + 60u, imax) * params.q_i;
    let r61 = min(i0 + 61u, imax) * params.q_i;
    let r62 = min(i0 + 62u, imax) * params.q_i;
    let r63 = min(i0 + 63u, imax) * params.q_i;
    var c0_0 = 0.0; var c0_1 = 0.0;
    var c1_0 = 0.0; var c1_1 = 0.0;
    var c2_0 = 0.0; var c2_1 = 0.0;
    var c3_0 = 0.0; var c3_1 = 0.0;
    var c4_0 = 0.0; var c4_1 = 0.0;
    var c5_0 = 0.0; var c5_1 = 0.0;
    var c6_0 = 0.0; var c6_1 = 0.0;
    var c7_0 = 0.0; var c7_1 = 0.0;
    var c8_0 = 0.0; var c8_1 = 0.0;
    var c9_0 = 0.0; var c9_1 = 0.0;
    var c10_0 = 0.0; var c10_1 = 0.0;
    var c11_0 = 0.0; var c11_1 = 0.0;
    var c12_0 = 0.0; var c12_1 = 0.0;
    var c13_0 = 0.0; var c13_1 = 0.0;
    var c14_0 = 0.0; var c14_1 = 0.0;
    var c15_0 = 0.0; var c15_1 = 0.0;
    var c16_0 = 0.0; var c16_1 = 0.0;
    var c17_0 = 0.0; var c17_1 = 0.0;
    var c18_0 = 0.0; var c18_1 = 0.0;
    var c19_0 = 0.0; var c19_1 = 0.0;
    var c20_0 = 0.0; var c20_1 = 0.0;
    var c21_0 = 0.0; var c21_1 = 0.0;
    var c22_0 = 0.0; var c22_1 = 0.0;
    var c23_0 = 0.0; var c23_1 = 0.0;
    var c24_0 = 0.0; var c24_1 = 0.0;
    var c25_0 = 0.0; var c25_1 = 0.0;
    var c26_0 = 0.0; var c26_1 = 0.0;
    var c27_0 = 0.0; var c27_1 = 0.0;
    var c28_0 = 0.0; var c28_1 = 0.0;
    var c29_0 = 0.0; var c29_1 = 0.0;
    var c30_0 = 0.0; var c30_1 = 0.0;
    var c31_0 = 0.0; var c31_1 = 0.0;
    var c32_0 = 0.0; var c32_1 = 0.0;
    var c33_0 = 0.0; var c33_1 = 0.0;
    var c34_0 = 0.0; var c34_1 = 0.0;
    var c35_0 = 0.0; var c35_1 = 0.0;
    var c36_0 = 0.0; var c36_1 = 0.0;
    var c37_0 = 0.0; var c37_1 = 0.0;
    var c38_0 = 0.0; var c38_1 = 0.0;
    var c39_0 = 0.0; var c39_1 = 0.0;
    var c40_0 = 0.0; var c40_1 = 0.0;
    var c41_0 = 0.0; var c41_1 = 0.0;
    var c42_0 = 0.0; var c42_1 = 0.0;
    var c43_0 = 0.0; var c43_1 = 0.0;
    var c44_0 = 0.0; var c44_1 = 0.0;
    var c45_0 = 0.0; var c45_1 = 0.0;
    var c46_0 = 0.0; var c46_1 = 0.0;
    var c47_0 = 0.0; var c47_1 = 0.0;
    var c48_0 = 0.0; var c48_1 = 0.0;
    var c49_0 = 0.0; var c49_1 = 0.0;
    var c50_0 = 0.0; var c50_1 = 0.0;
    var c51_0 = 0.0; var c51_1 = 0.0;
    var c52_0 = 0.0; var c52_1 = 0.0;
    var c53_0 = 0.0; var c53_1 = 0.0;
    var c54_0 = 0.0; var c54_1 = 0.0;
    var c55_0 = 0.0; var c55_1 = 0.0;
    var c56_0 = 0.0; var c56_1 = 0.0;
    var c57_0 = 0.0; var c57_1 = 0.0;
    var c58_0 = 0.0; var c58_1 = 0.0;
    var c59_0 = 0.0; var c59_1 = 0.0;
    var c60_0 = 0.0; var c60_1 = 0.0;
    var c61_0 = 0.0; var c61_1 = 0.0;
    var c62_0 = 0.0; var c62_1 = 0.0;
    var c63_0 = 0.0; var c63_1 = 0.0;
    var po = 0u;
    var qo = 0u;
    for (var kk = 0u; kk < params.k; kk = kk + 1u) {
        let p0 = p[po + x0];
        let p1 = p[po + x1];
        let q0 = q[qo + r0];
        let q1 = q[qo + r1];
        let q2 = q[qo + r2];
        let q3 = q[qo + r3];
        let q4 = q[qo + r4];
        let q5 = q[qo + r5];
        let q6 = q[qo + r6];
        let q7 = q[qo + r7];
        let q8 = q[qo + r8];
        let q9 = q[qo + r9];
        let q10 = q[qo + r10];
        let q11 = q[qo + r11];
        let q12 = q[qo + r12];
        let q13 = q[qo + r13];
        let q14 = q[qo + r14];
        let q15 = q[qo + r15];
        let q16 = q[qo + r16];
        let q17 = q[qo + r17];
        let q18 = q[qo + r18];
        let q19 = q[qo + r19];
        let q20 = q[qo + r20];
        let q21 = q[qo + r21];
        let q22 = q[qo + r22];
        let q23 = q[qo + r23];
        let q24 = q[qo + r24];
        let q25 = q[qo + r25];
        let q26 = q[qo + r26];
        let q27 = q[qo + r27];
        let q28 = q[qo + r28];
        let q29 = q[qo + r29];
        let q30 = q[qo + r30];
        let q31 = q[qo + r31];
        let q32 = q[qo + r32];
        let q33 = q[qo + r33];
        let q34 = q[qo + r34];
        let q35 = q[qo + r35];
        let q36 = q[qo + r36];
        let q37 = q[qo + r37];
        let q38 = q[qo + r38];
        let q39 = q[qo + r39];
        let q40 = q[qo + r40];
        let q41 = q[qo + r41];
        let q42 = q[qo + r42];
        let q43 = q[qo + r43];
        let q44 = q[qo + r44];
        let q45 = q[qo + r45];
        let q46 = q[qo + r46];
        let q47 = q[qo + r47];
        let q48 = q[qo + r48];
        let q49 = q[qo + r49];
        let q50 = q[qo + r50];
        let q51 = q[qo + r51];
        let q52 = q[qo + r52];
        let q53 = q[qo + r53];
        let q54 = q[qo + r54];
        let q55 = q[qo + r55];
        let q56 = q[qo + r56];
        let q57 = q[qo + r57];
        let q58 = q[qo + r58];
        let q59 = q[qo + r59];
        let q60 = q[qo + r60];
        let q61 = q[qo + r61];
        let q62 = q[qo + r62];
        let q63 = q[qo + r63];
        c0_0 = fma(q0, p0, c0_0); c0_1 = fma(q0, p1, c0_1);
        c1_0 = fma(q1, p0, c1_0); c1_1 = fma(q1, p1, c1_1);
        c2_0 = fma(q2, p0, c2_0); c2_1 = fma(q2, p1, c2_1);
        c3_0 = fma(q3, p0, c3_0); c3_1 = fma(q3, p1, c3_1);
        c4_0 = fma(q4, p0, c4_0); c4_1 = fma(q4, p1, c4_1);
        c5_0 = fma(q5, p0, c5_0); c5_1 = fma(q5, p1, c5_1);
        c6_0 = fma(q6, p0, c6_0); c6_1 = fma(q6, p1, c6_1);
        c7_0 = fma(q7, p0, c7_0); c7_1 = fma(q7, p1, c7_1);
        c8_0 = fma(q8, p0, c8_0); c8_1 = fma(q8, p1, c8_1);
        c9_0 = fma(q9, p0, c9_0); c9_1 = fma(q9, p1, c9_1);
        c10_0 = fma(q10, p0, c10_0); c10_1 = fma(q10, p1, c10_1);
        c11_0 = fma(q11, p0, c11_0); c11_1 = fma(q11, p1, c11_1);
        c12_0 = fma(q12, p0, c12_0); c12_1 = fma(q12, p1, c12_1);
        c13_0 = fma(q13, p0, c13_0); c13_1 = fma(q13, p1, c13_1);
        c14_0 = fma(q14, p0, c14_0); c14_1 = fma(q14, p1, c14_1);
        c15_0 = fma(q15, p0, c15_0); c15_1 = fma(q15, p1, c15_1);
        c16_0 = fma(q16, p0, c16_0); c16_1 = fma(q16, p1, c16_1);
        c17_0 = fma(q17, p0, c17_0); c17_1 = fma(q17, p1, c17_1);
        c18_0 = fma(q18, p0, c18_0); c18_1 = fma(q18, p1, c18_1);
        c19_0 = fma(q19, p0, c19_0); c19_1 = fma(q19, p1, c19_1);
        c20_0 = fma(q20, p0, c20_0); c20_1 = fma(q20, p1, c20_1);
        c21_0 = fma(q21, p0, c21_0); c21_1 = fma(q21, p1, c21_1);
        c22_0 = fma(q22, p0, c22_0); c22_1 = fma(q22, p1, c22_1);
        c23_0 = fma(q23, p0, c23_0); c23_1 = fma(q23, p1, c23_1);
        c24_0 = fma(q24, p0, c24_0); c24_1 = fma(q24, p1, c24_1);
        c25_0 = fma(q25, p0, c25_0); c25_1 = fma(q25, p1, c25_1);
        c26_0 = fma(q26, p0, c26_0); c26_1 = fma(q26, p1, c26_1);
        c27_0 = fma(q27, p0, c27_0); c27_1 = fma(q27, p1, c27_1);
        c28_0 = fma(q28, p0, c28_0); c28_1 = fma(q28, p1, c28_1);
        c29_0 = fma(q29, p0, c29_0); c29_1 = fma(q29, p1, c29_1);
        c30_0 = fma(q30, p0, c30_0); c30_1 = fma(q30, p1, c30_1);
        c31_0 = fma(q31, p0, c31_0); c31_1 = fma(q31, p1, c31_1);
        c32_0 = fma(q32, p0, c32_0); c32_1 = fma(q32, p1, c32_1);
        c33_0 = fma(q33, p0, c33_0); c33_1 = fma(q33, p1, c33_1);
        c34_0 = fma(q34, p0, c34_0); c34_1 = fma(q34, p1, c34_1);
        c35_0 = fma(q35, p0, c35_0); c35_1 = fma(q35, p1, c35_1);
        c36_0 = fma(q36, p0, c36_0); c36_1 = fma(q36, p1, c36_1);
        c37_0 = fma(q37, p0, c37_0); c37_1 = fma(q37, p1, c37_1);
        c38_0 = fma(q38, p0, c38_0); c38_1 = fma(q38, p1, c38_1);
        c39_0 = fma(q39, p0, c39_0); c39_1 = fma(q39, p1, c39_1);
        c40_0 = fma(q40, p0, c40_0); c40_1 = fma(q40, p1, c40_1);
        c41_0 = fma(q41, p0, c41_0); c41_1 = fma(q41, p1, c41_1);
        c42_0 = fma(q42, p0, c42_0); c42_1 = fma(q42, p1, c42_1);
        c43_0 = fma(q43, p0, c43_0); c43_1 = fma(q43, p1, c43_1);
        c44_0 = fma(q44, p0, c44_0); c44_1 = fma(q44, p1, c44_1);
        c45_0 = fma(q45, p0, c45_0); c45_1 = fma(q45, p1, c45_1);
        c46_0 = fma(q46, p0, c46_0); c46_1 = fma(q46, p1, c46_1);
        c47_0 = fma(q47, p0, c47_0); c47_1 = fma(q47, p1, c47_1);
        c48_0 = fma(q48, p0, c48_0); c48_1 = fma(q48, p1, c48_1);
        c49_0 = fma(q49, p0, c49_0); c49_1 = fma(q49, p1, c49_1);
        c50_0 = fma(q50, p0, c50_0); c50_1 = fma(q50, p1, c50_1);
        c51_0 = fma(q51, p0, c51_0); c51_1 = fma(q51, p1, c51_1);
        c52_0 = fma(q52, p0, c52_0); c52_1 = fma(q52, p1, c52_1);
        c53_0 = fma(q53, p0, c53_0); c53_1 = fma(q53, p1, c53_1);
        c54_0 = fma(q54, p0, c54_0); c54_1 = fma(q54, p1, c54_1);
        c55_0 = fma(q55, p0, c55_0); c55_1 = fma(q55, p1, c55_1);
        c56_0 = fma(q56, p0, c56_0); c56_1 = fma(q56, p1, c56_1);
        c57_0 = fma(q57, p0, c57_0); c57_1 = fma(q57, p1, c57_1);
        c58_0 = fma(q58, p0, c58_0); c58_1 = fma(q58, p1, c58_1);
        c59_0 = fma(q59, p0, c59_0); c59_1 = fma(q59, p1, c59_1);
        c60_0 = fma(q60, p0, c60_0); c60_1 = fma(q60, p1, c60_1);
        c61_0 = fma(q61, p0, c61_0); c61_1 = fma(q61, p1, c61_1);
        c62_0 = fma(q62, p0, c62_0); c62_1 = fma(q62, p1, c62_1);
        c63_0 = fma(q63, p0, c63_0); c63_1 = fma(q63, p1, c63_1);
        po = po + params.p_k;
        qo = qo + params.q_k;
    }
    store_c(i0 + 0u, l0 + 0u, c0_0); store_c(i0 + 0u, l0 + 8u, c0_1);
    store_c(i0 + 1u, l0 + 0u, c1_0); store_c(i0 + 1u, l0 + 8u, c1_1);
    store_c(i0 + 2u, l0 + 0u, c2_0); store_c(i0 + 2u, l0 + 8u, c2_1);
    store_c(i0 + 3u, l0 + 0u, c3_0); store_c(i0 + 3u, l0 + 8u, c3_1);
    store_c(i0 + 4u, l0 + 0u, c4_0); store_c(i0 + 4u, l0 + 8u, c4_1);
    store_c(i0 + 5u, l0 + 0u, c5_0); store_c(i0 + 5u, l0 + 8u, c5_1);
    store_c(i0 + 6u, l0 + 0u, c6_0); store_c(i0 + 6u, l0 + 8u, c6_1);
    store_c(i0 + 7u, l0 + 0u, c7_0); store_c(i0 + 7u, l0 + 8u, c7_1);
    store_c(i0 + 8u, l0 + 0u, c8_0); store_c(i0 + 8u, l0 + 8u, c8_1);
    store_c(i0 + 9u, l0 + 0u, c9_0); store_c(i0 + 9u, l0 + 8u, c9_1);
    store_c(i0 + 10u, l0 + 0u, c10_0); store_c(i0 + 10u, l0 + 8u, c10_1);
    store_c(i0 + 11u, l0 + 0u, c11_0); store_c(i0 + 11u, l0 + 8u, c11_1);
    store_c(i0 + 12u, l0 + 0u, c12_0); store_c(i0 + 12u, l0 + 8u, c12_1);
    store_c(i0 + 13u, l0 + 0u, c13_0); store_c(i0 + 13u, l0 + 8u, c13_1);
    store_c(i0 + 14u, l0 + 0u, c14_0); store_c(i0 + 14u, l0 + 8u, c14_1);
    store_c(i0 + 15u, l0 + 0u, c15_0); store_c(i0 + 15u, l0 + 8u, c15_1);
    store_c(i0 + 16u, l0 + 0u, c16_0); store_c(i0 + 16u, l0 + 8u, c16_1);
    store_c(i0 + 17u, l0 + 0u, c17_0); store_c(i0 + 17u, l0 + 8u, c17_1);
    store_c(i0 + 18u, l0 + 0u, c18_0); store_c(i0 + 18u, l0 + 8u, c18_1);
    store_c(i0 + 19u, l0 + 0u, c19_0); store_c(i0 + 19u, l0 + 8u, c19_1);
    store_c(i0 + 20u, l0 + 0u, c20_0); store_c(i0 + 20u, l0 + 8u, c20_1);
    store_c(i0 + 21u, l0 + 0u, c21_0); store_c(i0 + 21u, l0 + 8u, c21_1);
    store_c(i0 + 22u, l0 + 0u, c22_0); store_c(i0 + 22u, l0 + 8u, c22_1);
    store_c(i0 + 23u, l0 + 0u, c23_0); store_c(i0 + 23u, l0 + 8u, c23_1);
    store_c(i0 + 24u, l0 + 0u, c24_0); store_c(i0 + 24u, l0 + 8u, c24_1);
    store_c(i0 + 25u, l0 + 0u, c25_0); store_c(i0 + 25u, l0 + 8u, c25_1);
    store_c(i0 + 26u, l0 + 0u, c26_0); store_c(i0 + 26u, l0 + 8u, c26_1);
    store_c(i0 + 27u, l0 + 0u, c27_0); store_c(i0 + 27u, l0 + 8u, c27_1);
    store_c(i0 + 28u, l0 + 0u, c28_0); store_c(i0 + 28u, l0 + 8u, c28_1);
    store_c(i0 + 29u, l0 + 0u, c29_0); store_c(i0 + 29u, l0 + 8u, c29_1);
    store_c(i0 + 30u, l0 + 0u, c30_0); store_c(i0 + 30u, l0 + 8u, c30_1);
    store_c(i0 + 31u, l0 + 0u, c31_0); store_c(i0 + 31u, l0 + 8u, c31_1);
    store_c(i0 + 32u, l0 + 0u, c32_0); store_c(i0 + 32u, l0 + 8u, c32_1);
    store_c(i0 + 33u, l0 + 0u, c33_0); store_c(i0 + 33u, l0 + 8u, c33_1);
    store_c(i0 + 34u, l0 + 0u, c34_0); store_c(i0 + 34u, l0 + 8u, c34_1);
    store_c(i0 + 35u, l0 + 0u, c35_0); store_c(i0 + 35u, l0 + 8u, c35_1);
    store_c(i0 + 36u, l0 + 0u, c36_0); store_c(i0 + 36u, l0 + 8u, c36_1);
    store_c(i0 + 37u, l0 + 0u, c37_0); store_c(i0 + 37u, l0 + 8u, c37_1);
    store_c(i0 + 38u, l0 + 0u, c38_0); store_c(i0 + 38u, l0 + 8u, c38_1);
    store_c(i0 + 39u, l0 + 0u, c39_0); store_c(i0 + 39u, l0 + 8u, c39_1);
    store_c(i0 + 40u, l0 + 0u, c40_0); store_c(i0 + 40u, l0 + 8u, c40_1);
    store_c(i0 + 41u, l0 + 0u, c41_0); store_c(i0 + 41u, l0 + 8u, c41_1);
    store_c(i0 + 42u, l0 + 0u, c42_0); store_c(i0 + 42u, l0 + 8u, c42_1);
    store_c(i0 + 43u, l0 + 0u, c43_0); store_c(i0 + 43u, l0 + 8u, c43_1);
    store_c(i0 + 44u, l0 + 0u, c44_0); store_c(i0 + 44u, l0 + 8u, c44_1);
    store_c(i0 + 45u, l0 + 0u, c45_0); store_c(i0 + 45u, l0 + 8u, c45_1);
    store_c(i0 + 46u, l0 + 0u, c46_0); store_c(i0 + 46u, l0 + 8u, c46_1);
    store_c(i0 + 47u, l0 + 0u, c47_0); store_c(i0 + 47u, l0 + 8u, c47_1);
    store_c(i0 + 48u, l0 + 0u, c48_0); store_c(i0 + 48u, l0 + 8u, c48_1);
    store_c(i0 + 49u, l0 + 0u, c49_0); store_c(i0 + 49u, l0 + 8u, c49_1);
    store_c(i0 + 50u, l0 + 0u, c50_0); store_c(i0 + 50u, l0 + 8u, c50_1);
    store_c(i0 + 51u, l0 + 0u, c51_0); store_c(i0 + 51u, l0 + 8u, c51_1);
    store_c(i0 + 52u, l0 + 0u, c52_0); store_c(i0 + 52u, l0 + 8u, c52_1);
    store_c(i0 + 53u, l0 + 0u, c53_0); store_c(i0 + 53u, l0 + 8u, c53_1);
    store_c(i0 + 54u, l0 + 0u, c54_0); store_c(i0 + 54u, l0 + 8u, c54_1);
    store_c(i0 + 55u, l0 + 0u, c55_0); store_c(i0 + 55u, l0 + 8u, c55_1);
    store_c(i0 + 56u, l0 + 0u, c56_0); store_c(i0 + 56u, l0 + 8u, c56_1);
    store_c(i0 + 57u, l0 + 0u, c57_0); store_c(i0 + 57u, l0 + 8u, c57_1);
    store_c(i0 + 58u, l0 + 0u, c58_0); store_c(i0 + 58u, l0 + 8u, c58_1);
    store_c(i0 + 59u, l0 + 0u, c59_0); store_c(i0 + 59u, l0 + 8u, c59_1);
    store_c(i0 + 60u, l0 + 0u, c60_0); store_c(i0 + 60u, l0 + 8u, c60_1);
    store_c(i0 + 61u, l0 + 0u, c61_0); store_c(i0 + 61u, l0 + 8u, c61_1);
    store_c(i0 + 62u, l0 + 0u, c62_0); store_c(i0 + 62u, l0 + 8u, c62_1);
    store_c(i0 + 63u, l0 + 0u, c63_0); store_c(i0 + 63u, l0 + 8u, c63_1);
}

const TILE: u32 = 64u;
const TILE_K: u32 = 16u;
var<workgroup> tile_q: array<f32, 1024>; // [TILE_K][TILE]: tile_q[kk * TILE + ii]
var<workgroup> tile_p: array<f32, 1024>; // [TILE_K][TILE]: tile_p[kk * TILE + ll]

@compute @workgroup_size(16, 16)
fn gemm_tiled(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let block = wid.x + wid.y * nwg.x;
    // `block` is uniform over the workgroup, so this return keeps the barriers below uniform.
    if (block >= params.blocks) { return; }
    let l0 = (block % params.lane_blocks) * TILE;
    let i0 = (block / params.lane_blocks) * TILE;
    let t = lid.y * 16u + lid.x;
    var acc: array<f32, 16>;
    for (var s = 0u; s < 16u; s = s + 1u) { acc[s] = 0.0; }
    for (var k0 = 0u; k0 < params.k; k0 = k0 + TILE_K) {
        for (var r = 0u; r < 4u; r = r + 1u) {
            let e = t + r * 256u;
            let kk = e / TILE;
            let xx = e % TILE;
            let gk = k0 + kk;
            var qv = 0.0;
            if (i0 + xx < params.rows && gk < params.k) {
                qv = q[(i0 + xx) * params.q_i + gk * params.q_k];
            }
            tile_q[e] = qv;
            var pv = 0.0;
            if (l0 + xx < params.lanes && gk < params.k) {
                pv = p[gk * params.p_k + (l0 + xx) * params.p_l];
            }
            tile_p[e] = pv;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TILE_K; kk = kk + 1u) {
            var qr: array<f32, 4>;
            var pr: array<f32, 4>;
            for (var r = 0u; r < 4u; r = r + 1u) {
                qr[r] = tile_q[kk * TILE + lid.y + 16u * r];
                pr[r] = tile_p[kk * TILE + lid.x + 16u * r];
            }
            for (var r = 0u; r < 4u; r = r + 1u) {
                for (var s = 0u; s < 4u; s = s + 1u) {
                    acc[r * 4u + s] = fma(qr[r], pr[s], acc[r * 4u + s]);
                }
            }
        }
        workgroupBarrier();
    }
    for (var r = 0u; r < 4u; r = r + 1u) {
        for (var s = 0u; s < 4u; s = s + 1u) {
            store_c(i0 + lid.y + 16u * r, l0 + lid.x + 16u * s, acc[r * 4u + s]);
        }
    }
}

// Transpose: p viewed as [rows, lanes] -> c as [lanes, rows]; one invocation per element of c.
@compute @workgroup_size(64)
fn gemm_transpose(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let o = gid.x + gid.y * nwg.x * 64u;
    if (o >= params.rows * params.lanes) { return; }
    let src_col = o / params.rows;
    let src_row = o % params.rows;
    c[o] = p[src_row * params.lanes + src_col];
}

// Bias broadcast: c[rows, lanes] = p[lanes] in every row (then a GEMM accumulates onto it).
@compute @workgroup_size(64)
fn gemm_broadcast_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let o = gid.x + gid.y * nwg.x * 64u;
    if (o >= params.rows * params.lanes) { return; }
    c[o] = p[o % params.lanes];
}

// Column sums: c[l] = sum over i of p[i, l] for p [rows, lanes], rows summed in order
// (deterministic, no atomics).
@compute @workgroup_size(64)
fn gemm_column_sums(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let l = gid.x + gid.y * nwg.x * 64u;
    if (l >= params.lanes) { return; }
    var sum = 0.0;
    for (var i = 0u; i < params.rows; i = i + 1u) {
        sum = sum + p[i * params.lanes + l];
    }
    c[l] = sum;
}

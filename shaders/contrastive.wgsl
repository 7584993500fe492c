// MoCo InfoNCE with a labelled key queue (same-class negatives masked) and the on-device queue
// update. Host side: src/kernels/contrastive.rs.
//
// moco_loss is four dispatches (five on software adapters):
//   0. moco_transpose_q (software adapters only): qT [D, N] = q^T into scratch, so that adjacent
//      invocations of the unrolled product read adjacent elements.
//   1. moco_negatives: logits[n, 1 + j] = q_n . queue_j / T ([N,D] x [K,D]^T), a 4x8 register
//      block per invocation, adjacent invocations on adjacent key blocks; masked entries get MASKED.
//      moco_negatives_unrolled (software adapters) is the same product as 8-invocation workgroups
//      (one SIMD vector on llvmpipe), each invocation a fully unrolled block of keys x queries.
//   2. moco_rows: one invocation per row: the positive logit, the row's log-sum-exp and loss, and
//      the row of logits turned into softmax probabilities in place (masked -> 0).
//   3. moco_grad: dq[n, :] = grad_scale * ((p0 - 1) k_n + sum_j p_j queue_j) ([N,K] x [K,D]),
//      a 4x8 register block per invocation; moco_grad_unrolled is its software-adapter twin.
// The unrolled bodies are generated (one pattern, differing only in block sizes): lane t of a
// workgroup takes the lanes l0 + t + 8c, so adjacent invocations read adjacent elements;
// out-of-range rows and lanes load clamped (valid) addresses and are not stored.
//   4. moco_reduce: loss = loss_scale * sum_n rows[n] in row order.
// No atomics or barriers: the result is bit-identical run to run.

// Value stored for a masked negative (excluded from the softmax). Real logits are |q.k| / T <= 1 / T.
const MASKED: f32 = -1.0e30;
const MASKED_BELOW: f32 = -1.0e29;

struct MocoParams {
    n: u32,
    d: u32,
    k: u32,
    mask_same_class: u32,
    temperature: f32,
    // weight / (N * T)
    grad_scale: f32,
    // weight / N
    loss_scale: f32,
    // key blocks of 8 per row block (negatives) or dim blocks of 8 (gradient)
    col_blocks: u32,
}

@group(0) @binding(0) var<uniform> mp: MocoParams;

// ---------------------------------------------------------------------------------------------
// 1. negatives

@group(0) @binding(1) var<storage, read> neg_q: array<f32>;
@group(0) @binding(2) var<storage, read> neg_queue: array<f32>;
@group(0) @binding(3) var<storage, read> neg_queue_labels: array<u32>;
@group(0) @binding(4) var<storage, read> neg_labels: array<u32>;
@group(0) @binding(5) var<storage, read_write> neg_logits: array<f32>;

fn store_negative(row: u32, j: u32, dot: f32) {
    if (row >= mp.n || j >= mp.k) {
        return;
    }
    var v = dot / mp.temperature;
    if (mp.mask_same_class != 0u) {
        let ql = neg_queue_labels[j];
        if (ql != 0xffffffffu && ql == neg_labels[row]) {
            v = MASKED;
        }
    }
    neg_logits[row * (mp.k + 1u) + 1u + j] = v;
}

fn store_negatives(row: u32, j0: u32, a: vec4<f32>, b: vec4<f32>) {
    store_negative(row, j0, a.x);
    store_negative(row, j0 + 1u, a.y);
    store_negative(row, j0 + 2u, a.z);
    store_negative(row, j0 + 3u, a.w);
    store_negative(row, j0 + 4u, b.x);
    store_negative(row, j0 + 5u, b.y);
    store_negative(row, j0 + 6u, b.z);
    store_negative(row, j0 + 7u, b.w);
}

@compute @workgroup_size(64)
fn moco_negatives(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let id = gid.x + gid.y * nwg.x * 64u;
    let row_blocks = (mp.n + 3u) / 4u;
    if (id >= row_blocks * mp.col_blocks) {
        return;
    }
    let n0 = (id / mp.col_blocks) * 4u;
    let j0 = (id % mp.col_blocks) * 8u;
    let d = mp.d;
    // Out-of-range rows and keys read a valid row (clamped) and are not stored.
    let q0 = min(n0, mp.n - 1u) * d;
    let q1 = min(n0 + 1u, mp.n - 1u) * d;
    let q2 = min(n0 + 2u, mp.n - 1u) * d;
    let q3 = min(n0 + 3u, mp.n - 1u) * d;
    let last = mp.k - 1u;
    let k0 = min(j0, last) * d;
    let k1 = min(j0 + 1u, last) * d;
    let k2 = min(j0 + 2u, last) * d;
    let k3 = min(j0 + 3u, last) * d;
    let k4 = min(j0 + 4u, last) * d;
    let k5 = min(j0 + 5u, last) * d;
    let k6 = min(j0 + 6u, last) * d;
    let k7 = min(j0 + 7u, last) * d;
    var a0 = vec4<f32>(0.0);
    var b0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    var b1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var b2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    var b3 = vec4<f32>(0.0);
    for (var x = 0u; x < d; x = x + 1u) {
        let ka = vec4<f32>(neg_queue[k0 + x], neg_queue[k1 + x], neg_queue[k2 + x], neg_queue[k3 + x]);
        let kb = vec4<f32>(neg_queue[k4 + x], neg_queue[k5 + x], neg_queue[k6 + x], neg_queue[k7 + x]);
        let v0 = neg_q[q0 + x];
        let v1 = neg_q[q1 + x];
        let v2 = neg_q[q2 + x];
        let v3 = neg_q[q3 + x];
        a0 = a0 + v0 * ka;
        b0 = b0 + v0 * kb;
        a1 = a1 + v1 * ka;
        b1 = b1 + v1 * kb;
        a2 = a2 + v2 * ka;
        b2 = b2 + v2 * kb;
        a3 = a3 + v3 * ka;
        b3 = b3 + v3 * kb;
    }
    store_negatives(n0, j0, a0, b0);
    store_negatives(n0 + 1u, j0, a1, b1);
    store_negatives(n0 + 2u, j0, a2, b2);
    store_negatives(n0 + 3u, j0, a3, b3);
}

// 1b. negatives on software adapters

@group(0) @binding(1) var<storage, read> negu_qt: array<f32>;

// BEGIN GENERATED-UNROLLED-NEGATIVES
// negatives: C^T[j, n] = sum_x queue[j, x] qT[x, n]; 16 keys x 16 lanes per invocation.
@compute @workgroup_size(8)
fn moco_negatives_unrolled(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let lane_blocks = (mp.n + 127u) / 128u;
    let block = wid.x + wid.y * nwg.x;
    if (block >= lane_blocks * ((mp.k + 15u) / 16u)) { return; }
    let i0 = (block / lane_blocks) * 16u;
    let l0 = (block % lane_blocks) * 128u + lid.x;
    if (l0 >= mp.n) { return; }
    let lmax = mp.n - 1u;
    let imax = mp.k - 1u;
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
    let r0 = min(i0 + 0u, imax) * mp.d + 0u;
    let r1 = min(i0 + 1u, imax) * mp.d + 0u;
    let r2 = min(i0 + 2u, imax) * mp.d + 0u;
    let r3 = min(i0 + 3u, imax) * mp.d + 0u;
    let r4 = min(i0 + 4u, imax) * mp.d + 0u;
    let r5 = min(i0 + 5u, imax) * mp.d + 0u;
    let r6 = min(i0 + 6u, imax) * mp.d + 0u;
    let r7 = min(i0 + 7u, imax) * mp.d + 0u;
    let r8 = min(i0 + 8u, imax) * mp.d + 0u;
    let r9 = min(i0 + 9u, imax) * mp.d + 0u;
    let r10 = min(i0 + 10u, imax) * mp.d + 0u;
    let r11 = min(i0 + 11u, imax) * mp.d + 0u;
    let r12 = min(i0 + 12u, imax) * mp.d + 0u;
    let r13 = min(i0 + 13u, imax) * mp.d + 0u;
    let r14 = min(i0 + 14u, imax) * mp.d + 0u;
    let r15 = min(i0 + 15u, imax) * mp.d + 0u;
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
    for (var kk = 0u; kk < mp.d; kk = kk + 1u) {
        let p0 = negu_qt[po + x0];
        let p1 = negu_qt[po + x1];
        let p2 = negu_qt[po + x2];
        let p3 = negu_qt[po + x3];
        let p4 = negu_qt[po + x4];
        let p5 = negu_qt[po + x5];
        let p6 = negu_qt[po + x6];
        let p7 = negu_qt[po + x7];
        let p8 = negu_qt[po + x8];
        let p9 = negu_qt[po + x9];
        let p10 = negu_qt[po + x10];
        let p11 = negu_qt[po + x11];
        let p12 = negu_qt[po + x12];
        let p13 = negu_qt[po + x13];
        let p14 = negu_qt[po + x14];
        let p15 = negu_qt[po + x15];
        let q0 = neg_queue[r0 + kk];
        let q1 = neg_queue[r1 + kk];
        let q2 = neg_queue[r2 + kk];
        let q3 = neg_queue[r3 + kk];
        let q4 = neg_queue[r4 + kk];
        let q5 = neg_queue[r5 + kk];
        let q6 = neg_queue[r6 + kk];
        let q7 = neg_queue[r7 + kk];
        let q8 = neg_queue[r8 + kk];
        let q9 = neg_queue[r9 + kk];
        let q10 = neg_queue[r10 + kk];
        let q11 = neg_queue[r11 + kk];
        let q12 = neg_queue[r12 + kk];
        let q13 = neg_queue[r13 + kk];
        let q14 = neg_queue[r14 + kk];
        let q15 = neg_queue[r15 + kk];
        c0_0 = c0_0 + q0 * p0; c0_1 = c0_1 + q0 * p1; c0_2 = c0_2 + q0 * p2; c0_3 = c0_3 + q0 * p3; c0_4 = c0_4 + q0 * p4; c0_5 = c0_5 + q0 * p5; c0_6 = c0_6 + q0 * p6; c0_7 = c0_7 + q0 * p7; c0_8 = c0_8 + q0 * p8; c0_9 = c0_9 + q0 * p9; c0_10 = c0_10 + q0 * p10; c0_11 = c0_11 + q0 * p11; c0_12 = c0_12 + q0 * p12; c0_13 = c0_13 + q0 * p13; c0_14 = c0_14 + q0 * p14; c0_15 = c0_15 + q0 * p15;
        c1_0 = c1_0 + q1 * p0; c1_1 = c1_1 + q1 * p1; c1_2 = c1_2 + q1 * p2; c1_3 = c1_3 + q1 * p3; c1_4 = c1_4 + q1 * p4; c1_5 = c1_5 + q1 * p5; c1_6 = c1_6 + q1 * p6; c1_7 = c1_7 + q1 * p7; c1_8 = c1_8 + q1 * p8; c1_9 = c1_9 + q1 * p9; c1_10 = c1_10 + q1 * p10; c1_11 = c1_11 + q1 * p11; c1_12 = c1_12 + q1 * p12; c1_13 = c1_13 + q1 * p13; c1_14 = c1_14 + q1 * p14; c1_15 = c1_15 + q1 * p15;
        c2_0 = c2_0 + q2 * p0; c2_1 = c2_1 + q2 * p1; c2_2 = c2_2 + q2 * p2; c2_3 = c2_3 + q2 * p3; c2_4 = c2_4 + q2 * p4; c2_5 = c2_5 + q2 * p5; c2_6 = c2_6 + q2 * p6; c2_7 = c2_7 + q2 * p7; c2_8 = c2_8 + q2 * p8; c2_9 = c2_9 + q2 * p9; c2_10 = c2_10 + q2 * p10; c2_11 = c2_11 + q2 * p11; c2_12 = c2_12 + q2 * p12; c2_13 = c2_13 + q2 * p13; c2_14 = c2_14 + q2 * p14; c2_15 = c2_15 + q2 * p15;
        c3_0 = c3_0 + q3 * p0; c3_1 = c3_1 + q3 * p1; c3_2 = c3_2 + q3 * p2; c3_3 = c3_3 + q3 * p3; c3_4 = c3_4 + q3 * p4; c3_5 = c3_5 + q3 * p5; c3_6 = c3_6 + q3 * p6; c3_7 = c3_7 + q3 * p7; c3_8 = c3_8 + q3 * p8; c3_9 = c3_9 + q3 * p9; c3_10 = c3_10 + q3 * p10; c3_11 = c3_11 + q3 * p11; c3_12 = c3_12 + q3 * p12; c3_13 = c3_13 + q3 * p13; c3_14 = c3_14 + q3 * p14; c3_15 = c3_15 + q3 * p15;
        c4_0 = c4_0 + q4 * p0; c4_1 = c4_1 + q4 * p1; c4_2 = c4_2 + q4 * p2; c4_3 = c4_3 + q4 * p3; c4_4 = c4_4 + q4 * p4; c4_5 = c4_5 + q4 * p5; c4_6 = c4_6 + q4 * p6; c4_7 = c4_7 + q4 * p7; c4_8 = c4_8 + q4 * p8; c4_9 = c4_9 + q4 * p9; c4_10 = c4_10 + q4 * p10; c4_11 = c4_11 + q4 * p11; c4_12 = c4_12 + q4 * p12; c4_13 = c4_13 + q4 * p13; c4_14 = c4_14 + q4 * p14; c4_15 = c4_15 + q4 * p15;
        c5_0 = c5_0 + q5 * p0; c5_1 = c5_1 + q5 * p1; c5_2 = c5_2 + q5 * p2; c5_3 = c5_3 + q5 * p3; c5_4 = c5_4 + q5 * p4; c5_5 = c5_5 + q5 * p5; c5_6 = c5_6 + q5 * p6; c5_7 = c5_7 + q5 * p7; c5_8 = c5_8 + q5 * p8; c5_9 = c5_9 + q5 * p9; c5_10 = c5_10 + q5 * p10; c5_11 = c5_11 + q5 * p11; c5_12 = c5_12 + q5 * p12; c5_13 = c5_13 + q5 * p13; c5_14 = c5_14 + q5 * p14; c5_15 = c5_15 + q5 * p15;
        c6_0 = c6_0 + q6 * p0; c6_1 = c6_1 + q6 * p1; c6_2 = c6_2 + q6 * p2; c6_3 = c6_3 + q6 * p3; c6_4 = c6_4 + q6 * p4; c6_5 = c6_5 + q6 * p5; c6_6 = c6_6 + q6 * p6; c6_7 = c6_7 + q6 * p7; c6_8 = c6_8 + q6 * p8; c6_9 = c6_9 + q6 * p9; c6_10 = c6_10 + q6 * p10; c6_11 = c6_11 + q6 * p11; c6_12 = c6_12 + q6 * p12; c6_13 = c6_13 + q6 * p13; c6_14 = c6_14 + q6 * p14; c6_15 = c6_15 + q6 * p15;
        c7_0 = c7_0 + q7 * p0; c7_1 = c7_1 + q7 * p1; c7_2 = c7_2 + q7 * p2; c7_3 = c7_3 + q7 * p3; c7_4 = c7_4 + q7 * p4; c7_5 = c7_5 + q7 * p5; c7_6 = c7_6 + q7 * p6; c7_7 = c7_7 + q7 * p7; c7_8 = c7_8 + q7 * p8; c7_9 = c7_9 + q7 * p9; c7_10 = c7_10 + q7 * p10; c7_11 = c7_11 + q7 * p11; c7_12 = c7_12 + q7 * p12; c7_13 = c7_13 + q7 * p13; c7_14 = c7_14 + q7 * p14; c7_15 = c7_15 + q7 * p15;
        c8_0 = c8_0 + q8 * p0; c8_1 = c8_1 + q8 * p1; c8_2 = c8_2 + q8 * p2; c8_3 = c8_3 + q8 * p3; c8_4 = c8_4 + q8 * p4; c8_5 = c8_5 + q8 * p5; c8_6 = c8_6 + q8 * p6; c8_7 = c8_7 + q8 * p7; c8_8 = c8_8 + q8 * p8; c8_9 = c8_9 + q8 * p9; c8_10 = c8_10 + q8 * p10; c8_11 = c8_11 + q8 * p11; c8_12 = c8_12 + q8 * p12; c8_13 = c8_13 + q8 * p13; c8_14 = c8_14 + q8 * p14; c8_15 = c8_15 + q8 * p15;
        c9_0 = c9_0 + q9 * p0; c9_1 = c9_1 + q9 * p1; c9_2 = c9_2 + q9 * p2; c9_3 = c9_3 + q9 * p3; c9_4 = c9_4 + q9 * p4; c9_5 = c9_5 + q9 * p5; c9_6 = c9_6 + q9 * p6; c9_7 = c9_7 + q9 * p7; c9_8 = c9_8 + q9 * p8; c9_9 = c9_9 + q9 * p9; c9_10 = c9_10 + q9 * p10; c9_11 = c9_11 + q9 * p11; c9_12 = c9_12 + q9 * p12; c9_13 = c9_13 + q9 * p13; c9_14 = c9_14 + q9 * p14; c9_15 = c9_15 + q9 * p15;
        c10_0 = c10_0 + q10 * p0; c10_1 = c10_1 + q10 * p1; c10_2 = c10_2 + q10 * p2; c10_3 = c10_3 + q10 * p3; c10_4 = c10_4 + q10 * p4; c10_5 = c10_5 + q10 * p5; c10_6 = c10_6 + q10 * p6; c10_7 = c10_7 + q10 * p7; c10_8 = c10_8 + q10 * p8; c10_9 = c10_9 + q10 * p9; c10_10 = c10_10 + q10 * p10; c10_11 = c10_11 + q10 * p11; c10_12 = c10_12 + q10 * p12; c10_13 = c10_13 + q10 * p13; c10_14 = c10_14 + q10 * p14; c10_15 = c10_15 + q10 * p15;
        c11_0 = c11_0 + q11 * p0; c11_1 = c11_1 + q11 * p1; c11_2 = c11_2 + q11 * p2; c11_3 = c11_3 + q11 * p3; c11_4 = c11_4 + q11 * p4; c11_5 = c11_5 + q11 * p5; c11_6 = c11_6 + q11 * p6; c11_7 = c11_7 + q11 * p7; c11_8 = c11_8 + q11 * p8; c11_9 = c11_9 + q11 * p9; c11_10 = c11_10 + q11 * p10; c11_11 = c11_11 + q11 * p11; c11_12 = c11_12 + q11 * p12; c11_13 = c11_13 + q11 * p13; c11_14 = c11_14 + q11 * p14; c11_15 = c11_15 + q11 * p15;
        c12_0 = c12_0 + q12 * p0; c12_1 = c12_1 + q12 * p1; c12_2 = c12_2 + q12 * p2; c12_3 = c12_3 + q12 * p3; c12_4 = c12_4 + q12 * p4; c12_5 = c12_5 + q12 * p5; c12_6 = c12_6 + q12 * p6; c12_7 = c12_7 + q12 * p7; c12_8 = c12_8 + q12 * p8; c12_9 = c12_9 + q12 * p9; c12_10 = c12_10 + q12 * p10; c12_11 = c12_11 + q12 * p11; c12_12 = c12_12 + q12 * p12; c12_13 = c12_13 + q12 * p13; c12_14 = c12_14 + q12 * p14; c12_15 = c12_15 + q12 * p15;
        c13_0 = c13_0 + q13 * p0; c13_1 = c13_1 + q13 * p1; c13_2 = c13_2 + q13 * p2; c13_3 = c13_3 + q13 * p3; c13_4 = c13_4 + q13 * p4; c13_5 = c13_5 + q13 * p5; c13_6 = c13_6 + q13 * p6; c13_7 = c13_7 + q13 * p7; c13_8 = c13_8 + q13 * p8; c13_9 = c13_9 + q13 * p9; c13_10 = c13_10 + q13 * p10; c13_11 = c13_11 + q13 * p11; c13_12 = c13_12 + q13 * p12; c13_13 = c13_13 + q13 * p13; c13_14 = c13_14 + q13 * p14; c13_15 = c13_15 + q13 * p15;
        c14_0 = c14_0 + q14 * p0; c14_1 = c14_1 + q14 * p1; c14_2 = c14_2 + q14 * p2; c14_3 = c14_3 + q14 * p3; c14_4 = c14_4 + q14 * p4; c14_5 = c14_5 + q14 * p5; c14_6 = c14_6 + q14 * p6; c14_7 = c14_7 + q14 * p7; c14_8 = c14_8 + q14 * p8; c14_9 = c14_9 + q14 * p9; c14_10 = c14_10 + q14 * p10; c14_11 = c14_11 + q14 * p11; c14_12 = c14_12 + q14 * p12; c14_13 = c14_13 + q14 * p13; c14_14 = c14_14 + q14 * p14; c14_15 = c14_15 + q14 * p15;
        c15_0 = c15_0 + q15 * p0; c15_1 = c15_1 + q15 * p1; c15_2 = c15_2 + q15 * p2; c15_3 = c15_3 + q15 * p3; c15_4 = c15_4 + q15 * p4; c15_5 = c15_5 + q15 * p5; c15_6 = c15_6 + q15 * p6; c15_7 = c15_7 + q15 * p7; c15_8 = c15_8 + q15 * p8; c15_9 = c15_9 + q15 * p9; c15_10 = c15_10 + q15 * p10; c15_11 = c15_11 + q15 * p11; c15_12 = c15_12 + q15 * p12; c15_13 = c15_13 + q15 * p13; c15_14 = c15_14 + q15 * p14; c15_15 = c15_15 + q15 * p15;
        po = po + mp.n;
    }
    store_negative(l0 + 0u, i0 + 0u, c0_0);
    store_negative(l0 + 8u, i0 + 0u, c0_1);
    store_negative(l0 + 16u, i0 + 0u, c0_2);
    store_negative(l0 + 24u, i0 + 0u, c0_3);
    store_negative(l0 + 32u, i0 + 0u, c0_4);
    store_negative(l0 + 40u, i0 + 0u, c0_5);
    store_negative(l0 + 48u, i0 + 0u, c0_6);
    store_negative(l0 + 56u, i0 + 0u, c0_7);
    store_negative(l0 + 64u, i0 + 0u, c0_8);
    store_negative(l0 + 72u, i0 + 0u, c0_9);
    store_negative(l0 + 80u, i0 + 0u, c0_10);
    store_negative(l0 + 88u, i0 + 0u, c0_11);
    store_negative(l0 + 96u, i0 + 0u, c0_12);
    store_negative(l0 + 104u, i0 + 0u, c0_13);
    store_negative(l0 + 112u, i0 + 0u, c0_14);
    store_negative(l0 + 120u, i0 + 0u, c0_15);
    store_negative(l0 + 0u, i0 + 1u, c1_0);
    store_negative(l0 + 8u, i0 + 1u, c1_1);
    store_negative(l0 + 16u, i0 + 1u, c1_2);
    store_negative(l0 + 24u, i0 + 1u, c1_3);
    store_negative(l0 + 32u, i0 + 1u, c1_4);
    store_negative(l0 + 40u, i0 + 1u, c1_5);
    store_negative(l0 + 48u, i0 + 1u, c1_6);
    store_negative(l0 + 56u, i0 + 1u, c1_7);
    store_negative(l0 + 64u, i0 + 1u, c1_8);
    store_negative(l0 + 72u, i0 + 1u, c1_9);
    store_negative(l0 + 80u, i0 + 1u, c1_10);
    store_negative(l0 + 88u, i0 + 1u, c1_11);
    store_negative(l0 + 96u, i0 + 1u, c1_12);
    store_negative(l0 + 104u, i0 + 1u, c1_13);
    store_negative(l0 + 112u, i0 + 1u, c1_14);
    store_negative(l0 + 120u, i0 + 1u, c1_15);
    store_negative(l0 + 0u, i0 + 2u, c2_0);
    store_negative(l0 + 8u, i0 + 2u, c2_1);
    store_negative(l0 + 16u, i0 + 2u, c2_2);
    store_negative(l0 + 24u, i0 + 2u, c2_3);
    store_negative(l0 + 32u, i0 + 2u, c2_4);
    store_negative(l0 + 40u, i0 + 2u, c2_5);
    store_negative(l0 + 48u, i0 + 2u, c2_6);
    store_negative(l0 + 56u, i0 + 2u, c2_7);
    store_negative(l0 + 64u, i0 + 2u, c2_8);
    store_negative(l0 + 72u, i0 + 2u, c2_9);
    store_negative(l0 + 80u, i0 + 2u, c2_10);
    store_negative(l0 + 88u, i0 + 2u, c2_11);
    store_negative(l0 + 96u, i0 + 2u, c2_12);
    store_negative(l0 + 104u, i0 + 2u, c2_13);
    store_negative(l0 + 112u, i0 + 2u, c2_14);
    store_negative(l0 + 120u, i0 + 2u, c2_15);
    store_negative(l0 + 0u, i0 + 3u, c3_0);
    store_negative(l0 + 8u, i0 + 3u, c3_1);
    store_negative(l0 + 16u, i0 + 3u, c3_2);
    store_negative(l0 + 24u, i0 + 3u, c3_3);
    store_negative(l0 + 32u, i0 + 3u, c3_4);
    store_negative(l0 + 40u, i0 + 3u, c3_5);
    store_negative(l0 + 48u, i0 + 3u, c3_6);
    store_negative(l0 + 56u, i0 + 3u, c3_7);
    store_negative(l0 + 64u, i0 + 3u, c3_8);
    store_negative(l0 + 72u, i0 + 3u, c3_9);
    store_negative(l0 + 80u, i0 + 3u, c3_10);
    store_negative(l0 + 88u, i0 + 3u, c3_11);
    store_negative(l0 + 96u, i0 + 3u, c3_12);
    store_negative(l0 + 104u, i0 + 3u, c3_13);
    store_negative(l0 + 112u, i0 + 3u, c3_14);
    store_negative(l0 + 120u, i0 + 3u, c3_15);
    store_negative(l0 + 0u, i0 + 4u, c4_0);
    store_negative(l0 + 8u, i0 + 4u, c4_1);
    store_negative(l0 + 16u, i0 + 4u, c4_2);
    store_negative(l0 + 24u, i0 + 4u, c4_3);
    store_negative(l0 + 32u, i0 + 4u, c4_4);
    store_negative(l0 + 40u, i0 + 4u, c4_5);
    store_negative(l0 + 48u, i0 + 4u, c4_6);
    store_negative(l0 + 56u, i0 + 4u, c4_7);
    store_negative(l0 + 64u, i0 + 4u, c4_8);
    store_negative(l0 + 72u, i0 + 4u, c4_9);
    store_negative(l0 + 80u, i0 + 4u, c4_10);
    store_negative(l0 + 88u, i0 + 4u, c4_11);
    store_negative(l0 + 96u, i0 + 4u, c4_12);
    store_negative(l0 + 104u, i0 + 4u, c4_13);
    store_negative(l0 + 112u, i0 + 4u, c4_14);
    store_negative(l0 + 120u, i0 + 4u, c4_15);
    store_negative(l0 + 0u, i0 + 5u, c5_0);
    store_negative(l0 + 8u, i0 + 5u, c5_1);
    store_negative(l0 + 16u, i0 + 5u, c5_2);
    store_negative(l0 + 24u, i0 + 5u, c5_3);
    store_negative(l0 + 32u, i0 + 5u, c5_4);
    store_negative(l0 + 40u, i0 + 5u, c5_5);
    store_negative(l0 + 48u, i0 + 5u, c5_6);
    store_negative(l0 + 56u, i0 + 5u, c5_7);
    store_negative(l0 + 64u, i0 + 5u, c5_8);
    store_negative(l0 + 72u, i0 + 5u, c5_9);
    store_negative(l0 + 80u, i0 + 5u, c5_10);
    store_negative(l0 + 88u, i0 + 5u, c5_11);
    store_negative(l0 + 96u, i0 + 5u, c5_12);
    store_negative(l0 + 104u, i0 + 5u, c5_13);
    store_negative(l0 + 112u, i0 + 5u, c5_14);
    store_negative(l0 + 120u, i0 + 5u, c5_15);
    store_negative(l0 + 0u, i0 + 6u, c6_0);
    store_negative(l0 + 8u, i0 + 6u, c6_1);
    store_negative(l0 + 16u, i0 + 6u, c6_2);
    store_negative(l0 + 24u, i0 + 6u, c6_3);
    store_negative(l0 + 32u, i0 + 6u, c6_4);
    store_negative(l0 + 40u, i0 + 6u, c6_5);
    store_negative(l0 + 48u, i0 + 6u, c6_6);
    store_negative(l0 + 56u, i0 + 6u, c6_7);
    store_negative(l0 + 64u, i0 + 6u, c6_8);
    store_negative(l0 + 72u, i0 + 6u, c6_9);
    store_negative(l0 + 80u, i0 + 6u, c6_10);
    store_negative(l0 + 88u, i0 + 6u, c6_11);
    store_negative(l0 + 96u, i0 + 6u, c6_12);
    store_negative(l0 + 104u, i0 + 6u, c6_13);
    store_negative(l0 + 112u, i0 + 6u, c6_14);
    store_negative(l0 + 120u, i0 + 6u, c6_15);
    store_negative(l0 + 0u, i0 + 7u, c7_0);
    store_negative(l0 + 8u, i0 + 7u, c7_1);
    store_negative(l0 + 16u, i0 + 7u, c7_2);
    store_negative(l0 + 24u, i0 + 7u, c7_3);
    store_negative(l0 + 32u, i0 + 7u, c7_4);
    store_negative(l0 + 40u, i0 + 7u, c7_5);
    store_negative(l0 + 48u, i0 + 7u, c7_6);
    store_negative(l0 + 56u, i0 + 7u, c7_7);
    store_negative(l0 + 64u, i0 + 7u, c7_8);
    store_negative(l0 + 72u, i0 + 7u, c7_9);
    store_negative(l0 + 80u, i0 + 7u, c7_10);
    store_negative(l0 + 88u, i0 + 7u, c7_11);
    store_negative(l0 + 96u, i0 + 7u, c7_12);
    store_negative(l0 + 104u, i0 + 7u, c7_13);
    store_negative(l0 + 112u, i0 + 7u, c7_14);
    store_negative(l0 + 120u, i0 + 7u, c7_15);
    store_negative(l0 + 0u, i0 + 8u, c8_0);
    store_negative(l0 + 8u, i0 + 8u, c8_1);
    store_negative(l0 + 16u, i0 + 8u, c8_2);
    store_negative(l0 + 24u, i0 + 8u, c8_3);
    store_negative(l0 + 32u, i0 + 8u, c8_4);
    store_negative(l0 + 40u, i0 + 8u, c8_5);
    store_negative(l0 + 48u, i0 + 8u, c8_6);
    store_negative(l0 + 56u, i0 + 8u, c8_7);
    store_negative(l0 + 64u, i0 + 8u, c8_8);
    store_negative(l0 + 72u, i0 + 8u, c8_9);
    store_negative(l0 + 80u, i0 + 8u, c8_10);
    store_negative(l0 + 88u, i0 + 8u, c8_11);
    store_negative(l0 + 96u, i0 + 8u, c8_12);
    store_negative(l0 + 104u, i0 + 8u, c8_13);
    store_negative(l0 + 112u, i0 + 8u, c8_14);
    store_negative(l0 + 120u, i0 + 8u, c8_15);
    store_negative(l0 + 0u, i0 + 9u, c9_0);
    store_negative(l0 + 8u, i0 + 9u, c9_1);
    store_negative(l0 + 16u, i0 + 9u, c9_2);
    store_negative(l0 + 24u, i0 + 9u, c9_3);
    store_negative(l0 + 32u, i0 + 9u, c9_4);
    store_negative(l0 + 40u, i0 + 9u, c9_5);
    store_negative(l0 + 48u, i0 + 9u, c9_6);
    store_negative(l0 + 56u, i0 + 9u, c9_7);
    store_negative(l0 + 64u, i0 + 9u, c9_8);
    store_negative(l0 + 72u, i0 + 9u, c9_9);
    store_negative(l0 + 80u, i0 + 9u, c9_10);
    store_negative(l0 + 88u, i0 + 9u, c9_11);
    store_negative(l0 + 96u, i0 + 9u, c9_12);
    store_negative(l0 + 104u, i0 + 9u, c9_13);
    store_negative(l0 + 112u, i0 + 9u, c9_14);
    store_negative(l0 + 120u, i0 + 9u, c9_15);
    store_negative(l0 + 0u, i0 + 10u, c10_0);
    store_negative(l0 + 8u, i0 + 10u, c10_1);
    store_negative(l0 + 16u, i0 + 10u, c10_2);
    store_negative(l0 + 24u, i0 + 10u, c10_3);
    store_negative(l0 + 32u, i0 + 10u, c10_4);
    store_negative(l0 + 40u, i0 + 10u, c10_5);
    store_negative(l0 + 48u, i0 + 10u, c10_6);
    store_negative(l0 + 56u, i0 + 10u, c10_7);
    store_negative(l0 + 64u, i0 + 10u, c10_8);
    store_negative(l0 + 72u, i0 + 10u, c10_9);
    store_negative(l0 + 80u, i0 + 10u, c10_10);
    store_negative(l0 + 88u, i0 + 10u, c10_11);
    store_negative(l0 + 96u, i0 + 10u, c10_12);
    store_negative(l0 + 104u, i0 + 10u, c10_13);
    store_negative(l0 + 112u, i0 + 10u, c10_14);
    store_negative(l0 + 120u, i0 + 10u, c10_15);
    store_negative(l0 + 0u, i0 + 11u, c11_0);
    store_negative(l0 + 8u, i0 + 11u, c11_1);
    store_negative(l0 + 16u, i0 + 11u, c11_2);
    store_negative(l0 + 24u, i0 + 11u, c11_3);
    store_negative(l0 + 32u, i0 + 11u, c11_4);
    store_negative(l0 + 40u, i0 + 11u, c11_5);
    store_negative(l0 + 48u, i0 + 11u, c11_6);
    store_negative(l0 + 56u, i0 + 11u, c11_7);
    store_negative(l0 + 64u, i0 + 11u, c11_8);
    store_negative(l0 + 72u, i0 + 11u, c11_9);
    store_negative(l0 + 80u, i0 + 11u, c11_10);
    store_negative(l0 + 88u, i0 + 11u, c11_11);
    store_negative(l0 + 96u, i0 + 11u, c11_12);
    store_negative(l0 + 104u, i0 + 11u, c11_13);
    store_negative(l0 + 112u, i0 + 11u, c11_14);
    store_negative(l0 + 120u, i0 + 11u, c11_15);
    store_negative(l0 + 0u, i0 + 12u, c12_0);
    store_negative(l0 + 8u, i0 + 12u, c12_1);
    store_negative(l0 + 16u, i0 + 12u, c12_2);
    store_negative(l0 + 24u, i0 + 12u, c12_3);
    store_negative(l0 + 32u, i0 + 12u, c12_4);
    store_negative(l0 + 40u, i0 + 12u, c12_5);
    store_negative(l0 + 48u, i0 + 12u, c12_6);
    store_negative(l0 + 56u, i0 + 12u, c12_7);
    store_negative(l0 + 64u, i0 + 12u, c12_8);
    store_negative(l0 + 72u, i0 + 12u, c12_9);
    store_negative(l0 + 80u, i0 + 12u, c12_10);
    store_negative(l0 + 88u, i0 + 12u, c12_11);
    store_negative(l0 + 96u, i0 + 12u, c12_12);
    store_negative(l0 + 104u, i0 + 12u, c12_13);
    store_negative(l0 + 112u, i0 + 12u, c12_14);
    store_negative(l0 + 120u, i0 + 12u, c12_15);
    store_negative(l0 + 0u, i0 + 13u, c13_0);
    store_negative(l0 + 8u, i0 + 13u, c13_1);
    store_negative(l0 + 16u, i0 + 13u, c13_2);
    store_negative(l0 + 24u, i0 + 13u, c13_3);
    store_negative(l0 + 32u, i0 + 13u, c13_4);
    store_negative(l0 + 40u, i0 + 13u, c13_5);
    store_negative(l0 + 48u, i0 + 13u, c13_6);
    store_negative(l0 + 56u, i0 + 13u, c13_7);
    store_negative(l0 + 64u, i0 + 13u, c13_8);
    store_negative(l0 + 72u, i0 + 13u, c13_9);
    store_negative(l0 + 80u, i0 + 13u, c13_10);
    store_negative(l0 + 88u, i0 + 13u, c13_11);
    store_negative(l0 + 96u, i0 + 13u, c13_12);
    store_negative(l0 + 104u, i0 + 13u, c13_13);
    store_negative(l0 + 112u, i0 + 13u, c13_14);
    store_negative(l0 + 120u, i0 + 13u, c13_15);
    store_negative(l0 + 0u, i0 + 14u, c14_0);
    store_negative(l0 + 8u, i0 + 14u, c14_1);
    store_negative(l0 + 16u, i0 + 14u, c14_2);
    store_negative(l0 + 24u, i0 + 14u, c14_3);
    store_negative(l0 + 32u, i0 + 14u, c14_4);
    store_negative(l0 + 40u, i0 + 14u, c14_5);
    store_negative(l0 + 48u, i0 + 14u, c14_6);
    store_negative(l0 + 56u, i0 + 14u, c14_7);
    store_negative(l0 + 64u, i0 + 14u, c14_8);
    store_negative(l0 + 72u, i0 + 14u, c14_9);
    store_negative(l0 + 80u, i0 + 14u, c14_10);
    store_negative(l0 + 88u, i0 + 14u, c14_11);
    store_negative(l0 + 96u, i0 + 14u, c14_12);
    store_negative(l0 + 104u, i0 + 14u, c14_13);
    store_negative(l0 + 112u, i0 + 14u, c14_14);
    store_negative(l0 + 120u, i0 + 14u, c14_15);
    store_negative(l0 + 0u, i0 + 15u, c15_0);
    store_negative(l0 + 8u, i0 + 15u, c15_1);
    store_negative(l0 + 16u, i0 + 15u, c15_2);
    store_negative(l0 + 24u, i0 + 15u, c15_3);
    store_negative(l0 + 32u, i0 + 15u, c15_4);
    store_negative(l0 + 40u, i0 + 15u, c15_5);
    store_negative(l0 + 48u, i0 + 15u, c15_6);
    store_negative(l0 + 56u, i0 + 15u, c15_7);
    store_negative(l0 + 64u, i0 + 15u, c15_8);
    store_negative(l0 + 72u, i0 + 15u, c15_9);
    store_negative(l0 + 80u, i0 + 15u, c15_10);
    store_negative(l0 + 88u, i0 + 15u, c15_11);
    store_negative(l0 + 96u, i0 + 15u, c15_12);
    store_negative(l0 + 104u, i0 + 15u, c15_13);
    store_negative(l0 + 112u, i0 + 15u, c15_14);
    store_negative(l0 + 120u, i0 + 15u, c15_15);
}
// END GENERATED-UNROLLED-NEGATIVES

// ---------------------------------------------------------------------------------------------
// 0. q transposed (software adapters)

@group(0) @binding(1) var<storage, read> tr_q: array<f32>;
@group(0) @binding(2) var<storage, read_write> tr_qt: array<f32>;

// qT[x, n] = q[n, x]; one invocation per element, writes contiguous.
@compute @workgroup_size(256)
fn moco_transpose_q(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let id = gid.x + gid.y * nwg.x * 256u;
    if (id >= mp.n * mp.d) {
        return;
    }
    let x = id / mp.n;
    let row = id % mp.n;
    tr_qt[id] = tr_q[row * mp.d + x];
}

// ---------------------------------------------------------------------------------------------
// 2. rows

@group(0) @binding(1) var<storage, read> row_q: array<f32>;
@group(0) @binding(2) var<storage, read> row_k: array<f32>;
@group(0) @binding(3) var<storage, read_write> row_logits: array<f32>;
@group(0) @binding(4) var<storage, read_write> row_loss: array<f32>;

@compute @workgroup_size(64)
fn moco_rows(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row = gid.x;
    if (row >= mp.n) {
        return;
    }
    let d = mp.d;
    var dot = 0.0;
    for (var x = 0u; x < d; x = x + 1u) {
        dot = dot + row_q[row * d + x] * row_k[row * d + x];
    }
    let width = mp.k + 1u;
    let base = row * width;
    let pos = dot / mp.temperature;
    row_logits[base] = pos;
    var m = pos;
    for (var j = 1u; j < width; j = j + 1u) {
        m = max(m, row_logits[base + j]);
    }
    var s = 0.0;
    for (var j = 0u; j < width; j = j + 1u) {
        let v = row_logits[base + j];
        if (v > MASKED_BELOW) {
            s = s + exp(v - m);
        }
    }
    row_loss[row] = m + log(s) - pos;
    let inv_s = 1.0 / s;
    for (var j = 0u; j < width; j = j + 1u) {
        let v = row_logits[base + j];
        var p = 0.0;
        if (v > MASKED_BELOW) {
            p = exp(v - m) * inv_s;
        }
        row_logits[base + j] = p;
    }
}

// ---------------------------------------------------------------------------------------------
// 3. gradient

@group(0) @binding(1) var<storage, read> grad_k: array<f32>;
@group(0) @binding(2) var<storage, read> grad_queue: array<f32>;
@group(0) @binding(3) var<storage, read> grad_probs: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad_dq: array<f32>;

fn store_grad(row: u32, x: u32, acc: f32) {
    if (row >= mp.n || x >= mp.d) {
        return;
    }
    let p0 = grad_probs[row * (mp.k + 1u)];
    grad_dq[row * mp.d + x] = mp.grad_scale * ((p0 - 1.0) * grad_k[row * mp.d + x] + acc);
}

fn store_grads(row: u32, x0: u32, a: vec4<f32>, b: vec4<f32>) {
    store_grad(row, x0, a.x);
    store_grad(row, x0 + 1u, a.y);
    store_grad(row, x0 + 2u, a.z);
    store_grad(row, x0 + 3u, a.w);
    store_grad(row, x0 + 4u, b.x);
    store_grad(row, x0 + 5u, b.y);
    store_grad(row, x0 + 6u, b.z);
    store_grad(row, x0 + 7u, b.w);
}

@compute @workgroup_size(64)
fn moco_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let id = gid.x + gid.y * nwg.x * 64u;
    let row_blocks = (mp.n + 3u) / 4u;
    if (id >= row_blocks * mp.col_blocks) {
        return;
    }
    let n0 = (id / mp.col_blocks) * 4u;
    let x0 = (id % mp.col_blocks) * 8u;
    let d = mp.d;
    let width = mp.k + 1u;
    let p0 = min(n0, mp.n - 1u) * width + 1u;
    let p1 = min(n0 + 1u, mp.n - 1u) * width + 1u;
    let p2 = min(n0 + 2u, mp.n - 1u) * width + 1u;
    let p3 = min(n0 + 3u, mp.n - 1u) * width + 1u;
    let last = d - 1u;
    let c0 = min(x0, last);
    let c1 = min(x0 + 1u, last);
    let c2 = min(x0 + 2u, last);
    let c3 = min(x0 + 3u, last);
    let c4 = min(x0 + 4u, last);
    let c5 = min(x0 + 5u, last);
    let c6 = min(x0 + 6u, last);
    let c7 = min(x0 + 7u, last);
    var a0 = vec4<f32>(0.0);
    var b0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    var b1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var b2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    var b3 = vec4<f32>(0.0);
    for (var j = 0u; j < mp.k; j = j + 1u) {
        let kb = j * d;
        let ka = vec4<f32>(grad_queue[kb + c0], grad_queue[kb + c1], grad_queue[kb + c2], grad_queue[kb + c3]);
        let kc = vec4<f32>(grad_queue[kb + c4], grad_queue[kb + c5], grad_queue[kb + c6], grad_queue[kb + c7]);
        let w0 = grad_probs[p0 + j];
        let w1 = grad_probs[p1 + j];
        let w2 = grad_probs[p2 + j];
        let w3 = grad_probs[p3 + j];
        a0 = a0 + w0 * ka;
        b0 = b0 + w0 * kc;
        a1 = a1 + w1 * ka;
        b1 = b1 + w1 * kc;
        a2 = a2 + w2 * ka;
        b2 = b2 + w2 * kc;
        a3 = a3 + w3 * ka;
        b3 = b3 + w3 * kc;
    }
    store_grads(n0, x0, a0, b0);
    store_grads(n0 + 1u, x0, a1, b1);
    store_grads(n0 + 2u, x0, a2, b2);
    store_grads(n0 + 3u, x0, a3, b3);
}

// BEGIN GENERATED-UNROLLED-GRAD
// gradient: S[n, x] = sum_j probs[n, 1 + j] queue[j, x]; 16 rows x 16 lanes per invocation.
@compute @workgroup_size(8)
fn moco_grad_unrolled(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let lane_blocks = (mp.d + 127u) / 128u;
    let block = wid.x + wid.y * nwg.x;
    if (block >= lane_blocks * ((mp.n + 15u) / 16u)) { return; }
    let i0 = (block / lane_blocks) * 16u;
    let l0 = (block % lane_blocks) * 128u + lid.x;
    if (l0 >= mp.d) { return; }
    let lmax = mp.d - 1u;
    let imax = mp.n - 1u;
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
    let r0 = min(i0 + 0u, imax) * (mp.k + 1u) + 1u;
    let r1 = min(i0 + 1u, imax) * (mp.k + 1u) + 1u;
    let r2 = min(i0 + 2u, imax) * (mp.k + 1u) + 1u;
    let r3 = min(i0 + 3u, imax) * (mp.k + 1u) + 1u;
    let r4 = min(i0 + 4u, imax) * (mp.k + 1u) + 1u;
    let r5 = min(i0 + 5u, imax) * (mp.k + 1u) + 1u;
    let r6 = min(i0 + 6u, imax) * (mp.k + 1u) + 1u;
    let r7 = min(i0 + 7u, imax) * (mp.k + 1u) + 1u;
    let r8 = min(i0 + 8u, imax) * (mp.k + 1u) + 1u;
    let r9 = min(i0 + 9u, imax) * (mp.k + 1u) + 1u;
    let r10 = min(i0 + 10u, imax) * (mp.k + 1u) + 1u;
    let r11 = min(i0 + 11u, imax) * (mp.k + 1u) + 1u;
    let r12 = min(i0 + 12u, imax) * (mp.k + 1u) + 1u;
    let r13 = min(i0 + 13u, imax) * (mp.k + 1u) + 1u;
    let r14 = min(i0 + 14u, imax) * (mp.k + 1u) + 1u;
    let r15 = min(i0 + 15u, imax) * (mp.k + 1u) + 1u;
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
    for (var kk = 0u; kk < mp.k; kk = kk + 1u) {
        let p0 = grad_queue[po + x0];
        let p1 = grad_queue[po + x1];
        let p2 = grad_queue[po + x2];
        let p3 = grad_queue[po + x3];
        let p4 = grad_queue[po + x4];
        let p5 = grad_queue[po + x5];
        let p6 = grad_queue[po + x6];
        let p7 = grad_queue[po + x7];
        let p8 = grad_queue[po + x8];
        let p9 = grad_queue[po + x9];
        let p10 = grad_queue[po + x10];
        let p11 = grad_queue[po + x11];
        let p12 = grad_queue[po + x12];
        let p13 = grad_queue[po + x13];
        let p14 = grad_queue[po + x14];
        let p15 = grad_queue[po + x15];
        let q0 = grad_probs[r0 + kk];
        let q1 = grad_probs[r1 + kk];
        let q2 = grad_probs[r2 + kk];
        let q3 = grad_probs[r3 + kk];
        let q4 = grad_probs[r4 + kk];
        let q5 = grad_probs[r5 + kk];
        let q6 = grad_probs[r6 + kk];
        let q7 = grad_probs[r7 + kk];
        let q8 = grad_probs[r8 + kk];
        let q9 = grad_probs[r9 + kk];
        let q10 = grad_probs[r10 + kk];
        let q11 = grad_probs[r11 + kk];
        let q12 = grad_probs[r12 + kk];
        let q13 = grad_probs[r13 + kk];
        let q14 = grad_probs[r14 + kk];
        let q15 = grad_probs[r15 + kk];
        c0_0 = c0_0 + q0 * p0; c0_1 = c0_1 + q0 * p1; c0_2 = c0_2 + q0 * p2; c0_3 = c0_3 + q0 * p3; c0_4 = c0_4 + q0 * p4; c0_5 = c0_5 + q0 * p5; c0_6 = c0_6 + q0 * p6; c0_7 = c0_7 + q0 * p7; c0_8 = c0_8 + q0 * p8; c0_9 = c0_9 + q0 * p9; c0_10 = c0_10 + q0 * p10; c0_11 = c0_11 + q0 * p11; c0_12 = c0_12 + q0 * p12; c0_13 = c0_13 + q0 * p13; c0_14 = c0_14 + q0 * p14; c0_15 = c0_15 + q0 * p15;
        c1_0 = c1_0 + q1 * p0; c1_1 = c1_1 + q1 * p1; c1_2 = c1_2 + q1 * p2; c1_3 = c1_3 + q1 * p3; c1_4 = c1_4 + q1 * p4; c1_5 = c1_5 + q1 * p5; c1_6 = c1_6 + q1 * p6; c1_7 = c1_7 + q1 * p7; c1_8 = c1_8 + q1 * p8; c1_9 = c1_9 + q1 * p9; c1_10 = c1_10 + q1 * p10; c1_11 = c1_11 + q1 * p11; c1_12 = c1_12 + q1 * p12; c1_13 = c1_13 + q1 * p13; c1_14 = c1_14 + q1 * p14; c1_15 = c1_15 + q1 * p15;
        c2_0 = c2_0 + q2 * p0; c2_1 = c2_1 + q2 * p1; c2_2 = c2_2 + q2 * p2; c2_3 = c2_3 + q2 * p3; c2_4 = c2_4 + q2 * p4; c2_5 = c2_5 + q2 * p5; c2_6 = c2_6 + q2 * p6; c2_7 = c2_7 + q2 * p7; c2_8 = c2_8 + q2 * p8; c2_9 = c2_9 + q2 * p9; c2_10 = c2_10 + q2 * p10; c2_11 = c2_11 + q2 * p11; c2_12 = c2_12 + q2 * p12; c2_13 = c2_13 + q2 * p13; c2_14 = c2_14 + q2 * p14; c2_15 = c2_15 + q2 * p15;
        c3_0 = c3_0 + q3 * p0; c3_1 = c3_1 + q3 * p1; c3_2 = c3_2 + q3 * p2; c3_3 = c3_3 + q3 * p3; c3_4 = c3_4 + q3 * p4; c3_5 = c3_5 + q3 * p5; c3_6 = c3_6 + q3 * p6; c3_7 = c3_7 + q3 * p7; c3_8 = c3_8 + q3 * p8; c3_9 = c3_9 + q3 * p9; c3_10 = c3_10 + q3 * p10; c3_11 = c3_11 + q3 * p11; c3_12 = c3_12 + q3 * p12; c3_13 = c3_13 + q3 * p13; c3_14 = c3_14 + q3 * p14; c3_15 = c3_15 + q3 * p15;
        c4_0 = c4_0 + q4 * p0; c4_1 = c4_1 + q4 * p1; c4_2 = c4_2 + q4 * p2; c4_3 = c4_3 + q4 * p3; c4_4 = c4_4 + q4 * p4; c4_5 = c4_5 + q4 * p5; c4_6 = c4_6 + q4 * p6; c4_7 = c4_7 + q4 * p7; c4_8 = c4_8 + q4 * p8; c4_9 = c4_9 + q4 * p9; c4_10 = c4_10 + q4 * p10; c4_11 = c4_11 + q4 * p11; c4_12 = c4_12 + q4 * p12; c4_13 = c4_13 + q4 * p13; c4_14 = c4_14 + q4 * p14; c4_15 = c4_15 + q4 * p15;
        c5_0 = c5_0 + q5 * p0; c5_1 = c5_1 + q5 * p1; c5_2 = c5_2 + q5 * p2; c5_3 = c5_3 + q5 * p3; c5_4 = c5_4 + q5 * p4; c5_5 = c5_5 + q5 * p5; c5_6 = c5_6 + q5 * p6; c5_7 = c5_7 + q5 * p7; c5_8 = c5_8 + q5 * p8; c5_9 = c5_9 + q5 * p9; c5_10 = c5_10 + q5 * p10; c5_11 = c5_11 + q5 * p11; c5_12 = c5_12 + q5 * p12; c5_13 = c5_13 + q5 * p13; c5_14 = c5_14 + q5 * p14; c5_15 = c5_15 + q5 * p15;
        c6_0 = c6_0 + q6 * p0; c6_1 = c6_1 + q6 * p1; c6_2 = c6_2 + q6 * p2; c6_3 = c6_3 + q6 * p3; c6_4 = c6_4 + q6 * p4; c6_5 = c6_5 + q6 * p5; c6_6 = c6_6 + q6 * p6; c6_7 = c6_7 + q6 * p7; c6_8 = c6_8 + q6 * p8; c6_9 = c6_9 + q6 * p9; c6_10 = c6_10 + q6 * p10; c6_11 = c6_11 + q6 * p11; c6_12 = c6_12 + q6 * p12; c6_13 = c6_13 + q6 * p13; c6_14 = c6_14 + q6 * p14; c6_15 = c6_15 + q6 * p15;
        c7_0 = c7_0 + q7 * p0; c7_1 = c7_1 + q7 * p1; c7_2 = c7_2 + q7 * p2; c7_3 = c7_3 + q7 * p3; c7_4 = c7_4 + q7 * p4; c7_5 = c7_5 + q7 * p5; c7_6 = c7_6 + q7 * p6; c7_7 = c7_7 + q7 * p7; c7_8 = c7_8 + q7 * p8; c7_9 = c7_9 + q7 * p9; c7_10 = c7_10 + q7 * p10; c7_11 = c7_11 + q7 * p11; c7_12 = c7_12 + q7 * p12; c7_13 = c7_13 + q7 * p13; c7_14 = c7_14 + q7 * p14; c7_15 = c7_15 + q7 * p15;
        c8_0 = c8_0 + q8 * p0; c8_1 = c8_1 + q8 * p1; c8_2 = c8_2 + q8 * p2; c8_3 = c8_3 + q8 * p3; c8_4 = c8_4 + q8 * p4; c8_5 = c8_5 + q8 * p5; c8_6 = c8_6 + q8 * p6; c8_7 = c8_7 + q8 * p7; c8_8 = c8_8 + q8 * p8; c8_9 = c8_9 + q8 * p9; c8_10 = c8_10 + q8 * p10; c8_11 = c8_11 + q8 * p11; c8_12 = c8_12 + q8 * p12; c8_13 = c8_13 + q8 * p13; c8_14 = c8_14 + q8 * p14; c8_15 = c8_15 + q8 * p15;
        c9_0 = c9_0 + q9 * p0; c9_1 = c9_1 + q9 * p1; c9_2 = c9_2 + q9 * p2; c9_3 = c9_3 + q9 * p3; c9_4 = c9_4 + q9 * p4; c9_5 = c9_5 + q9 * p5; c9_6 = c9_6 + q9 * p6; c9_7 = c9_7 + q9 * p7; c9_8 = c9_8 + q9 * p8; c9_9 = c9_9 + q9 * p9; c9_10 = c9_10 + q9 * p10; c9_11 = c9_11 + q9 * p11; c9_12 = c9_12 + q9 * p12; c9_13 = c9_13 + q9 * p13; c9_14 = c9_14 + q9 * p14; c9_15 = c9_15 + q9 * p15;
        c10_0 = c10_0 + q10 * p0; c10_1 = c10_1 + q10 * p1; c10_2 = c10_2 + q10 * p2; c10_3 = c10_3 + q10 * p3; c10_4 = c10_4 + q10 * p4; c10_5 = c10_5 + q10 * p5; c10_6 = c10_6 + q10 * p6; c10_7 = c10_7 + q10 * p7; c10_8 = c10_8 + q10 * p8; c10_9 = c10_9 + q10 * p9; c10_10 = c10_10 + q10 * p10; c10_11 = c10_11 + q10 * p11; c10_12 = c10_12 + q10 * p12; c10_13 = c10_13 + q10 * p13; c10_14 = c10_14 + q10 * p14; c10_15 = c10_15 + q10 * p15;
        c11_0 = c11_0 + q11 * p0; c11_1 = c11_1 + q11 * p1; c11_2 = c11_2 + q11 * p2; c11_3 = c11_3 + q11 * p3; c11_4 = c11_4 + q11 * p4; c11_5 = c11_5 + q11 * p5; c11_6 = c11_6 + q11 * p6; c11_7 = c11_7 + q11 * p7; c11_8 = c11_8 + q11 * p8; c11_9 = c11_9 + q11 * p9; c11_10 = c11_10 + q11 * p10; c11_11 = c11_11 + q11 * p11; c11_12 = c11_12 + q11 * p12; c11_13 = c11_13 + q11 * p13; c11_14 = c11_14 + q11 * p14; c11_15 = c11_15 + q11 * p15;
        c12_0 = c12_0 + q12 * p0; c12_1 = c12_1 + q12 * p1; c12_2 = c12_2 + q12 * p2; c12_3 = c12_3 + q12 * p3; c12_4 = c12_4 + q12 * p4; c12_5 = c12_5 + q12 * p5; c12_6 = c12_6 + q12 * p6; c12_7 = c12_7 + q12 * p7; c12_8 = c12_8 + q12 * p8; c12_9 = c12_9 + q12 * p9; c12_10 = c12_10 + q12 * p10; c12_11 = c12_11 + q12 * p11; c12_12 = c12_12 + q12 * p12; c12_13 = c12_13 + q12 * p13; c12_14 = c12_14 + q12 * p14; c12_15 = c12_15 + q12 * p15;
        c13_0 = c13_0 + q13 * p0; c13_1 = c13_1 + q13 * p1; c13_2 = c13_2 + q13 * p2; c13_3 = c13_3 + q13 * p3; c13_4 = c13_4 + q13 * p4; c13_5 = c13_5 + q13 * p5; c13_6 = c13_6 + q13 * p6; c13_7 = c13_7 + q13 * p7; c13_8 = c13_8 + q13 * p8; c13_9 = c13_9 + q13 * p9; c13_10 = c13_10 + q13 * p10; c13_11 = c13_11 + q13 * p11; c13_12 = c13_12 + q13 * p12; c13_13 = c13_13 + q13 * p13; c13_14 = c13_14 + q13 * p14; c13_15 = c13_15 + q13 * p15;
        c14_0 = c14_0 + q14 * p0; c14_1 = c14_1 + q14 * p1; c14_2 = c14_2 + q14 * p2; c14_3 = c14_3 + q14 * p3; c14_4 = c14_4 + q14 * p4; c14_5 = c14_5 + q14 * p5; c14_6 = c14_6 + q14 * p6; c14_7 = c14_7 + q14 * p7; c14_8 = c14_8 + q14 * p8; c14_9 = c14_9 + q14 * p9; c14_10 = c14_10 + q14 * p10; c14_11 = c14_11 + q14 * p11; c14_12 = c14_12 + q14 * p12; c14_13 = c14_13 + q14 * p13; c14_14 = c14_14 + q14 * p14; c14_15 = c14_15 + q14 * p15;
        c15_0 = c15_0 + q15 * p0; c15_1 = c15_1 + q15 * p1; c15_2 = c15_2 + q15 * p2; c15_3 = c15_3 + q15 * p3; c15_4 = c15_4 + q15 * p4; c15_5 = c15_5 + q15 * p5; c15_6 = c15_6 + q15 * p6; c15_7 = c15_7 + q15 * p7; c15_8 = c15_8 + q15 * p8; c15_9 = c15_9 + q15 * p9; c15_10 = c15_10 + q15 * p10; c15_11 = c15_11 + q15 * p11; c15_12 = c15_12 + q15 * p12; c15_13 = c15_13 + q15 * p13; c15_14 = c15_14 + q15 * p14; c15_15 = c15_15 + q15 * p15;
        po = po + mp.d;
    }
    store_grad(i0 + 0u, l0 + 0u, c0_0);
    store_grad(i0 + 0u, l0 + 8u, c0_1);
    store_grad(i0 + 0u, l0 + 16u, c0_2);
    store_grad(i0 + 0u, l0 + 24u, c0_3);
    store_grad(i0 + 0u, l0 + 32u, c0_4);
    store_grad(i0 + 0u, l0 + 40u, c0_5);
    store_grad(i0 + 0u, l0 + 48u, c0_6);
    store_grad(i0 + 0u, l0 + 56u, c0_7);
    store_grad(i0 + 0u, l0 + 64u, c0_8);
    store_grad(i0 + 0u, l0 + 72u, c0_9);
    store_grad(i0 + 0u, l0 + 80u, c0_10);
    store_grad(i0 + 0u, l0 + 88u, c0_11);
    store_grad(i0 + 0u, l0 + 96u, c0_12);
    store_grad(i0 + 0u, l0 + 104u, c0_13);
    store_grad(i0 + 0u, l0 + 112u, c0_14);
    store_grad(i0 + 0u, l0 + 120u, c0_15);
    store_grad(i0 + 1u, l0 + 0u, c1_0);
    store_grad(i0 + 1u, l0 + 8u, c1_1);
    store_grad(i0 + 1u, l0 + 16u, c1_2);
    store_grad(i0 + 1u, l0 + 24u, c1_3);
    store_grad(i0 + 1u, l0 + 32u, c1_4);
    store_grad(i0 + 1u, l0 + 40u, c1_5);
    store_grad(i0 + 1u, l0 + 48u, c1_6);
    store_grad(i0 + 1u, l0 + 56u, c1_7);
    store_grad(i0 + 1u, l0 + 64u, c1_8);
    store_grad(i0 + 1u, l0 + 72u, c1_9);
    store_grad(i0 + 1u, l0 + 80u, c1_10);
    store_grad(i0 + 1u, l0 + 88u, c1_11);
    store_grad(i0 + 1u, l0 + 96u, c1_12);
    store_grad(i0 + 1u, l0 + 104u, c1_13);
    store_grad(i0 + 1u, l0 + 112u, c1_14);
    store_grad(i0 + 1u, l0 + 120u, c1_15);
    store_grad(i0 + 2u, l0 + 0u, c2_0);
    store_grad(i0 + 2u, l0 + 8u, c2_1);
    store_grad(i0 + 2u, l0 + 16u, c2_2);
    store_grad(i0 + 2u, l0 + 24u, c2_3);
    store_grad(i0 + 2u, l0 + 32u, c2_4);
    store_grad(i0 + 2u, l0 + 40u, c2_5);
    store_grad(i0 + 2u, l0 + 48u, c2_6);
    store_grad(i0 + 2u, l0 + 56u, c2_7);
    store_grad(i0 + 2u, l0 + 64u, c2_8);
    store_grad(i0 + 2u, l0 + 72u, c2_9);
    store_grad(i0 + 2u, l0 + 80u, c2_10);
    store_grad(i0 + 2u, l0 + 88u, c2_11);
    store_grad(i0 + 2u, l0 + 96u, c2_12);
    store_grad(i0 + 2u, l0 + 104u, c2_13);
    store_grad(i0 + 2u, l0 + 112u, c2_14);
    store_grad(i0 + 2u, l0 + 120u, c2_15);
    store_grad(i0 + 3u, l0 + 0u, c3_0);
    store_grad(i0 + 3u, l0 + 8u, c3_1);
    store_grad(i0 + 3u, l0 + 16u, c3_2);
    store_grad(i0 + 3u, l0 + 24u, c3_3);
    store_grad(i0 + 3u, l0 + 32u, c3_4);
    store_grad(i0 + 3u, l0 + 40u, c3_5);
    store_grad(i0 + 3u, l0 + 48u, c3_6);
    store_grad(i0 + 3u, l0 + 56u, c3_7);
    store_grad(i0 + 3u, l0 + 64u, c3_8);
    store_grad(i0 + 3u, l0 + 72u, c3_9);
    store_grad(i0 + 3u, l0 + 80u, c3_10);
    store_grad(i0 + 3u, l0 + 88u, c3_11);
    store_grad(i0 + 3u, l0 + 96u, c3_12);
    store_grad(i0 + 3u, l0 + 104u, c3_13);
    store_grad(i0 + 3u, l0 + 112u, c3_14);
    store_grad(i0 + 3u, l0 + 120u, c3_15);
    store_grad(i0 + 4u, l0 + 0u, c4_0);
    store_grad(i0 + 4u, l0 + 8u, c4_1);
    store_grad(i0 + 4u, l0 + 16u, c4_2);
    store_grad(i0 + 4u, l0 + 24u, c4_3);
    store_grad(i0 + 4u, l0 + 32u, c4_4);
    store_grad(i0 + 4u, l0 + 40u, c4_5);
    store_grad(i0 + 4u, l0 + 48u, c4_6);
    store_grad(i0 + 4u, l0 + 56u, c4_7);
    store_grad(i0 + 4u, l0 + 64u, c4_8);
    store_grad(i0 + 4u, l0 + 72u, c4_9);
    store_grad(i0 + 4u, l0 + 80u, c4_10);
    store_grad(i0 + 4u, l0 + 88u, c4_11);
    store_grad(i0 + 4u, l0 + 96u, c4_12);
    store_grad(i0 + 4u, l0 + 104u, c4_13);
    store_grad(i0 + 4u, l0 + 112u, c4_14);
    store_grad(i0 + 4u, l0 + 120u, c4_15);
    store_grad(i0 + 5u, l0 + 0u, c5_0);
    store_grad(i0 + 5u, l0 + 8u, c5_1);
    store_grad(i0 + 5u, l0 + 16u, c5_2);
    store_grad(i0 + 5u, l0 + 24u, c5_3);
    store_grad(i0 + 5u, l0 + 32u, c5_4);
    store_grad(i0 + 5u, l0 + 40u, c5_5);
    store_grad(i0 + 5u, l0 + 48u, c5_6);
    store_grad(i0 + 5u, l0 + 56u, c5_7);
    store_grad(i0 + 5u, l0 + 64u, c5_8);
    store_grad(i0 + 5u, l0 + 72u, c5_9);
    store_grad(i0 + 5u, l0 + 80u, c5_10);
    store_grad(i0 + 5u, l0 + 88u, c5_11);
    store_grad(i0 + 5u, l0 + 96u, c5_12);
    store_grad(i0 + 5u, l0 + 104u, c5_13);
    store_grad(i0 + 5u, l0 + 112u, c5_14);
    store_grad(i0 + 5u, l0 + 120u, c5_15);
    store_grad(i0 + 6u, l0 + 0u, c6_0);
    store_grad(i0 + 6u, l0 + 8u, c6_1);
    store_grad(i0 + 6u, l0 + 16u, c6_2);
    store_grad(i0 + 6u, l0 + 24u, c6_3);
    store_grad(i0 + 6u, l0 + 32u, c6_4);
    store_grad(i0 + 6u, l0 + 40u, c6_5);
    store_grad(i0 + 6u, l0 + 48u, c6_6);
    store_grad(i0 + 6u, l0 + 56u, c6_7);
    store_grad(i0 + 6u, l0 + 64u, c6_8);
    store_grad(i0 + 6u, l0 + 72u, c6_9);
    store_grad(i0 + 6u, l0 + 80u, c6_10);
    store_grad(i0 + 6u, l0 + 88u, c6_11);
    store_grad(i0 + 6u, l0 + 96u, c6_12);
    store_grad(i0 + 6u, l0 + 104u, c6_13);
    store_grad(i0 + 6u, l0 + 112u, c6_14);
    store_grad(i0 + 6u, l0 + 120u, c6_15);
    store_grad(i0 + 7u, l0 + 0u, c7_0);
    store_grad(i0 + 7u, l0 + 8u, c7_1);
    store_grad(i0 + 7u, l0 + 16u, c7_2);
    store_grad(i0 + 7u, l0 + 24u, c7_3);
    store_grad(i0 + 7u, l0 + 32u, c7_4);
    store_grad(i0 + 7u, l0 + 40u, c7_5);
    store_grad(i0 + 7u, l0 + 48u, c7_6);
    store_grad(i0 + 7u, l0 + 56u, c7_7);
    store_grad(i0 + 7u, l0 + 64u, c7_8);
    store_grad(i0 + 7u, l0 + 72u, c7_9);
    store_grad(i0 + 7u, l0 + 80u, c7_10);
    store_grad(i0 + 7u, l0 + 88u, c7_11);
    store_grad(i0 + 7u, l0 + 96u, c7_12);
    store_grad(i0 + 7u, l0 + 104u, c7_13);
    store_grad(i0 + 7u, l0 + 112u, c7_14);
    store_grad(i0 + 7u, l0 + 120u, c7_15);
    store_grad(i0 + 8u, l0 + 0u, c8_0);
    store_grad(i0 + 8u, l0 + 8u, c8_1);
    store_grad(i0 + 8u, l0 + 16u, c8_2);
    store_grad(i0 + 8u, l0 + 24u, c8_3);
    store_grad(i0 + 8u, l0 + 32u, c8_4);
    store_grad(i0 + 8u, l0 + 40u, c8_5);
    store_grad(i0 + 8u, l0 + 48u, c8_6);
    store_grad(i0 + 8u, l0 + 56u, c8_7);
    store_grad(i0 + 8u, l0 + 64u, c8_8);
    store_grad(i0 + 8u, l0 + 72u, c8_9);
    store_grad(i0 + 8u, l0 + 80u, c8_10);
    store_grad(i0 + 8u, l0 + 88u, c8_11);
    store_grad(i0 + 8u, l0 + 96u, c8_12);
    store_grad(i0 + 8u, l0 + 104u, c8_13);
    store_grad(i0 + 8u, l0 + 112u, c8_14);
    store_grad(i0 + 8u, l0 + 120u, c8_15);
    store_grad(i0 + 9u, l0 + 0u, c9_0);
    store_grad(i0 + 9u, l0 + 8u, c9_1);
    store_grad(i0 + 9u, l0 + 16u, c9_2);
    store_grad(i0 + 9u, l0 + 24u, c9_3);
    store_grad(i0 + 9u, l0 + 32u, c9_4);
    store_grad(i0 + 9u, l0 + 40u, c9_5);
    store_grad(i0 + 9u, l0 + 48u, c9_6);
    store_grad(i0 + 9u, l0 + 56u, c9_7);
    store_grad(i0 + 9u, l0 + 64u, c9_8);
    store_grad(i0 + 9u, l0 + 72u, c9_9);
    store_grad(i0 + 9u, l0 + 80u, c9_10);
    store_grad(i0 + 9u, l0 + 88u, c9_11);
    store_grad(i0 + 9u, l0 + 96u, c9_12);
    store_grad(i0 + 9u, l0 + 104u, c9_13);
    store_grad(i0 + 9u, l0 + 112u, c9_14);
    store_grad(i0 + 9u, l0 + 120u, c9_15);
    store_grad(i0 + 10u, l0 + 0u, c10_0);
    store_grad(i0 + 10u, l0 + 8u, c10_1);
    store_grad(i0 + 10u, l0 + 16u, c10_2);
    store_grad(i0 + 10u, l0 + 24u, c10_3);
    store_grad(i0 + 10u, l0 + 32u, c10_4);
    store_grad(i0 + 10u, l0 + 40u, c10_5);
    store_grad(i0 + 10u, l0 + 48u, c10_6);
    store_grad(i0 + 10u, l0 + 56u, c10_7);
    store_grad(i0 + 10u, l0 + 64u, c10_8);
    store_grad(i0 + 10u, l0 + 72u, c10_9);
    store_grad(i0 + 10u, l0 + 80u, c10_10);
    store_grad(i0 + 10u, l0 + 88u, c10_11);
    store_grad(i0 + 10u, l0 + 96u, c10_12);
    store_grad(i0 + 10u, l0 + 104u, c10_13);
    store_grad(i0 + 10u, l0 + 112u, c10_14);
    store_grad(i0 + 10u, l0 + 120u, c10_15);
    store_grad(i0 + 11u, l0 + 0u, c11_0);
    store_grad(i0 + 11u, l0 + 8u, c11_1);
    store_grad(i0 + 11u, l0 + 16u, c11_2);
    store_grad(i0 + 11u, l0 + 24u, c11_3);
    store_grad(i0 + 11u, l0 + 32u, c11_4);
    store_grad(i0 + 11u, l0 + 40u, c11_5);
    store_grad(i0 + 11u, l0 + 48u, c11_6);
    store_grad(i0 + 11u, l0 + 56u, c11_7);
    store_grad(i0 + 11u, l0 + 64u, c11_8);
    store_grad(i0 + 11u, l0 + 72u, c11_9);
    store_grad(i0 + 11u, l0 + 80u, c11_10);
    store_grad(i0 + 11u, l0 + 88u, c11_11);
    store_grad(i0 + 11u, l0 + 96u, c11_12);
    store_grad(i0 + 11u, l0 + 104u, c11_13);
    store_grad(i0 + 11u, l0 + 112u, c11_14);
    store_grad(i0 + 11u, l0 + 120u, c11_15);
    store_grad(i0 + 12u, l0 + 0u, c12_0);
    store_grad(i0 + 12u, l0 + 8u, c12_1);
    store_grad(i0 + 12u, l0 + 16u, c12_2);
    store_grad(i0 + 12u, l0 + 24u, c12_3);
    store_grad(i0 + 12u, l0 + 32u, c12_4);
    store_grad(i0 + 12u, l0 + 40u, c12_5);
    store_grad(i0 + 12u, l0 + 48u, c12_6);
    store_grad(i0 + 12u, l0 + 56u, c12_7);
    store_grad(i0 + 12u, l0 + 64u, c12_8);
    store_grad(i0 + 12u, l0 + 72u, c12_9);
    store_grad(i0 + 12u, l0 + 80u, c12_10);
    store_grad(i0 + 12u, l0 + 88u, c12_11);
    store_grad(i0 + 12u, l0 + 96u, c12_12);
    store_grad(i0 + 12u, l0 + 104u, c12_13);
    store_grad(i0 + 12u, l0 + 112u, c12_14);
    store_grad(i0 + 12u, l0 + 120u, c12_15);
    store_grad(i0 + 13u, l0 + 0u, c13_0);
    store_grad(i0 + 13u, l0 + 8u, c13_1);
    store_grad(i0 + 13u, l0 + 16u, c13_2);
    store_grad(i0 + 13u, l0 + 24u, c13_3);
    store_grad(i0 + 13u, l0 + 32u, c13_4);
    store_grad(i0 + 13u, l0 + 40u, c13_5);
    store_grad(i0 + 13u, l0 + 48u, c13_6);
    store_grad(i0 + 13u, l0 + 56u, c13_7);
    store_grad(i0 + 13u, l0 + 64u, c13_8);
    store_grad(i0 + 13u, l0 + 72u, c13_9);
    store_grad(i0 + 13u, l0 + 80u, c13_10);
    store_grad(i0 + 13u, l0 + 88u, c13_11);
    store_grad(i0 + 13u, l0 + 96u, c13_12);
    store_grad(i0 + 13u, l0 + 104u, c13_13);
    store_grad(i0 + 13u, l0 + 112u, c13_14);
    store_grad(i0 + 13u, l0 + 120u, c13_15);
    store_grad(i0 + 14u, l0 + 0u, c14_0);
    store_grad(i0 + 14u, l0 + 8u, c14_1);
    store_grad(i0 + 14u, l0 + 16u, c14_2);
    store_grad(i0 + 14u, l0 + 24u, c14_3);
    store_grad(i0 + 14u, l0 + 32u, c14_4);
    store_grad(i0 + 14u, l0 + 40u, c14_5);
    store_grad(i0 + 14u, l0 + 48u, c14_6);
    store_grad(i0 + 14u, l0 + 56u, c14_7);
    store_grad(i0 + 14u, l0 + 64u, c14_8);
    store_grad(i0 + 14u, l0 + 72u, c14_9);
    store_grad(i0 + 14u, l0 + 80u, c14_10);
    store_grad(i0 + 14u, l0 + 88u, c14_11);
    store_grad(i0 + 14u, l0 + 96u, c14_12);
    store_grad(i0 + 14u, l0 + 104u, c14_13);
    store_grad(i0 + 14u, l0 + 112u, c14_14);
    store_grad(i0 + 14u, l0 + 120u, c14_15);
    store_grad(i0 + 15u, l0 + 0u, c15_0);
    store_grad(i0 + 15u, l0 + 8u, c15_1);
    store_grad(i0 + 15u, l0 + 16u, c15_2);
    store_grad(i0 + 15u, l0 + 24u, c15_3);
    store_grad(i0 + 15u, l0 + 32u, c15_4);
    store_grad(i0 + 15u, l0 + 40u, c15_5);
    store_grad(i0 + 15u, l0 + 48u, c15_6);
    store_grad(i0 + 15u, l0 + 56u, c15_7);
    store_grad(i0 + 15u, l0 + 64u, c15_8);
    store_grad(i0 + 15u, l0 + 72u, c15_9);
    store_grad(i0 + 15u, l0 + 80u, c15_10);
    store_grad(i0 + 15u, l0 + 88u, c15_11);
    store_grad(i0 + 15u, l0 + 96u, c15_12);
    store_grad(i0 + 15u, l0 + 104u, c15_13);
    store_grad(i0 + 15u, l0 + 112u, c15_14);
    store_grad(i0 + 15u, l0 + 120u, c15_15);
}
// END GENERATED-UNROLLED-GRAD

// ---------------------------------------------------------------------------------------------
// 4. loss

@group(0) @binding(1) var<storage, read> red_rows: array<f32>;
@group(0) @binding(2) var<storage, read_write> red_loss: array<f32>;

@compute @workgroup_size(1)
fn moco_reduce(@builtin(global_invocation_id) gid: vec3<u32>) {
    var acc = 0.0;
    for (var i = 0u; i < mp.n; i = i + 1u) {
        acc = acc + red_rows[i];
    }
    red_loss[0] = mp.loss_scale * acc;
}

// ---------------------------------------------------------------------------------------------
// Queue update: rows of k land at (ptr + i) mod K; when N > K only the last K rows are written
// (as a sequential enqueue would leave them), so no two invocations write one slot.

@group(0) @binding(1) var<storage, read> enq_keys: array<f32>;
@group(0) @binding(2) var<storage, read> enq_labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> enq_queue: array<f32>;
@group(0) @binding(4) var<storage, read_write> enq_queue_labels: array<u32>;
@group(0) @binding(5) var<storage, read> enq_ptr: array<u32>;

@compute @workgroup_size(256)
fn moco_enqueue_write(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let id = gid.x + gid.y * nwg.x * 256u;
    if (id >= mp.n * mp.d) {
        return;
    }
    let i = id / mp.d;
    let x = id % mp.d;
    if (mp.n > mp.k && i < mp.n - mp.k) {
        return;
    }
    let slot = (enq_ptr[0] % mp.k + i % mp.k) % mp.k;
    enq_queue[slot * mp.d + x] = enq_keys[id];
    if (x == 0u) {
        enq_queue_labels[slot] = enq_labels[i];
    }
}

@group(0) @binding(1) var<storage, read_write> adv_ptr: array<u32>;

@compute @workgroup_size(1)
fn moco_enqueue_advance(@builtin(global_invocation_id) gid: vec3<u32>) {
    adv_ptr[0] = (adv_ptr[0] % mp.k + mp.n % mp.k) % mp.k;
}

// MoCo InfoNCE with a labelled key queue (same-class negatives masked) and the on-device queue
// update. Host side: src/kernels/contrastive.rs.
//
// moco_loss is four dispatches:
//   1. moco_negatives: logits[n, 1 + j] = q_n . queue_j / T ([N,D] x [K,D]^T), a 4x8 register
//      block per invocation, adjacent invocations on adjacent key blocks; masked entries get MASKED.
//   2. moco_rows: one invocation per row: the positive logit, the row's log-sum-exp and loss, and
//      the row of logits turned into softmax probabilities in place (masked -> 0).
//   3. moco_grad: dq[n, :] = grad_scale * ((p0 - 1) k_n + sum_j p_j queue_j) ([N,K] x [K,D]),
//      a 4x8 register block per invocation.
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

// MoCo InfoNCE with a labelled key queue (same-class negatives masked) and the on-device queue
// update. Host side: src/kernels/contrastive.rs.
//
// moco_loss lowers its two products onto the GEMM kernels (shaders/gemm.wgsl) and adds three
// dispatches of its own:
//   gemm:       sim[n, j] = q_n . queue_j                                  ([N,D] x [K,D]^T)
//   moco_rows:  one invocation per row: the positive logit q_n . k_n / T, the negatives
//               sim / T with same-class ones masked, the row's log-sum-exp and loss; the
//               probabilities go to logits [N, 1+K] and the negatives' also back into sim.
//   gemm:       dq = sim · queue                                            ([N,K] x [K,D])
//   moco_grad_finish: dq[n, :] = grad_scale * ((p0 - 1) k_n + dq[n, :])
//   moco_reduce: loss = loss_scale * sum_n rows[n] in row order.
// No atomics: the result is bit-identical run to run.

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
    _pad: u32,
}

@group(0) @binding(0) var<uniform> mp: MocoParams;

// ---------------------------------------------------------------------------------------------
// 1. rows: logits, softmax, row losses

@group(0) @binding(1) var<storage, read> row_q: array<f32>;
@group(0) @binding(2) var<storage, read> row_k: array<f32>;
@group(0) @binding(3) var<storage, read> row_queue_labels: array<u32>;
@group(0) @binding(4) var<storage, read> row_labels: array<u32>;
@group(0) @binding(5) var<storage, read_write> row_sim: array<f32>;
@group(0) @binding(6) var<storage, read_write> row_logits: array<f32>;
@group(0) @binding(7) var<storage, read_write> row_loss: array<f32>;

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
    for (var j = 0u; j < mp.k; j = j + 1u) {
        var v = row_sim[row * mp.k + j] / mp.temperature;
        if (mp.mask_same_class != 0u) {
            let ql = row_queue_labels[j];
            if (ql != 0xffffffffu && ql == row_labels[row]) {
                v = MASKED;
            }
        }
        row_logits[base + 1u + j] = v;
        m = max(m, v);
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
        if (j > 0u) {
            row_sim[row * mp.k + j - 1u] = p;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. gradient: dq holds probs · queue from the GEMM; add the positive's term and scale

@group(0) @binding(1) var<storage, read> fin_k: array<f32>;
@group(0) @binding(2) var<storage, read> fin_probs: array<f32>;
@group(0) @binding(3) var<storage, read_write> fin_dq: array<f32>;

@compute @workgroup_size(256)
fn moco_grad_finish(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let id = gid.x + gid.y * nwg.x * 256u;
    if (id >= mp.n * mp.d) {
        return;
    }
    let row = id / mp.d;
    let p0 = fin_probs[row * (mp.k + 1u)];
    fin_dq[id] = mp.grad_scale * ((p0 - 1.0) * fin_k[id] + fin_dq[id]);
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

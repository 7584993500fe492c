// Classification losses: softmax cross-entropy (optionally logit-adjusted), KL distillation from
// dense or top-k teacher probabilities, and the temperature softmax that makes soft labels.
// Host side: src/kernels/losses.rs.
//
// Every loss runs as two dispatches: a per-row pass (one invocation per row: numerically stable
// log-sum-exp, the row's loss into `rows`, the row's gradient straight into `dlogits`) and a
// single-invocation reduction that sums the row losses in row order. No atomics, no barriers, so
// the result is bit-identical run to run and there is nothing for a software adapter to serialise.

const ROWS_WG: u32 = 64u;

// ---------------------------------------------------------------------------------------------
// Softmax cross-entropy

struct CeParams {
    n: u32,
    c: u32,
    has_adjust: u32,
    // weight / N
    grad_scale: f32,
}

@group(0) @binding(0) var<uniform> ce: CeParams;
@group(0) @binding(1) var<storage, read> ce_logits: array<f32>;
@group(0) @binding(2) var<storage, read> ce_labels: array<u32>;
@group(0) @binding(3) var<storage, read> ce_adjust: array<f32>;
@group(0) @binding(4) var<storage, read_write> ce_dlogits: array<f32>;
@group(0) @binding(5) var<storage, read_write> ce_rows: array<f32>;

fn ce_z(base: u32, c: u32) -> f32 {
    var z = ce_logits[base + c];
    if (ce.has_adjust != 0u) {
        z = z + ce_adjust[c];
    }
    return z;
}

// rows[n] = logsumexp(z_n) - z_n[label]; rows[N + n] = 1.0 when argmax(logits_n) == label.
// dlogits[n, c] = grad_scale * (softmax(z_n)[c] - [c == label]). Rows whose label is out of range
// contribute zero loss and zero gradient.
@compute @workgroup_size(64)
fn cross_entropy_rows(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row = gid.x;
    if (row >= ce.n) {
        return;
    }
    let classes = ce.c;
    let base = row * classes;
    var m = -3.4e38;
    var best = 0u;
    var best_v = -3.4e38;
    for (var c = 0u; c < classes; c = c + 1u) {
        let x = ce_logits[base + c];
        if (x > best_v) {
            best_v = x;
            best = c;
        }
        m = max(m, ce_z(base, c));
    }
    var s = 0.0;
    for (var c = 0u; c < classes; c = c + 1u) {
        s = s + exp(ce_z(base, c) - m);
    }
    let inv_s = 1.0 / s;
    let label = ce_labels[row];
    let valid = label < classes;
    var loss = 0.0;
    if (valid) {
        loss = m + log(s) - ce_z(base, label);
    }
    for (var c = 0u; c < classes; c = c + 1u) {
        var g = 0.0;
        if (valid) {
            g = exp(ce_z(base, c) - m) * inv_s;
            if (c == label) {
                g = g - 1.0;
            }
        }
        ce_dlogits[base + c] = ce.grad_scale * g;
    }
    ce_rows[row] = loss;
    ce_rows[ce.n + row] = select(0.0, 1.0, valid && best == label);
}

// ---------------------------------------------------------------------------------------------
// Row reductions (shared by every loss in this file)

struct ReduceParams {
    n: u32,
    // loss = loss_scale * sum_n rows[n]
    loss_scale: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> red: ReduceParams;
@group(0) @binding(1) var<storage, read> red_rows: array<f32>;
@group(0) @binding(2) var<storage, read_write> red_loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> red_correct: array<u32>;

fn sum_rows() -> f32 {
    var acc = 0.0;
    for (var i = 0u; i < red.n; i = i + 1u) {
        acc = acc + red_rows[i];
    }
    return acc;
}

@compute @workgroup_size(1)
fn reduce_loss(@builtin(global_invocation_id) gid: vec3<u32>) {
    red_loss[0] = red.loss_scale * sum_rows();
}

// Also counts the correct rows flagged in rows[N .. 2N].
@compute @workgroup_size(1)
fn reduce_loss_and_correct(@builtin(global_invocation_id) gid: vec3<u32>) {
    red_loss[0] = red.loss_scale * sum_rows();
    var hits = 0u;
    for (var i = 0u; i < red.n; i = i + 1u) {
        hits = hits + select(0u, 1u, red_rows[red.n + i] > 0.5);
    }
    red_correct[0] = hits;
}

// ---------------------------------------------------------------------------------------------
// KL distillation and the temperature softmax

struct KdParams {
    n: u32,
    c: u32,
    // top-k width (unused by the dense entry points)
    k: u32,
    temperature: f32,
    // weight * T / N
    grad_scale: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> kd: KdParams;
@group(0) @binding(1) var<storage, read> kd_student: array<f32>;
@group(0) @binding(2) var<storage, read> kd_teacher: array<f32>;
@group(0) @binding(3) var<storage, read_write> kd_dlogits: array<f32>;
@group(0) @binding(4) var<storage, read_write> kd_rows: array<f32>;
@group(0) @binding(5) var<storage, read> kd_ids: array<u32>;

// The max and log-sum-exp of row `base` of the student logits divided by T.
fn student_lse(base: u32) -> vec2<f32> {
    var m = -3.4e38;
    for (var c = 0u; c < kd.c; c = c + 1u) {
        m = max(m, kd_student[base + c] / kd.temperature);
    }
    var s = 0.0;
    for (var c = 0u; c < kd.c; c = c + 1u) {
        s = s + exp(kd_student[base + c] / kd.temperature - m);
    }
    return vec2<f32>(m, m + log(s));
}

// rows[n] = sum_c p log(p / q) over p > 0, q = softmax(student / T);
// dlogits = grad_scale * (mass * q - p), mass = sum_c p (1 for a normalised teacher).
@compute @workgroup_size(64)
fn kl_dense_rows(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row = gid.x;
    if (row >= kd.n) {
        return;
    }
    let base = row * kd.c;
    let lse = student_lse(base).y;
    var kl = 0.0;
    var mass = 0.0;
    for (var c = 0u; c < kd.c; c = c + 1u) {
        let p = kd_teacher[base + c];
        if (p > 0.0) {
            kl = kl + p * (log(p) - (kd_student[base + c] / kd.temperature - lse));
            mass = mass + p;
        }
    }
    for (var c = 0u; c < kd.c; c = c + 1u) {
        let q = exp(kd_student[base + c] / kd.temperature - lse);
        kd_dlogits[base + c] = kd.grad_scale * (mass * q - kd_teacher[base + c]);
    }
    kd_rows[row] = kl;
}

// The same from top-k targets: teacher = probs [N, K] at ids [N, K]; entries with p <= 0 or an
// id out of range are ignored.
@compute @workgroup_size(64)
fn kl_topk_rows(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row = gid.x;
    if (row >= kd.n) {
        return;
    }
    let base = row * kd.c;
    let tbase = row * kd.k;
    let lse = student_lse(base).y;
    var kl = 0.0;
    var mass = 0.0;
    for (var j = 0u; j < kd.k; j = j + 1u) {
        let p = kd_teacher[tbase + j];
        let id = kd_ids[tbase + j];
        if (p > 0.0 && id < kd.c) {
            kl = kl + p * (log(p) - (kd_student[base + id] / kd.temperature - lse));
            mass = mass + p;
        }
    }
    for (var c = 0u; c < kd.c; c = c + 1u) {
        let q = exp(kd_student[base + c] / kd.temperature - lse);
        kd_dlogits[base + c] = kd.grad_scale * mass * q;
    }
    for (var j = 0u; j < kd.k; j = j + 1u) {
        let p = kd_teacher[tbase + j];
        let id = kd_ids[tbase + j];
        if (p > 0.0 && id < kd.c) {
            kd_dlogits[base + id] = kd_dlogits[base + id] - kd.grad_scale * p;
        }
    }
    kd_rows[row] = kl;
}

@group(0) @binding(0) var<uniform> sm: KdParams;
@group(0) @binding(1) var<storage, read> sm_logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> sm_probs: array<f32>;

// probs[n, c] = softmax(logits[n] / T)[c]
@compute @workgroup_size(64)
fn softmax_temperature_rows(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row = gid.x;
    if (row >= sm.n) {
        return;
    }
    let base = row * sm.c;
    var m = -3.4e38;
    for (var c = 0u; c < sm.c; c = c + 1u) {
        m = max(m, sm_logits[base + c] / sm.temperature);
    }
    var s = 0.0;
    for (var c = 0u; c < sm.c; c = c + 1u) {
        s = s + exp(sm_logits[base + c] / sm.temperature - m);
    }
    let inv_s = 1.0 / s;
    for (var c = 0u; c < sm.c; c = c + 1u) {
        sm_probs[base + c] = exp(sm_logits[base + c] / sm.temperature - m) * inv_s;
    }
}

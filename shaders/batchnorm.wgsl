// Batch normalization over x viewed as [N, C, HW], optional fused ReLU. Host code:
// src/kernels/batchnorm.rs.
//
// Training forward and backward run ONE workgroup per channel that does everything for its
// channel in a single dispatch: strided loops in which invocation `lid` visits elements lid,
// lid + 256, ... of the channel in order, a shared-memory tree reduction in a fixed order
// (deterministic, no atomics), then the element-wise pass. The statistics are two-pass (mean, then
// the sum of squared deviations) so a large mean does not cancel the variance. The same code runs on
// software adapters: it has only a handful of barriers per channel, all outside the element loops.
// Eval forward/backward are plain element-wise kernels.

struct Bn {
    n: u32,
    c: u32,
    hw: u32,
    relu: u32,
    momentum: f32,
    eps: f32,
    unbias: f32,   // m / (m - 1) for the running variance (1 when m == 1)
    inv_m: f32,    // 1 / m, m = n * hw elements per channel
}

const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> bn: Bn;

var<workgroup> red_a: array<f32, 256>;
var<workgroup> red_b: array<f32, 256>;

// Tree reduction of red_a over the workgroup; every invocation returns the total.
fn reduce_a(lid: u32) -> f32 {
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        workgroupBarrier();
        if (lid < s) {
            red_a[lid] = red_a[lid] + red_a[lid + s];
        }
    }
    workgroupBarrier();
    let total = red_a[0];
    workgroupBarrier();
    return total;
}

// Tree reduction of red_a and red_b together.
fn reduce_ab(lid: u32) -> vec2<f32> {
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        workgroupBarrier();
        if (lid < s) {
            red_a[lid] = red_a[lid] + red_a[lid + s];
            red_b[lid] = red_b[lid] + red_b[lid + s];
        }
    }
    workgroupBarrier();
    let total = vec2<f32>(red_a[0], red_b[0]);
    workgroupBarrier();
    return total;
}

// Walks the elements of channel `c` that invocation `lid` owns: element e = lid + k * WG of the
// channel's m = n * hw is (image e / hw, position e % hw), at flat index (b * C + c) * hw + s.
// Stepping (b, s) by WG avoids a division per element.
struct Walk {
    b: u32,
    s: u32,
    db: u32,
    ds: u32,
}

fn walk_start(lid: u32) -> Walk {
    return Walk(lid / bn.hw, lid % bn.hw, WG / bn.hw, WG % bn.hw);
}

fn walk_index(w: Walk, c: u32) -> u32 {
    return (w.b * bn.c + c) * bn.hw + w.s;
}

fn walk_next(w: Walk) -> Walk {
    var r = w;
    r.b += r.db;
    r.s += r.ds;
    if (r.s >= bn.hw) {
        r.s -= bn.hw;
        r.b += 1u;
    }
    return r;
}

// ---- training forward: bindings x, gamma, beta, running_mean, running_var, y, save_mean, save_invstd

@group(0) @binding(1) var<storage, read> f_x: array<f32>;
@group(0) @binding(2) var<storage, read> f_gamma: array<f32>;
@group(0) @binding(3) var<storage, read> f_beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> f_running_mean: array<f32>;
@group(0) @binding(5) var<storage, read_write> f_running_var: array<f32>;
@group(0) @binding(6) var<storage, read_write> f_y: array<f32>;
@group(0) @binding(7) var<storage, read_write> f_save_mean: array<f32>;
@group(0) @binding(8) var<storage, read_write> f_save_invstd: array<f32>;

@compute @workgroup_size(256)
fn batchnorm_forward_train(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = wid.x;
    let m = bn.n * bn.hw;

    var sum = 0.0;
    var w = walk_start(lid);
    for (var e = lid; e < m; e += WG) {
        sum += f_x[walk_index(w, c)];
        w = walk_next(w);
    }
    red_a[lid] = sum;
    let mean = reduce_a(lid) * bn.inv_m;

    var sq = 0.0;
    w = walk_start(lid);
    for (var e = lid; e < m; e += WG) {
        let d = f_x[walk_index(w, c)] - mean;
        sq += d * d;
        w = walk_next(w);
    }
    red_a[lid] = sq;
    let var_b = reduce_a(lid) * bn.inv_m;
    let invstd = 1.0 / sqrt(var_b + bn.eps);

    if (lid == 0u) {
        f_save_mean[c] = mean;
        f_save_invstd[c] = invstd;
        f_running_mean[c] = (1.0 - bn.momentum) * f_running_mean[c] + bn.momentum * mean;
        f_running_var[c] = (1.0 - bn.momentum) * f_running_var[c] + bn.momentum * var_b * bn.unbias;
    }

    let a = f_gamma[c] * invstd;
    let b = f_beta[c] - mean * a;
    w = walk_start(lid);
    for (var e = lid; e < m; e += WG) {
        let i = walk_index(w, c);
        var v = f_x[i] * a + b;
        if (bn.relu != 0u) {
            v = max(v, 0.0);
        }
        f_y[i] = v;
        w = walk_next(w);
    }
}

// ---- training backward: bindings x, y, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta

@group(0) @binding(1) var<storage, read> b_x: array<f32>;
@group(0) @binding(2) var<storage, read> b_y: array<f32>;
@group(0) @binding(3) var<storage, read> b_dy: array<f32>;
@group(0) @binding(4) var<storage, read> b_gamma: array<f32>;
@group(0) @binding(5) var<storage, read> b_save_mean: array<f32>;
@group(0) @binding(6) var<storage, read> b_save_invstd: array<f32>;
@group(0) @binding(7) var<storage, read_write> b_dx: array<f32>;
@group(0) @binding(8) var<storage, read_write> b_dgamma: array<f32>;
@group(0) @binding(9) var<storage, read_write> b_dbeta: array<f32>;

// dy with the ReLU mask applied (y is the forward output).
fn masked_dy(i: u32) -> f32 {
    let g = b_dy[i];
    if (bn.relu != 0u && !(b_y[i] > 0.0)) {
        return 0.0;
    }
    return g;
}

@compute @workgroup_size(256)
fn batchnorm_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = wid.x;
    let m = bn.n * bn.hw;
    let mean = b_save_mean[c];
    let invstd = b_save_invstd[c];

    var sg = 0.0;
    var sgx = 0.0;
    var w = walk_start(lid);
    for (var e = lid; e < m; e += WG) {
        let i = walk_index(w, c);
        let g = masked_dy(i);
        sg += g;
        sgx += g * (b_x[i] - mean);
        w = walk_next(w);
    }
    red_a[lid] = sg;
    red_b[lid] = sgx;
    let t = reduce_ab(lid);
    let sum_g = t.x;
    let dgamma = t.y * invstd;
    if (lid == 0u) {
        b_dbeta[c] = sum_g;
        b_dgamma[c] = dgamma;
    }

    // dx = gamma * invstd * (g - mean(g) - xhat * mean(g * xhat))
    let k1 = b_gamma[c] * invstd;
    let mean_g = sum_g * bn.inv_m;
    let k2 = dgamma * invstd * bn.inv_m;
    w = walk_start(lid);
    for (var e = lid; e < m; e += WG) {
        let i = walk_index(w, c);
        let g = masked_dy(i);
        b_dx[i] = k1 * (g - mean_g - (b_x[i] - mean) * k2);
        w = walk_next(w);
    }
}

// ---- eval forward: bindings x, gamma, beta, running_mean, running_var, y (one element each)

@group(0) @binding(1) var<storage, read> e_x: array<f32>;
@group(0) @binding(2) var<storage, read> e_gamma: array<f32>;
@group(0) @binding(3) var<storage, read> e_beta: array<f32>;
@group(0) @binding(4) var<storage, read> e_running_mean: array<f32>;
@group(0) @binding(5) var<storage, read> e_running_var: array<f32>;
@group(0) @binding(6) var<storage, read_write> e_y: array<f32>;

@compute @workgroup_size(256)
fn batchnorm_forward_eval(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= bn.n * bn.c * bn.hw) { return; }
    let c = (i / bn.hw) % bn.c;
    let a = e_gamma[c] / sqrt(e_running_var[c] + bn.eps);
    var v = (e_x[i] - e_running_mean[c]) * a + e_beta[c];
    if (bn.relu != 0u) {
        v = max(v, 0.0);
    }
    e_y[i] = v;
}

// ---- eval backward: bindings y, dy, gamma, running_var, dx

@group(0) @binding(1) var<storage, read> eb_y: array<f32>;
@group(0) @binding(2) var<storage, read> eb_dy: array<f32>;
@group(0) @binding(3) var<storage, read> eb_gamma: array<f32>;
@group(0) @binding(4) var<storage, read> eb_running_var: array<f32>;
@group(0) @binding(5) var<storage, read_write> eb_dx: array<f32>;

@compute @workgroup_size(256)
fn batchnorm_backward_eval(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= bn.n * bn.c * bn.hw) { return; }
    let c = (i / bn.hw) % bn.c;
    var g = eb_dy[i];
    if (bn.relu != 0u && !(eb_y[i] > 0.0)) {
        g = 0.0;
    }
    eb_dx[i] = g * eb_gamma[c] / sqrt(eb_running_var[c] + bn.eps);
}

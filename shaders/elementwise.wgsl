// Element-wise ops: ReLU, residual add, option-A shortcut, L2 normalize, per-class scales (LWS), fill.
// Host code: src/kernels/elementwise.rs. Flat ops take one element per invocation; the launch may
// spread workgroups over x and y, so the linear index is gid.x + gid.y * num_workgroups.x * 256.
// Row reductions (L2 norm, class-scale gradient) run one invocation per row or column and sum in a
// fixed order, so results are bit-identical run to run without atomics or barriers.

struct Flat {
    len: u32,
    alpha: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> flat: Flat;
@group(0) @binding(1) var<storage, read> in_a: array<f32>;
@group(0) @binding(2) var<storage, read> in_b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
// unary ops: input at 1, output at 2
@group(0) @binding(2) var<storage, read_write> u_out: array<f32>;
// fill: output at 1
@group(0) @binding(1) var<storage, read_write> f_out: array<f32>;

const WG: u32 = 256u;

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

// y = max(x, 0); bindings: x (1), y (2).
@compute @workgroup_size(256)
fn relu_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= flat.len) { return; }
    u_out[i] = max(in_a[i], 0.0);
}

// dx = dy * (y > 0); bindings: y (1), dy (2), dx (3).
@compute @workgroup_size(256)
fn relu_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= flat.len) { return; }
    out[i] = select(0.0, in_b[i], in_a[i] > 0.0);
}

// out = a + b
@compute @workgroup_size(256)
fn add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= flat.len) { return; }
    out[i] = in_a[i] + in_b[i];
}

// out = relu(a + b)
@compute @workgroup_size(256)
fn add_relu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= flat.len) { return; }
    out[i] = max(in_a[i] + in_b[i], 0.0);
}

// acc += x in place; bindings: x (1), acc (2).
@compute @workgroup_size(256)
fn add_assign(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= flat.len) { return; }
    u_out[i] = u_out[i] + in_a[i];
}

// y = alpha * x; bindings: x (1), y (2).
@compute @workgroup_size(256)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= flat.len) { return; }
    u_out[i] = flat.alpha * in_a[i];
}

// t = alpha; bindings: t (1).
@compute @workgroup_size(256)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= flat.len) { return; }
    f_out[i] = flat.alpha;
}

// ---- option-A shortcut ----------------------------------------------------------------------

struct Shortcut {
    n: u32,
    c: u32,      // input channels
    h: u32,
    w: u32,
    c2: u32,     // output channels
    h2: u32,
    w2: u32,
    stride: u32,
    pad: u32,    // (c2 - c) / 2
    len: u32,    // elements of the tensor this entry writes
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> sc: Shortcut;
@group(0) @binding(1) var<storage, read> sc_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> sc_out: array<f32>;

// One invocation per output element y[n, c2, i, j] = x[n, c2 - pad, i*stride, j*stride] (0 outside).
@compute @workgroup_size(256)
fn shortcut_a_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let o = flat_index(gid, nwg);
    if (o >= sc.len) { return; }
    let j = o % sc.w2;
    let i = (o / sc.w2) % sc.h2;
    let k = (o / (sc.w2 * sc.h2)) % sc.c2;
    let n = o / (sc.w2 * sc.h2 * sc.c2);
    var v = 0.0;
    if (k >= sc.pad && k < sc.pad + sc.c) {
        let c = k - sc.pad;
        v = sc_in[((n * sc.c + c) * sc.h + i * sc.stride) * sc.w + j * sc.stride];
    }
    sc_out[o] = v;
}

// One invocation per input-gradient element: dx[n, c, h, w] = dy[n, c + pad, h/stride, w/stride]
// where h and w are multiples of the stride, else 0. A gather, so no two invocations write alike.
@compute @workgroup_size(256)
fn shortcut_a_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let o = flat_index(gid, nwg);
    if (o >= sc.len) { return; }
    let x = o % sc.w;
    let y = (o / sc.w) % sc.h;
    let c = (o / (sc.w * sc.h)) % sc.c;
    let n = o / (sc.w * sc.h * sc.c);
    var v = 0.0;
    if (x % sc.stride == 0u && y % sc.stride == 0u) {
        v = sc_in[((n * sc.c2 + c + sc.pad) * sc.h2 + y / sc.stride) * sc.w2 + x / sc.stride];
    }
    sc_out[o] = v;
}

// ---- row-wise L2 normalize ------------------------------------------------------------------

struct Rows {
    rows: u32,
    cols: u32,
    eps: f32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> rw: Rows;
@group(0) @binding(1) var<storage, read> l2_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> l2_y: array<f32>;

@group(0) @binding(1) var<storage, read> l2b_x: array<f32>;
@group(0) @binding(2) var<storage, read> l2b_y: array<f32>;
@group(0) @binding(3) var<storage, read> l2b_dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> l2b_dx: array<f32>;

fn row_norm_x(base: u32) -> f32 {
    var s = 0.0;
    for (var j = 0u; j < rw.cols; j++) {
        let v = l2_x[base + j];
        s += v * v;
    }
    return sqrt(s);
}

// One invocation per row: y = x / max(||x||, eps).
@compute @workgroup_size(64)
fn l2_normalize_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = gid.x + gid.y * nwg.x * 64u;
    if (r >= rw.rows) { return; }
    let base = r * rw.cols;
    let inv = 1.0 / max(row_norm_x(base), rw.eps);
    for (var j = 0u; j < rw.cols; j++) {
        l2_y[base + j] = l2_x[base + j] * inv;
    }
}

// One invocation per row: dx = (dy - y (y.dy)) / ||x|| when ||x|| >= eps, else dy / eps.
@compute @workgroup_size(64)
fn l2_normalize_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = gid.x + gid.y * nwg.x * 64u;
    if (r >= rw.rows) { return; }
    let base = r * rw.cols;
    var s = 0.0;
    var ydy = 0.0;
    for (var j = 0u; j < rw.cols; j++) {
        let v = l2b_x[base + j];
        s += v * v;
        ydy += l2b_y[base + j] * l2b_dy[base + j];
    }
    let norm = sqrt(s);
    if (norm >= rw.eps) {
        let inv = 1.0 / norm;
        for (var j = 0u; j < rw.cols; j++) {
            l2b_dx[base + j] = (l2b_dy[base + j] - l2b_y[base + j] * ydy) * inv;
        }
    } else {
        let inv = 1.0 / rw.eps;
        for (var j = 0u; j < rw.cols; j++) {
            l2b_dx[base + j] = l2b_dy[base + j] * inv;
        }
    }
}

// ---- per-class scales (LWS) -----------------------------------------------------------------

@group(0) @binding(1) var<storage, read> cs_a: array<f32>;
@group(0) @binding(2) var<storage, read> cs_scales: array<f32>;
@group(0) @binding(3) var<storage, read_write> cs_out: array<f32>;

// y[n, c] = logits[n, c] * scales[c]  (also dlogits = dy * scales); one invocation per element.
@compute @workgroup_size(256)
fn class_scale_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= rw.rows * rw.cols) { return; }
    cs_out[i] = cs_a[i] * cs_scales[i % rw.cols];
}

@group(0) @binding(1) var<storage, read> csb_logits: array<f32>;
@group(0) @binding(2) var<storage, read> csb_dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> csb_dscales: array<f32>;

// dscales[c] = sum over n (in order) of dy[n, c] * logits[n, c]; one invocation per class.
@compute @workgroup_size(64)
fn class_scale_backward_scales(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = gid.x + gid.y * nwg.x * 64u;
    if (c >= rw.cols) { return; }
    var s = 0.0;
    for (var n = 0u; n < rw.rows; n++) {
        let i = n * rw.cols + c;
        s += csb_dy[i] * csb_logits[i];
    }
    csb_dscales[c] = s;
}

// Parameter updates: SGD with momentum, weight decay and Nesterov (torch.optim.SGD, dampening 0),
// and the EMA update of a momentum (key) encoder. Host side: src/kernels/optim.rs.
//
// One invocation per element. The step's hyper-parameters come from a device tensor written once
// per step (`hyper`), not from the uniform block: uniforms are cached by content, so a learning rate
// that changes every step would allocate a buffer every step.

struct LenParams {
    len: u32,
    // EMA momentum (unused by SGD)
    momentum: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> lp: LenParams;

@group(0) @binding(1) var<storage, read_write> sgd_param: array<f32>;
@group(0) @binding(2) var<storage, read> sgd_grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> sgd_velocity: array<f32>;
// [lr, momentum, weight_decay, nesterov (0/1)]
@group(0) @binding(4) var<storage, read> sgd_hyper: array<f32>;

// g = grad + wd p; v = momentum v + g; g = nesterov ? g + momentum v : v; p -= lr g
@compute @workgroup_size(256)
fn sgd_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= lp.len) {
        return;
    }
    let lr = sgd_hyper[0];
    let momentum = sgd_hyper[1];
    let wd = sgd_hyper[2];
    let p = sgd_param[i];
    var g = sgd_grad[i] + wd * p;
    let v = momentum * sgd_velocity[i] + g;
    sgd_velocity[i] = v;
    if (sgd_hyper[3] != 0.0) {
        g = g + momentum * v;
    } else {
        g = v;
    }
    sgd_param[i] = p - lr * g;
}

@group(0) @binding(1) var<storage, read_write> ema_target: array<f32>;
@group(0) @binding(2) var<storage, read> ema_source: array<f32>;

// target = momentum target + (1 - momentum) source
@compute @workgroup_size(256)
fn ema_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= lp.len) {
        return;
    }
    ema_target[i] = lp.momentum * ema_target[i] + (1.0 - lp.momentum) * ema_source[i];
}

//! Parameter updates: SGD with momentum, weight decay and Nesterov; EMA (momentum encoder) update.
//!
//! `sgd_step` is torch.optim.SGD with dampening 0: its first step sets the momentum buffer to the
//! gradient, which with a zeroed velocity is what `v = momentum·0 + g` gives, so one formula serves
//! every step. The hyper-parameters are read from a small device tensor the optimizer writes once
//! per step (the learning rate changes every step under a schedule; a uniform per value would grow
//! the uniform cache without bound). Both updates are element-wise, so they are deterministic on
//! every device.

use rayon::prelude::*;

use super::{grid, launch, Device, Shader, Tensor};

/// Elements per rayon task on the CPU path.
const CHUNK: usize = 1 << 14;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct LenParams {
    len: u32,
    momentum: f32,
    _pad: [u32; 2],
}

#[track_caller]
fn check_same_len(what: &str, a: &Tensor, b: &Tensor) {
    assert_eq!(a.len(), b.len(), "{what}: shapes {:?} and {:?} differ in size", a.shape(), b.shape());
}

/// One SGD step on param (in place) and velocity (in place); grad has param's shape.
///
/// hyper: device f32 tensor `[4]` = [lr, momentum, weight_decay, nesterov (0/1)], written once per
/// step by the optimizer. PyTorch SGD: g = grad + wd·p; v = momentum·v + g;
/// g = nesterov ? g + momentum·v : v; p -= lr·g.
pub fn sgd_step(dev: &Device, param: &Tensor, grad: &Tensor, velocity: &Tensor, hyper: &Tensor) {
    check_same_len("sgd_step grad", param, grad);
    check_same_len("sgd_step velocity", param, velocity);
    assert_eq!(hyper.len(), 4, "sgd_step: hyper must be [4] = [lr, momentum, weight_decay, nesterov], got {:?}", hyper.shape());
    match dev {
        Device::Cpu(_) => {
            let h = hyper.cpu();
            let &[lr, momentum, wd, nesterov] = &h.f32()[..4] else { unreachable!() };
            let nesterov = nesterov != 0.0;
            let g = grad.cpu();
            let g = g.f32();
            let mut p = param.cpu_mut();
            let mut v = velocity.cpu_mut();
            let len = param.len();
            p.f32()[..len].par_chunks_mut(CHUNK).zip(v.f32()[..len].par_chunks_mut(CHUNK)).zip(g.par_chunks(CHUNK)).for_each(|((p, v), g)| {
                for ((p, v), &g) in p.iter_mut().zip(v.iter_mut()).zip(g) {
                    let mut d = g + wd * *p;
                    *v = momentum * *v + d;
                    d = if nesterov { d + momentum * *v } else { *v };
                    *p -= lr * d;
                }
            });
        }
        Device::Wgpu(gpu) => {
            let params = LenParams { len: param.len() as u32, momentum: 0.0, _pad: [0; 2] };
            launch(gpu, Shader::Optim, "sgd_step", &params, &[param, grad, velocity, hyper], grid(gpu, param.len(), 256));
        }
    }
}

/// target = momentum·target + (1 − momentum)·source, in place on target (MoCo key encoder);
/// source has target's shape.
pub fn ema_update(dev: &Device, target: &Tensor, source: &Tensor, momentum: f32) {
    check_same_len("ema_update source", target, source);
    match dev {
        Device::Cpu(_) => {
            let s = source.cpu();
            let s = s.f32();
            let mut t = target.cpu_mut();
            t.f32()[..target.len()].par_chunks_mut(CHUNK).zip(s.par_chunks(CHUNK)).for_each(|(t, s)| {
                for (t, &s) in t.iter_mut().zip(s) {
                    *t = momentum * *t + (1.0 - momentum) * s;
                }
            });
        }
        Device::Wgpu(gpu) => {
            let params = LenParams { len: target.len() as u32, momentum, _pad: [0; 2] };
            launch(gpu, Shader::Optim, "ema_update", &params, &[target, source], grid(gpu, target.len(), 256));
        }
    }
}

//! Tests: kernels optim. SGD against torch.optim.SGD's update written out in the test (momentum
//! buffer set to the gradient on the first step, dampening 0), with and without Nesterov and weight
//! decay and with a learning rate that changes every step; a 3-step example worked by hand; the EMA
//! update against its formula; both devices, odd lengths.

use ssdlt::kernels::optim::{ema_update, sgd_step};
use ssdlt::kernels::Device;

use crate::common::{self, assert_close};
use crate::kernels_losses::take_turns;

/// Lengths: one element, not a multiple of the 256-wide workgroup, more than one CPU chunk.
const LENGTHS: [usize; 3] = [1, 1000, 70_001];

/// torch.optim.SGD.step for one tensor, in f64, as PyTorch writes it (`buf is None` on the first
/// step: `buf = clone(d_p)`).
struct TorchSgd {
    momentum_buffer: Option<Vec<f64>>,
}

impl TorchSgd {
    fn step(&mut self, p: &mut [f64], grad: &[f64], lr: f64, momentum: f64, weight_decay: f64, nesterov: bool) {
        let mut d_p: Vec<f64> = grad.iter().zip(p.iter()).map(|(g, p)| g + weight_decay * p).collect();
        if momentum != 0.0 {
            let buf = match self.momentum_buffer.take() {
                None => d_p.clone(),
                Some(mut buf) => {
                    for (b, d) in buf.iter_mut().zip(&d_p) {
                        *b = momentum * *b + d;
                    }
                    buf
                }
            };
            if nesterov {
                for (d, b) in d_p.iter_mut().zip(&buf) {
                    *d += momentum * b;
                }
            } else {
                d_p = buf.clone();
            }
            self.momentum_buffer = Some(buf);
        }
        for (p, d) in p.iter_mut().zip(&d_p) {
            *p -= lr * d;
        }
    }
}

/// Runs `steps` SGD steps on `dev` with gradients from `grads(step)`; returns the parameters after
/// each step. The hyper-parameters are written into the device tensor once per step.
fn run_sgd(dev: &Device, p0: &[f32], grads: &[Vec<f32>], lrs: &[f32], momentum: f32, wd: f32, nesterov: bool) -> Vec<Vec<f32>> {
    let len = p0.len();
    let p = dev.from_f32(&[len], p0);
    let v = dev.zeros(&[len]);
    let g = dev.zeros(&[len]);
    let hyper = dev.zeros(&[4]);
    let mut out = Vec::new();
    for (grad, &lr) in grads.iter().zip(lrs) {
        g.write(grad);
        hyper.write(&[lr, momentum, wd, if nesterov { 1.0 } else { 0.0 }]);
        sgd_step(dev, &p, &g, &v, &hyper);
        out.push(p.to_vec());
    }
    out
}

#[test]
fn sgd_reproduces_a_three_step_example_worked_by_hand() {
    let _turn = take_turns();
    // p = 1, gradient 0.5 every step, lr 0.1, momentum 0.9, weight decay 0.1:
    // plain:    d = 0.6, v = 0.6, p = 0.94; d = 0.594, v = 1.134, p = 0.8266;
    //           d = 0.58266, v = 1.60326, p = 0.666274
    // nesterov: d = 0.6, v = 0.6, g = 1.14, p = 0.886; d = 0.5886, v = 1.1286, g = 1.60434,
    //           p = 0.725566; d = 0.5725566, v = 1.5882966, g = 2.00202354, p = 0.525363646
    let grads = vec![vec![0.5f32]; 3];
    for dev in common::devices() {
        let plain = run_sgd(&dev, &[1.0], &grads, &[0.1; 3], 0.9, 0.1, false);
        assert_close("plain", &plain.concat(), &[0.94, 0.8266, 0.666274], 1e-6);
        let nesterov = run_sgd(&dev, &[1.0], &grads, &[0.1; 3], 0.9, 0.1, true);
        assert_close("nesterov", &nesterov.concat(), &[0.886, 0.725566, 0.525_363_6], 1e-6);
    }
}

#[test]
fn sgd_matches_torch_sgd_over_three_steps_with_and_without_nesterov_and_weight_decay() {
    let _turn = take_turns();
    let lrs = [0.1f32, 0.05, 0.0125];
    for (case, &(momentum, wd, nesterov)) in [(0.9f32, 0.0f32, false), (0.9, 5e-4, false), (0.9, 5e-4, true), (0.8, 0.0, true), (0.0, 1e-2, false)].iter().enumerate() {
        for &len in &LENGTHS {
            let seed = 1000 * case as u64 + len as u64;
            let p0 = common::seeded(len, seed, 1.0);
            let grads: Vec<Vec<f32>> = (0..3).map(|s| common::seeded(len, seed + 1 + s, 2.0)).collect();
            let mut torch = TorchSgd { momentum_buffer: None };
            let mut p: Vec<f64> = p0.iter().map(|&x| x as f64).collect();
            let mut want = Vec::new();
            for (g, &lr) in grads.iter().zip(&lrs) {
                let g: Vec<f64> = g.iter().map(|&x| x as f64).collect();
                torch.step(&mut p, &g, lr as f64, momentum as f64, wd as f64, nesterov);
                want.push(p.iter().map(|&x| x as f32).collect::<Vec<f32>>());
            }
            for dev in common::devices() {
                let got = run_sgd(&dev, &p0, &grads, &lrs, momentum, wd, nesterov);
                for (step, (g, w)) in got.iter().zip(&want).enumerate() {
                    let what = format!("momentum {momentum} wd {wd} nesterov {nesterov} len {len} step {step} on {}", dev.name());
                    assert_close(&what, g, w, 1e-6);
                }
            }
        }
    }
}

#[test]
fn sgd_on_wgpu_matches_cpu_and_repeats_bit_identically() {
    let _turn = take_turns();
    let len = 70_001;
    let p0 = common::seeded(len, 7, 1.0);
    let grads: Vec<Vec<f32>> = (0..3).map(|s| common::seeded(len, 8 + s, 1.0)).collect();
    let lrs = [0.1, 0.09, 0.08];
    let cpu = run_sgd(&common::cpu(), &p0, &grads, &lrs, 0.9, 1e-4, true);
    let gpu = common::gpu();
    let a = run_sgd(&gpu, &p0, &grads, &lrs, 0.9, 1e-4, true);
    let b = run_sgd(&gpu, &p0, &grads, &lrs, 0.9, 1e-4, true);
    assert_close("wgpu vs cpu", &a.concat(), &cpu.concat(), 1e-5);
    assert!(a == b, "two wgpu runs differ");
    assert!(cpu == run_sgd(&common::cpu(), &p0, &grads, &lrs, 0.9, 1e-4, true), "two cpu runs differ");
}

#[test]
fn ema_update_follows_its_formula_on_both_devices() {
    let _turn = take_turns();
    for &len in &LENGTHS {
        let t0 = common::seeded(len, 20 + len as u64, 1.0);
        let s = common::seeded(len, 21 + len as u64, 1.0);
        let m = 0.999f32;
        let want: Vec<f32> = t0.iter().zip(&s).map(|(&t, &s)| (m as f64 * t as f64 + (1.0 - m as f64) * s as f64) as f32).collect();
        for dev in common::devices() {
            let target = dev.from_f32(&[len], &t0);
            let source = dev.from_f32(&[len], &s);
            ema_update(&dev, &target, &source, m);
            assert_close(&format!("ema len {len} on {}", dev.name()), &target.to_vec(), &want, 1e-6);
        }
    }
}

#[test]
fn ema_with_momentum_zero_copies_and_with_momentum_one_keeps_the_target() {
    let _turn = take_turns();
    let t0 = common::seeded(300, 30, 1.0);
    let s = common::seeded(300, 31, 1.0);
    for dev in common::devices() {
        let target = dev.from_f32(&[300], &t0);
        let source = dev.from_f32(&[300], &s);
        ema_update(&dev, &target, &source, 1.0);
        assert_eq!(target.to_vec(), t0, "momentum 1 on {}", dev.name());
        ema_update(&dev, &target, &source, 0.0);
        assert_eq!(target.to_vec(), s, "momentum 0 on {}", dev.name());
    }
}

//! Tests: kernels batchnorm. Training and eval forward against naive f64 loops of the PyTorch
//! formulas on both devices, WGSL against CPU, every backward by finite differences on both
//! devices (with and without the fused ReLU), running statistics, and bit-identical repeats.

use ssdlt::kernels::batchnorm::*;
use ssdlt::kernels::{Device, Tensor};

use crate::common::{self, assert_close, numeric_gradient, seeded};

/// Batch 1 with odd H*W, odd everything, [N, C] features with C above one 256-workgroup, H*W above
/// the workgroup, and activations with a large mean (where a one-pass variance would cancel).
const SHAPES: [BatchNormShape; 5] = [
    BatchNormShape { n: 1, c: 3, hw: 35 },
    BatchNormShape { n: 3, c: 5, hw: 49 },
    BatchNormShape { n: 8, c: 300, hw: 1 },
    BatchNormShape { n: 2, c: 17, hw: 300 },
    BatchNormShape { n: 4, c: 2, hw: 1000 },
];

const EPS: f32 = 1e-5;
const MOMENTUM: f32 = 0.1;

fn input(s: &BatchNormShape, seed: u64) -> Vec<f32> {
    let mut x = seeded(s.len(), seed, 2.0);
    if s.hw == 1000 {
        for v in &mut x {
            *v += 100.0;
        }
    }
    x
}

struct Naive {
    y: Vec<f32>,
    mean: Vec<f32>,
    invstd: Vec<f32>,
    running_mean: Vec<f32>,
    running_var: Vec<f32>,
}

fn idx(s: &BatchNormShape, b: usize, c: usize, i: usize) -> usize {
    (b * s.c + c) * s.hw + i
}

/// PyTorch's BatchNorm training forward in f64, running stats starting from rm, rv.
fn naive_train(s: &BatchNormShape, x: &[f32], gamma: &[f32], beta: &[f32], rm: &[f32], rv: &[f32], relu: bool) -> Naive {
    let m = (s.n * s.hw) as f64;
    let mut out = Naive { y: vec![0.0; s.len()], mean: vec![], invstd: vec![], running_mean: vec![], running_var: vec![] };
    for c in 0..s.c {
        let vals: Vec<f64> = (0..s.n).flat_map(|b| (0..s.hw).map(move |i| (b, i))).map(|(b, i)| x[idx(s, b, c, i)] as f64).collect();
        let mean = vals.iter().sum::<f64>() / m;
        let var = vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / m;
        let invstd = 1.0 / (var + EPS as f64).sqrt();
        for b in 0..s.n {
            for i in 0..s.hw {
                let k = idx(s, b, c, i);
                let v = gamma[c] as f64 * (x[k] as f64 - mean) * invstd + beta[c] as f64;
                out.y[k] = if relu { v.max(0.0) } else { v } as f32;
            }
        }
        out.mean.push(mean as f32);
        out.invstd.push(invstd as f32);
        let unbiased = if m > 1.0 { var * m / (m - 1.0) } else { var };
        let mo = MOMENTUM as f64;
        out.running_mean.push(((1.0 - mo) * rm[c] as f64 + mo * mean) as f32);
        out.running_var.push(((1.0 - mo) * rv[c] as f64 + mo * unbiased) as f32);
    }
    out
}

struct Bn {
    x: Tensor,
    gamma: Tensor,
    beta: Tensor,
    rm: Tensor,
    rv: Tensor,
    y: Tensor,
    mean: Tensor,
    invstd: Tensor,
}

fn bn_tensors(dev: &Device, s: &BatchNormShape, x: &[f32], gamma: &[f32], beta: &[f32], rm: &[f32], rv: &[f32]) -> Bn {
    let shape = [s.n, s.c, s.hw];
    Bn {
        x: dev.from_f32(&shape, x),
        gamma: dev.from_f32(&[s.c], gamma),
        beta: dev.from_f32(&[s.c], beta),
        rm: dev.from_f32(&[s.c], rm),
        rv: dev.from_f32(&[s.c], rv),
        y: dev.zeros(&shape),
        mean: dev.zeros(&[s.c]),
        invstd: dev.zeros(&[s.c]),
    }
}

fn train(dev: &Device, s: &BatchNormShape, t: &Bn, relu: bool) {
    batchnorm_forward_train(dev, s, &t.x, &t.gamma, &t.beta, &t.rm, &t.rv, MOMENTUM, EPS, relu, &t.y, &t.mean, &t.invstd);
}

fn params(s: &BatchNormShape, seed: u64) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let gamma: Vec<f32> = seeded(s.c, seed, 0.5).iter().map(|v| 1.0 + v).collect();
    let beta = seeded(s.c, seed + 1, 0.5);
    let rm = seeded(s.c, seed + 2, 0.2);
    let rv: Vec<f32> = seeded(s.c, seed + 3, 0.5).iter().map(|v| 1.0 + v).collect();
    (gamma, beta, rm, rv)
}

#[test]
fn training_forward_matches_the_pytorch_formulas_on_both_devices_and_wgsl_matches_cpu() {
    for (k, s) in SHAPES.iter().enumerate() {
        for relu in [false, true] {
            let x = input(s, 10 + k as u64);
            let (gamma, beta, rm, rv) = params(s, 20 + k as u64);
            let want = naive_train(s, &x, &gamma, &beta, &rm, &rv, relu);
            let mut got = Vec::new();
            for dev in common::devices() {
                let t = bn_tensors(&dev, s, &x, &gamma, &beta, &rm, &rv);
                train(&dev, s, &t, relu);
                let what = |o: &str| format!("{o} {s:?} relu={relu} on {}", dev.name());
                let r = [t.y.to_vec(), t.mean.to_vec(), t.invstd.to_vec(), t.rm.to_vec(), t.rv.to_vec()];
                assert_close(&what("y"), &r[0], &want.y, 1e-4);
                assert_close(&what("save_mean"), &r[1], &want.mean, 1e-6);
                assert_close(&what("save_invstd"), &r[2], &want.invstd, 1e-4);
                assert_close(&what("running_mean"), &r[3], &want.running_mean, 1e-6);
                assert_close(&what("running_var"), &r[4], &want.running_var, 1e-5);
                got.push(r);
            }
            for (i, name) in ["y", "save_mean", "save_invstd", "running_mean", "running_var"].iter().enumerate() {
                assert_close(&format!("{name} {s:?} relu={relu} wgsl vs cpu"), &got[1][i], &got[0][i], 1e-4);
            }
        }
    }
}

#[test]
fn running_statistics_follow_pytorch_over_several_steps() {
    // Fresh PyTorch buffers (mean 0, var 1), three steps on different batches.
    let s = BatchNormShape { n: 4, c: 3, hw: 6 };
    for dev in common::devices() {
        let (gamma, beta) = (vec![1.0; 3], vec![0.0; 3]);
        let (mut rm, mut rv) = (vec![0.0f32; 3], vec![1.0f32; 3]);
        let t = bn_tensors(&dev, &s, &vec![0.0; s.len()], &gamma, &beta, &rm, &rv);
        for step in 0..3 {
            let x = seeded(s.len(), 40 + step, 3.0);
            t.x.write(&x);
            train(&dev, &s, &t, false);
            let want = naive_train(&s, &x, &gamma, &beta, &rm, &rv, false);
            (rm, rv) = (want.running_mean, want.running_var);
        }
        assert_close(&format!("running_mean on {}", dev.name()), &t.rm.to_vec(), &rm, 1e-6);
        assert_close(&format!("running_var on {}", dev.name()), &t.rv.to_vec(), &rv, 1e-6);
    }
}

#[test]
fn eval_forward_and_backward_match_naive_loops_and_wgsl_matches_cpu() {
    for (k, s) in SHAPES.iter().enumerate() {
        for relu in [false, true] {
            let x = input(s, 50 + k as u64);
            let dy = seeded(s.len(), 60 + k as u64, 1.0);
            let (gamma, beta, mut rm, rv) = params(s, 70 + k as u64);
            if s.hw == 1000 {
                rm.iter_mut().for_each(|v| *v += 100.0);
            }
            let mut want_y = vec![0f32; s.len()];
            let mut want_dx = vec![0f32; s.len()];
            for b in 0..s.n {
                for c in 0..s.c {
                    let a = gamma[c] as f64 / (rv[c] as f64 + EPS as f64).sqrt();
                    for i in 0..s.hw {
                        let j = idx(s, b, c, i);
                        let v = (x[j] as f64 - rm[c] as f64) * a + beta[c] as f64;
                        want_y[j] = if relu { v.max(0.0) } else { v } as f32;
                        let g = if relu && want_y[j] <= 0.0 { 0.0 } else { dy[j] as f64 };
                        want_dx[j] = (g * a) as f32;
                    }
                }
            }
            let mut got = Vec::new();
            for dev in common::devices() {
                let t = bn_tensors(&dev, s, &x, &gamma, &beta, &rm, &rv);
                let (tdy, tdx) = (dev.from_f32(&[s.n, s.c, s.hw], &dy), dev.zeros(&[s.n, s.c, s.hw]));
                batchnorm_forward_eval(&dev, s, &t.x, &t.gamma, &t.beta, &t.rm, &t.rv, EPS, relu, &t.y);
                batchnorm_backward_eval(&dev, s, &t.y, &tdy, &t.gamma, &t.rv, EPS, relu, &tdx);
                let what = |o: &str| format!("{o} {s:?} relu={relu} on {}", dev.name());
                // Outputs that land within float error of zero may flip the ReLU mask: compare
                // dx only where the reference pre-activation is clearly away from it.
                let (y, dx) = (t.y.to_vec(), tdx.to_vec());
                assert_close(&what("eval y"), &y, &want_y, 1e-4);
                let keep: Vec<usize> = (0..s.len()).filter(|&j| !relu || want_y[j] > 1e-3 || y[j] == 0.0 && want_y[j] == 0.0).collect();
                let pick = |v: &[f32]| keep.iter().map(|&j| v[j]).collect::<Vec<_>>();
                assert_close(&what("eval dx"), &pick(&dx), &pick(&want_dx), 1e-5);
                assert_eq!(t.rm.to_vec(), rm, "{}", what("eval leaves running_mean"));
                got.push((y, dx));
            }
            assert_close(&format!("eval y {s:?} wgsl vs cpu"), &got[1].0, &got[0].0, 1e-4);
            assert_close(&format!("eval dx {s:?} wgsl vs cpu"), &got[1].1, &got[0].1, 1e-4);
        }
    }
}

/// Per channel, values +-(1 + u/2) with signs alternating along the channel's N*HW values:
/// normalized values stay about 0.4 or more away from zero, so with beta = 0 no finite-difference
/// step crosses the ReLU kink.
fn kink_free_input(s: &BatchNormShape, seed: u64) -> Vec<f32> {
    let u = seeded(s.len(), seed, 1.0);
    (0..s.len())
        .map(|j| {
            let (b, i) = (j / (s.c * s.hw), j % s.hw);
            if (b * s.hw + i).is_multiple_of(2) {
                1.0 + 0.5 * u[j]
            } else {
                -1.0 - 0.5 * u[j]
            }
        })
        .collect()
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&a, &b)| a as f64 * b as f64).sum()
}

#[test]
fn training_backward_matches_finite_differences_on_both_devices_with_and_without_relu() {
    // Rows shorter than a vector, and one of two whole 16-lane vectors and a partial one.
    let shapes = [BatchNormShape { n: 2, c: 3, hw: 5 }, BatchNormShape { n: 6, c: 2, hw: 1 }, BatchNormShape { n: 2, c: 1, hw: 37 }];
    for dev in common::cpu_every_simd_level().into_iter().chain([common::gpu()]) {
        for s in &shapes {
            for relu in [false, true] {
                let x = kink_free_input(s, 80);
                let w = seeded(s.len(), 81, 1.0);
                let gamma: Vec<f32> = seeded(s.c, 82, 0.5).iter().map(|v| 1.0 + v).collect();
                let beta = vec![0.0; s.c];
                let t = bn_tensors(&dev, s, &x, &gamma, &beta, &vec![0.0; s.c], &vec![1.0; s.c]);
                train(&dev, s, &t, relu);
                let (tw, tdx, tdg, tdb) = (dev.from_f32(&[s.n, s.c, s.hw], &w), dev.zeros(&[s.n, s.c, s.hw]), dev.zeros(&[s.c]), dev.zeros(&[s.c]));
                batchnorm_backward(&dev, s, &t.x, &t.y, &tw, &t.gamma, &t.mean, &t.invstd, relu, &tdx, &tdg, &tdb);
                let (dx, dg, db) = (tdx.to_vec(), tdg.to_vec(), tdb.to_vec());
                let loss = |x: &[f32], g: &[f32], b: &[f32]| {
                    t.x.write(x);
                    t.gamma.write(g);
                    t.beta.write(b);
                    train(&dev, s, &t, relu);
                    dot(&t.y.to_vec(), &w)
                };
                let num_dx = numeric_gradient(&x, 1e-2, |x| loss(x, &gamma, &beta));
                let num_dg = numeric_gradient(&gamma, 1e-2, |g| loss(&x, g, &beta));
                let num_db = numeric_gradient(&beta, 1e-2, |b| loss(&x, &gamma, b));
                let what = |o: &str| format!("{o} {s:?} relu={relu} on {}", dev.name());
                assert_close(&what("dx"), &dx, &num_dx, 1e-2);
                assert_close(&what("dgamma"), &dg, &num_dg, 1e-2);
                assert_close(&what("dbeta"), &db, &num_db, 1e-2);
            }
        }
    }
}

#[test]
fn eval_backward_matches_finite_differences_on_both_devices() {
    let s = BatchNormShape { n: 2, c: 3, hw: 4 };
    for dev in common::devices() {
        for relu in [false, true] {
            let x = kink_free_input(&s, 90);
            let w = seeded(s.len(), 91, 1.0);
            let gamma: Vec<f32> = seeded(s.c, 92, 0.5).iter().map(|v| 1.0 + v).collect();
            let t = bn_tensors(&dev, &s, &x, &gamma, &vec![0.0; s.c], &vec![0.0; s.c], &[0.5, 1.0, 2.0]);
            let (tw, tdx) = (dev.from_f32(&[s.n, s.c, s.hw], &w), dev.zeros(&[s.n, s.c, s.hw]));
            batchnorm_forward_eval(&dev, &s, &t.x, &t.gamma, &t.beta, &t.rm, &t.rv, EPS, relu, &t.y);
            batchnorm_backward_eval(&dev, &s, &t.y, &tw, &t.gamma, &t.rv, EPS, relu, &tdx);
            let dx = tdx.to_vec();
            let num = numeric_gradient(&x, 1e-2, |x| {
                t.x.write(x);
                batchnorm_forward_eval(&dev, &s, &t.x, &t.gamma, &t.beta, &t.rm, &t.rv, EPS, relu, &t.y);
                dot(&t.y.to_vec(), &w)
            });
            assert_close(&format!("eval dx relu={relu} on {}", dev.name()), &dx, &num, 1e-3);
        }
    }
}

#[test]
fn training_backward_wgsl_matches_cpu_on_awkward_shapes() {
    let mut shapes = SHAPES.to_vec();
    shapes.push(BatchNormShape { n: 1, c: 1, hw: 1 });
    for (k, s) in shapes.iter().enumerate() {
        for relu in [false, true] {
            let x = input(s, 100 + k as u64);
            let dy = seeded(s.len(), 110 + k as u64, 1.0);
            let (gamma, beta, rm, rv) = params(s, 120 + k as u64);
            let mut got = Vec::new();
            for dev in common::devices() {
                let t = bn_tensors(&dev, s, &x, &gamma, &beta, &rm, &rv);
                train(&dev, s, &t, relu);
                let (tdy, tdx, tdg, tdb) = (dev.from_f32(&[s.n, s.c, s.hw], &dy), dev.zeros(&[s.n, s.c, s.hw]), dev.zeros(&[s.c]), dev.zeros(&[s.c]));
                batchnorm_backward(&dev, s, &t.x, &t.y, &tdy, &t.gamma, &t.mean, &t.invstd, relu, &tdx, &tdg, &tdb);
                got.push((t.y.to_vec(), tdx.to_vec(), tdg.to_vec(), tdb.to_vec()));
            }
            let (c, g) = (&got[0], &got[1]);
            // The ReLU mask comes from each device's own y; elements whose y is within float
            // error of zero could differ, so the check needs both masks to agree (they do here).
            let flips = c.0.iter().zip(&g.0).filter(|(a, b)| (**a > 0.0) != (**b > 0.0)).count();
            assert_eq!(flips, 0, "{s:?}: relu masks differ between devices");
            assert_close(&format!("dx {s:?} relu={relu} wgsl vs cpu"), &g.1, &c.1, 1e-4);
            assert_close(&format!("dgamma {s:?} relu={relu} wgsl vs cpu"), &g.2, &c.2, 1e-4);
            assert_close(&format!("dbeta {s:?} relu={relu} wgsl vs cpu"), &g.3, &c.3, 1e-4);
        }
    }
}

#[test]
fn statistics_and_gradients_repeat_bit_identically_on_each_device() {
    let s = BatchNormShape { n: 4, c: 9, hw: 1025 };
    let x = input(&s, 130);
    let dy = seeded(s.len(), 131, 1.0);
    let (gamma, beta, rm, rv) = params(&s, 132);
    for dev in common::devices() {
        let run = || {
            let t = bn_tensors(&dev, &s, &x, &gamma, &beta, &rm, &rv);
            train(&dev, &s, &t, true);
            let (tdy, tdx, tdg, tdb) = (dev.from_f32(&[s.n, s.c, s.hw], &dy), dev.zeros(&[s.n, s.c, s.hw]), dev.zeros(&[s.c]), dev.zeros(&[s.c]));
            batchnorm_backward(&dev, &s, &t.x, &t.y, &tdy, &t.gamma, &t.mean, &t.invstd, true, &tdx, &tdg, &tdb);
            [t.y.to_vec(), t.mean.to_vec(), t.invstd.to_vec(), t.rv.to_vec(), tdx.to_vec(), tdg.to_vec(), tdb.to_vec()]
        };
        let first = run();
        for _ in 0..2 {
            assert!(run() == first, "repeat differs on {}", dev.name());
        }
    }
}

/// CPU milliseconds per call of the per-layer ops at a ResNet-32 stage-1 activation, [128, 16, 32, 32].
/// Run with `cargo test --release kernels_batchnorm::cpu_ms -- --ignored --nocapture`.
#[test]
#[ignore = "timing; run in release"]
fn cpu_ms_per_call_at_resnet_activation_shape() {
    use ssdlt::kernels::elementwise::{add, add_assign, add_relu, relu_backward, relu_forward, shortcut_a_forward};
    let dev = common::cpu();
    let s = BatchNormShape { n: 128, c: 16, hw: 1024 };
    let shape = [128, 16, 32, 32];
    let x = input(&s, 1);
    let (gamma, beta, rm, rv) = params(&s, 2);
    let t = bn_tensors(&dev, &s, &x, &gamma, &beta, &rm, &rv);
    let (dy, dx, dg, db) = (dev.from_f32(&shape, &seeded(s.len(), 3, 1.0)), dev.zeros(&shape), dev.zeros(&[16]), dev.zeros(&[16]));
    let (a, out) = (dev.from_f32(&shape, &seeded(s.len(), 4, 1.0)), dev.zeros(&shape));
    let half = dev.zeros(&[128, 32, 16, 16]);
    let time = |name: &str, f: &mut dyn FnMut()| {
        for _ in 0..3 {
            f();
        }
        let reps = 30;
        let t0 = std::time::Instant::now();
        for _ in 0..reps {
            f();
        }
        let ms = t0.elapsed().as_secs_f64() * 1e3 / reps as f64;
        eprintln!("{name:<34} {ms:7.3} ms");
    };
    time("batchnorm_forward_train (relu)", &mut || train(&dev, &s, &t, true));
    time("batchnorm_forward_train", &mut || train(&dev, &s, &t, false));
    time("batchnorm_backward (relu)", &mut || batchnorm_backward(&dev, &s, &t.x, &t.y, &dy, &t.gamma, &t.mean, &t.invstd, true, &dx, &dg, &db));
    time("batchnorm_backward", &mut || batchnorm_backward(&dev, &s, &t.x, &t.y, &dy, &t.gamma, &t.mean, &t.invstd, false, &dx, &dg, &db));
    time("batchnorm_forward_eval (relu)", &mut || batchnorm_forward_eval(&dev, &s, &t.x, &t.gamma, &t.beta, &t.rm, &t.rv, EPS, true, &t.y));
    time("relu_forward", &mut || relu_forward(&dev, &t.x, &out));
    time("relu_backward", &mut || relu_backward(&dev, &t.y, &dy, &out));
    time("add", &mut || add(&dev, &t.x, &a, &out));
    time("add_relu", &mut || add_relu(&dev, &t.x, &a, &out));
    time("add_assign", &mut || add_assign(&dev, &out, &a));
    let x4 = t.x.reshape(&shape);
    time("shortcut_a_forward 16->32 stride 2", &mut || shortcut_a_forward(&dev, &x4, &half, 2));
}

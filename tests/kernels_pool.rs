//! Tests: kernels pool. Global average pool and max pool against naive loops on both devices,
//! WGSL against CPU (argmax exactly), backwards by finite differences on both devices, and
//! bit-identical repeats.

use ssdlt::kernels::pool::*;
use ssdlt::kernels::Device;

use crate::common::{self, assert_close, numeric_gradient, seeded};

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&a, &b)| a as f64 * b as f64).sum()
}

/// Batch 1 with odd sizes, the ResNet head (8x8), 1x1 planes, and more planes than a workgroup.
const AVG_SHAPES: [[usize; 4]; 4] = [[1, 3, 5, 7], [2, 17, 8, 8], [3, 5, 1, 1], [4, 100, 3, 3]];

#[test]
fn global_avg_pool_matches_naive_loops_and_wgsl_matches_cpu() {
    for (k, &[n, c, h, w]) in AVG_SHAPES.iter().enumerate() {
        let x = seeded(n * c * h * w, 10 + k as u64, 2.0);
        let dy = seeded(n * c, 20 + k as u64, 1.0);
        let want_y: Vec<f32> = x.chunks(h * w).map(|p| (p.iter().map(|&v| v as f64).sum::<f64>() / (h * w) as f64) as f32).collect();
        let want_dx: Vec<f32> = (0..x.len()).map(|i| dy[i / (h * w)] / (h * w) as f32).collect();
        let mut got = Vec::new();
        for dev in common::devices() {
            let (tx, ty, tdy, tdx) = (dev.from_f32(&[n, c, h, w], &x), dev.zeros(&[n, c]), dev.from_f32(&[n, c], &dy), dev.zeros(&[n, c, h, w]));
            global_avg_pool_forward(&dev, &tx, &ty);
            global_avg_pool_backward(&dev, &tdy, &tdx);
            let (y, dx) = (ty.to_vec(), tdx.to_vec());
            assert_close(&format!("avg y {:?} on {}", [n, c, h, w], dev.name()), &y, &want_y, 1e-6);
            assert_close(&format!("avg dx {:?} on {}", [n, c, h, w], dev.name()), &dx, &want_dx, 1e-6);
            got.push((y, dx));
        }
        assert_close("avg y wgsl vs cpu", &got[1].0, &got[0].0, 1e-4);
        assert_close("avg dx wgsl vs cpu", &got[1].1, &got[0].1, 1e-4);
    }
}

#[test]
fn global_avg_pool_backward_matches_finite_differences_on_both_devices() {
    for dev in common::devices() {
        let shape = [2, 3, 3, 5];
        let x = seeded(90, 30, 1.0);
        let w = seeded(6, 31, 1.0);
        let (tx, ty, tw, tdx) = (dev.from_f32(&shape, &x), dev.zeros(&[2, 3]), dev.from_f32(&[2, 3], &w), dev.zeros(&shape));
        global_avg_pool_backward(&dev, &tw, &tdx);
        let num = numeric_gradient(&x, 1e-2, |x| {
            tx.write(x);
            global_avg_pool_forward(&dev, &tx, &ty);
            dot(&ty.to_vec(), &w)
        });
        assert_close(&format!("avg dx on {}", dev.name()), &tdx.to_vec(), &num, 1e-3);
    }
}

/// The ImageNet stem (3x3, stride 2, pad 1) on odd sizes, 2x2 stride 2, overlapping stride 1 with
/// padding, and batch 1 with many planes.
const MAX_SHAPES: [MaxPoolShape; 4] = [
    MaxPoolShape { n: 2, c: 3, h: 9, w: 11, k: 3, stride: 2, pad: 1 },
    MaxPoolShape { n: 1, c: 5, h: 8, w: 8, k: 2, stride: 2, pad: 0 },
    MaxPoolShape { n: 2, c: 2, h: 5, w: 6, k: 3, stride: 1, pad: 1 },
    MaxPoolShape { n: 1, c: 300, h: 7, w: 7, k: 3, stride: 2, pad: 0 },
];

/// Distinct values at least 0.05 apart, shuffled: no ties, and no finite-difference step can
/// change which input is a window's maximum.
fn distinct(len: usize, seed: u64) -> Vec<f32> {
    let keys = seeded(len, seed, 1.0);
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]));
    let mut x = vec![0f32; len];
    for (rank, &i) in order.iter().enumerate() {
        x[i] = rank as f32 * 0.05 - len as f32 * 0.025;
    }
    x
}

fn naive_max_pool(s: &MaxPoolShape, x: &[f32]) -> (Vec<f32>, Vec<u32>) {
    let (oh, ow) = (s.out_h(), s.out_w());
    let (mut y, mut arg) = (Vec::new(), Vec::new());
    for p in 0..s.n * s.c {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut best = (f32::NEG_INFINITY, u32::MAX);
                for ky in 0..s.k {
                    for kx in 0..s.k {
                        let (iy, ix) = ((oy * s.stride + ky) as isize - s.pad as isize, (ox * s.stride + kx) as isize - s.pad as isize);
                        if iy >= 0 && ix >= 0 && (iy as usize) < s.h && (ix as usize) < s.w {
                            let at = iy as usize * s.w + ix as usize;
                            let v = x[p * s.h * s.w + at];
                            if v > best.0 {
                                best = (v, at as u32);
                            }
                        }
                    }
                }
                y.push(best.0);
                arg.push(best.1);
            }
        }
    }
    (y, arg)
}

#[test]
fn max_pool_matches_naive_loops_and_wgsl_matches_cpu_with_identical_argmax() {
    for (k, s) in MAX_SHAPES.iter().enumerate() {
        let (xs, ys) = ([s.n, s.c, s.h, s.w], [s.n, s.c, s.out_h(), s.out_w()]);
        let x = distinct(xs.iter().product(), 40 + k as u64);
        let dy = seeded(ys.iter().product(), 50 + k as u64, 1.0);
        let (want_y, want_arg) = naive_max_pool(s, &x);
        let mut want_dx = vec![0f32; x.len()];
        for (o, (&g, &a)) in dy.iter().zip(&want_arg).enumerate() {
            let plane = o / (s.out_h() * s.out_w());
            want_dx[plane * s.h * s.w + a as usize] += g;
        }
        let mut got = Vec::new();
        for dev in common::devices() {
            let (tx, ty, targ) = (dev.from_f32(&xs, &x), dev.zeros(&ys), dev.zeros_u32(&ys));
            let (tdy, tdx) = (dev.from_f32(&ys, &dy), dev.from_f32(&xs, &vec![3.0; x.len()]));
            max_pool_forward(&dev, s, &tx, &ty, &targ);
            max_pool_backward(&dev, s, &tdy, &targ, &tdx);
            let what = |o: &str| format!("{o} {s:?} on {}", dev.name());
            assert_eq!(ty.to_vec(), want_y, "{}", what("max y"));
            assert_eq!(targ.to_vec_u32(), want_arg, "{}", what("argmax"));
            assert_close(&what("max dx"), &tdx.to_vec(), &want_dx, 1e-6);
            got.push(tdx.to_vec());
        }
        assert_close(&format!("max dx {s:?} wgsl vs cpu"), &got[1], &got[0], 1e-4);
    }
}

#[test]
fn max_pool_takes_the_first_maximum_on_ties_like_pytorch() {
    let s = MaxPoolShape { n: 1, c: 1, h: 3, w: 3, k: 2, stride: 1, pad: 0 };
    for dev in common::devices() {
        let (tx, ty, targ) = (dev.from_f32(&[1, 1, 3, 3], &[1.0; 9]), dev.zeros(&[1, 1, 2, 2]), dev.zeros_u32(&[1, 1, 2, 2]));
        max_pool_forward(&dev, &s, &tx, &ty, &targ);
        assert_eq!(targ.to_vec_u32(), vec![0, 1, 3, 4], "on {}", dev.name());
    }
}

#[test]
fn max_pool_backward_matches_finite_differences_on_both_devices() {
    let s = MaxPoolShape { n: 1, c: 2, h: 5, w: 5, k: 3, stride: 2, pad: 1 };
    for dev in common::devices() {
        let (xs, ys) = ([1, 2, 5, 5], [1, 2, s.out_h(), s.out_w()]);
        let x = distinct(50, 60);
        let w = seeded(ys.iter().product(), 61, 1.0);
        let (tx, ty, targ, tw, tdx) = (dev.from_f32(&xs, &x), dev.zeros(&ys), dev.zeros_u32(&ys), dev.from_f32(&ys, &w), dev.zeros(&xs));
        max_pool_forward(&dev, &s, &tx, &ty, &targ);
        max_pool_backward(&dev, &s, &tw, &targ, &tdx);
        let dx = tdx.to_vec();
        let num = numeric_gradient(&x, 1e-2, |x| {
            tx.write(x);
            max_pool_forward(&dev, &s, &tx, &ty, &targ);
            dot(&ty.to_vec(), &w)
        });
        assert_close(&format!("max dx on {}", dev.name()), &dx, &num, 1e-3);
    }
}

#[test]
fn pool_backwards_repeat_bit_identically_on_each_device() {
    let s = MaxPoolShape { n: 8, c: 16, h: 33, w: 33, k: 3, stride: 2, pad: 1 };
    let (xs, ys) = ([s.n, s.c, s.h, s.w], [s.n, s.c, s.out_h(), s.out_w()]);
    let x = seeded(xs.iter().product(), 70, 1.0);
    let dy = seeded(ys.iter().product(), 71, 1.0);
    for dev in common::devices() {
        let run = |dev: &Device| {
            let (tx, ty, targ, tdy, tdx) = (dev.from_f32(&xs, &x), dev.zeros(&ys), dev.zeros_u32(&ys), dev.from_f32(&ys, &dy), dev.zeros(&xs));
            max_pool_forward(dev, &s, &tx, &ty, &targ);
            max_pool_backward(dev, &s, &tdy, &targ, &tdx);
            let (tavg, tadx) = (dev.zeros(&[s.n, s.c]), dev.zeros(&xs));
            global_avg_pool_forward(dev, &tx, &tavg);
            global_avg_pool_backward(dev, &tavg, &tadx);
            (tdx.to_vec(), tavg.to_vec(), tadx.to_vec())
        };
        let first = run(&dev);
        for _ in 0..2 {
            assert!(run(&dev) == first, "repeat differs on {}", dev.name());
        }
    }
}

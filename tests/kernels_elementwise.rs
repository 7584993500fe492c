//! Tests: kernels elementwise. Every op on both devices against naive loops written here, WGSL
//! against CPU, backwards by finite differences on both devices, and bit-identical repeats.

use ssdlt::kernels::elementwise::*;
use ssdlt::kernels::{Device, Tensor};

use crate::common::{self, assert_close, numeric_gradient, seeded};

/// Flat sizes: a single element, odd sizes not a multiple of the 256 workgroup, and one above the
/// CPU's parallel threshold with a ragged last chunk.
const FLAT_SHAPES: [&[usize]; 4] = [&[1], &[7, 13], &[3, 5, 11, 17], &[2, 3, 101, 113]];

fn each_device(mut f: impl FnMut(&Device)) {
    for dev in common::devices() {
        f(&dev);
    }
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&a, &b)| a as f64 * b as f64).sum()
}

#[test]
fn flat_ops_match_naive_loops_on_both_devices() {
    each_device(|dev| {
        for (k, shape) in FLAT_SHAPES.iter().enumerate() {
            let len: usize = shape.iter().product();
            let a = seeded(len, 10 + k as u64, 2.0);
            let b = seeded(len, 20 + k as u64, 2.0);
            let (ta, tb, out) = (dev.from_f32(shape, &a), dev.from_f32(shape, &b), dev.zeros(shape));
            let what = |op: &str| format!("{op} {shape:?} on {}", dev.name());

            relu_forward(dev, &ta, &out);
            assert_close(&what("relu_forward"), &out.to_vec(), &a.iter().map(|v| v.max(0.0)).collect::<Vec<_>>(), 0.0);
            relu_backward(dev, &ta, &tb, &out);
            let want: Vec<f32> = a.iter().zip(&b).map(|(&y, &g)| if y > 0.0 { g } else { 0.0 }).collect();
            assert_close(&what("relu_backward"), &out.to_vec(), &want, 0.0);
            add(dev, &ta, &tb, &out);
            assert_close(&what("add"), &out.to_vec(), &a.iter().zip(&b).map(|(a, b)| a + b).collect::<Vec<_>>(), 0.0);
            add_relu(dev, &ta, &tb, &out);
            assert_close(&what("add_relu"), &out.to_vec(), &a.iter().zip(&b).map(|(a, b)| (a + b).max(0.0)).collect::<Vec<_>>(), 0.0);
            scale(dev, &ta, -0.75, &out);
            assert_close(&what("scale"), &out.to_vec(), &a.iter().map(|v| -0.75 * v).collect::<Vec<_>>(), 0.0);
            copy(dev, &tb, &out);
            assert_eq!(out.to_vec(), b, "{}", what("copy"));
            let acc = dev.from_f32(shape, &a);
            add_assign(dev, &acc, &tb);
            add_assign(dev, &acc, &tb);
            assert_close(&what("add_assign"), &acc.to_vec(), &a.iter().zip(&b).map(|(a, b)| a + b + b).collect::<Vec<_>>(), 1e-6);
            fill(dev, &out, 0.625);
            assert!(out.to_vec().iter().all(|&v| v == 0.625), "{}", what("fill"));
        }
    });
}

#[test]
fn flat_ops_write_only_the_elements_of_a_smaller_view() {
    // A scratch-style view over a larger buffer: the tail past the view must stay untouched.
    each_device(|dev| {
        let big = dev.from_f32(&[40], &[9.0; 40]);
        let view = big.reshape(&[3, 5]);
        let src = dev.from_f32(&[15], &seeded(15, 3, 1.0));
        relu_forward(dev, &src, &view);
        fill(dev, &view, -1.0);
        let got = big.to_vec();
        assert!(got[..15].iter().all(|&v| v == -1.0) && got[15..].iter().all(|&v| v == 9.0), "{}: {got:?}", dev.name());
    });
}

#[test]
fn relu_backward_matches_finite_differences_on_both_devices() {
    each_device(|dev| {
        // Inputs at least 0.1 away from the kink so the finite difference never straddles it.
        let x: Vec<f32> = seeded(24, 5, 1.0).iter().map(|v| v.signum() * (0.1 + v.abs())).collect();
        let w = seeded(24, 6, 1.0);
        let (tx, ty, tw, tdx) = (dev.from_f32(&[4, 6], &x), dev.zeros(&[4, 6]), dev.from_f32(&[4, 6], &w), dev.zeros(&[4, 6]));
        relu_forward(dev, &tx, &ty);
        relu_backward(dev, &ty, &tw, &tdx);
        let numeric = numeric_gradient(&x, 1e-2, |x| {
            tx.write(x);
            relu_forward(dev, &tx, &ty);
            dot(&ty.to_vec(), &w)
        });
        assert_close(&format!("relu dx on {}", dev.name()), &tdx.to_vec(), &numeric, 1e-3);
    });
}

/// (x shape, y shape, stride): batch 1, odd sizes, channel padding with and without stride 2.
const SHORTCUTS: [([usize; 4], [usize; 4], usize); 5] = [
    ([1, 3, 5, 7], [1, 3, 5, 7], 1),
    ([2, 3, 5, 7], [2, 7, 3, 4], 2),
    ([2, 4, 6, 6], [2, 8, 6, 6], 1),
    ([1, 5, 9, 9], [1, 5, 3, 3], 3),
    ([3, 16, 32, 32], [3, 32, 16, 16], 2),
];

fn naive_shortcut(xs: [usize; 4], ys: [usize; 4], stride: usize, x: &[f32]) -> Vec<f32> {
    let pad = (ys[1] - xs[1]) / 2;
    let mut y = vec![0f32; ys.iter().product()];
    for n in 0..ys[0] {
        for k in 0..ys[1] {
            for i in 0..ys[2] {
                for j in 0..ys[3] {
                    if k >= pad && k < pad + xs[1] {
                        y[((n * ys[1] + k) * ys[2] + i) * ys[3] + j] = x[((n * xs[1] + k - pad) * xs[2] + i * stride) * xs[3] + j * stride];
                    }
                }
            }
        }
    }
    y
}

#[test]
fn shortcut_a_matches_naive_loops_and_wgsl_matches_cpu() {
    let (cpu, gpu) = (common::cpu(), common::gpu());
    for (k, &(xs, ys, stride)) in SHORTCUTS.iter().enumerate() {
        let x = seeded(xs.iter().product(), 30 + k as u64, 1.0);
        let dy = seeded(ys.iter().product(), 40 + k as u64, 1.0);
        let want = naive_shortcut(xs, ys, stride, &x);
        // The backward is the transpose: dx[i] = sum_o dy[o] * [y[o] reads x[i]].
        // Probing with x[i] = i + 1 tells which input each output reads (0: none).
        let mut want_dx = vec![0f32; x.len()];
        let probe: Vec<f32> = (0..x.len()).map(|i| (i + 1) as f32).collect();
        let reads = naive_shortcut(xs, ys, stride, &probe);
        for (o, &g) in dy.iter().enumerate() {
            if reads[o] != 0.0 {
                want_dx[reads[o] as usize - 1] += g;
            }
        }
        for dev in [&cpu, &gpu] {
            let (tx, ty, tdy, tdx) = (dev.from_f32(&xs, &x), dev.from_f32(&ys, &vec![7.0; dy.len()]), dev.from_f32(&ys, &dy), dev.from_f32(&xs, &vec![7.0; x.len()]));
            shortcut_a_forward(dev, &tx, &ty, stride);
            assert_close(&format!("shortcut forward {xs:?}->{ys:?} on {}", dev.name()), &ty.to_vec(), &want, 0.0);
            shortcut_a_backward(dev, &tdy, &tdx, stride);
            assert_close(&format!("shortcut backward {xs:?}->{ys:?} on {}", dev.name()), &tdx.to_vec(), &want_dx, 0.0);
        }
    }
}

#[test]
fn shortcut_a_backward_matches_finite_differences_on_both_devices() {
    each_device(|dev| {
        let (xs, ys, stride) = ([2usize, 2, 5, 3], [2usize, 4, 3, 2], 2);
        let x = seeded(60, 50, 1.0);
        let w = seeded(48, 51, 1.0);
        let (tx, ty, tw, tdx) = (dev.from_f32(&xs, &x), dev.zeros(&ys), dev.from_f32(&ys, &w), dev.zeros(&xs));
        shortcut_a_backward(dev, &tw, &tdx, stride);
        let numeric = numeric_gradient(&x, 1e-2, |x| {
            tx.write(x);
            shortcut_a_forward(dev, &tx, &ty, stride);
            dot(&ty.to_vec(), &w)
        });
        assert_close(&format!("shortcut dx on {}", dev.name()), &tdx.to_vec(), &numeric, 1e-3);
    });
}

/// Rows of shape [rows, cols]: a single row, odd sizes, more rows than one 64-row workgroup. The
/// first row of each is zero (its norm is below eps: the clamp branch).
const ROWS: [[usize; 2]; 3] = [[1, 5], [7, 33], [130, 128]];

fn naive_l2(x: &[f32], cols: usize, eps: f32) -> Vec<f32> {
    x.chunks(cols)
        .flat_map(|r| {
            let norm = r.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt().max(eps as f64);
            r.iter().map(move |&v| (v as f64 / norm) as f32)
        })
        .collect()
}

fn naive_l2_backward(x: &[f32], dy: &[f32], cols: usize, eps: f32) -> Vec<f32> {
    let mut dx = Vec::with_capacity(x.len());
    for (r, g) in x.chunks(cols).zip(dy.chunks(cols)) {
        let norm = r.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt();
        if norm >= eps as f64 {
            let ydy: f64 = r.iter().zip(g).map(|(&v, &g)| v as f64 / norm * g as f64).sum();
            dx.extend(r.iter().zip(g).map(|(&v, &g)| ((g as f64 - v as f64 / norm * ydy) / norm) as f32));
        } else {
            dx.extend(g.iter().map(|&g| (g as f64 / eps as f64) as f32));
        }
    }
    dx
}

#[test]
fn l2_normalize_matches_naive_loops_and_wgsl_matches_cpu() {
    let eps = 1e-12;
    for (k, &[rows, cols]) in ROWS.iter().enumerate() {
        let mut x = seeded(rows * cols, 60 + k as u64, 1.0);
        x[..cols].fill(0.0);
        let dy = seeded(rows * cols, 70 + k as u64, 1.0);
        let want_y = naive_l2(&x, cols, eps);
        let want_dx = naive_l2_backward(&x, &dy, cols, eps);
        let mut results = Vec::new();
        for dev in common::devices() {
            let (tx, ty, tdy, tdx) = (dev.from_f32(&[rows, cols], &x), dev.zeros(&[rows, cols]), dev.from_f32(&[rows, cols], &dy), dev.zeros(&[rows, cols]));
            l2_normalize_forward(&dev, &tx, eps, &ty);
            l2_normalize_backward(&dev, &tx, &ty, &tdy, eps, &tdx);
            let (y, dx) = (ty.to_vec(), tdx.to_vec());
            // Rows other than the zero row (whose dx is dy / 1e-12) judged on their own scale.
            assert_close(&format!("l2 y [{rows},{cols}] on {}", dev.name()), &y, &want_y, 1e-5);
            assert_close(&format!("l2 dx zero row [{rows},{cols}] on {}", dev.name()), &dx[..cols], &want_dx[..cols], 1e-6);
            assert_close(&format!("l2 dx [{rows},{cols}] on {}", dev.name()), &dx[cols..], &want_dx[cols..], 1e-5);
            results.push((y, dx));
        }
        assert_close("l2 y wgsl vs cpu", &results[1].0, &results[0].0, 1e-4);
        assert_close("l2 dx wgsl vs cpu", &results[1].1[cols..], &results[0].1[cols..], 1e-4);
    }
}

#[test]
fn l2_normalize_backward_matches_finite_differences_on_both_devices() {
    each_device(|dev| {
        let (rows, cols) = (3, 7);
        let x = seeded(rows * cols, 80, 1.0);
        let w = seeded(rows * cols, 81, 1.0);
        let (tx, ty, tw, tdx) = (dev.from_f32(&[rows, cols], &x), dev.zeros(&[rows, cols]), dev.from_f32(&[rows, cols], &w), dev.zeros(&[rows, cols]));
        l2_normalize_forward(dev, &tx, 1e-12, &ty);
        l2_normalize_backward(dev, &tx, &ty, &tw, 1e-12, &tdx);
        let analytic = tdx.to_vec();
        let numeric = numeric_gradient(&x, 1e-3, |x| {
            tx.write(x);
            l2_normalize_forward(dev, &tx, 1e-12, &ty);
            dot(&ty.to_vec(), &w)
        });
        assert_close(&format!("l2 dx on {}", dev.name()), &analytic, &numeric, 1e-2);
    });
}

/// [N, C]: batch 1, odd class counts, more classes than one 64-wide workgroup and than one CPU column block.
const LOGITS: [[usize; 2]; 4] = [[1, 10], [5, 7], [33, 100], [9, 300]];

#[test]
fn class_scale_matches_naive_loops_and_wgsl_matches_cpu() {
    for (k, &[n, c]) in LOGITS.iter().enumerate() {
        let logits = seeded(n * c, 90 + k as u64, 3.0);
        let scales = seeded(c, 100 + k as u64, 2.0);
        let dy = seeded(n * c, 110 + k as u64, 1.0);
        let want_y: Vec<f32> = (0..n * c).map(|i| logits[i] * scales[i % c]).collect();
        let want_dl: Vec<f32> = (0..n * c).map(|i| dy[i] * scales[i % c]).collect();
        let want_ds: Vec<f32> = (0..c).map(|j| (0..n).map(|r| dy[r * c + j] as f64 * logits[r * c + j] as f64).sum::<f64>() as f32).collect();
        let mut results = Vec::new();
        for dev in common::devices() {
            let (tl, ts, tdy) = (dev.from_f32(&[n, c], &logits), dev.from_f32(&[c], &scales), dev.from_f32(&[n, c], &dy));
            let (ty, tdl, tds) = (dev.zeros(&[n, c]), dev.zeros(&[n, c]), dev.from_f32(&[c], &vec![5.0; c]));
            class_scale_forward(&dev, &tl, &ts, &ty);
            class_scale_backward(&dev, &tl, &ts, &tdy, Some(&tdl), &tds);
            let what = |op: &str| format!("{op} [{n},{c}] on {}", dev.name());
            assert_close(&what("class_scale y"), &ty.to_vec(), &want_y, 0.0);
            assert_close(&what("class_scale dlogits"), &tdl.to_vec(), &want_dl, 0.0);
            assert_close(&what("class_scale dscales"), &tds.to_vec(), &want_ds, 1e-5);
            // Without dlogits only dscales is written.
            let tds2 = dev.zeros(&[c]);
            class_scale_backward(&dev, &tl, &ts, &tdy, None, &tds2);
            assert_eq!(tds2.to_vec(), tds.to_vec(), "{}", what("dscales without dlogits"));
            results.push(tds.to_vec());
        }
        assert_close("dscales wgsl vs cpu", &results[1], &results[0], 1e-4);
    }
}

#[test]
fn class_scale_backward_matches_finite_differences_on_both_devices() {
    each_device(|dev| {
        let (n, c) = (4, 5);
        let logits = seeded(n * c, 120, 2.0);
        let scales = seeded(c, 121, 2.0);
        let w = seeded(n * c, 122, 1.0);
        let (tl, ts, tw, ty) = (dev.from_f32(&[n, c], &logits), dev.from_f32(&[c], &scales), dev.from_f32(&[n, c], &w), dev.zeros(&[n, c]));
        let (tdl, tds) = (dev.zeros(&[n, c]), dev.zeros(&[c]));
        class_scale_backward(dev, &tl, &ts, &tw, Some(&tdl), &tds);
        let (dl, ds) = (tdl.to_vec(), tds.to_vec());
        let loss = |l: &[f32], s: &[f32]| {
            tl.write(l);
            ts.write(s);
            class_scale_forward(dev, &tl, &ts, &ty);
            dot(&ty.to_vec(), &w)
        };
        let num_dl = numeric_gradient(&logits, 1e-2, |l| loss(l, &scales));
        let num_ds = numeric_gradient(&scales, 1e-2, |s| loss(&logits, s));
        assert_close(&format!("dlogits on {}", dev.name()), &dl, &num_dl, 1e-3);
        assert_close(&format!("dscales on {}", dev.name()), &ds, &num_ds, 1e-3);
    });
}

#[test]
fn reductions_repeat_bit_identically_on_each_device() {
    each_device(|dev| {
        let (n, c) = (257, 300);
        let a = dev.from_f32(&[n, c], &seeded(n * c, 130, 1.0));
        let b = dev.from_f32(&[n, c], &seeded(n * c, 131, 1.0));
        let s = dev.from_f32(&[c], &seeded(c, 132, 1.0));
        let run = || -> Vec<Vec<f32>> {
            let (ds, y, dx) = (dev.zeros(&[c]), dev.zeros(&[n, c]), dev.zeros(&[n, c]));
            class_scale_backward(dev, &a, &s, &b, None, &ds);
            l2_normalize_forward(dev, &a, 1e-12, &y);
            l2_normalize_backward(dev, &a, &y, &b, 1e-12, &dx);
            vec![ds.to_vec(), y.to_vec(), dx.to_vec()]
        };
        let first = run();
        for _ in 0..3 {
            assert!(run() == first, "repeat differs on {}", dev.name());
        }
    });
}

#[test]
fn shapes_that_do_not_fit_are_refused() {
    let dev = common::cpu();
    let x = dev.zeros(&[2, 3, 5, 5]);
    let bad = dev.zeros(&[2, 6, 3, 3]); // 6 - 3 is odd: no symmetric channel padding
    assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| shortcut_a_forward(&dev, &x, &bad, 2))).is_err());
    let short: Tensor = dev.zeros(&[10]);
    assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| add(&dev, &short, &x, &x.reshape(&[150])))).is_err());
}

//! Tests: kernels losses. Cross-entropy (plain and logit-adjusted), KL distillation from dense and
//! top-k targets, and the temperature softmax, each checked against naive f64 loops, WGSL against
//! the CPU twin on awkward shapes, gradients by finite differences on both devices, and repeat runs
//! for bit-identical results.

use ssdlt::kernels::losses::{kl_distill_dense, kl_distill_topk, softmax_cross_entropy, softmax_with_temperature};
use ssdlt::kernels::Device;

use crate::common::{self, assert_close};

/// The test harness shares one wgpu device across test threads, and these ops use device scratch
/// slots ("losses-rows", "moco-rows", ...) that two threads must not record into at once (a
/// training loop runs its ops in order on one thread); readbacks of equal-sized buffers from two
/// threads also collide on the context's cached staging buffer. The tests of losses, contrastive
/// and optim therefore take turns.
pub(crate) fn take_turns() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// (rows, classes): batch 1, odd class counts, rows past one 64-wide workgroup.
const SHAPES: [(usize, usize); 4] = [(1, 1000), (7, 13), (65, 101), (3, 1)];

struct CeOut {
    loss: f32,
    dlogits: Vec<f32>,
    correct: u32,
}

fn ce_on(dev: &Device, n: usize, c: usize, logits: &[f32], labels: &[u32], adjust: Option<&[f32]>, weight: f32) -> CeOut {
    let x = dev.from_f32(&[n, c], logits);
    let y = dev.from_u32(&[n], labels);
    let a = adjust.map(|a| dev.from_f32(&[c], a));
    let loss = dev.zeros(&[1]);
    let dl = dev.zeros(&[n, c]);
    let correct = dev.zeros_u32(&[1]);
    softmax_cross_entropy(dev, &x, &y, a.as_ref(), weight, &loss, &dl, &correct);
    CeOut { loss: loss.to_vec()[0], dlogits: dl.to_vec(), correct: correct.to_vec_u32()[0] }
}

/// log Σ exp(z) in f64, the obvious way with the max subtracted.
fn lse(z: &[f64]) -> f64 {
    let m = z.iter().cloned().fold(f64::MIN, f64::max);
    m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
}

fn naive_ce(n: usize, c: usize, logits: &[f32], labels: &[u32], adjust: Option<&[f32]>, weight: f32) -> (f64, Vec<f64>, u32) {
    let mut loss = 0.0;
    let mut grad = vec![0.0; n * c];
    let mut correct = 0;
    for i in 0..n {
        let row = &logits[i * c..(i + 1) * c];
        let z: Vec<f64> = (0..c).map(|j| row[j] as f64 + adjust.map_or(0.0, |a| a[j] as f64)).collect();
        let l = lse(&z);
        let y = labels[i] as usize;
        loss += l - z[y];
        for j in 0..c {
            grad[i * c + j] = weight as f64 * ((z[j] - l).exp() - if j == y { 1.0 } else { 0.0 }) / n as f64;
        }
        let mut best = 0;
        for j in 1..c {
            if row[j] > row[best] {
                best = j;
            }
        }
        correct += (best == y) as u32;
    }
    (weight as f64 * loss / n as f64, grad, correct)
}

fn f32s(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

fn ce_case(n: usize, c: usize, seed: u64) -> (Vec<f32>, Vec<u32>, Vec<f32>) {
    let logits = common::seeded(n * c, seed, 4.0);
    let labels = common::seeded_labels(n, c as u32, seed + 1);
    let adjust: Vec<f32> = common::seeded(c, seed + 2, 2.0);
    (logits, labels, adjust)
}

#[test]
fn cross_entropy_on_cpu_matches_naive_loops_with_and_without_logit_adjustment() {
    let _turn = take_turns();
    let dev = common::cpu();
    for (s, &(n, c)) in SHAPES.iter().enumerate() {
        let (logits, labels, adjust) = ce_case(n, c, 10 + s as u64);
        for adj in [None, Some(&adjust[..])] {
            let got = ce_on(&dev, n, c, &logits, &labels, adj, 0.7);
            let (loss, grad, correct) = naive_ce(n, c, &logits, &labels, adj, 0.7);
            assert_close(&format!("ce loss {n}x{c} adjust={}", adj.is_some()), &[got.loss], &[loss as f32], 1e-5);
            assert_close(&format!("ce dlogits {n}x{c}"), &got.dlogits, &f32s(&grad), 1e-5);
            assert_eq!(got.correct, correct, "correct count {n}x{c}");
        }
    }
}

#[test]
fn cross_entropy_on_wgpu_matches_cpu_on_awkward_shapes() {
    let _turn = take_turns();
    let (cpu, gpu) = (common::cpu(), common::gpu());
    for (s, &(n, c)) in SHAPES.iter().enumerate() {
        let (logits, labels, adjust) = ce_case(n, c, 20 + s as u64);
        for adj in [None, Some(&adjust[..])] {
            let want = ce_on(&cpu, n, c, &logits, &labels, adj, 1.3);
            let got = ce_on(&gpu, n, c, &logits, &labels, adj, 1.3);
            assert_close(&format!("ce loss {n}x{c}"), &[got.loss], &[want.loss], 1e-4);
            assert_close(&format!("ce dlogits {n}x{c}"), &got.dlogits, &want.dlogits, 1e-4);
            assert_eq!(got.correct, want.correct, "correct count {n}x{c}");
        }
    }
}

#[test]
fn cross_entropy_gradient_matches_finite_differences_on_both_devices() {
    let _turn = take_turns();
    let (n, c) = (3, 5);
    let (logits, labels, adjust) = ce_case(n, c, 30);
    for dev in common::devices() {
        let got = ce_on(&dev, n, c, &logits, &labels, Some(&adjust), 0.8).dlogits;
        let numeric = common::numeric_gradient(&logits, 1e-2, |x| ce_on(&dev, n, c, x, &labels, Some(&adjust), 0.8).loss as f64);
        assert_close(&format!("ce gradient on {}", dev.name()), &got, &numeric, 2e-3);
    }
}

#[test]
fn cross_entropy_stays_finite_for_huge_logits_and_counts_argmax_of_unadjusted_logits() {
    let _turn = take_turns();
    // Row 0: huge logits (a naive exp overflows); the adjustment moves the softmax's argmax to
    // class 2 but the correct count is taken on the raw logits, whose argmax is class 0 = label.
    let logits = [3.0e4, 1.0e4, 2.9e4, -1.0, 0.0, 1.0];
    let adjust = [0.0, 0.0, 2.0e3];
    for dev in common::devices() {
        let got = ce_on(&dev, 2, 3, &logits, &[0, 1], Some(&adjust), 1.0);
        assert!(got.loss.is_finite() && got.dlogits.iter().all(|v| v.is_finite()), "{}", dev.name());
        assert_eq!(got.correct, 1, "{}", dev.name());
        let (want, _, _) = naive_ce(2, 3, &logits, &[0, 1], Some(&adjust), 1.0);
        assert_close("huge-logit loss", &[got.loss], &[want as f32], 1e-5);
    }
}

#[test]
fn cross_entropy_ignores_rows_whose_label_is_out_of_range() {
    let _turn = take_turns();
    let logits = common::seeded(2 * 4, 31, 1.0);
    for dev in common::devices() {
        let both = ce_on(&dev, 2, 4, &logits, &[1, u32::MAX], None, 1.0);
        let first = ce_on(&dev, 1, 4, &logits[..4], &[1], None, 1.0);
        assert_close("loss of the labelled row, halved", &[both.loss], &[first.loss / 2.0], 1e-6);
        assert!(both.dlogits[4..].iter().all(|&g| g == 0.0), "ignored row has a gradient on {}", dev.name());
    }
}

// ---------------------------------------------------------------------------------------------
// KL distillation

fn softmax_t(row: &[f32], t: f32) -> Vec<f64> {
    let z: Vec<f64> = row.iter().map(|&v| v as f64 / t as f64).collect();
    let l = lse(&z);
    z.iter().map(|v| (v - l).exp()).collect()
}

/// T² · mean KL(p || softmax(s/T)) · weight and its gradient, p given per row as (class, prob).
fn naive_kd(n: usize, c: usize, student: &[f32], teacher: &[Vec<(usize, f32)>], t: f32, weight: f32) -> (f64, Vec<f64>) {
    let (t64, w64) = (t as f64, weight as f64);
    let mut loss = 0.0;
    let mut grad = vec![0.0; n * c];
    for i in 0..n {
        let q = softmax_t(&student[i * c..(i + 1) * c], t);
        let mut p = vec![0.0f64; c];
        for &(id, pv) in &teacher[i] {
            if pv > 0.0 {
                p[id] += pv as f64;
            }
        }
        let mass: f64 = p.iter().sum();
        for j in 0..c {
            if p[j] > 0.0 {
                loss += p[j] * (p[j].ln() - q[j].ln());
            }
            grad[i * c + j] = w64 * t64 * (mass * q[j] - p[j]) / n as f64;
        }
    }
    (w64 * t64 * t64 * loss / n as f64, grad)
}

fn kd_dense_on(dev: &Device, n: usize, c: usize, student: &[f32], teacher: &[f32], t: f32, weight: f32) -> (f32, Vec<f32>) {
    let s = dev.from_f32(&[n, c], student);
    let p = dev.from_f32(&[n, c], teacher);
    let loss = dev.zeros(&[1]);
    let dl = dev.zeros(&[n, c]);
    kl_distill_dense(dev, &s, &p, t, weight, &loss, &dl);
    (loss.to_vec()[0], dl.to_vec())
}

#[allow(clippy::too_many_arguments)]
fn kd_topk_on(dev: &Device, n: usize, c: usize, k: usize, student: &[f32], ids: &[u32], probs: &[f32], t: f32, weight: f32) -> (f32, Vec<f32>) {
    let s = dev.from_f32(&[n, c], student);
    let ids = dev.from_u32(&[n, k], ids);
    let probs = dev.from_f32(&[n, k], probs);
    let loss = dev.zeros(&[1]);
    let dl = dev.zeros(&[n, c]);
    kl_distill_topk(dev, &s, &ids, &probs, t, weight, &loss, &dl);
    (loss.to_vec()[0], dl.to_vec())
}

/// Teacher probabilities at temperature t from seeded teacher logits (f32, as a cache stores them).
fn dense_teacher(n: usize, c: usize, t: f32, seed: u64) -> Vec<f32> {
    let logits = common::seeded(n * c, seed, 5.0);
    (0..n).flat_map(|i| softmax_t(&logits[i * c..(i + 1) * c], t)).map(|v| v as f32).collect()
}

/// Top-k of a dense teacher, renormalised, with the last kept entry zeroed in odd rows (the
/// "ignore p = 0" case) — ids [N, K], probs [N, K].
fn topk_teacher(n: usize, c: usize, k: usize, t: f32, seed: u64) -> (Vec<u32>, Vec<f32>) {
    let dense = dense_teacher(n, c, t, seed);
    let (mut ids, mut probs) = (Vec::new(), Vec::new());
    for i in 0..n {
        let row = &dense[i * c..(i + 1) * c];
        let mut order: Vec<usize> = (0..c).collect();
        order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
        let kept = &order[..k];
        let mass: f32 = kept.iter().map(|&j| row[j]).sum();
        for (r, &j) in kept.iter().enumerate() {
            ids.push(j as u32);
            probs.push(if i % 2 == 1 && r == k - 1 && k > 1 { 0.0 } else { row[j] / mass });
        }
    }
    (ids, probs)
}

fn dense_rows(n: usize, c: usize, teacher: &[f32]) -> Vec<Vec<(usize, f32)>> {
    (0..n).map(|i| (0..c).map(|j| (j, teacher[i * c + j])).collect()).collect()
}

fn topk_rows(n: usize, k: usize, ids: &[u32], probs: &[f32]) -> Vec<Vec<(usize, f32)>> {
    (0..n).map(|i| (0..k).map(|j| (ids[i * k + j] as usize, probs[i * k + j])).collect()).collect()
}

#[test]
fn kl_distillation_on_cpu_matches_naive_loops_for_dense_and_top_k_targets() {
    let _turn = take_turns();
    let dev = common::cpu();
    for (s, &(n, c)) in SHAPES.iter().enumerate() {
        let (t, w) = (2.0 + s as f32, 0.9);
        let student = common::seeded(n * c, 40 + s as u64, 3.0);
        let teacher = dense_teacher(n, c, t, 50 + s as u64);
        let (loss, grad) = kd_dense_on(&dev, n, c, &student, &teacher, t, w);
        let (wl, wg) = naive_kd(n, c, &student, &dense_rows(n, c, &teacher), t, w);
        assert_close(&format!("kd dense loss {n}x{c}"), &[loss], &[wl as f32], 1e-4);
        assert_close(&format!("kd dense grad {n}x{c}"), &grad, &f32s(&wg), 1e-5);

        let k = c.min(5);
        let (ids, probs) = topk_teacher(n, c, k, t, 60 + s as u64);
        let (loss, grad) = kd_topk_on(&dev, n, c, k, &student, &ids, &probs, t, w);
        let (wl, wg) = naive_kd(n, c, &student, &topk_rows(n, k, &ids, &probs), t, w);
        assert_close(&format!("kd top-k loss {n}x{c}"), &[loss], &[wl as f32], 1e-4);
        assert_close(&format!("kd top-k grad {n}x{c}"), &grad, &f32s(&wg), 1e-5);
    }
}

#[test]
fn kl_distillation_on_wgpu_matches_cpu_on_awkward_shapes() {
    let _turn = take_turns();
    let (cpu, gpu) = (common::cpu(), common::gpu());
    for (s, &(n, c)) in SHAPES.iter().enumerate() {
        let (t, w) = (4.0, 1.7);
        let student = common::seeded(n * c, 70 + s as u64, 3.0);
        let teacher = dense_teacher(n, c, t, 80 + s as u64);
        let want = kd_dense_on(&cpu, n, c, &student, &teacher, t, w);
        let got = kd_dense_on(&gpu, n, c, &student, &teacher, t, w);
        assert_close(&format!("kd dense loss {n}x{c}"), &[got.0], &[want.0], 1e-4);
        assert_close(&format!("kd dense grad {n}x{c}"), &got.1, &want.1, 1e-4);

        let k = c.min(7);
        let (ids, probs) = topk_teacher(n, c, k, t, 90 + s as u64);
        let want = kd_topk_on(&cpu, n, c, k, &student, &ids, &probs, t, w);
        let got = kd_topk_on(&gpu, n, c, k, &student, &ids, &probs, t, w);
        assert_close(&format!("kd top-k loss {n}x{c}"), &[got.0], &[want.0], 1e-4);
        assert_close(&format!("kd top-k grad {n}x{c}"), &got.1, &want.1, 1e-4);
    }
}

#[test]
fn kl_distillation_gradients_match_finite_differences_on_both_devices() {
    let _turn = take_turns();
    let (n, c, k, t, w) = (3, 6, 3, 2.0, 0.6);
    let student = common::seeded(n * c, 100, 2.0);
    let teacher = dense_teacher(n, c, t, 101);
    let (ids, probs) = topk_teacher(n, c, k, t, 102);
    for dev in common::devices() {
        let got = kd_dense_on(&dev, n, c, &student, &teacher, t, w).1;
        let numeric = common::numeric_gradient(&student, 1e-2, |x| kd_dense_on(&dev, n, c, x, &teacher, t, w).0 as f64);
        assert_close(&format!("kd dense gradient on {}", dev.name()), &got, &numeric, 3e-3);
        let got = kd_topk_on(&dev, n, c, k, &student, &ids, &probs, t, w).1;
        let numeric = common::numeric_gradient(&student, 1e-2, |x| kd_topk_on(&dev, n, c, k, x, &ids, &probs, t, w).0 as f64);
        assert_close(&format!("kd top-k gradient on {}", dev.name()), &got, &numeric, 3e-3);
    }
}

#[test]
fn kl_distillation_is_zero_with_zero_gradient_when_the_student_equals_the_teacher() {
    let _turn = take_turns();
    let (n, c, t) = (5, 37, 3.0);
    let logits = common::seeded(n * c, 110, 6.0);
    for dev in common::devices() {
        let x = dev.from_f32(&[n, c], &logits);
        let p = dev.zeros(&[n, c]);
        softmax_with_temperature(&dev, &x, t, &p);
        let loss = dev.zeros(&[1]);
        let dl = dev.zeros(&[n, c]);
        kl_distill_dense(&dev, &x, &p, t, 1.0, &loss, &dl);
        let loss = loss.to_vec()[0];
        assert!(loss.abs() < 1e-5, "loss {loss} on {}", dev.name());
        let worst = dl.to_vec().iter().fold(0f32, |m, g| m.max(g.abs()));
        assert!(worst < 1e-6, "gradient {worst} on {}", dev.name());
    }
}

#[test]
fn kl_distillation_from_all_classes_as_top_k_equals_the_dense_loss() {
    let _turn = take_turns();
    let (n, c, t) = (4, 9, 2.0);
    let student = common::seeded(n * c, 120, 2.0);
    let teacher = dense_teacher(n, c, t, 121);
    // Ids in reverse order, to show the order of the top-k entries does not matter.
    let ids: Vec<u32> = (0..n).flat_map(|_| (0..c as u32).rev()).collect();
    let probs: Vec<f32> = (0..n).flat_map(|i| (0..c).rev().map(move |j| (i, j))).map(|(i, j)| teacher[i * c + j]).collect();
    for dev in common::devices() {
        let dense = kd_dense_on(&dev, n, c, &student, &teacher, t, 1.0);
        let topk = kd_topk_on(&dev, n, c, c, &student, &ids, &probs, t, 1.0);
        assert_close("loss", &[topk.0], &[dense.0], 1e-5);
        assert_close("grad", &topk.1, &dense.1, 1e-5);
    }
}

#[test]
fn softmax_with_temperature_matches_naive_loops_on_both_devices() {
    let _turn = take_turns();
    for (s, &(n, c)) in SHAPES.iter().enumerate() {
        let logits = common::seeded(n * c, 130 + s as u64, 20.0);
        let want: Vec<f32> = (0..n).flat_map(|i| softmax_t(&logits[i * c..(i + 1) * c], 1.5)).map(|v| v as f32).collect();
        for dev in common::devices() {
            let x = dev.from_f32(&[n, c], &logits);
            let p = dev.zeros(&[n, c]);
            softmax_with_temperature(&dev, &x, 1.5, &p);
            assert_close(&format!("softmax {n}x{c} on {}", dev.name()), &p.to_vec(), &want, 1e-5);
        }
    }
}

#[test]
fn losses_repeat_bit_identically_on_each_device() {
    let _turn = take_turns();
    let (n, c, k) = (65, 101, 5);
    let (logits, labels, adjust) = ce_case(n, c, 140);
    let teacher = dense_teacher(n, c, 2.0, 141);
    let (ids, probs) = topk_teacher(n, c, k, 2.0, 142);
    for dev in common::devices() {
        let run = || {
            let ce = ce_on(&dev, n, c, &logits, &labels, Some(&adjust), 1.0);
            let kd = kd_dense_on(&dev, n, c, &logits, &teacher, 2.0, 1.0);
            let kt = kd_topk_on(&dev, n, c, k, &logits, &ids, &probs, 2.0, 1.0);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            (bits(&[ce.loss, kd.0, kt.0]), bits(&ce.dlogits), bits(&kd.1), bits(&kt.1), ce.correct)
        };
        assert!(run() == run(), "two runs differ on {}", dev.name());
    }
}

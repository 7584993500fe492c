//! Tests: kernels contrastive. The MoCo loss against masked logits built explicitly and a plain
//! cross-entropy over them (f64), WGSL against the CPU twin on awkward shapes, dq by finite
//! differences on both devices, the on-device queue update (pointer wrap, N > K), and repeat runs
//! for bit-identical results.

use std::time::Instant;

use ssdlt::kernels::contrastive::{moco_enqueue, moco_loss, MocoShape};
use ssdlt::kernels::Device;

use crate::common::{self, assert_close};
use crate::kernels_losses::take_turns;


struct Case {
    s: MocoShape,
    q: Vec<f32>,
    k: Vec<f32>,
    queue: Vec<f32>,
    queue_labels: Vec<u32>,
    labels: Vec<u32>,
}

fn normalized(rows: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut v = common::seeded(rows * dim, seed, 1.0);
    for r in v.chunks_mut(dim) {
        let norm = r.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
        r.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// Seeded unit vectors; labels in [0, classes); every fifth queue slot unlabelled (u32::MAX).
fn case(n: usize, dim: usize, queue_len: usize, classes: u32, seed: u64) -> Case {
    let mut queue_labels = common::seeded_labels(queue_len, classes, seed + 3);
    for (j, l) in queue_labels.iter_mut().enumerate() {
        if j % 5 == 4 {
            *l = u32::MAX;
        }
    }
    Case {
        s: MocoShape { n, dim, queue_len },
        q: normalized(n, dim, seed),
        k: normalized(n, dim, seed + 1),
        queue: normalized(queue_len, dim, seed + 2),
        queue_labels,
        labels: common::seeded_labels(n, classes, seed + 4),
    }
}

/// (loss, dq, probabilities left in `logits`) of one moco_loss call on `dev`.
fn moco_on(dev: &Device, c: &Case, q: &[f32], t: f32, mask: bool, weight: f32) -> (f32, Vec<f32>, Vec<f32>) {
    let MocoShape { n, dim, queue_len } = c.s;
    let qt = dev.from_f32(&[n, dim], q);
    let kt = dev.from_f32(&[n, dim], &c.k);
    let queue = dev.from_f32(&[queue_len, dim], &c.queue);
    let ql = dev.from_u32(&[queue_len], &c.queue_labels);
    let y = dev.from_u32(&[n], &c.labels);
    let logits = dev.zeros(&[n, queue_len + 1]);
    let loss = dev.zeros(&[1]);
    let dq = dev.zeros(&[n, dim]);
    moco_loss(dev, &c.s, &qt, &kt, &queue, &ql, &y, t, mask, weight, &logits, &loss, &dq);
    (loss.to_vec()[0], dq.to_vec(), logits.to_vec())
}

/// The obvious way: build each row's logits [pos, kept negatives...] explicitly, cross-entropy
/// with target 0 in f64, and dq = w/(N T) Σ_j (softmax_j − [j = 0]) key_j.
fn naive_moco(c: &Case, t: f32, mask: bool, weight: f32) -> (f64, Vec<f64>) {
    let MocoShape { n, dim, queue_len } = c.s;
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum::<f64>();
    let mut loss = 0.0;
    let mut dq = vec![0.0; n * dim];
    for i in 0..n {
        let qi = &c.q[i * dim..(i + 1) * dim];
        let mut keys: Vec<&[f32]> = vec![&c.k[i * dim..(i + 1) * dim]];
        for j in 0..queue_len {
            let same = c.queue_labels[j] != u32::MAX && c.queue_labels[j] == c.labels[i];
            if !(mask && same) {
                keys.push(&c.queue[j * dim..(j + 1) * dim]);
            }
        }
        let logits: Vec<f64> = keys.iter().map(|k| dot(qi, k) / t as f64).collect();
        let m = logits.iter().cloned().fold(f64::MIN, f64::max);
        let lse = m + logits.iter().map(|l| (l - m).exp()).sum::<f64>().ln();
        loss += lse - logits[0];
        for (j, key) in keys.iter().enumerate() {
            let coef = (logits[j] - lse).exp() - if j == 0 { 1.0 } else { 0.0 };
            for x in 0..dim {
                dq[i * dim + x] += weight as f64 * coef * key[x] as f64 / (n as f64 * t as f64);
            }
        }
    }
    (weight as f64 * loss / n as f64, dq)
}

fn f32s(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

/// Batch 1; K not a multiple of the 8-key block; odd dim; rows past a 4-row block and a workgroup.
fn shapes() -> Vec<(usize, usize, usize)> {
    vec![(1, 8, 5), (6, 13, 37), (67, 20, 301)]
}

#[test]
fn moco_loss_on_cpu_matches_explicitly_masked_logits_and_cross_entropy() {
    let _turn = take_turns();
    let dev = common::cpu();
    for (i, (n, dim, queue_len)) in shapes().into_iter().enumerate() {
        let c = case(n, dim, queue_len, 4, 10 * i as u64);
        for mask in [false, true] {
            let (loss, dq, _) = moco_on(&dev, &c, &c.q, 0.2, mask, 0.5);
            let (wl, wdq) = naive_moco(&c, 0.2, mask, 0.5);
            let what = format!("{n}x{dim} K={queue_len} mask={mask}");
            assert_close(&format!("loss {what}"), &[loss], &[wl as f32], 1e-5);
            assert_close(&format!("dq {what}"), &dq, &f32s(&wdq), 1e-5);
        }
    }
}

#[test]
fn moco_loss_on_wgpu_matches_cpu_on_awkward_shapes() {
    let _turn = take_turns();
    let (cpu, gpu) = (common::cpu(), common::gpu());
    for (i, (n, dim, queue_len)) in shapes().into_iter().enumerate() {
        let c = case(n, dim, queue_len, 3, 100 + i as u64);
        for mask in [false, true] {
            let want = moco_on(&cpu, &c, &c.q, 0.07, mask, 1.0);
            let got = moco_on(&gpu, &c, &c.q, 0.07, mask, 1.0);
            let what = format!("{n}x{dim} K={queue_len} mask={mask}");
            assert_close(&format!("loss {what}"), &[got.0], &[want.0], 1e-4);
            assert_close(&format!("dq {what}"), &got.1, &want.1, 1e-4);
            assert_close(&format!("probabilities {what}"), &got.2, &want.2, 1e-4);
        }
    }
}

#[test]
fn moco_loss_at_full_size_on_wgpu_matches_cpu_and_reports_its_speed() {
    let _turn = take_turns();
    let (cpu, gpu) = (common::cpu(), common::gpu());
    let c = case(128, 128, 4096, 10, 200);
    let want = moco_on(&cpu, &c, &c.q, 0.07, true, 1.0);
    let got = moco_on(&gpu, &c, &c.q, 0.07, true, 1.0);
    assert_close("loss", &[got.0], &[want.0], 1e-4);
    assert_close("dq", &got.1, &want.1, 1e-4);
    // Timing of the loss alone (inputs resident), for the report.
    for dev in [&cpu, &gpu] {
        let MocoShape { n, dim, queue_len } = c.s;
        let q = dev.from_f32(&[n, dim], &c.q);
        let k = dev.from_f32(&[n, dim], &c.k);
        let queue = dev.from_f32(&[queue_len, dim], &c.queue);
        let ql = dev.from_u32(&[queue_len], &c.queue_labels);
        let y = dev.from_u32(&[n], &c.labels);
        let logits = dev.zeros(&[n, queue_len + 1]);
        let loss = dev.zeros(&[1]);
        let dq = dev.zeros(&[n, dim]);
        moco_loss(dev, &c.s, &q, &k, &queue, &ql, &y, 0.07, true, 1.0, &logits, &loss, &dq);
        dev.wait();
        let reps = 3;
        let start = Instant::now();
        for _ in 0..reps {
            moco_loss(dev, &c.s, &q, &k, &queue, &ql, &y, 0.07, true, 1.0, &logits, &loss, &dq);
        }
        dev.wait();
        let ms = start.elapsed().as_secs_f64() * 1e3 / reps as f64;
        let gflops = 4.0 * (n * dim * queue_len) as f64 / (ms * 1e6);
        eprintln!("moco_loss N=128 D=128 K=4096 on {}: {ms:.2} ms ({gflops:.1} GFLOP/s in the two products)", dev.name());
    }
}

#[test]
fn moco_dq_matches_finite_differences_on_both_devices() {
    let _turn = take_turns();
    let c = case(3, 4, 6, 2, 300);
    for dev in common::devices() {
        for mask in [false, true] {
            let (_, dq, _) = moco_on(&dev, &c, &c.q, 0.5, mask, 0.7);
            let numeric = common::numeric_gradient(&c.q, 1e-2, |q| moco_on(&dev, &c, q, 0.5, mask, 0.7).0 as f64);
            assert_close(&format!("dq mask={mask} on {}", dev.name()), &dq, &numeric, 2e-3);
        }
    }
}

#[test]
fn same_class_negatives_get_zero_probability_and_unlabelled_slots_never_match() {
    let _turn = take_turns();
    let mut c = case(2, 4, 6, 2, 400);
    c.labels = vec![0, u32::MAX];
    c.queue_labels = vec![0, 1, u32::MAX, 0, 1, u32::MAX];
    for dev in common::devices() {
        let (_, _, probs) = moco_on(&dev, &c, &c.q, 0.3, true, 1.0);
        // Row 0 (label 0): negatives 0 and 3 masked. Row 1 (label u32::MAX): nothing masked.
        for (j, p) in probs[..7].iter().enumerate() {
            assert_eq!(*p == 0.0, j == 1 || j == 4, "row 0, logit {j}: p = {p} on {}", dev.name());
        }
        assert!(probs[7..].iter().all(|&p| p > 0.0), "row 1 lost a negative on {}", dev.name());
        let total: f32 = probs[..7].iter().sum();
        assert!((total - 1.0).abs() < 1e-5, "row 0 sums to {total}");
    }
}

#[test]
fn moco_loss_repeats_bit_identically_on_each_device() {
    let _turn = take_turns();
    let c = case(67, 20, 301, 3, 500);
    for dev in common::devices() {
        let bits = |(l, dq, p): (f32, Vec<f32>, Vec<f32>)| (l.to_bits(), dq.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), p.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
        let a = bits(moco_on(&dev, &c, &c.q, 0.1, true, 1.0));
        let b = bits(moco_on(&dev, &c, &c.q, 0.1, true, 1.0));
        assert!(a == b, "two runs differ on {}", dev.name());
    }
}

/// Host model of the queue: rows enqueued one at a time at ptr, ptr advancing by one mod K.
fn model_enqueue(queue: &mut [f32], labels: &mut [u32], ptr: &mut usize, dim: usize, k: &[f32], y: &[u32]) {
    let queue_len = labels.len();
    for (i, &l) in y.iter().enumerate() {
        queue[*ptr * dim..(*ptr + 1) * dim].copy_from_slice(&k[i * dim..(i + 1) * dim]);
        labels[*ptr] = l;
        *ptr = (*ptr + 1) % queue_len;
    }
}

#[test]
fn enqueue_wraps_the_device_pointer_inside_one_call_and_keeps_the_last_rows_when_n_exceeds_k() {
    let _turn = take_turns();
    // K = 10, batches of 4 (wraps on the third call: slots 8, 9, 0, 1), then a batch of 13 > K.
    let (dim, queue_len) = (3, 10);
    let batches = [4usize, 4, 4, 13, 4];
    for dev in common::devices() {
        let queue = dev.from_f32(&[queue_len, dim], &vec![0.0; queue_len * dim]);
        let ql = dev.from_u32(&[queue_len], &vec![u32::MAX; queue_len]);
        let ptr = dev.zeros_u32(&[1]);
        let (mut mq, mut ml, mut mp) = (vec![0.0f32; queue_len * dim], vec![u32::MAX; queue_len], 0usize);
        let mut pointers = Vec::new();
        for (b, &n) in batches.iter().enumerate() {
            let s = MocoShape { n, dim, queue_len };
            let k = common::seeded(n * dim, 600 + b as u64, 1.0);
            let y: Vec<u32> = (0..n as u32).map(|i| 100 * b as u32 + i).collect();
            let kt = dev.from_f32(&[n, dim], &k);
            let yt = dev.from_u32(&[n], &y);
            // Recorded back to back with no readback in between: the pointer lives on the device.
            moco_enqueue(&dev, &s, &kt, &yt, &queue, &ql, &ptr);
            model_enqueue(&mut mq, &mut ml, &mut mp, dim, &k, &y);
            pointers.push(mp);
            if b == 2 {
                assert_eq!(ptr.to_vec_u32(), vec![2], "pointer after the wrapping call on {}", dev.name());
                let want = vec![202, 203, 2, 3, 100, 101, 102, 103, 200, 201];
                assert_eq!(ql.to_vec_u32(), want, "labels after the wrapping call on {}", dev.name());
            }
        }
        assert_eq!(pointers, vec![4, 8, 2, 5, 9]);
        assert_eq!(ptr.to_vec_u32(), vec![9], "final pointer on {}", dev.name());
        assert_eq!(queue.to_vec(), mq, "queue on {}", dev.name());
        assert_eq!(ql.to_vec_u32(), ml, "queue labels on {}", dev.name());
    }
}

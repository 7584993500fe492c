//! MoCo contrastive loss with a labelled key queue (same-class negatives masked) and the on-device queue update.
//!
//! The loss is InfoNCE as in MoCo v1/v2 and SSD-LT stage I: for each query q_n the logits are
//! `[q_n·k_n, q_n·queue_j ...] / T` with target 0. With `mask_same_class` the negatives whose queue
//! label equals the query's label are excluded from the softmax denominator (they are not negatives
//! when class labels are known); queue slots labelled `u32::MAX` (not yet filled, or unlabelled)
//! never match. The queue and its write pointer live on the device: `moco_enqueue` reads the
//! pointer there and advances it there, so a training step needs no readback.
//!
//! The two products, q·queueᵀ ([N,D]x[D,K]) and probs·queue ([N,K]x[K,D]), are register-blocked
//! (4 rows x 8 columns per invocation) on wgpu and go through the CPU GEMM on the native path; the
//! per-row softmax and the batch sum run in a fixed order on both devices.

use rayon::prelude::*;

use super::gemm::{matmul, sgemm_cpu, GemmShape};
use super::{grid, launch, Device, Shader, Tensor};

/// Sizes of one MoCo loss: a batch of `n` queries and keys of width `dim`, a queue of `queue_len`.
#[derive(Clone, Copy, Debug)]
pub struct MocoShape {
    pub n: usize,
    pub dim: usize,
    pub queue_len: usize,
}

/// Logit stored for a masked negative: exp(MASKED - max) is exactly 0 and the code skips it.
const MASKED: f32 = -1.0e30;
const MASKED_BELOW: f32 = -1.0e29;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct MocoParams {
    n: u32,
    d: u32,
    k: u32,
    mask_same_class: u32,
    temperature: f32,
    grad_scale: f32,
    loss_scale: f32,
    _pad: u32,
}

#[track_caller]
fn check_len(what: &str, t: &Tensor, len: usize) {
    assert_eq!(t.len(), len, "{what}: expected {len} elements, got shape {:?}", t.shape());
}

/// MoCo InfoNCE: q, k `[N, D]` (L2-normalized), queue `[K, D]` (normalized keys), queue_labels u32
/// `[K]` (u32::MAX = no label), labels u32 `[N]`. Logits row n = `[q·k_n, q·queue_j ...] / temperature`,
/// where with `mask_same_class` the negatives j with queue_labels[j] == labels[n] are excluded;
/// loss = weight · mean CE with target 0. Writes loss `[1]` and dq `[N, D]` (k gets no gradient).
///
/// `logits` is scratch `[N, 1 + K]`; on return it holds each row's softmax probabilities (masked
/// negatives 0), from which the gradient was taken.
#[allow(clippy::too_many_arguments)]
pub fn moco_loss(dev: &Device, s: &MocoShape, q: &Tensor, k: &Tensor, queue: &Tensor, queue_labels: &Tensor, labels: &Tensor, temperature: f32, mask_same_class: bool, weight: f32, logits: &Tensor, loss: &Tensor, dq: &Tensor) {
    let MocoShape { n, dim, queue_len } = *s;
    assert!(dim > 0 && queue_len > 0, "moco_loss: dim and queue_len must be > 0, got {s:?}");
    assert!(temperature > 0.0, "moco_loss: temperature must be > 0, got {temperature}");
    check_len("moco_loss q", q, n * dim);
    check_len("moco_loss k", k, n * dim);
    check_len("moco_loss queue", queue, queue_len * dim);
    check_len("moco_loss queue_labels", queue_labels, queue_len);
    check_len("moco_loss labels", labels, n);
    check_len("moco_loss logits", logits, n * (queue_len + 1));
    check_len("moco_loss loss", loss, 1);
    check_len("moco_loss dq", dq, n * dim);
    let (grad_scale, loss_scale) = if n > 0 { (weight / (n as f32 * temperature), weight / n as f32) } else { (0.0, 0.0) };
    let rows = dev.scratch("moco-rows", n);
    match dev {
        Device::Cpu(_) => {
            let threads = rayon::current_num_threads();
            let sim = dev.scratch("moco-sim", n * queue_len);
            let mut sim = sim.cpu_mut();
            let sim = &mut sim.f32()[..n * queue_len];
            let qv = q.cpu();
            let qv = qv.f32();
            let kv = k.cpu();
            let kv = kv.f32();
            let qk = queue.cpu();
            let qk = &qk.f32()[..queue_len * dim];
            let ql = queue_labels.cpu();
            let ql = ql.u32();
            let y = labels.cpu();
            let y = y.u32();
            let mut lg = logits.cpu_mut();
            let lg = &mut lg.f32()[..logits.len()];
            let mut r = rows.cpu_mut();
            let r = &mut r.f32()[..n];
            let sh = GemmShape { m: n, n: queue_len, k: dim, trans_a: false, trans_b: true, accumulate: false };
            sgemm_cpu(&sh, qv, qk, sim, threads);
            let width = queue_len + 1;
            lg.par_chunks_mut(width).zip(sim.par_chunks_mut(queue_len)).zip(r.par_iter_mut()).enumerate().for_each(|(i, ((l, sim), row_loss))| {
                let dot = qv[i * dim..(i + 1) * dim].iter().zip(&kv[i * dim..(i + 1) * dim]).fold(0.0f32, |acc, (a, b)| acc + a * b);
                let pos = dot / temperature;
                l[0] = pos;
                for (j, v) in l[1..].iter_mut().enumerate() {
                    let masked = mask_same_class && ql[j] != u32::MAX && ql[j] == y[i];
                    *v = if masked { MASKED } else { sim[j] / temperature };
                }
                let m = l.iter().fold(pos, |m, &v| m.max(v));
                let sum = l.iter().filter(|&&v| v > MASKED_BELOW).fold(0.0f32, |acc, &v| acc + (v - m).exp());
                *row_loss = m + sum.ln() - pos;
                let inv_s = 1.0 / sum;
                for v in l.iter_mut() {
                    *v = if *v > MASKED_BELOW { (*v - m).exp() * inv_s } else { 0.0 };
                }
                for (s, &p) in sim.iter_mut().zip(&l[1..]) {
                    *s = p;
                }
            });
            let mut g = dq.cpu_mut();
            let g = &mut g.f32()[..dq.len()];
            let sh = GemmShape { m: n, n: dim, k: queue_len, trans_a: false, trans_b: false, accumulate: false };
            sgemm_cpu(&sh, sim, qk, g, threads);
            g.par_chunks_mut(dim).enumerate().for_each(|(i, g)| {
                let p0 = lg[i * width];
                for (g, &kx) in g.iter_mut().zip(&kv[i * dim..(i + 1) * dim]) {
                    *g = grad_scale * ((p0 - 1.0) * kx + *g);
                }
            });
            loss.cpu_mut().f32()[0] = loss_scale * r.iter().fold(0.0f32, |acc, &v| acc + v);
        }
        Device::Wgpu(gpu) => {
            let params = MocoParams {
                n: n as u32,
                d: dim as u32,
                k: queue_len as u32,
                mask_same_class: mask_same_class as u32,
                temperature,
                grad_scale,
                loss_scale,
                _pad: 0,
            };
            // The same lowering as the CPU path: both products on the GEMM kernels.
            let sim = dev.scratch("moco-sim", n * queue_len).reshape(&[n, queue_len]);
            matmul(dev, &GemmShape { m: n, n: queue_len, k: dim, trans_a: false, trans_b: true, accumulate: false }, q, queue, &sim);
            launch(gpu, Shader::Contrastive, "moco_rows", &params, &[q, k, queue_labels, labels, &sim, logits, &rows], [(n as u32).div_ceil(64), 1, 1]);
            matmul(dev, &GemmShape { m: n, n: dim, k: queue_len, trans_a: false, trans_b: false, accumulate: false }, &sim, queue, dq);
            launch(gpu, Shader::Contrastive, "moco_grad_finish", &params, &[k, logits, dq], grid(gpu, n * dim, 256));
            launch(gpu, Shader::Contrastive, "moco_reduce", &params, &[&rows, loss], [1, 1, 1]);
        }
    }
}

/// Enqueue k `[N, D]` and labels u32 `[N]` into queue `[K, D]` and queue_labels u32 `[K]` at
/// position ptr[0] (u32 device tensor `[1]`) modulo K, wrapping inside one call when needed; then
/// ptr advances by N mod K. All on the device. When N > K only the last K rows stay (as a
/// one-row-at-a-time enqueue would leave them).
pub fn moco_enqueue(dev: &Device, s: &MocoShape, k: &Tensor, labels: &Tensor, queue: &Tensor, queue_labels: &Tensor, ptr: &Tensor) {
    let MocoShape { n, dim, queue_len } = *s;
    assert!(queue_len > 0, "moco_enqueue: the queue length must be > 0");
    check_len("moco_enqueue k", k, n * dim);
    check_len("moco_enqueue labels", labels, n);
    check_len("moco_enqueue queue", queue, queue_len * dim);
    check_len("moco_enqueue queue_labels", queue_labels, queue_len);
    check_len("moco_enqueue ptr", ptr, 1);
    match dev {
        Device::Cpu(_) => {
            let kv = k.cpu();
            let kv = kv.f32();
            let y = labels.cpu();
            let y = y.u32();
            let mut qd = queue.cpu_mut();
            let qd = &mut qd.f32()[..queue.len()];
            let mut qlab = queue_labels.cpu_mut();
            let qlab = &mut qlab.u32()[..queue_labels.len()];
            let mut p = ptr.cpu_mut();
            let p = &mut p.u32()[..ptr.len()];
            let start = p[0] as usize % queue_len;
            for i in n.saturating_sub(queue_len)..n {
                let slot = (start + i % queue_len) % queue_len;
                qd[slot * dim..(slot + 1) * dim].copy_from_slice(&kv[i * dim..(i + 1) * dim]);
                qlab[slot] = y[i];
            }
            p[0] = ((start + n % queue_len) % queue_len) as u32;
        }
        Device::Wgpu(gpu) => {
            let params = MocoParams {
                n: n as u32,
                d: dim as u32,
                k: queue_len as u32,
                mask_same_class: 0,
                temperature: 1.0,
                grad_scale: 0.0,
                loss_scale: 0.0,
                _pad: 0,
            };
            launch(gpu, Shader::Contrastive, "moco_enqueue_write", &params, &[k, labels, queue, queue_labels, ptr], grid(gpu, n * dim, 256));
            launch(gpu, Shader::Contrastive, "moco_enqueue_advance", &params, &[ptr], [1, 1, 1]);
        }
    }
}

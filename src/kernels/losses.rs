//! Classification losses: softmax cross-entropy (with optional logit adjustment) and KL distillation from dense or top-k soft targets.
//!
//! Each loss is computed per row (max-subtracted log-sum-exp, so large logits never overflow), the
//! row's gradient written in the same pass, and the batch mean taken by summing the per-row losses
//! in row order: the reduction order is fixed on both devices, so a seed reproduces a loss curve bit
//! for bit. The loss stays on the device as a `[1]` tensor; callers read it back when they log.
//!
//! On wgpu each loss is two dispatches (`shaders/losses.wgsl`): one invocation per row, then one
//! invocation for the sum. Rows are independent and short, so there are no barriers or shared
//! memory for a software adapter to serialise.

use rayon::prelude::*;

use super::{launch, Device, Shader, Tensor};

const ROWS_WG: u32 = 64;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct CeParams {
    n: u32,
    c: u32,
    has_adjust: u32,
    grad_scale: f32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ReduceParams {
    n: u32,
    loss_scale: f32,
    _pad: [u32; 2],
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct KdParams {
    n: u32,
    c: u32,
    k: u32,
    temperature: f32,
    grad_scale: f32,
    _pad: [u32; 3],
}

fn rows_and_classes(what: &str, logits: &Tensor) -> (usize, usize) {
    match *logits.shape() {
        [n, c] if c > 0 => (n, c),
        ref s => panic!("{what}: logits must be [N, C] with C > 0, got {s:?}"),
    }
}

#[track_caller]
fn check_len(what: &str, t: &Tensor, len: usize) {
    assert_eq!(t.len(), len, "{what}: expected {len} elements, got shape {:?}", t.shape());
}

/// Sums `rows` in index order (the fixed reduction order both devices use).
fn sum_in_order(rows: &[f32]) -> f32 {
    rows.iter().fold(0.0f32, |acc, &v| acc + v)
}

/// Mean softmax cross-entropy over the batch of (logits + adjust[c]) (adjust: logit adjustment /
/// balanced softmax, e.g. log class priors; None = plain CE), times `weight`.
///
/// logits `[N, C]`, labels u32 `[N]`, adjust `[C]`. Writes loss `[1]` (already times weight),
/// dlogits `[N, C]` = weight·(softmax − onehot)/N and correct u32 `[1]` = number of rows whose argmax
/// of the unadjusted logits (first index on ties) equals the label. A label ≥ C marks a row to
/// ignore: it adds zero loss and zero gradient (the mean still divides by N).
#[allow(clippy::too_many_arguments)]
pub fn softmax_cross_entropy(dev: &Device, logits: &Tensor, labels: &Tensor, adjust: Option<&Tensor>, weight: f32, loss: &Tensor, dlogits: &Tensor, correct: &Tensor) {
    let (n, c) = rows_and_classes("softmax_cross_entropy", logits);
    check_len("softmax_cross_entropy labels", labels, n);
    if let Some(a) = adjust {
        check_len("softmax_cross_entropy adjust", a, c);
    }
    check_len("softmax_cross_entropy dlogits", dlogits, n * c);
    check_len("softmax_cross_entropy loss", loss, 1);
    check_len("softmax_cross_entropy correct", correct, 1);
    let grad_scale = if n > 0 { weight / n as f32 } else { 0.0 };
    // Per-row losses, then per-row hit flags. On the CPU a tensor's slice is its whole storage,
    // which for a scratch tensor may be longer than asked for: every use below slices it.
    let rows = dev.scratch("losses-rows", 2 * n);
    match dev {
        Device::Cpu(_) => {
            let x = logits.cpu();
            let x = x.f32();
            let y = labels.cpu();
            let y = y.u32();
            let adj = adjust.map(|a| a.cpu());
            let adj = adj.as_ref().map(|a| &a.f32()[..c]);
            let mut dl = dlogits.cpu_mut();
            let mut r = rows.cpu_mut();
            let (row_loss, row_hit) = r.f32()[..2 * n].split_at_mut(n);
            dl.f32()[..n * c]
                .par_chunks_mut(c)
                .zip(row_loss.par_iter_mut())
                .zip(row_hit.par_iter_mut())
                .enumerate()
                .for_each(|(i, ((d, l), h))| {
                    let x = &x[i * c..(i + 1) * c];
                    let z = |j: usize| match adj {
                        Some(a) => x[j] + a[j],
                        None => x[j],
                    };
                    let mut m = f32::MIN;
                    let (mut best, mut best_v) = (0usize, f32::MIN);
                    for (j, &v) in x.iter().enumerate() {
                        if v > best_v {
                            best_v = v;
                            best = j;
                        }
                        m = m.max(z(j));
                    }
                    let s = (0..c).fold(0.0f32, |s, j| s + (z(j) - m).exp());
                    let inv_s = 1.0 / s;
                    let label = y[i] as usize;
                    let valid = label < c;
                    *l = if valid { m + s.ln() - z(label) } else { 0.0 };
                    *h = if valid && best == label { 1.0 } else { 0.0 };
                    for (j, d) in d.iter_mut().enumerate() {
                        let mut g = 0.0;
                        if valid {
                            g = (z(j) - m).exp() * inv_s;
                            if j == label {
                                g -= 1.0;
                            }
                        }
                        *d = grad_scale * g;
                    }
                });
            loss.cpu_mut().f32()[0] = grad_scale * sum_in_order(row_loss);
            correct.cpu_mut().u32()[0] = row_hit.iter().filter(|&&h| h > 0.5).count() as u32;
        }
        Device::Wgpu(gpu) => {
            let params = CeParams { n: n as u32, c: c as u32, has_adjust: adjust.is_some() as u32, grad_scale };
            // Without an adjustment the logits stand in at the adjust binding (never read).
            let adj = adjust.unwrap_or(logits);
            launch(gpu, Shader::Losses, "cross_entropy_rows", &params, &[logits, labels, adj, dlogits, &rows], [(n as u32).div_ceil(ROWS_WG), 1, 1]);
            let red = ReduceParams { n: n as u32, loss_scale: grad_scale, _pad: [0; 2] };
            launch(gpu, Shader::Losses, "reduce_loss_and_correct", &red, &[&rows, loss, correct], [1, 1, 1]);
        }
    }
}

/// KD = T² · mean_n KL(p_teacher ‖ softmax(student/T)), teacher probs dense `[N, C]` (already at
/// temperature T), times weight.
///
/// student_logits `[N, C]`, teacher_probs `[N, C]`. Writes loss `[1]` and dlogits `[N, C]` =
/// weight·T·(softmax(s/T)·mass − p)/N, the exact gradient of the loss, where mass = Σ_c p (1 for a
/// normalised teacher, which gives the familiar weight·T·(softmax(s/T) − p)/N). Entries with
/// p ≤ 0 add nothing to the loss (0·log 0 = 0).
pub fn kl_distill_dense(dev: &Device, student_logits: &Tensor, teacher_probs: &Tensor, temperature: f32, weight: f32, loss: &Tensor, dlogits: &Tensor) {
    let (n, c) = rows_and_classes("kl_distill_dense", student_logits);
    check_len("kl_distill_dense teacher_probs", teacher_probs, n * c);
    check_len("kl_distill_dense dlogits", dlogits, n * c);
    check_len("kl_distill_dense loss", loss, 1);
    assert!(temperature > 0.0, "kl_distill_dense: temperature must be > 0, got {temperature}");
    let (grad_scale, loss_scale) = kd_scales(n, temperature, weight);
    let rows = dev.scratch("losses-rows", n);
    match dev {
        Device::Cpu(_) => {
            let s = student_logits.cpu();
            let s = s.f32();
            let p = teacher_probs.cpu();
            let p = p.f32();
            let mut dl = dlogits.cpu_mut();
            let mut r = rows.cpu_mut();
            dl.f32()[..n * c].par_chunks_mut(c).zip(r.f32()[..n].par_iter_mut()).enumerate().for_each(|(i, (d, kl))| {
                let s = &s[i * c..(i + 1) * c];
                let p = &p[i * c..(i + 1) * c];
                let lse = student_lse(s, temperature);
                let (mut acc, mut mass) = (0.0f32, 0.0f32);
                for (&sv, &pv) in s.iter().zip(p) {
                    if pv > 0.0 {
                        acc += pv * (pv.ln() - (sv / temperature - lse));
                        mass += pv;
                    }
                }
                for ((d, &sv), &pv) in d.iter_mut().zip(s).zip(p) {
                    let q = (sv / temperature - lse).exp();
                    *d = grad_scale * (mass * q - pv);
                }
                *kl = acc;
            });
            loss.cpu_mut().f32()[0] = loss_scale * sum_in_order(&r.f32()[..n]);
        }
        Device::Wgpu(gpu) => {
            let params = KdParams { n: n as u32, c: c as u32, k: 0, temperature, grad_scale, _pad: [0; 3] };
            launch(gpu, Shader::Losses, "kl_dense_rows", &params, &[student_logits, teacher_probs, dlogits, &rows], [(n as u32).div_ceil(ROWS_WG), 1, 1]);
            let red = ReduceParams { n: n as u32, loss_scale, _pad: [0; 2] };
            launch(gpu, Shader::Losses, "reduce_loss", &red, &[&rows, loss], [1, 1, 1]);
        }
    }
}

/// The same as [`kl_distill_dense`] from top-k targets: ids u32 `[N, K]`, probs `[N, K]` (mass
/// outside the top k is zero; entries with prob ≤ 0, or an id ≥ C, are ignored). student_logits
/// `[N, C]`; writes loss `[1]` and dlogits `[N, C]`.
#[allow(clippy::too_many_arguments)]
pub fn kl_distill_topk(dev: &Device, student_logits: &Tensor, topk_ids: &Tensor, topk_probs: &Tensor, temperature: f32, weight: f32, loss: &Tensor, dlogits: &Tensor) {
    let (n, c) = rows_and_classes("kl_distill_topk", student_logits);
    let k = match *topk_probs.shape() {
        [rows, k] if rows == n => k,
        ref s => panic!("kl_distill_topk: topk_probs must be [{n}, K], got {s:?}"),
    };
    check_len("kl_distill_topk topk_ids", topk_ids, n * k);
    check_len("kl_distill_topk dlogits", dlogits, n * c);
    check_len("kl_distill_topk loss", loss, 1);
    assert!(temperature > 0.0, "kl_distill_topk: temperature must be > 0, got {temperature}");
    let (grad_scale, loss_scale) = kd_scales(n, temperature, weight);
    let rows = dev.scratch("losses-rows", n);
    match dev {
        Device::Cpu(_) => {
            let s = student_logits.cpu();
            let s = s.f32();
            let ids = topk_ids.cpu();
            let ids = ids.u32();
            let p = topk_probs.cpu();
            let p = p.f32();
            let mut dl = dlogits.cpu_mut();
            let mut r = rows.cpu_mut();
            dl.f32()[..n * c].par_chunks_mut(c).zip(r.f32()[..n].par_iter_mut()).enumerate().for_each(|(i, (d, kl))| {
                let s = &s[i * c..(i + 1) * c];
                let ids = &ids[i * k..(i + 1) * k];
                let p = &p[i * k..(i + 1) * k];
                let lse = student_lse(s, temperature);
                let targets = || ids.iter().zip(p).filter(|&(&id, &pv)| pv > 0.0 && (id as usize) < c).map(|(&id, &pv)| (id as usize, pv));
                let (mut acc, mut mass) = (0.0f32, 0.0f32);
                for (id, pv) in targets() {
                    acc += pv * (pv.ln() - (s[id] / temperature - lse));
                    mass += pv;
                }
                for (d, &sv) in d.iter_mut().zip(s) {
                    *d = grad_scale * mass * (sv / temperature - lse).exp();
                }
                for (id, pv) in targets() {
                    d[id] -= grad_scale * pv;
                }
                *kl = acc;
            });
            loss.cpu_mut().f32()[0] = loss_scale * sum_in_order(&r.f32()[..n]);
        }
        Device::Wgpu(gpu) => {
            let params = KdParams { n: n as u32, c: c as u32, k: k as u32, temperature, grad_scale, _pad: [0; 3] };
            launch(gpu, Shader::Losses, "kl_topk_rows", &params, &[student_logits, topk_probs, dlogits, &rows, topk_ids], [(n as u32).div_ceil(ROWS_WG), 1, 1]);
            let red = ReduceParams { n: n as u32, loss_scale, _pad: [0; 2] };
            launch(gpu, Shader::Losses, "reduce_loss", &red, &[&rows, loss], [1, 1, 1]);
        }
    }
}

/// Softmax of logits / T per row (teacher soft labels): logits `[N, C]` -> probs `[N, C]`.
pub fn softmax_with_temperature(dev: &Device, logits: &Tensor, temperature: f32, probs: &Tensor) {
    let (n, c) = rows_and_classes("softmax_with_temperature", logits);
    check_len("softmax_with_temperature probs", probs, n * c);
    assert!(temperature > 0.0, "softmax_with_temperature: temperature must be > 0, got {temperature}");
    match dev {
        Device::Cpu(_) => {
            let x = logits.cpu();
            let x = x.f32();
            let mut out = probs.cpu_mut();
            out.f32()[..n * c].par_chunks_mut(c).zip(x.par_chunks(c)).for_each(|(out, x)| {
                let m = x.iter().fold(f32::MIN, |m, &v| m.max(v / temperature));
                let s = x.iter().fold(0.0f32, |s, &v| s + (v / temperature - m).exp());
                let inv_s = 1.0 / s;
                for (o, &v) in out.iter_mut().zip(x) {
                    *o = (v / temperature - m).exp() * inv_s;
                }
            });
        }
        Device::Wgpu(gpu) => {
            let params = KdParams { n: n as u32, c: c as u32, k: 0, temperature, grad_scale: 0.0, _pad: [0; 3] };
            launch(gpu, Shader::Losses, "softmax_temperature_rows", &params, &[logits, probs], [(n as u32).div_ceil(ROWS_WG), 1, 1]);
        }
    }
}

/// (weight·T/N, weight·T²/N): the gradient and loss scales of the distillation losses.
fn kd_scales(n: usize, temperature: f32, weight: f32) -> (f32, f32) {
    if n == 0 {
        return (0.0, 0.0);
    }
    (weight * temperature / n as f32, weight * temperature * temperature / n as f32)
}

/// log Σ_c exp(s_c / T), max-subtracted.
fn student_lse(s: &[f32], temperature: f32) -> f32 {
    let m = s.iter().fold(f32::MIN, |m, &v| m.max(v / temperature));
    m + s.iter().fold(0.0f32, |acc, &v| acc + (v / temperature - m).exp()).ln()
}

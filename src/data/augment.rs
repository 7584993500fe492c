//! Image augmentation on f32 CHW buffers and parallel batch assembly into `[N, C, H, W]`.
//!
//! A pipeline is a list of [`Augment`] steps that deserializes from the pipeline file's YAML
//! (through serde), e.g. `[{pad_crop: 4}, hflip, {resized_crop: {scale: [0.2, 1.0]}}]`. Steps
//! follow torchvision's definitions (named on each variant) so a PyTorch recipe carries over.
//!
//! Every random choice of a view comes from one generator keyed by (seed, epoch, sample id,
//! view) ([`super::seeding`]): any view of any sample can be replayed exactly, whatever thread
//! or batch produced it first. Steps work in place or through two scratch buffers per worker
//! thread, so there is no allocation per pixel; batches are filled in parallel with rayon.

use rand::seq::SliceRandom;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::dataset::Dataset;
use super::pixels::{resample, Image, Rect};
use super::seeding::derive_rng;
use crate::error::{Error, Result};

fn default_scale() -> [f32; 2] {
    [0.08, 1.0]
}
fn default_ratio() -> [f32; 2] {
    [3.0 / 4.0, 4.0 / 3.0]
}
fn one() -> f32 {
    1.0
}
fn half() -> f32 {
    0.5
}
fn default_sigma() -> [f32; 2] {
    [0.1, 2.0]
}

/// torchvision `RandomResizedCrop(size, scale, ratio)`: a random window of `scale` of the area
/// and aspect ratio in `ratio` (log-uniform), resized to `size` x `size` (default: the input's
/// height, so a 32x32 image stays 32x32). Antialiased bilinear resampling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResizedCrop {
    #[serde(default)]
    pub size: Option<usize>,
    #[serde(default = "default_scale")]
    pub scale: [f32; 2],
    #[serde(default = "default_ratio")]
    pub ratio: [f32; 2],
}

/// torchvision `RandomApply([ColorJitter(brightness, contrast, saturation, hue)], p)`: each
/// factor drawn uniformly from `[max(0, 1 - x), 1 + x]` (hue shift from `[-hue, hue]`, hue at
/// most 0.5), the four applied in a random order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColorJitter {
    #[serde(default)]
    pub brightness: f32,
    #[serde(default)]
    pub contrast: f32,
    #[serde(default)]
    pub saturation: f32,
    #[serde(default)]
    pub hue: f32,
    #[serde(default = "one")]
    pub p: f32,
}

/// Gaussian blur with sigma uniform in `sigma` (radius ceil(3 sigma), reflected borders), applied
/// with probability `p` (MoCo v2 / SimCLR: sigma [0.1, 2.0], p 0.5 on 224 images).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Blur {
    #[serde(default = "default_sigma")]
    pub sigma: [f32; 2],
    #[serde(default = "half")]
    pub p: f32,
}

/// Cutout (DeVries & Taylor 2017): a `size` x `size` square (clipped at the border) centred at a
/// random pixel is set to 0 — the dataset mean when it follows `normalize`, as in their code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cutout {
    pub size: usize,
    #[serde(default = "one")]
    pub p: f32,
}

/// `(x - mean[c]) / std[c]` per channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalize {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

/// One augmentation step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Augment {
    /// torchvision `RandomCrop(size, padding=n)`: zero-pad `n` pixels on each side, crop back to
    /// the input size at a uniform offset.
    PadCrop(usize),
    ResizedCrop(ResizedCrop),
    /// torchvision `RandomHorizontalFlip()` (p = 0.5).
    Hflip,
    ColorJitter(ColorJitter),
    /// torchvision `RandomGrayscale(p)`: luma 0.299 R + 0.587 G + 0.114 B into every channel.
    Grayscale(f32),
    Blur(Blur),
    Cutout(Cutout),
    Normalize(Normalize),
    /// Deterministic: shorter side to `n`, antialiased (torchvision `Resize(n)`).
    Resize(usize),
    /// Deterministic: the central `n` x `n` window (torchvision `CenterCrop(n)`).
    CenterCrop(usize),
    /// Deterministic: zero-pad to at least `n` x `n`, the image centred (left/top get the smaller
    /// half), e.g. Fashion-MNIST 28x28 -> 32x32 with 2 pixels on each side. Sides already at
    /// least `n` are left alone.
    PadTo(usize),
}

/// A list of steps applied in order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AugmentPipeline {
    pub steps: Vec<Augment>,
}

/// The two views of contrastive training: the query view and a stronger key view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwoViews {
    pub query: AugmentPipeline,
    pub key: AugmentPipeline,
}

/// View numbers in the random key.
pub const QUERY_VIEW: u32 = 0;
pub const KEY_VIEW: u32 = 1;

/// Two reusable buffers per worker, so steps that change the layout allocate nothing per image
/// once warm.
#[derive(Default)]
pub struct Scratch {
    pub buffer: Vec<f32>,
    pub resample: Vec<f32>,
}

/// The generator for one view of one sample.
pub fn view_rng(seed: u64, epoch: u64, sample_id: &str, view: u32) -> ChaCha8Rng {
    derive_rng("augment", seed, epoch, &[sample_id.as_bytes(), &view.to_le_bytes()])
}

fn check_p(what: &str, p: f32) -> Result<()> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(Error::invalid(what, format!("probability p = {p} must be in [0, 1]")))
    }
}

fn check_range(what: &str, name: &str, r: [f32; 2], lo: f32) -> Result<()> {
    if r[0] >= lo && r[0] <= r[1] && r[1].is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(what, format!("{name} [{}, {}] must be ordered, finite and >= {lo}", r[0], r[1])))
    }
}

impl AugmentPipeline {
    pub fn new(steps: Vec<Augment>) -> Result<Self> {
        let p = AugmentPipeline { steps };
        p.validate()?;
        Ok(p)
    }

    /// Checks every parameter, naming the step (position and kind) at fault.
    pub fn validate(&self) -> Result<()> {
        for (i, step) in self.steps.iter().enumerate() {
            let what = format!("augmentation step {i} ({})", step_name(step));
            match step {
                Augment::ResizedCrop(r) => {
                    check_range(&what, "scale", r.scale, 0.0)?;
                    if r.scale[1] <= 0.0 || r.scale[1] > 1.0 {
                        return Err(Error::invalid(&what, "scale must lie in (0, 1] (a fraction of the area)"));
                    }
                    check_range(&what, "ratio", r.ratio, f32::MIN_POSITIVE)?;
                    if r.size == Some(0) {
                        return Err(Error::invalid(&what, "size must be at least 1"));
                    }
                }
                Augment::ColorJitter(j) => {
                    check_p(&what, j.p)?;
                    if [j.brightness, j.contrast, j.saturation, j.hue].iter().any(|v| v.is_nan() || *v < 0.0) || j.hue > 0.5 {
                        return Err(Error::invalid(&what, "brightness, contrast, saturation must be >= 0, hue in [0, 0.5]"));
                    }
                }
                Augment::Grayscale(p) => check_p(&what, *p)?,
                Augment::Blur(b) => {
                    check_p(&what, b.p)?;
                    check_range(&what, "sigma", b.sigma, f32::MIN_POSITIVE)?;
                }
                Augment::Cutout(c) => check_p(&what, c.p)?,
                Augment::Normalize(n) => {
                    if n.mean.len() != n.std.len() || n.mean.is_empty() {
                        return Err(Error::invalid(&what, "mean and std need one value per channel, the same count"));
                    }
                    if n.std.iter().any(|s| s.is_nan() || *s <= 0.0) {
                        return Err(Error::invalid(&what, "every std must be > 0"));
                    }
                }
                Augment::Resize(0) | Augment::CenterCrop(0) | Augment::PadTo(0) => {
                    return Err(Error::invalid(&what, "size must be at least 1"))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Applies every step to `img` with the draws of `rng`; `sample_id` names the sample in
    /// errors (a normalize of the wrong channel count, a crop larger than the image).
    pub fn apply(&self, img: &mut Image, rng: &mut ChaCha8Rng, scratch: &mut Scratch, sample_id: &str) -> Result<()> {
        for (i, step) in self.steps.iter().enumerate() {
            apply_step(step, img, rng, scratch).map_err(|message| {
                Error::invalid(format!("augmentation step {i} ({}) on sample `{sample_id}`", step_name(step)), message)
            })?;
        }
        Ok(())
    }

    /// One view of sample `index` of `dataset`, replayable from (seed, epoch, id, view).
    pub fn view(&self, dataset: &Dataset, index: usize, seed: u64, epoch: u64, view: u32) -> Result<Image> {
        let mut img = dataset.image(index)?;
        let mut rng = view_rng(seed, epoch, &dataset.samples[index].id, view);
        self.apply(&mut img, &mut rng, &mut Scratch::default(), &dataset.samples[index].id)?;
        Ok(img)
    }
}

fn step_name(step: &Augment) -> &'static str {
    match step {
        Augment::PadCrop(_) => "pad_crop",
        Augment::ResizedCrop(_) => "resized_crop",
        Augment::Hflip => "hflip",
        Augment::ColorJitter(_) => "color_jitter",
        Augment::Grayscale(_) => "grayscale",
        Augment::Blur(_) => "blur",
        Augment::Cutout(_) => "cutout",
        Augment::Normalize(_) => "normalize",
        Augment::Resize(_) => "resize",
        Augment::CenterCrop(_) => "center_crop",
        Augment::PadTo(_) => "pad_to",
    }
}

/// Replaces `img`'s pixels with `scratch.buffer` holding a `[C, h, w]` result.
fn swap_in(img: &mut Image, scratch: &mut Scratch, h: usize, w: usize) {
    std::mem::swap(&mut img.data, &mut scratch.buffer);
    img.height = h;
    img.width = w;
}

fn apply_step(step: &Augment, img: &mut Image, rng: &mut ChaCha8Rng, scratch: &mut Scratch) -> std::result::Result<(), String> {
    let (c, h, w) = (img.channels, img.height, img.width);
    match step {
        Augment::PadCrop(pad) => {
            let top = rng.random_range(0..=2 * pad) as isize - *pad as isize;
            let left = rng.random_range(0..=2 * pad) as isize - *pad as isize;
            scratch.buffer.clear();
            scratch.buffer.resize(c * h * w, 0.0);
            for ch in 0..c {
                for y in 0..h {
                    let sy = y as isize + top;
                    if sy < 0 || sy >= h as isize {
                        continue;
                    }
                    let x0 = (-left).max(0) as usize;
                    let x1 = (w as isize - left).min(w as isize).max(0) as usize;
                    if x0 >= x1 {
                        continue;
                    }
                    let src = (ch * h + sy as usize) * w;
                    let dst = (ch * h + y) * w;
                    let sx0 = (x0 as isize + left) as usize;
                    scratch.buffer[dst + x0..dst + x1].copy_from_slice(&img.data[src + sx0..src + sx0 + (x1 - x0)]);
                }
            }
            swap_in(img, scratch, h, w);
        }
        Augment::ResizedCrop(r) => {
            let (top, left, ch_, cw) = resized_crop_window(h, w, r, rng);
            let size = r.size.unwrap_or(h);
            scratch.buffer.clear();
            scratch.buffer.resize(c * size * size, 0.0);
            let rect = Rect { top: top as f32, left: left as f32, height: ch_ as f32, width: cw as f32 };
            resample(img, rect, size, size, &mut scratch.buffer, &mut scratch.resample);
            swap_in(img, scratch, size, size);
        }
        Augment::Hflip => {
            if rng.random_bool(0.5) {
                img.data.chunks_exact_mut(w).for_each(|row| row.reverse());
            }
        }
        Augment::ColorJitter(j) => {
            // Draw everything before deciding, so the draws of later steps do not depend on p.
            let apply = rng.random_range(0.0f32..1.0) < j.p;
            let mut order = [0usize, 1, 2, 3];
            order.shuffle(rng);
            let factor = |rng: &mut ChaCha8Rng, x: f32| {
                if x > 0.0 {
                    rng.random_range((1.0 - x).max(0.0)..=1.0 + x)
                } else {
                    1.0
                }
            };
            let b = factor(rng, j.brightness);
            let ct = factor(rng, j.contrast);
            let s = factor(rng, j.saturation);
            let hue = if j.hue > 0.0 { rng.random_range(-j.hue..=j.hue) } else { 0.0 };
            if apply {
                for op in order {
                    match op {
                        0 if b != 1.0 => img.data.iter_mut().for_each(|v| *v = (*v * b).clamp(0.0, 1.0)),
                        1 if ct != 1.0 => adjust_contrast(img, ct),
                        2 if s != 1.0 && c == 3 => adjust_saturation(img, s),
                        3 if hue != 0.0 && c == 3 => adjust_hue(img, hue),
                        _ => {}
                    }
                }
            }
        }
        Augment::Grayscale(p) => {
            if rng.random_range(0.0f32..1.0) < *p && c == 3 {
                let n = h * w;
                let (r, rest) = img.data.split_at_mut(n);
                let (g, b) = rest.split_at_mut(n);
                for i in 0..n {
                    let l = 0.299 * r[i] + 0.587 * g[i] + 0.114 * b[i];
                    r[i] = l;
                    g[i] = l;
                    b[i] = l;
                }
            }
        }
        Augment::Blur(bl) => {
            let apply = rng.random_range(0.0f32..1.0) < bl.p;
            let sigma = rng.random_range(bl.sigma[0]..=bl.sigma[1]);
            if apply {
                gaussian_blur(img, sigma, scratch);
            }
        }
        Augment::Cutout(cu) => {
            let apply = rng.random_range(0.0f32..1.0) < cu.p;
            let cy = rng.random_range(0..h) as isize;
            let cx = rng.random_range(0..w) as isize;
            if apply && cu.size > 0 {
                let half = (cu.size / 2) as isize;
                let y0 = (cy - half).clamp(0, h as isize) as usize;
                let y1 = (cy - half + cu.size as isize).clamp(0, h as isize) as usize;
                let x0 = (cx - half).clamp(0, w as isize) as usize;
                let x1 = (cx - half + cu.size as isize).clamp(0, w as isize) as usize;
                for ch in 0..c {
                    for y in y0..y1 {
                        img.data[(ch * h + y) * w + x0..(ch * h + y) * w + x1].fill(0.0);
                    }
                }
            }
        }
        Augment::Normalize(n) => {
            if n.mean.len() != c {
                return Err(format!(
                    "{} mean/std values for a {c}-channel image; give one per channel",
                    n.mean.len()
                ));
            }
            for (ch, plane) in img.data.chunks_exact_mut(h * w).enumerate() {
                let (m, inv) = (n.mean[ch], 1.0 / n.std[ch]);
                plane.iter_mut().for_each(|v| *v = (*v - m) * inv);
            }
        }
        Augment::Resize(target) => {
            let (oh, ow) = if h <= w {
                (*target, (*target as f64 * w as f64 / h as f64) as usize)
            } else {
                ((*target as f64 * h as f64 / w as f64) as usize, *target)
            };
            let (oh, ow) = (oh.max(1), ow.max(1));
            scratch.buffer.clear();
            scratch.buffer.resize(c * oh * ow, 0.0);
            resample(img, Rect::full(img), oh, ow, &mut scratch.buffer, &mut scratch.resample);
            swap_in(img, scratch, oh, ow);
        }
        Augment::CenterCrop(size) => {
            if *size > h || *size > w {
                return Err(format!("crop {size}x{size} is larger than the {h}x{w} image; resize first"));
            }
            let top = ((h - size) as f64 / 2.0).round_ties_even() as usize;
            let left = ((w - size) as f64 / 2.0).round_ties_even() as usize;
            scratch.buffer.clear();
            for ch in 0..c {
                for y in 0..*size {
                    let at = (ch * h + top + y) * w + left;
                    scratch.buffer.extend_from_slice(&img.data[at..at + size]);
                }
            }
            swap_in(img, scratch, *size, *size);
        }
        Augment::PadTo(size) => {
            let (oh, ow) = (h.max(*size), w.max(*size));
            if (oh, ow) != (h, w) {
                let (top, left) = ((oh - h) / 2, (ow - w) / 2);
                scratch.buffer.clear();
                scratch.buffer.resize(c * oh * ow, 0.0);
                for ch in 0..c {
                    for y in 0..h {
                        let dst = (ch * oh + top + y) * ow + left;
                        scratch.buffer[dst..dst + w].copy_from_slice(&img.data[(ch * h + y) * w..][..w]);
                    }
                }
                swap_in(img, scratch, oh, ow);
            }
        }
    }
    Ok(())
}

/// torchvision `RandomResizedCrop.get_params`: ten tries, then a centre crop of clamped ratio.
/// Returns (top, left, height, width).
fn resized_crop_window(h: usize, w: usize, r: &ResizedCrop, rng: &mut ChaCha8Rng) -> (usize, usize, usize, usize) {
    let area = (h * w) as f32;
    let (lr0, lr1) = (r.ratio[0].ln(), r.ratio[1].ln());
    for _ in 0..10 {
        let target = area * rng.random_range(r.scale[0]..=r.scale[1]);
        let aspect = rng.random_range(lr0..=lr1).exp();
        let cw = (target * aspect).sqrt().round() as usize;
        let ch = (target / aspect).sqrt().round() as usize;
        if cw > 0 && cw <= w && ch > 0 && ch <= h {
            let top = rng.random_range(0..=h - ch);
            let left = rng.random_range(0..=w - cw);
            return (top, left, ch, cw);
        }
    }
    let in_ratio = w as f32 / h as f32;
    let (ch, cw) = if in_ratio < r.ratio[0] {
        (((w as f32 / r.ratio[0]).round() as usize).clamp(1, h), w)
    } else if in_ratio > r.ratio[1] {
        (h, ((h as f32 * r.ratio[1]).round() as usize).clamp(1, w))
    } else {
        (h, w)
    };
    ((h - ch) / 2, (w - cw) / 2, ch, cw)
}

fn luma(img: &Image, i: usize) -> f32 {
    let n = img.height * img.width;
    if img.channels == 3 {
        0.299 * img.data[i] + 0.587 * img.data[n + i] + 0.114 * img.data[2 * n + i]
    } else {
        img.data[i]
    }
}

fn adjust_contrast(img: &mut Image, factor: f32) {
    let n = img.height * img.width;
    let mean = (0..n).map(|i| luma(img, i)).sum::<f32>() / n as f32;
    let offset = (1.0 - factor) * mean;
    img.data.iter_mut().for_each(|v| *v = (*v * factor + offset).clamp(0.0, 1.0));
}

fn adjust_saturation(img: &mut Image, factor: f32) {
    let n = img.height * img.width;
    for i in 0..n {
        let g = luma(img, i) * (1.0 - factor);
        for ch in 0..3 {
            let v = &mut img.data[ch * n + i];
            *v = (*v * factor + g).clamp(0.0, 1.0);
        }
    }
}

/// Shifts hue by `shift` turns through HSV, as torchvision's `adjust_hue`.
fn adjust_hue(img: &mut Image, shift: f32) {
    let n = img.height * img.width;
    let (r, rest) = img.data.split_at_mut(n);
    let (g, b) = rest.split_at_mut(n);
    for i in 0..n {
        let (rv, gv, bv) = (r[i], g[i], b[i]);
        let max = rv.max(gv).max(bv);
        let min = rv.min(gv).min(bv);
        let delta = max - min;
        if delta <= 0.0 {
            continue;
        }
        let mut hue = if max == rv {
            ((gv - bv) / delta).rem_euclid(6.0)
        } else if max == gv {
            (bv - rv) / delta + 2.0
        } else {
            (rv - gv) / delta + 4.0
        } / 6.0;
        hue = (hue + shift).rem_euclid(1.0);
        let (s, v) = (delta / max, max);
        let h6 = hue * 6.0;
        let sector = (h6.floor() as i32).rem_euclid(6);
        let f = h6 - h6.floor();
        let p = v * (1.0 - s);
        let q = v * (1.0 - s * f);
        let t = v * (1.0 - s * (1.0 - f));
        let (nr, ng, nb) = match sector {
            0 => (v, t, p),
            1 => (q, v, p),
            2 => (p, v, t),
            3 => (p, q, v),
            4 => (t, p, v),
            _ => (v, p, q),
        };
        r[i] = nr;
        g[i] = ng;
        b[i] = nb;
    }
}

/// Separable Gaussian blur, reflected borders (torchvision's padding mode for `GaussianBlur`).
fn gaussian_blur(img: &mut Image, sigma: f32, scratch: &mut Scratch) {
    let (c, h, w) = (img.channels, img.height, img.width);
    let radius = ((3.0 * sigma).ceil() as usize).min(h.min(w).saturating_sub(1));
    if radius == 0 {
        return;
    }
    let mut kernel = [0f32; 64];
    let radius = radius.min(31);
    let mut sum = 0.0;
    for (k, v) in kernel[..=2 * radius].iter_mut().enumerate() {
        let x = k as f32 - radius as f32;
        *v = (-x * x / (2.0 * sigma * sigma)).exp();
        sum += *v;
    }
    kernel[..=2 * radius].iter_mut().for_each(|v| *v /= sum);
    let reflect = |i: isize, n: usize| -> usize {
        let n = n as isize;
        let i = if i < 0 { -i } else { i };
        (if i >= n { 2 * (n - 1) - i } else { i }) as usize
    };
    scratch.buffer.clear();
    scratch.buffer.resize(c * h * w, 0.0);
    for ch in 0..c {
        for y in 0..h {
            let row = &img.data[(ch * h + y) * w..][..w];
            let out = &mut scratch.buffer[(ch * h + y) * w..][..w];
            for (x, o) in out.iter_mut().enumerate() {
                let mut acc = 0.0;
                for k in 0..=2 * radius {
                    acc += kernel[k] * row[reflect(x as isize + k as isize - radius as isize, w)];
                }
                *o = acc;
            }
        }
    }
    for ch in 0..c {
        let plane = &scratch.buffer[ch * h * w..][..h * w];
        let out = &mut img.data[ch * h * w..][..h * w];
        out.fill(0.0);
        for y in 0..h {
            let orow = &mut out[y * w..][..w];
            for (k, &wk) in kernel[..=2 * radius].iter().enumerate() {
                let sy = reflect(y as isize + k as isize - radius as isize, h);
                let srow = &plane[sy * w..][..w];
                for (o, s) in orow.iter_mut().zip(srow) {
                    *o += wk * s;
                }
            }
        }
    }
}

/// A batch of views, `data` laid out `[N, C, H, W]` (`shape`), with the samples' labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub data: Vec<f32>,
    pub shape: [usize; 4],
    pub labels: Vec<u32>,
}

/// Decodes and augments the samples at `indices` into one `[N, C, H, W]` batch, in parallel. The
/// pipeline must bring every image to the same size (end it with a crop).
pub fn assemble_batch(
    dataset: &Dataset,
    indices: &[usize],
    pipeline: &AugmentPipeline,
    seed: u64,
    epoch: u64,
    view: u32,
) -> Result<Batch> {
    if indices.is_empty() {
        return Err(Error::invalid("batch", "no sample indices"));
    }
    let make = |i: usize, scratch: &mut Scratch| -> Result<Image> {
        let sample = dataset.samples.get(i).ok_or_else(|| {
            Error::invalid("batch", format!("sample index {i} is outside the {} samples of {}", dataset.len(), dataset.name))
        })?;
        let mut img = dataset.image(i)?;
        let mut rng = view_rng(seed, epoch, &sample.id, view);
        pipeline.apply(&mut img, &mut rng, scratch, &sample.id)?;
        Ok(img)
    };
    let first = make(indices[0], &mut Scratch::default())?;
    let (c, h, w) = (first.channels, first.height, first.width);
    let item = c * h * w;
    let mut data = vec![0f32; indices.len() * item];
    data[..item].copy_from_slice(&first.data);
    data[item..].par_chunks_mut(item).zip(&indices[1..]).try_for_each_init(Scratch::default, |scratch, (out, &i)| {
        let img = make(i, scratch)?;
        if (img.channels, img.height, img.width) != (c, h, w) {
            return Err(Error::invalid(
                "batch",
                format!(
                    "sample `{}` became {}x{}x{} but the batch is {c}x{h}x{w}; end the augmentation list with a \
                     fixed-size step (resized_crop with size, or resize + center_crop)",
                    dataset.samples[i].id, img.channels, img.height, img.width
                ),
            ));
        }
        out.copy_from_slice(&img.data);
        Ok(())
    })?;
    Ok(Batch {
        data,
        shape: [indices.len(), c, h, w],
        labels: indices.iter().map(|&i| dataset.samples[i].label).collect(),
    })
}

/// The query and key batches of two-view training (views [`QUERY_VIEW`] and [`KEY_VIEW`]).
pub fn assemble_two_views(
    dataset: &Dataset,
    indices: &[usize],
    views: &TwoViews,
    seed: u64,
    epoch: u64,
) -> Result<(Batch, Batch)> {
    let (q, k) = rayon::join(
        || assemble_batch(dataset, indices, &views.query, seed, epoch, QUERY_VIEW),
        || assemble_batch(dataset, indices, &views.key, seed, epoch, KEY_VIEW),
    );
    Ok((q?, k?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn gradient(c: usize, h: usize, w: usize) -> Image {
        let data = (0..c * h * w).map(|i| ((i * 7) % 101) as f32 / 100.0).collect();
        Image { channels: c, height: h, width: w, data }
    }

    #[test]
    fn pad_crop_keeps_the_size_and_moves_content_by_at_most_the_padding() {
        let mut img = gradient(3, 8, 8);
        let orig = img.clone();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        apply_step(&Augment::PadCrop(2), &mut img, &mut rng, &mut Scratch::default()).unwrap();
        assert_eq!((img.height, img.width), (8, 8));
        // Some shift in [-2, 2]^2 maps the original onto the result in the interior.
        let found = (-2i32..=2).any(|dy| {
            (-2i32..=2).any(|dx| {
                (2..6).all(|y| {
                    (2..6).all(|x| {
                        img.data[y * 8 + x] == orig.data[((y as i32 + dy) * 8 + x as i32 + dx) as usize]
                    })
                })
            })
        });
        assert!(found);
    }

    #[test]
    fn blur_preserves_a_constant_image_and_grayscale_equalises_channels() {
        let mut img = Image { channels: 3, height: 9, width: 9, data: vec![0.4; 243] };
        gaussian_blur(&mut img, 1.5, &mut Scratch::default());
        assert!(img.data.iter().all(|v| (v - 0.4).abs() < 1e-5));
        let mut img = gradient(3, 4, 4);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        apply_step(&Augment::Grayscale(1.0), &mut img, &mut rng, &mut Scratch::default()).unwrap();
        assert_eq!(img.plane(0), img.plane(2));
    }

    #[test]
    fn pad_to_centres_the_image_on_zeros() {
        let mut img = gradient(1, 2, 2);
        let orig = img.clone();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        apply_step(&Augment::PadTo(4), &mut img, &mut rng, &mut Scratch::default()).unwrap();
        assert_eq!((img.height, img.width), (4, 4));
        assert_eq!(&img.data[5..7], &orig.data[0..2]);
        assert_eq!(&img.data[9..11], &orig.data[2..4]);
        assert_eq!(img.data.iter().filter(|v| **v == 0.0).count(), 12 + orig.data.iter().filter(|v| **v == 0.0).count());
        let before = img.clone();
        apply_step(&Augment::PadTo(3), &mut img, &mut rng, &mut Scratch::default()).unwrap();
        assert_eq!(img, before);
    }

    #[test]
    fn hue_shift_of_a_full_turn_is_the_identity() {
        let mut img = gradient(3, 5, 5);
        let orig = img.clone();
        adjust_hue(&mut img, 0.5);
        adjust_hue(&mut img, 0.5);
        for (a, b) in img.data.iter().zip(&orig.data) {
            assert!((a - b).abs() < 1e-4);
        }
    }
}

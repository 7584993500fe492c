//! Decoded images as f32 CHW in [0, 1], JPEG/PNG decoding, and the resampling every size change
//! goes through (evaluation resize + center crop, random-resized crop).
//!
//! Resampling is separable triangle (bilinear) filtering; when shrinking, the filter widens with
//! the scale factor (antialiasing), as PIL's bilinear resize and torchvision's `antialias=True`
//! do, so evaluation images match what a PyTorch pipeline feeds its model up to rounding.

use std::path::Path;

use crate::error::{Error, Result};

/// One image, `data` laid out `[channels, height, width]`, values in [0, 1] until normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub data: Vec<f32>,
}

impl Image {
    pub fn zeros(channels: usize, height: usize, width: usize) -> Image {
        Image { channels, height, width, data: vec![0.0; channels * height * width] }
    }

    pub fn plane(&self, c: usize) -> &[f32] {
        let n = self.height * self.width;
        &self.data[c * n..(c + 1) * n]
    }
}

/// Decodes a JPEG or PNG (format from its bytes, not its name) to RGB `[3, H, W]` in [0, 1].
/// Grayscale and palette files become RGB, as PIL's `.convert("RGB")` in PyTorch loaders does.
pub fn decode_file(path: &Path) -> Result<Image> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::data_file(path, format!("cannot read image: {e}"), "check that the file exists and is readable")
    })?;
    decode_bytes(&bytes).map_err(|message| {
        Error::data_file(
            path,
            message,
            "re-download or re-extract the file (it may be truncated), or remove it from the dataset",
        )
    })
}

/// Decodes JPEG or PNG bytes to RGB `[3, H, W]` in [0, 1]; the error says what is wrong.
pub fn decode_bytes(bytes: &[u8]) -> std::result::Result<Image, String> {
    let format = image::guess_format(bytes)
        .map_err(|_| format!("not a JPEG or PNG file ({} bytes, unrecognised header)", bytes.len()))?;
    if !matches!(format, image::ImageFormat::Jpeg | image::ImageFormat::Png) {
        return Err(format!("{format:?} images are not supported (only JPEG and PNG)"));
    }
    let decoded = image::load_from_memory_with_format(bytes, format)
        .map_err(|e| format!("corrupt {format:?} data: {e}"))?
        .to_rgb8();
    let (width, height) = (decoded.width() as usize, decoded.height() as usize);
    let mut data = vec![0f32; 3 * height * width];
    let plane = height * width;
    for (p, px) in decoded.pixels().enumerate() {
        for c in 0..3 {
            data[c * plane + p] = px.0[c] as f32 / 255.0;
        }
    }
    Ok(Image { channels: 3, height, width, data })
}

/// Resizes so the shorter side is `target` (keeping the aspect ratio, longer side rounded down as
/// torchvision's `Resize(int)` does), antialiased when shrinking.
pub fn resize_shorter_side(img: &Image, target: usize) -> Image {
    let (h, w) = (img.height, img.width);
    let (oh, ow) = if h <= w {
        (target, (target as f64 * w as f64 / h as f64) as usize)
    } else {
        ((target as f64 * h as f64 / w as f64) as usize, target)
    };
    let mut out = Image::zeros(img.channels, oh.max(1), ow.max(1));
    let mut scratch = Vec::new();
    resample(img, Rect::full(img), out.height, out.width, &mut out.data, &mut scratch);
    out
}

/// The central `height` x `width` window (torchvision's `CenterCrop`: offsets rounded half to even,
/// as Python's `round`).
pub fn center_crop(img: &Image, height: usize, width: usize) -> Result<Image> {
    if height > img.height || width > img.width {
        return Err(Error::invalid(
            "center crop",
            format!("{height}x{width} is larger than the {}x{} image", img.height, img.width),
        ));
    }
    let top = ((img.height - height) as f64 / 2.0).round_ties_even() as usize;
    let left = ((img.width - width) as f64 / 2.0).round_ties_even() as usize;
    let mut out = Image::zeros(img.channels, height, width);
    for c in 0..img.channels {
        for y in 0..height {
            let src = (c * img.height + top + y) * img.width + left;
            let dst = (c * height + y) * width;
            out.data[dst..dst + width].copy_from_slice(&img.data[src..src + width]);
        }
    }
    Ok(out)
}

/// The usual evaluation transform: shorter side to `resize`, then the central `crop` x `crop`.
pub fn resize_center_crop(img: &Image, resize: usize, crop: usize) -> Result<Image> {
    center_crop(&resize_shorter_side(img, resize), crop, crop)
}

/// A window of the source image in pixel units (may be fractional).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub top: f32,
    pub left: f32,
    pub height: f32,
    pub width: f32,
}

impl Rect {
    pub fn full(img: &Image) -> Rect {
        Rect { top: 0.0, left: 0.0, height: img.height as f32, width: img.width as f32 }
    }
}

/// Taps of a 1-D resampling: output `i` reads `len` source pixels from `start[i]` with weights
/// `weights[i * taps..]`.
struct Taps {
    start: Vec<usize>,
    len: Vec<usize>,
    taps: usize,
    weights: Vec<f32>,
}

fn taps(src_len: usize, from: f32, extent: f32, out_len: usize) -> Taps {
    let scale = extent / out_len as f32;
    let filter_scale = scale.max(1.0);
    let support = filter_scale; // triangle filter has support 1, widened by the scale
    let taps = (support * 2.0).ceil() as usize + 2;
    let mut t = Taps { start: vec![0; out_len], len: vec![0; out_len], taps, weights: vec![0.0; out_len * taps] };
    for i in 0..out_len {
        let center = from + (i as f32 + 0.5) * scale;
        let lo = ((center - support).floor().max(0.0)) as usize;
        let hi = (((center + support).ceil()) as usize).min(src_len).min(lo + taps);
        let w = &mut t.weights[i * taps..(i + 1) * taps];
        let mut sum = 0.0;
        for j in lo..hi {
            let x = ((j as f32 + 0.5 - center) / filter_scale).abs();
            let v = (1.0 - x).max(0.0);
            w[j - lo] = v;
            sum += v;
        }
        if sum > 0.0 {
            w.iter_mut().for_each(|v| *v /= sum);
            t.start[i] = lo;
            t.len[i] = hi - lo;
        } else {
            // Window entirely outside the image: replicate the nearest edge pixel.
            t.start[i] = (center.max(0.0) as usize).min(src_len - 1);
            t.len[i] = 1;
            w[0] = 1.0;
        }
    }
    t
}

/// Resamples the `rect` window of `src` to `out_h` x `out_w` into `out` (`[C, out_h, out_w]`),
/// antialiased when shrinking. `scratch` holds the horizontal pass and is reused across calls.
pub fn resample(src: &Image, rect: Rect, out_h: usize, out_w: usize, out: &mut [f32], scratch: &mut Vec<f32>) {
    debug_assert_eq!(out.len(), src.channels * out_h * out_w);
    let tx = taps(src.width, rect.left, rect.width, out_w);
    let ty = taps(src.height, rect.top, rect.height, out_h);
    let row_lo = ty.start.iter().copied().min().unwrap_or(0);
    let row_hi = ty.start.iter().zip(&ty.len).map(|(s, l)| s + l).max().unwrap_or(0);
    let rows = row_hi - row_lo;
    scratch.clear();
    scratch.resize(src.channels * rows * out_w, 0.0);
    for c in 0..src.channels {
        for r in 0..rows {
            let src_row = &src.data[(c * src.height + row_lo + r) * src.width..][..src.width];
            let dst = &mut scratch[(c * rows + r) * out_w..][..out_w];
            for (x, d) in dst.iter_mut().enumerate() {
                let w = &tx.weights[x * tx.taps..][..tx.len[x]];
                let s = &src_row[tx.start[x]..][..tx.len[x]];
                *d = s.iter().zip(w).map(|(a, b)| a * b).sum();
            }
        }
        for y in 0..out_h {
            let dst = &mut out[(c * out_h + y) * out_w..][..out_w];
            dst.fill(0.0);
            let w = &ty.weights[y * ty.taps..][..ty.len[y]];
            for (k, &wk) in w.iter().enumerate() {
                let r = ty.start[y] + k - row_lo;
                let row = &scratch[(c * rows + r) * out_w..][..out_w];
                for (d, s) in dst.iter_mut().zip(row) {
                    *d += wk * s;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(h: usize, w: usize) -> Image {
        let data = (0..h * w).map(|i| (i % w) as f32 / w as f32).collect();
        Image { channels: 1, height: h, width: w, data }
    }

    #[test]
    fn resampling_to_the_same_size_is_the_identity() {
        let img = ramp(7, 9);
        let mut out = vec![0.0; 63];
        resample(&img, Rect::full(&img), 7, 9, &mut out, &mut Vec::new());
        for (a, b) in out.iter().zip(&img.data) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn a_constant_image_stays_constant_at_any_size() {
        let img = Image { channels: 2, height: 10, width: 13, data: vec![0.25; 260] };
        for (h, w) in [(3, 4), (10, 13), (31, 17)] {
            let mut out = vec![0.0; 2 * h * w];
            resample(&img, Rect { top: 1.5, left: 2.0, height: 6.0, width: 7.0 }, h, w, &mut out, &mut Vec::new());
            assert!(out.iter().all(|v| (v - 0.25).abs() < 1e-6), "{h}x{w}");
        }
    }

    #[test]
    fn shorter_side_resize_keeps_the_aspect_ratio_and_center_crop_is_centred() {
        let img = ramp(40, 60);
        let r = resize_shorter_side(&img, 20);
        assert_eq!((r.height, r.width), (20, 30));
        let c = center_crop(&ramp(5, 8), 3, 4).unwrap();
        assert_eq!(c.data[0], 2.0 / 8.0);
        assert!(center_crop(&img, 41, 10).is_err());
    }
}

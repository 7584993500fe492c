//! A deterministic generator of image classes (shapes, textures, colours, noise) built into the
//! binary, so that training can be exercised on a fresh machine with no data at all.
//!
//! Class `c` draws shape `c % 10` (disc, square, ring, cross, horizontal stripes, vertical
//! stripes, diagonal stripes, checkerboard, triangle, radial gradient) with a texture frequency
//! and colour that also depend on `c`, so up to hundreds of classes stay distinct. Each sample
//! jitters position, size and brightness and adds Gaussian noise, all from
//! `(seed, class, index)`: the same triple always renders the same pixels.
//!
//! [`dataset`] turns the generator into a source like the file-backed ones (ids, hashes,
//! manifest), with a configurable number of classes and images per class, so a whole pipeline
//! runs with no data. Splits draw disjoint index ranges, so train and test never share an image.

use std::path::Path;
use std::sync::Arc;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::dataset::{ContentHash, Dataset, Location, Origin, Pixels, Sample, Split};
use crate::error::{Error, Result};

/// Bumped whenever [`render`] changes its pixels: it is part of every synthetic content hash,
/// so caches keyed on hashes see the change.
pub const GENERATOR_VERSION: u32 = 1;

const SHAPES: [&str; 10] =
    ["disc", "square", "ring", "cross", "hstripes", "vstripes", "dstripes", "checker", "triangle", "radial"];

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticSpec {
    pub classes: usize,
    /// 1 (grayscale) or 3 (RGB).
    pub channels: usize,
    /// Images are `size` x `size`.
    pub size: usize,
    /// Standard deviation of the additive Gaussian pixel noise (pixels are in [0, 1]).
    pub noise: f32,
    pub seed: u64,
}

fn class_colour(class: usize) -> [f32; 3] {
    let h = (class as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    let channel = |shift: u32| 0.35 + 0.65 * (((h >> shift) & 0xFF) as f32 / 255.0);
    [channel(0), channel(8), channel(16)]
}

fn shape_value(shape: usize, frequency: f32, u: f32, v: f32) -> f32 {
    let r = (u * u + v * v).sqrt();
    let stripes = |t: f32| if (t * frequency * std::f32::consts::PI).sin() > 0.0 { 1.0 } else { 0.0 };
    match shape {
        0 => (r < 0.6) as u8 as f32,
        1 => (u.abs() < 0.55 && v.abs() < 0.55) as u8 as f32,
        2 => (r > 0.35 && r < 0.65) as u8 as f32,
        3 => ((u.abs() < 0.18 || v.abs() < 0.18) && r < 0.8) as u8 as f32,
        4 => stripes(v),
        5 => stripes(u),
        6 => stripes((u + v) * std::f32::consts::FRAC_1_SQRT_2),
        7 => (stripes(u) - stripes(v)).abs(),
        8 => (v > -0.5 && v < 0.6 && u.abs() < (0.6 - v) * 0.6) as u8 as f32,
        _ => (1.0 - r).clamp(0.0, 1.0),
    }
}

/// Renders sample `index` of `class` as `[channels, size, size]` floats in [0, 1].
pub fn render(spec: &SyntheticSpec, class: usize, index: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed ^ (class as u64).wrapping_mul(0x2545_F491_4F6C_DD1D) ^ index.wrapping_mul(0x9E37_79B9));
    let shape = class % 10;
    let frequency = 2.0 + (class / 10 % 4) as f32;
    let colour = class_colour(class / 10);
    let (cx, cy) = (rng.random_range(-0.2f32..0.2), rng.random_range(-0.2f32..0.2));
    let scale = rng.random_range(0.8f32..1.2);
    let brightness = rng.random_range(0.7f32..1.0);
    let background = rng.random_range(0.0f32..0.2);
    let size = spec.size;
    let mut out = vec![0f32; spec.channels * size * size];
    for y in 0..size {
        for x in 0..size {
            let u = ((x as f32 + 0.5) / size as f32 * 2.0 - 1.0 - cx) / scale;
            let v = ((y as f32 + 0.5) / size as f32 * 2.0 - 1.0 - cy) / scale;
            let value = shape_value(shape, frequency, u, v);
            for c in 0..spec.channels {
                let tint = if spec.channels == 3 { colour[c] } else { 1.0 };
                let noise = gaussian(&mut rng) * spec.noise;
                out[(c * size + y) * size + x] = (background + value * brightness * tint + noise).clamp(0.0, 1.0);
            }
        }
    }
    out
}

fn gaussian(rng: &mut ChaCha8Rng) -> f32 {
    // Box-Muller: two uniforms give one standard normal.
    let u1: f32 = rng.random_range(f32::EPSILON..1.0);
    let u2: f32 = rng.random_range(0.0f32..1.0);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
}

/// Renders `samples` (class, index) into one `[N, channels, size, size]` batch.
/// Samples render in parallel; the result does not depend on the thread count.
pub fn render_batch(spec: &SyntheticSpec, samples: &[(usize, u64)]) -> Vec<f32> {
    use rayon::prelude::*;
    let per_image = spec.channels * spec.size * spec.size;
    let mut out = vec![0f32; samples.len() * per_image];
    out.par_chunks_mut(per_image.max(1)).zip(samples.par_iter()).for_each(|(dst, &(class, index))| {
        dst.copy_from_slice(&render(spec, class, index));
    });
    out
}

/// First generator index of each split: disjoint ranges, so the splits share no image.
fn split_base(split: Split) -> u64 {
    match split {
        Split::Train => 0,
        Split::Val => 1 << 40,
        Split::Test => 2 << 40,
    }
}

/// Class names: `<shape>-f<frequency>-c<colour group>`, e.g. `ring-f2-c0` for class 2.
pub fn class_name(class: usize) -> String {
    format!("{}-f{}-c{}", SHAPES[class % 10], 2 + class / 10 % 4, class / 10)
}

/// A dataset of `images_per_class[c]` generated images of each class `c` (labels 0..classes),
/// class-major. Ids are `<split>/<class>/<index>`; the hash covers the recipe (generator
/// version, spec, class, index) that fixes the pixels, so no image is rendered here.
pub fn dataset(spec: &SyntheticSpec, images_per_class: &[usize], split: Split) -> Result<Dataset> {
    if images_per_class.len() != spec.classes {
        return Err(Error::invalid(
            "synthetic source",
            format!("{} per-class counts for {} classes", images_per_class.len(), spec.classes),
        ));
    }
    if spec.classes == 0 || !(spec.channels == 1 || spec.channels == 3) || spec.size == 0 {
        return Err(Error::invalid(
            "synthetic source",
            format!(
                "needs classes >= 1, channels 1 or 3 and size >= 1 (got {} classes, {} channels, size {})",
                spec.classes, spec.channels, spec.size
            ),
        ));
    }
    let file: Arc<Path> = Arc::from(Path::new("<synthetic>"));
    let mut samples = Vec::with_capacity(images_per_class.iter().sum());
    for (class, &n) in images_per_class.iter().enumerate() {
        for i in 0..n as u64 {
            let index = split_base(split) + i;
            let mut recipe = Vec::with_capacity(64);
            recipe.extend_from_slice(b"ssdlt-synthetic");
            recipe.extend_from_slice(&GENERATOR_VERSION.to_le_bytes());
            for v in [spec.channels as u64, spec.size as u64, spec.seed, class as u64, index] {
                recipe.extend_from_slice(&v.to_le_bytes());
            }
            recipe.extend_from_slice(&spec.noise.to_le_bytes());
            samples.push(Sample {
                id: format!("{split}/{class:03}/{i:06}"),
                label: class as u32,
                hash: ContentHash::of(&recipe),
                pixels: Pixels::Synthetic { spec: *spec, class, index },
                origin: Origin { file: file.clone(), location: Location::Generated },
            });
        }
    }
    Ok(Dataset {
        name: "synthetic".to_string(),
        split,
        class_names: (0..spec.classes).map(class_name).collect(),
        samples,
    })
}

/// [`dataset`] with the same number of images in every class.
pub fn balanced_dataset(spec: &SyntheticSpec, images_per_class: usize, split: Split) -> Result<Dataset> {
    dataset(spec, &vec![images_per_class; spec.classes], split)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: SyntheticSpec = SyntheticSpec { classes: 10, channels: 3, size: 16, noise: 0.1, seed: 7 };

    #[test]
    fn the_same_class_and_index_render_the_same_pixels() {
        assert_eq!(render(&SPEC, 3, 11), render(&SPEC, 3, 11));
        assert_ne!(render(&SPEC, 3, 11), render(&SPEC, 3, 12));
    }

    #[test]
    fn classes_differ_more_than_samples_of_one_class() {
        let mean = |class: usize| {
            let imgs: Vec<Vec<f32>> = (0..20).map(|i| render(&SPEC, class, i)).collect();
            (0..imgs[0].len()).map(|p| imgs.iter().map(|im| im[p]).sum::<f32>() / 20.0).collect::<Vec<f32>>()
        };
        let dist = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f32>();
        let means: Vec<Vec<f32>> = (0..10).map(mean).collect();
        for a in 0..10 {
            for b in a + 1..10 {
                assert!(dist(&means[a], &means[b]) > 1.0, "classes {a} and {b} look alike");
            }
        }
    }

    #[test]
    fn synthetic_splits_are_disjoint_and_decode_to_the_spec_shape() {
        let train = balanced_dataset(&SPEC, 3, Split::Train).unwrap();
        let test = balanced_dataset(&SPEC, 3, Split::Test).unwrap();
        assert_eq!(train.len(), 30);
        assert_eq!(train.class_counts(), vec![3; 10]);
        let img = train.image(4).unwrap();
        assert_eq!((img.channels, img.height, img.width), (3, 16, 16));
        assert_ne!(train.image(0).unwrap(), test.image(0).unwrap());
        assert_ne!(train.samples[0].hash, test.samples[0].hash);
        assert!(dataset(&SPEC, &[1, 2], Split::Train).is_err());
    }
}

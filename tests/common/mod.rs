//! Shared test fixtures: one wgpu device for the whole test binary (pipelines compile once), the
//! cpu device, seeded inputs and the numeric checks every kernel test states its tolerance with.
#![allow(dead_code)]

use std::sync::OnceLock;

use rand::{RngExt, SeedableRng};
use ssdlt::kernels::Device;

/// The wgpu device on the best adapter wgpu sees (lavapipe in CI; a real GPU when there is one).
/// Tests that need it fail loudly when no adapter exists: CI installs lavapipe.
pub fn gpu() -> Device {
    static GPU: OnceLock<Device> = OnceLock::new();
    GPU.get_or_init(|| match Device::wgpu(false) {
        Ok((dev, reason)) => {
            eprintln!("test wgpu device: {reason}");
            dev
        }
        Err(e) => panic!("{e}"),
    })
    .clone()
}

pub fn cpu() -> Device {
    Device::cpu()
}

/// The cpu device once per SIMD level this processor runs (widest first, portable last).
pub fn cpu_every_simd_level() -> Vec<Device> {
    ssdlt::kernels::cpu_simd::SimdLevel::available().iter().map(|&level| Device::cpu_with_simd(level)).collect()
}

/// Both devices, cpu first: a test body run on each.
pub fn devices() -> Vec<Device> {
    vec![cpu(), gpu()]
}

/// `len` values uniform in [-scale, scale) from `seed`.
pub fn seeded(len: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-scale..scale)).collect()
}

/// `len` labels in [0, classes) from `seed`.
pub fn seeded_labels(len: usize, classes: u32, seed: u64) -> Vec<u32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(0..classes)).collect()
}

/// Largest |got - want| relative to the largest |want| (so values near zero are judged on the
/// scale of the whole output, as a float reduction in another order would err).
pub fn max_relative_error(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len(), "length mismatch");
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
    got.iter().zip(want).fold(0f32, |m, (g, w)| m.max((g - w).abs())) / scale
}

#[track_caller]
pub fn assert_close(what: &str, got: &[f32], want: &[f32], tolerance: f32) {
    assert!(got.iter().all(|v| v.is_finite()), "{what}: non-finite output");
    let err = max_relative_error(got, want);
    assert!(err <= tolerance, "{what}: max relative error {err:e} > {tolerance:e}");
}

/// Central finite differences of a scalar function of `x` (evaluated in f64 around f32 inputs).
pub fn numeric_gradient(x: &[f32], eps: f32, mut f: impl FnMut(&[f32]) -> f64) -> Vec<f32> {
    let mut x = x.to_vec();
    (0..x.len())
        .map(|i| {
            let keep = x[i];
            x[i] = keep + eps;
            let up = f(&x);
            x[i] = keep - eps;
            let down = f(&x);
            x[i] = keep;
            ((up - down) / (2.0 * eps as f64)) as f32
        })
        .collect()
}

/// User + system CPU seconds of this process (Linux /proc; 0 elsewhere): lavapipe's threads are
/// ours, so work per CPU-second is steady on a loaded machine where wall-clock is not.
pub fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
    ticks / 100.0
}

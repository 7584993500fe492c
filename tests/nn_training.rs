//! Training: a ResNet-8 learns a synthetic 10-class image task to >= 90% held-out accuracy on
//! cpu and on wgpu, and one seed gives bit-identical loss sequences run after run on each device.

use rand::{RngExt, SeedableRng};
use ssdlt::kernels::Device;
use ssdlt::nn::{evaluate, Arch, ClassificationTrainer, LrSchedule, Network, NetworkConfig, SgdConfig};

use crate::common;

const HW: usize = 16;
const CLASSES: usize = 10;

/// `count` single-channel HWxHW images of oriented sine gratings with uniform noise: class k has
/// orientation (k mod 5) * 36 degrees and period 4 (k < 5) or 8 pixels; phase and contrast are
/// random per image.
fn gratings(count: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut images = Vec::with_capacity(count * HW * HW);
    let mut labels = Vec::with_capacity(count);
    for _ in 0..count {
        let k = rng.random_range(0..CLASSES as u32);
        let theta = (k % 5) as f32 * std::f32::consts::PI / 5.0;
        let period = if k < 5 { 4.0 } else { 8.0 };
        let phase = rng.random_range(0.0..std::f32::consts::TAU);
        let contrast = rng.random_range(0.3f32..0.8);
        let (c, s) = (theta.cos(), theta.sin());
        for y in 0..HW {
            for x in 0..HW {
                let t = (x as f32 * c + y as f32 * s) * std::f32::consts::TAU / period + phase;
                images.push(contrast * t.sin() + rng.random_range(-1.2f32..1.2));
            }
        }
        labels.push(k);
    }
    (images, labels)
}

struct Run {
    losses: Vec<f32>,
    accuracy: f64,
}

/// Trains a ResNet-8 on `steps` batches of `batch` fresh samples, logging every `log_every`
/// steps, then measures held-out accuracy.
fn train(dev: &Device, steps: usize, batch: usize, log_every: usize, evaluate_after: bool) -> Run {
    let net = Network::new(dev, NetworkConfig::classifier(Arch::cifar(8), 1, CLASSES), 7).unwrap();
    let schedule = LrSchedule::cosine(0.1, 1, steps).per_step(true);
    let mut trainer = ClassificationTrainer::new(dev, net, "fc", SgdConfig::default(), schedule, log_every).unwrap();
    let (images, labels) = gratings(steps * batch, 1);
    let mut losses = Vec::new();
    for s in 0..steps {
        let x = &images[s * batch * HW * HW..(s + 1) * batch * HW * HW];
        let y = &labels[s * batch..(s + 1) * batch];
        if let Some(log) = trainer.step(dev, x, [batch, 1, HW, HW], y).unwrap() {
            assert!(log.loss.is_finite(), "step {}: loss {}", log.step, log.loss);
            losses.push(log.loss);
        }
    }
    let accuracy = if evaluate_after {
        let (test_x, test_y) = gratings(500, 2);
        let report = evaluate(dev, &mut trainer.net, 0, &test_x, [1, HW, HW], &test_y, 100).unwrap();
        eprintln!("{}: {steps} steps of {batch}: held-out accuracy {:.3}, loss {:.3}; logged losses {losses:?}", dev.name(), report.accuracy(), report.loss);
        report.accuracy()
    } else {
        f64::NAN
    };
    Run { losses, accuracy }
}

#[test]
fn resnet8_learns_gratings_to_90_percent_on_cpu() {
    let run = train(&common::cpu(), 100, 32, 10, true);
    assert!(run.accuracy >= 0.9, "held-out accuracy {}", run.accuracy);
    assert!(run.losses.last().unwrap() < &run.losses[0]);
}

#[test]
fn resnet8_learns_gratings_to_90_percent_on_wgpu() {
    let _turn = crate::nn_models::gpu_turn();
    let run = train(&common::gpu(), 100, 32, 10, true);
    assert!(run.accuracy >= 0.9, "held-out accuracy {}", run.accuracy);
}

fn loss_bits(dev: &Device) -> Vec<u32> {
    train(dev, 12, 16, 1, false).losses.iter().map(|l| l.to_bits()).collect()
}

#[test]
fn one_seed_gives_bit_identical_losses_on_cpu() {
    let dev = common::cpu();
    let a = loss_bits(&dev);
    assert_eq!(a.len(), 12);
    assert_eq!(a, loss_bits(&dev));
}

#[test]
fn one_seed_gives_bit_identical_losses_on_wgpu() {
    let _turn = crate::nn_models::gpu_turn();
    let dev = common::gpu();
    assert_eq!(loss_bits(&dev), loss_bits(&dev));
}


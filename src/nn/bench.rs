//! Model-level throughput for `ssdlt bench`: CIFAR ResNet-32 on 3x32x32 images, 10 classes.
//! Every figure is the median of calls timed one by one, so one call slowed by a shared machine
//! does not move it.

use std::time::Instant;

use rand::{RngExt, SeedableRng};

use crate::kernels::Device;

use super::arch::Arch;
use super::network::{Network, NetworkConfig};
use super::optim::SgdConfig;
use super::schedule::LrSchedule;
use super::train::ClassificationTrainer;

fn random_batch(batch: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let images = (0..batch * 3 * 32 * 32).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let labels = (0..batch).map(|_| rng.random_range(0..10u32)).collect();
    (images, labels)
}

/// Seconds one call of `op` takes on `dev`: the median of `calls` calls (at least 1), each timed
/// up to the device's finish, after one untimed warm-up call (pipelines compiled, scratch made).
pub fn median_seconds_per_call(dev: &Device, calls: usize, mut op: impl FnMut()) -> f64 {
    op();
    dev.wait();
    let mut seconds: Vec<f64> = (0..calls.max(1))
        .map(|_| {
            let start = Instant::now();
            op();
            dev.wait();
            start.elapsed().as_secs_f64()
        })
        .collect();
    seconds.sort_by(f64::total_cmp);
    let mid = seconds.len() / 2;
    if seconds.len() % 2 == 1 {
        seconds[mid]
    } else {
        (seconds[mid - 1] + seconds[mid]) / 2.0
    }
}

/// ResNet-32 training images per second at `batch` (full steps: upload, forward, loss, backward,
/// SGD), from the median of `steps` timed steps.
pub fn resnet32_train_images_per_s(dev: &Device, batch: usize, steps: usize) -> f64 {
    let net = Network::new(dev, NetworkConfig::classifier(Arch::cifar(32), 3, 10), 0).expect("resnet32 builds");
    let mut trainer = ClassificationTrainer::new(dev, net, "fc", SgdConfig::default(), LrSchedule::constant(0.1), usize::MAX).expect("fc head");
    let (images, labels) = random_batch(batch, 1);
    let shape = [batch, 3, 32, 32];
    batch as f64 / median_seconds_per_call(dev, steps, || {
        trainer.step(dev, &images, shape, &labels).expect("valid batch");
    })
}

/// ResNet-32 inference (eval mode, upload included) images per second at `batch`, from the median
/// of `steps` timed batches.
pub fn resnet32_infer_images_per_s(dev: &Device, batch: usize, steps: usize) -> f64 {
    let mut net = Network::new(dev, NetworkConfig::classifier(Arch::cifar(32), 3, 10), 0).expect("resnet32 builds");
    let (images, _) = random_batch(batch, 2);
    let x = dev.zeros(&[batch, 3, 32, 32]);
    let run = || {
        x.write(&images);
        net.forward(dev, &x, false);
        dev.flush();
    };
    batch as f64 / median_seconds_per_call(dev, steps, run)
}

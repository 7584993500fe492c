//! `ssdlt demo`: trains a CIFAR ResNet-8 on the built-in synthetic classes and reports held-out
//! accuracy — a check, on a fresh machine with no data, that the engine trains end to end on
//! the chosen device.

use std::path::PathBuf;
use std::time::Instant;

use rand::{RngExt, SeedableRng};

use crate::data::synthetic::{render_batch, SyntheticSpec};
use crate::kernels::Device;
use crate::nn::arch::Arch;
use crate::nn::network::{Network, NetworkConfig};
use crate::nn::optim::SgdConfig;
use crate::nn::schedule::LrSchedule;
use crate::nn::train::{evaluate, ClassificationTrainer};

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Training steps (SGD, momentum 0.9, cosine learning rate from 0.1).
    #[arg(long, default_value_t = 300)]
    pub steps: usize,
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Number of synthetic classes.
    #[arg(long, default_value_t = 10)]
    pub classes: usize,
    /// CIFAR ResNet depth: 8, 20, 32, 56 or 110.
    #[arg(long, default_value_t = 8)]
    pub depth: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Save the trained network as a safetensors checkpoint (PyTorch tensor names).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
}

const TRAIN_PER_CLASS: u64 = 200;
const TEST_PER_CLASS: u64 = 50;
/// Test samples use indices past every training index, so no test image is a training image.
const TEST_INDEX_OFFSET: u64 = 1_000_000;

fn normalize(pixels: &mut [f32]) {
    for v in pixels {
        *v = (*v - 0.5) / 0.25;
    }
}

pub fn run(args: &DemoArgs, dev: &Device, quiet: bool) -> anyhow::Result<()> {
    anyhow::ensure!(args.batch > 0 && args.steps > 0 && args.classes > 1, "--batch and --steps must be positive and --classes at least 2");
    let spec = SyntheticSpec { classes: args.classes, channels: 3, size: 32, noise: 0.15, seed: args.seed };
    let sample_shape = [3, 32, 32];
    let config = NetworkConfig::classifier(Arch::cifar(args.depth), 3, args.classes);
    let net = Network::new(dev, config, args.seed)?;
    let schedule = LrSchedule::cosine(0.1, args.steps, 1).per_step(true);
    let log_every = (args.steps / 10).max(1);
    let mut trainer = ClassificationTrainer::new(dev, net, "fc", SgdConfig::default(), schedule, log_every)?;
    if !quiet {
        eprintln!(
            "training ResNet-{} on {} synthetic classes ({} images each), batch {}, {} steps",
            args.depth, args.classes, TRAIN_PER_CLASS, args.batch, args.steps
        );
    }
    // The training set is rendered once, like a dataset on disk; batches sample from it.
    let train: Vec<(usize, u64)> = (0..args.classes).flat_map(|c| (0..TRAIN_PER_CLASS).map(move |i| (c, i))).collect();
    let mut train_images = render_batch(&spec, &train);
    normalize(&mut train_images);
    let per_image: usize = sample_shape.iter().product();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
    let mut images = vec![0f32; args.batch * per_image];
    let started = Instant::now();
    let mut seen = 0usize;
    for _ in 0..args.steps {
        let picks: Vec<usize> = (0..args.batch).map(|_| rng.random_range(0..train.len())).collect();
        for (dst, &i) in images.chunks_mut(per_image).zip(&picks) {
            dst.copy_from_slice(&train_images[i * per_image..][..per_image]);
        }
        let labels: Vec<u32> = picks.iter().map(|&i| train[i].0 as u32).collect();
        let log = trainer.step(dev, &images, [args.batch, 3, 32, 32], &labels)?;
        seen += args.batch;
        if let (Some(log), false) = (log, quiet) {
            eprintln!(
                "  step {:>5}/{}  lr {:.4}  loss {:.4}  batch accuracy {:5.1}%  {:.0} images/s",
                log.step + 1,
                args.steps,
                log.lr,
                log.loss,
                100.0 * log.correct as f64 / log.batch as f64,
                seen as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    dev.wait();
    let train_secs = started.elapsed().as_secs_f64();

    let test: Vec<(usize, u64)> =
        (0..args.classes).flat_map(|c| (0..TEST_PER_CLASS).map(move |i| (c, TEST_INDEX_OFFSET + i))).collect();
    let mut images = render_batch(&spec, &test);
    normalize(&mut images);
    let labels: Vec<u32> = test.iter().map(|&(c, _)| c as u32).collect();
    let report = evaluate(dev, &mut trainer.net, trainer.head, &images, sample_shape, &labels, 256)?;
    println!(
        "held-out accuracy {:.1}% ({}/{} images, {} classes) after {} steps in {:.1} s ({:.0} training images/s) on {}",
        100.0 * report.accuracy(),
        report.correct,
        report.total,
        args.classes,
        args.steps,
        train_secs,
        seen as f64 / train_secs,
        dev.name()
    );
    if let Some(path) = &args.checkpoint {
        crate::store::checkpoint::save_network(path, &trainer.net, &Default::default())?;
        println!("checkpoint written to {}", path.display());
    }
    Ok(())
}

//! `ssdlt bench --distill`: what caching the soft labels buys the student (SSD-LT stage III).
//!
//! In one run, on the chosen device, the same student step (ResNet-20 with `fc` on hard labels
//! and `fc_soft` distilled at T = 2, batch 128, 1x32x32, `pad_crop 4 + hflip`) is timed two ways,
//! epoch by epoch in alternation so both see the same machine:
//! - **cached**: targets read from a soft-label Arrow file written by the same code as the
//!   `soft_labels` stage (and read back from disk before training), as `ssdlt run` does;
//! - **online**: a ResNet-20 teacher runs in eval mode on every batch first (softmax at T,
//!   top-k), the design SSD-LT's cache replaces.
//!
//! It also encodes soft-label sets of 1,000 rows with the store's schema and reports the bytes
//! per (sample, view) row for top-10 against dense, at 10, 100 and 1,000 classes (Fashion-MNIST
//! and CIFAR-10, CIFAR-100, ImageNet-LT).

use std::time::Instant;

use serde::Serialize;

use crate::data::augment::{Augment, AugmentPipeline, Normalize, QUERY_VIEW};
use crate::data::samplers::{Sampler, SamplerKind};
use crate::data::synthetic::{self, SyntheticSpec};
use crate::data::{ContentHash, Dataset, Split};
use crate::dataflow::batches::{for_each_batch, BatchPlan};
use crate::error::Result;
use crate::kernels::losses::softmax_with_temperature;
use crate::kernels::Device;
use crate::nn::distill::{DistillConfig, SoftTargets};
use crate::nn::multi_loss::{CeConfig, LossConfig, SOFT_HEAD};
use crate::nn::{Arch, HeadConfig, LrSchedule, MultiLossTrainer, Network, NetworkConfig, SgdConfig, Slot, StepInput};
use crate::stages::soft_labels::top_k;
use crate::store::soft_labels::{encode_soft_labels, read_soft_labels, write_soft_labels, SoftLabelRow, SoftLabelSet};

const TEMPERATURE: f32 = 2.0;
const BATCH: usize = 128;

#[derive(Serialize)]
struct StudentFigures {
    device: String,
    model: &'static str,
    images: usize,
    epochs_each: usize,
    /// One-time cost of the cache: the teacher's forward pass over every image (view 0).
    cache_build_images_per_s: f64,
    cache_read_s: f64,
    cached_images_per_s: f64,
    online_images_per_s: f64,
    /// cached / online.
    speedup: f64,
}

#[derive(Serialize)]
struct CacheSize {
    classes: usize,
    k: usize,
    bytes_per_row: f64,
}

/// The Fashion-MNIST-LT class counts of pipelines/fashion_mnist_lt.yaml (500 down to 5), or a
/// tenth of them for `--quick`.
fn long_tail_counts(quick: bool) -> Vec<usize> {
    let full: [usize; 10] = [500, 299, 179, 107, 64, 38, 23, 13, 8, 5];
    full.iter().map(|&n| if quick { n.div_ceil(10) } else { n }).collect()
}

/// Teacher softmax(z / T) of one batch, kept as the `k` most probable classes per row.
struct OnlineTeacher {
    net: Network,
    x: Slot,
    probs: Slot,
}

impl OnlineTeacher {
    fn targets(&mut self, dev: &Device, images: &[f32], shape: [usize; 4], k: usize, ids: &mut Vec<u32>, probs: &mut Vec<f32>) {
        let x = self.x.f32(dev, &shape);
        x.write(images);
        self.net.forward_features(dev, &x, false);
        let logits = self.net.forward_head(dev, 0);
        let classes = logits.shape()[1];
        let p = self.probs.f32(dev, &[shape[0], classes]);
        softmax_with_temperature(dev, &logits, TEMPERATURE, &p);
        ids.clear();
        probs.clear();
        for row in p.to_vec().chunks_exact(classes) {
            let (c, v) = top_k(row, k);
            ids.extend(c);
            probs.extend(v);
        }
    }
}

fn student(dev: &Device, classes: usize) -> Result<MultiLossTrainer> {
    let config = NetworkConfig::classifier(Arch::parse("resnet20")?, 1, classes).with_head(HeadConfig::linear(SOFT_HEAD, classes));
    let net = Network::new(dev, config, 7)?;
    let losses = LossConfig { ce: Some(CeConfig { weight: 1.0, adjust: None }), contrastive: None, distill: Some(DistillConfig { temperature: TEMPERATURE, weight: 1.0 }) };
    MultiLossTrainer::new(dev, net, &losses, SgdConfig::default(), LrSchedule::constant(0.1))
}

/// Soft labels of view 0 of every sample, as the `soft_labels` stage computes them.
fn build_cache(dev: &Device, teacher: &mut OnlineTeacher, data: &Dataset, eval: &AugmentPipeline, k: usize) -> Result<SoftLabelSet> {
    let order: Vec<usize> = (0..data.len()).collect();
    let views = [(eval, 0)];
    let plan = BatchPlan { dataset: data, order: &order, batch_size: BATCH, drop_last: false, views: &views, seed: 0, epoch: 0 };
    let (mut ids, mut probs) = (Vec::new(), Vec::new());
    let mut rows = Vec::with_capacity(data.len());
    for_each_batch(&plan, |batch| {
        let b = &batch.views[0];
        teacher.targets(dev, &b.data, b.shape, k, &mut ids, &mut probs);
        for ((&i, c), p) in batch.indices.iter().zip(ids.chunks_exact(k)).zip(probs.chunks_exact(k)) {
            let sample = &data.samples[i];
            rows.push(SoftLabelRow { id: sample.id.clone(), hash: sample.hash, view: 0, classes: c.to_vec(), probs: p.to_vec() });
        }
        Ok(())
    })?;
    Ok(SoftLabelSet { temperature: TEMPERATURE, k, num_classes: data.num_classes(), teacher_fingerprint: "bench".into(), views: 1, rows })
}

fn measure_student(dev: &Device, quick: bool, say: &dyn Fn(String)) -> Result<StudentFigures> {
    let counts = long_tail_counts(quick);
    let classes = counts.len();
    let spec = SyntheticSpec { classes, channels: 1, size: 32, noise: 0.1, seed: 3 };
    let data = synthetic::dataset(&spec, &counts, Split::Train)?;
    let normalize = Augment::Normalize(Normalize { mean: vec![0.2860], std: vec![0.3530] });
    let eval = AugmentPipeline::new(vec![normalize.clone()])?;
    let train = AugmentPipeline::new(vec![Augment::PadCrop(4), Augment::Hflip, normalize])?;
    let k = classes;

    let teacher_config = NetworkConfig::classifier(Arch::parse("resnet20")?, 1, classes);
    let mut teacher = OnlineTeacher { net: Network::new(dev, teacher_config, 5)?, x: Slot::default(), probs: Slot::default() };
    let started = Instant::now();
    let set = build_cache(dev, &mut teacher, &data, &eval, k)?;
    let cache_build_images_per_s = data.len() as f64 / started.elapsed().as_secs_f64();
    let dir = std::env::temp_dir().join(format!("ssdlt-bench-distill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| crate::Error::io(&dir, e))?;
    let path = dir.join("soft_labels.arrow");
    write_soft_labels(&path, &set)?;
    let started = Instant::now();
    let read = read_soft_labels(&path);
    let cache_read_s = started.elapsed().as_secs_f64();
    std::fs::remove_dir_all(&dir).ok();
    let cached = read?;
    let index = cached.index();
    say(format!("soft-label cache: {} rows, teacher forward {cache_build_images_per_s:.0} images/s, read back in {:.1} ms", cached.rows.len(), cache_read_s * 1e3));

    let mut trainers = [student(dev, classes)?, student(dev, classes)?];
    let sampler = Sampler::new(SamplerKind::InstanceBalanced, &data.labels(), classes, 11)?;
    let epochs = if quick { 1 } else { 3 };
    let mut seconds = [0f64; 2];
    let (mut ids, mut probs) = (Vec::new(), Vec::new());
    let views = [(&train, QUERY_VIEW)];
    for epoch in 0..=epochs {
        let order = sampler.epoch(epoch as u64);
        for (mode, trainer) in trainers.iter_mut().enumerate() {
            let plan = BatchPlan { dataset: &data, order: &order, batch_size: BATCH, drop_last: false, views: &views, seed: 1, epoch: epoch as u64 };
            dev.wait();
            let started = Instant::now();
            for_each_batch(&plan, |batch| {
                let b = &batch.views[0];
                if mode == 0 {
                    ids.clear();
                    probs.clear();
                    for &i in &batch.indices {
                        let row = &cached.rows[index[&(data.samples[i].id.as_str(), 0)]];
                        ids.extend_from_slice(&row.classes);
                        probs.extend_from_slice(&row.probs);
                    }
                } else {
                    teacher.targets(dev, &b.data, b.shape, k, &mut ids, &mut probs);
                }
                let input = StepInput { images: &b.data, shape: b.shape, labels: &b.labels, key_images: None, soft: Some(SoftTargets { k, ids: &ids, probs: &probs }) };
                trainer.step(dev, &input, false)?;
                Ok(())
            })?;
            dev.wait();
            // Epoch 0 warms both up (buffers, caches); it is not counted.
            if epoch > 0 {
                seconds[mode] += started.elapsed().as_secs_f64();
            }
        }
    }
    let images = (data.len() * epochs) as f64;
    let (cached_images_per_s, online_images_per_s) = (images / seconds[0], images / seconds[1]);
    say(format!("student step: cached soft labels {cached_images_per_s:.0} images/s, teacher online {online_images_per_s:.0} images/s"));
    Ok(StudentFigures {
        device: dev.name(),
        model: "resnet20 student (fc + fc_soft), resnet20 teacher, 1x32x32, batch 128",
        images: data.len(),
        epochs_each: epochs,
        cache_build_images_per_s,
        cache_read_s,
        cached_images_per_s,
        online_images_per_s,
        speedup: cached_images_per_s / online_images_per_s,
    })
}

/// Bytes per row of a 1,000-row soft-label file of `classes` classes keeping `k`, with ids of
/// the shape the loaders write (`train/000123`).
fn cache_bytes_per_row(classes: usize, k: usize) -> Result<f64> {
    let rows = 1000;
    let rows: Vec<SoftLabelRow> = (0..rows)
        .map(|i| {
            let mut probs: Vec<f32> = (0..k).map(|j| 1.0 / (j as f32 + 2.0 + (i % 7) as f32)).collect();
            let sum: f32 = probs.iter().sum();
            probs.iter_mut().for_each(|p| *p /= sum);
            let classes_kept = (0..k).map(|j| ((i + j * 31) % classes) as u32).collect();
            SoftLabelRow { id: format!("train/{i:06}"), hash: ContentHash::of(&(i as u64).to_le_bytes()), view: 0, classes: classes_kept, probs }
        })
        .collect();
    let n = rows.len();
    let set = SoftLabelSet { temperature: TEMPERATURE, k, num_classes: classes, teacher_fingerprint: "0".repeat(64), views: 1, rows };
    let bytes = encode_soft_labels(&set, std::path::Path::new("<bench>"))?;
    Ok(bytes.len() as f64 / n as f64)
}

pub fn run(dev: &Device, quick: bool, json: bool, quiet: bool) -> anyhow::Result<()> {
    let say = |msg: String| {
        if !quiet && !json {
            eprintln!("  {msg}");
        }
    };
    let student = measure_student(dev, quick, &say)?;
    let mut sizes = Vec::new();
    for classes in [10, 100, 1000] {
        for k in [10, classes] {
            if sizes.iter().any(|s: &CacheSize| s.classes == classes && s.k == k) {
                continue;
            }
            sizes.push(CacheSize { classes, k, bytes_per_row: cache_bytes_per_row(classes, k)? });
        }
    }
    if json {
        let doc = serde_json::json!({ "cpu_threads": rayon::current_num_threads(), "student": student, "cache_size": sizes });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    println!("student stage on {} ({} images, {} timed epochs each, same run):", student.device, student.images, student.epochs_each);
    println!("  cached soft labels   {:>8.0} images/s", student.cached_images_per_s);
    println!("  teacher online       {:>8.0} images/s", student.online_images_per_s);
    println!("  cached / online      {:>8.2}x", student.speedup);
    println!("  building the cache once: teacher forward {:.0} images/s; reading it back {:.1} ms", student.cache_build_images_per_s, student.cache_read_s * 1e3);
    println!("\nsoft-label cache size (Arrow IPC, 1,000 rows):");
    println!("  {:>7} {:>6} {:>14}", "classes", "k", "bytes per row");
    for s in &sizes {
        let note = if s.k == s.classes { " (dense)" } else { "" };
        println!("  {:>7} {:>6} {:>14.1}{note}", s.classes, s.k, s.bytes_per_row);
    }
    Ok(())
}

//! `ssdlt data FILE`: loads only the `dataset:` section of a pipeline file and prints what the
//! stages would train and evaluate on — the class histogram as a terminal bar chart (bucketed by
//! rank when there are many classes), the many / medium / few-shot groups, and the split lock
//! file's path — without training anything. `--stream` also pushes one epoch of the training
//! split through the timely batch stream (with the worker arguments) and reports images/s.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use serde::Deserialize;

use crate::data::augment::AugmentPipeline;
use crate::data::long_tail::{ClassStats, ShotGroup};
use crate::dataflow::batches::{for_each_batch, BatchPlan};
use crate::dataflow::workers::WorkerArgs;
use crate::spec::dataset::{DatasetSpec, LoadedData};

#[derive(clap::Args, Debug)]
pub struct DataArgs {
    /// The pipeline file (only its `dataset:` and `seed:` keys are read).
    pub file: PathBuf,
    /// Also stream one epoch of the training split through the batch workers and report images/s.
    #[arg(long)]
    pub stream: bool,
    /// Batch size of `--stream`.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Print one JSON document instead of the chart.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub workers: WorkerArgs,
}

/// The keys of a pipeline file this command reads; everything else is ignored here (the full
/// parser checks it).
#[derive(Deserialize)]
struct DataSection {
    dataset: DatasetSpec,
    #[serde(default)]
    seed: u64,
}

fn read_section(path: &Path) -> crate::Result<DataSection> {
    let text = std::fs::read_to_string(path).map_err(|e| crate::Error::io(path, e))?;
    serde_yaml::from_str(&text).map_err(|e| crate::Error::File { path: path.to_path_buf(), message: e.to_string() })
}

/// Width of the longest bar, in characters.
const BAR: usize = 40;
/// More classes than this are shown in rank buckets.
const MAX_LINES: usize = 40;

fn bar(value: f64, max: f64) -> String {
    let eighths = if max > 0.0 { (value / max * (BAR * 8) as f64).round() as usize } else { 0 };
    let partial = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    let mut s = "█".repeat(eighths / 8);
    s.push_str(partial[eighths % 8]);
    if s.is_empty() && value > 0.0 {
        s.push('▏');
    }
    s
}

/// One line per class in label order, or buckets of classes ranked by count.
fn histogram_lines(names: &[String], stats: &ClassStats) -> Vec<String> {
    let max = stats.counts.iter().copied().max().unwrap_or(0) as f64;
    let group = |c: usize| match stats.groups[c] {
        ShotGroup::Many => "many",
        ShotGroup::Medium => "medium",
        ShotGroup::Few => "few",
    };
    if stats.counts.len() <= MAX_LINES {
        let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0).min(24);
        return stats
            .counts
            .iter()
            .enumerate()
            .map(|(c, &n)| {
                let name: String = names[c].chars().take(width).collect();
                format!("  {c:>4} {name:<width$} {n:>7} {:<6} {}", group(c), bar(n as f64, max))
            })
            .collect();
    }
    let mut ranked: Vec<usize> = (0..stats.counts.len()).collect();
    ranked.sort_by(|&a, &b| stats.counts[b].cmp(&stats.counts[a]).then(a.cmp(&b)));
    let per = stats.counts.len().div_ceil(MAX_LINES / 2);
    ranked
        .chunks(per)
        .enumerate()
        .map(|(i, chunk)| {
            let counts: Vec<usize> = chunk.iter().map(|&c| stats.counts[c]).collect();
            let mean = counts.iter().sum::<usize>() as f64 / counts.len() as f64;
            let (hi, lo) = (counts[0], counts[counts.len() - 1]);
            let range = format!("ranks {}-{}", i * per + 1, i * per + chunk.len());
            let spread = format!("({lo}-{hi})");
            format!("  {range:<16} {mean:>8.1} avg {spread:<13} {}", bar(mean, max))
        })
        .collect()
}

fn group_summary(stats: &ClassStats) -> Vec<(&'static str, usize, usize)> {
    [(ShotGroup::Many, "many"), (ShotGroup::Medium, "medium"), (ShotGroup::Few, "few")]
        .into_iter()
        .map(|(g, name)| {
            let classes = stats.classes_in(g);
            (name, classes.len(), classes.iter().map(|&c| stats.counts[c]).sum())
        })
        .collect()
}

/// Streams one epoch of the training split (eval views) and returns images per second.
fn stream_epoch(data: &LoadedData, batch_size: usize, seed: u64) -> anyhow::Result<(usize, f64)> {
    let pipeline = data.train_pipeline(&AugmentPipeline::default());
    let order: Vec<usize> = (0..data.train.len()).collect();
    let views = [(&pipeline, 0u32)];
    let plan = BatchPlan { dataset: &data.train, order: &order, batch_size, drop_last: false, views: &views, seed, epoch: 0 };
    let start = Instant::now();
    let mut images = 0;
    for_each_batch(&plan, |b| {
        images += b.indices.len();
        Ok(())
    })?;
    Ok((images, images as f64 / start.elapsed().as_secs_f64().max(1e-9)))
}

pub fn run(args: &DataArgs, quiet: bool) -> anyhow::Result<()> {
    let section = read_section(&args.file)?;
    let config = args.workers.install()?;
    let data = section.dataset.load(&args.file, section.seed)?;
    let streamed = if args.stream {
        if !quiet && !args.json {
            eprintln!("streaming the training split through {} worker(s)...", config.total_workers());
        }
        Some(stream_epoch(&data, args.batch_size.max(1), section.seed).context("streaming the training split")?)
    } else {
        None
    };
    let stats = &data.stats;
    if args.json {
        let groups: Vec<serde_json::Value> = group_summary(stats)
            .into_iter()
            .map(|(g, classes, images)| serde_json::json!({"group": g, "classes": classes, "images": images}))
            .collect();
        let doc = serde_json::json!({
            "dataset": data.train.name,
            "source": section.dataset.source.as_str(),
            "classes": data.train.num_classes(),
            "class_names": data.train.class_names,
            "train_images": data.train.len(),
            "test_images": data.test.len(),
            "validation_images": data.validation.as_ref().map(|v| v.len()),
            "class_counts": stats.counts,
            "imbalance_ratio": stats.imbalance_ratio,
            "shots": {"many_above": stats.thresholds.many_above, "few_below": stats.thresholds.few_below},
            "groups": groups,
            "sample_shape": data.sample_shape,
            "lock": data.lock_path,
            "lock_fingerprint": data.lock.fingerprint,
            "streamed_images_per_s": streamed.map(|s| s.1),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    let [c, h, w] = data.sample_shape;
    println!(
        "dataset {} ({}): {} training images in {} classes, {} test images{}; network input {c}x{h}x{w}",
        data.train.name,
        section.dataset.source.as_str(),
        data.train.len(),
        data.train.num_classes(),
        data.test.len(),
        data.validation.as_ref().map(|v| format!(", {} validation images", v.len())).unwrap_or_default()
    );
    println!("training images per class (imbalance ratio {:.1}):", stats.imbalance_ratio);
    for line in histogram_lines(&data.train.class_names, stats) {
        println!("{line}");
    }
    println!(
        "shot groups (many: more than {}, few: fewer than {} training images):",
        stats.thresholds.many_above, stats.thresholds.few_below
    );
    for (g, classes, images) in group_summary(stats) {
        println!("  {g:<6} {classes:>6} classes {images:>9} images");
    }
    println!("split lock: {} (fingerprint {})", data.lock_path.display(), data.lock.short_fingerprint());
    if let Some((images, per_s)) = streamed {
        println!("streamed {images} images through {} worker(s): {per_s:.0} images/s", config.total_workers());
    }
    Ok(())
}

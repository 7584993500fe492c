//! Fixtures of the stage tests: tiny synthetic long-tailed data as a `LoadedData`, models saved
//! as a stage would, scratch folders and a progress sink that records notes.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ssdlt::data::augment::AugmentPipeline;
use ssdlt::data::long_tail::{ClassStats, LongTailSpec, ShotThresholds};
use ssdlt::data::split_lock::{LockedSample, SplitLock, GENERATOR, SPLIT_LOCK_VERSION};
use ssdlt::data::synthetic::{self, SyntheticSpec};
use ssdlt::data::{Dataset, Split};
use ssdlt::kernels::Device;
use ssdlt::nn::{Arch, HeadConfig, Network, NetworkConfig};
use ssdlt::spec::dataset::LoadedData;
use ssdlt::stages::model_io::save_model;
use ssdlt::stages::{StageContext, StageCounters, StageInput, StageProgress};

pub const CLASSES: usize = 4;
pub const SIZE: usize = 8;
pub const SPEC: SyntheticSpec = SyntheticSpec { classes: CLASSES, channels: 1, size: SIZE, noise: 0.2, seed: 11 };

/// Groups for the fixture counts: many > 8, few < 4.
pub const THRESHOLDS: ShotThresholds = ShotThresholds { many_above: 8, few_below: 4 };

/// Loaded data with `train_counts[c]` training and `test_per_class` test images of class c.
pub fn synthetic_data(train_counts: &[usize], test_per_class: usize) -> LoadedData {
    let train = synthetic::dataset(&SPEC, train_counts, Split::Train).unwrap();
    let test = synthetic::balanced_dataset(&SPEC, test_per_class, Split::Test).unwrap();
    loaded(train, test)
}

/// `LoadedData` around two datasets, with a split lock recording `train`.
pub fn loaded(train: Dataset, test: Dataset) -> LoadedData {
    let kept: Vec<LockedSample> = train.samples.iter().map(|s| LockedSample { id: s.id.clone(), label: s.label, hash: s.hash }).collect();
    let mut h = blake3::Hasher::new();
    for s in &kept {
        h.update(s.id.as_bytes());
        h.update(&s.hash.0);
    }
    let counts = train.class_counts();
    let lock = SplitLock {
        version: SPLIT_LOCK_VERSION,
        generator: GENERATOR.to_string(),
        dataset: train.name.clone(),
        source_split: Split::Train,
        class_names: train.class_names.clone(),
        spec: LongTailSpec::exponential(1.0),
        n_max: counts.iter().copied().max().unwrap_or(0),
        class_counts: counts.clone(),
        fingerprint: h.finalize().to_hex().to_string(),
        kept,
    };
    LoadedData {
        stats: ClassStats::from_counts(&counts, THRESHOLDS),
        train,
        test,
        validation: None,
        lock,
        lock_path: PathBuf::from("<fixture>.lock.json"),
        prepare: AugmentPipeline::default(),
        finish: AugmentPipeline::default(),
        eval_sizing: AugmentPipeline::default(),
        sample_shape: [1, SIZE, SIZE],
    }
}

/// A fresh ResNet-8 with linear heads `heads` (the first is `fc`), saved into `dir` with
/// `default_head`; returns it.
pub fn save_random_model(dev: &Device, dir: &Path, heads: &[&str], default_head: &str, seed: u64, split: &str) -> Network {
    let mut config = NetworkConfig { arch: Arch::cifar(8), in_channels: 1, heads: Vec::new() };
    for h in heads {
        config = config.with_head(HeadConfig::linear(h, CLASSES));
    }
    let net = Network::new(dev, config, seed).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    save_model(dir, &net, default_head, split).unwrap();
    net
}

/// A scratch folder for one test, emptied first.
pub struct Scratch {
    pub root: PathBuf,
    /// The shared per-sample cache folder (`ctx.cache_dir`).
    pub cache: PathBuf,
    /// `ctx.resume_dir`.
    pub resume: PathBuf,
}

impl Scratch {
    pub fn new(test: &str) -> Scratch {
        let root = std::env::temp_dir().join(format!("ssdlt-stages-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        Scratch { cache: root.join("cache"), resume: root.join("resume"), root }
    }

    /// An empty folder `name` under the root (emptied when it exists).
    pub fn fresh_dir(&self, name: &str) -> PathBuf {
        let dir = self.root.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

pub fn input(name: &str, kind: &'static str, fingerprint: &str, dir: &Path) -> StageInput {
    StageInput { name: name.to_string(), kind, fingerprint: fingerprint.to_string(), dir: dir.to_path_buf() }
}

/// Progress that keeps the notes.
#[derive(Default)]
pub struct Notes(pub Mutex<Vec<String>>);

impl StageProgress for Notes {
    fn begin(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64, _: &[(&str, f64)]) {}
    fn finish(&self, _: &str) {}
    fn note(&self, message: &str) {
        self.0.lock().unwrap().push(message.to_string());
    }
}

/// What a stage context borrows, owned by the test.
pub struct Run<'a> {
    pub dev: &'a Device,
    pub data: &'a LoadedData,
    pub name: &'a str,
    pub inputs: &'a [StageInput],
    pub out_dir: &'a Path,
    pub scratch: &'a Scratch,
    pub progress: &'a dyn StageProgress,
    pub counters: &'a StageCounters,
}

impl<'a> Run<'a> {
    pub fn context(&self) -> StageContext<'a> {
        StageContext {
            dev: self.dev,
            seed: 5,
            name: self.name,
            fingerprint: "fixture-stage",
            data: self.data,
            inputs: self.inputs,
            out_dir: self.out_dir,
            resume_dir: &self.scratch.resume,
            cache_dir: &self.scratch.cache,
            previous: None,
            progress: self.progress,
            counters: self.counters,
            pipeline: None,
        }
    }
}

/// Every state_dict entry of `net` as (name, value bits) (counters as one value).
pub fn state_bits(net: &Network) -> Vec<(String, Vec<u32>)> {
    use ssdlt::nn::{BufferValue, HasState, StateEntry};
    let mut entries = Vec::new();
    net.state(&mut entries);
    entries
        .iter()
        .map(|e| {
            let bits = match e {
                StateEntry::Param(p) => p.value.to_vec().iter().map(|v| v.to_bits()).collect(),
                StateEntry::Buffer(b) => match &b.value {
                    BufferValue::F32(t) => t.to_vec().iter().map(|v| v.to_bits()).collect(),
                    BufferValue::Count(n) => vec![*n as u32],
                },
            };
            (e.name().to_string(), bits)
        })
        .collect()
}

/// The f32 values of state entry `name`.
pub fn values_of(net: &Network, name: &str) -> Vec<f32> {
    state_bits(net).into_iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no entry `{name}`")).1.iter().map(|b| f32::from_bits(*b)).collect()
}

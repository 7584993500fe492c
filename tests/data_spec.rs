//! Tests: the `dataset:` section (src/spec/dataset.rs) and `ssdlt data`. Sections load synthetic
//! data and small CIFAR / IDX files the tests write; the split lock is written beside the pipeline
//! file and reproduces the same split when given back; a lock that does not match the data, an
//! unknown key or a missing dataset folder is a usage error that says what to do.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use ssdlt::data::augment::Augment;
use ssdlt::data::idx::DEBIAN_FASHION_MNIST;
use ssdlt::data::long_tail::ShotGroup;
use ssdlt::spec::dataset::{DatasetSpec, LoadedData};
use ssdlt::Error;

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ssdlt-data-spec-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn section(yaml: &str) -> DatasetSpec {
    serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

fn load(dir: &Path, yaml: &str) -> ssdlt::Result<LoadedData> {
    section(yaml).load(&dir.join("pipeline.yaml"), 7)
}

fn ids(d: &ssdlt::data::Dataset) -> Vec<String> {
    d.samples.iter().map(|s| s.id.clone()).collect()
}

const SYNTHETIC_LT: &str = "source: synthetic
synthetic: {classes: 5, channels: 3, size: 16, images_per_class: 40, test_images_per_class: 6}
long_tail: {profile: exp, imbalance: 10}
shots: {many: 20, few: 8}
";

#[test]
fn an_unknown_key_in_the_dataset_section_is_rejected_with_its_name() {
    let err = serde_yaml::from_str::<DatasetSpec>("source: synthetic\nimbalance: 100\n").unwrap_err().to_string();
    assert!(err.contains("unknown field `imbalance`"), "{err}");
    let err = serde_yaml::from_str::<DatasetSpec>("source: synthetic\nlong_tail: {profile: exp, imbalanse: 10}\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `imbalanse`"), "{err}");
    let err = section("source: cifar10\nroot: x\ntrain_list: a.txt\n").validate().unwrap_err();
    assert!(err.is_usage() && err.to_string().contains("`train_list` belongs to source `image_list`"), "{err}");
}

#[test]
fn a_synthetic_section_loads_long_tailed_and_writes_the_lock_beside_the_pipeline() {
    let dir = fresh_dir("synthetic");
    let data = load(&dir, SYNTHETIC_LT).unwrap();
    // Exponential profile, n_max 40, IF 10 over 5 classes: 40 * 0.1^(i/4).
    assert_eq!(data.train.class_counts(), vec![40, 22, 12, 7, 4]);
    assert_eq!(data.test.class_counts(), vec![6; 5]);
    assert_eq!(data.stats.groups, vec![ShotGroup::Many, ShotGroup::Many, ShotGroup::Medium, ShotGroup::Few, ShotGroup::Few]);
    assert_eq!(data.sample_shape, [3, 16, 16]);
    assert!(data.validation.is_none());
    assert!(data.finish.steps.is_empty(), "synthetic data has no descriptor statistics");
    assert_eq!(data.lock_path, dir.join("pipeline.split.lock.json"));
    assert!(data.lock_path.is_file());
    assert_eq!(data.lock.class_counts, vec![40, 22, 12, 7, 4]);
    let modified = std::fs::metadata(&data.lock_path).unwrap().modified().unwrap();
    let again = load(&dir, SYNTHETIC_LT).unwrap();
    assert_eq!(ids(&again.train), ids(&data.train));
    assert_eq!(std::fs::metadata(&data.lock_path).unwrap().modified().unwrap(), modified, "an unchanged lock is not rewritten");
}

#[test]
fn the_written_lock_read_back_gives_the_same_split() {
    let dir = fresh_dir("relock");
    let shuffled = SYNTHETIC_LT.replace("imbalance: 10}", "imbalance: 10, selection: shuffled}");
    let made = load(&dir, &shuffled).unwrap();
    let published = dir.join("published.json");
    std::fs::rename(&made.lock_path, &published).unwrap();
    let given = format!("{}lock: published.json\n", shuffled.replace("long_tail: {profile: exp, imbalance: 10, selection: shuffled}\n", ""));
    let reproduced = load(&dir, &given).unwrap();
    assert_eq!(ids(&reproduced.train), ids(&made.train));
    assert_eq!(reproduced.lock.fingerprint, made.lock.fingerprint);
    assert_eq!(reproduced.lock_path, published);
    assert!(!dir.join("pipeline.split.lock.json").exists(), "a given lock is read, not rewritten");
}

#[test]
fn a_lock_that_does_not_match_the_data_is_a_split_mismatch() {
    let dir = fresh_dir("mismatch");
    let made = load(&dir, SYNTHETIC_LT).unwrap();
    let published = dir.join("published.json");
    std::fs::rename(&made.lock_path, &published).unwrap();
    // Another generator seed: same ids, other pixels, so other content hashes.
    let other = "source: synthetic\nsynthetic: {classes: 5, channels: 3, size: 16, images_per_class: 40, seed: 9}\nlock: published.json\n";
    let err = load(&dir, other).err().expect("the hashes differ");
    assert!(matches!(err, Error::SplitMismatch { .. }), "{err}");
    assert!(err.is_usage());
    assert!(err.to_string().contains("differs from the lock"), "{err}");
    // A lock with another profile than the section asks for.
    let both = format!("{SYNTHETIC_LT}lock: published.json\n").replace("imbalance: 10", "imbalance: 20");
    let err = load(&dir, &both).err().expect("the profiles differ");
    assert!(matches!(err, Error::SplitMismatch { .. }), "{err}");
}

#[test]
fn validation_is_carved_per_class_from_the_long_tailed_training_split() {
    let dir = fresh_dir("validation");
    let data = load(&dir, &format!("{SYNTHETIC_LT}validation: 0.25\n")).unwrap();
    let val = data.validation.as_ref().unwrap();
    assert_eq!(val.class_counts(), vec![10, 5, 3, 1, 1]);
    assert_eq!(data.train.class_counts(), vec![30, 17, 9, 6, 3]);
    assert_eq!(data.stats.counts, vec![30, 17, 9, 6, 3]);
    let train_ids: std::collections::HashSet<String> = ids(&data.train).into_iter().collect();
    assert!(val.samples.iter().all(|s| !train_ids.contains(&s.id)));
    assert_eq!(data.lock.kept.len(), 85, "the lock records the whole long-tailed split");
}

fn write_cifar10(dir: &Path) {
    let record = |label: u8, n: u8| {
        let mut r = vec![label];
        r.extend((0..3072).map(|p| (p as u8).wrapping_mul(5).wrapping_add(n)));
        r
    };
    // 5 batches x 8 records: classes 0..9 get 4 images each.
    for b in 0..5u8 {
        let bytes: Vec<u8> = (0..8u8).flat_map(|i| record((b * 8 + i) % 10, b * 8 + i)).collect();
        std::fs::write(dir.join(format!("data_batch_{}.bin", b + 1)), bytes).unwrap();
    }
    let test: Vec<u8> = (0..10u8).flat_map(|i| record(i, 100 + i)).collect();
    std::fs::write(dir.join("test_batch.bin"), test).unwrap();
}

#[test]
fn cifar10_files_load_with_the_descriptors_normalisation() {
    let dir = fresh_dir("cifar10");
    std::fs::create_dir_all(dir.join("cifar")).unwrap();
    write_cifar10(&dir.join("cifar"));
    let data = load(&dir, "source: cifar10\nroot: cifar\nlong_tail: {profile: step, imbalance: 4}\n").unwrap();
    assert_eq!(data.train.class_counts(), vec![4, 4, 4, 4, 4, 1, 1, 1, 1, 1]);
    assert_eq!(data.test.len(), 10);
    assert_eq!(data.sample_shape, [3, 32, 32]);
    match &data.finish.steps[..] {
        [Augment::Normalize(n)] => assert_eq!((n.mean[0], n.std[2]), (0.4914, 0.2616)),
        other => panic!("expected the CIFAR-10 normalisation, got {other:?}"),
    }
    let eval = data.eval_pipeline().view(&data.test, 0, 0, 0, 0).unwrap();
    let raw = data.test.image(0).unwrap();
    assert!((eval.data[0] - (raw.data[0] - 0.4914) / 0.2470).abs() < 1e-6);
}

fn idx_bytes(dims: &[u32], items: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(items);
    b
}

fn write_gz(path: &Path, bytes: &[u8]) {
    let mut e = flate2::write::GzEncoder::new(std::fs::File::create(path).unwrap(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap();
}

#[test]
fn idx_files_are_padded_to_32_and_normalised_as_fashion_mnist() {
    let dir = fresh_dir("idx");
    let root = dir.join("fm");
    std::fs::create_dir_all(&root).unwrap();
    for (prefix, n) in [("train", 30u32), ("t10k", 10)] {
        let pixels: Vec<u8> = (0..n * 784).map(|i| (i % 251) as u8).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        write_gz(&root.join(format!("{prefix}-images-idx3-ubyte.gz")), &idx_bytes(&[n, 28, 28], &pixels));
        std::fs::write(root.join(format!("{prefix}-labels-idx1-ubyte")), idx_bytes(&[n], &labels)).unwrap();
    }
    let data = load(&dir, "source: fashion_mnist\nroot: fm\npad_to: 32\n").unwrap();
    assert_eq!(data.sample_shape, [1, 32, 32]);
    assert_eq!(data.train.len(), 30);
    assert_eq!(data.stats.groups, vec![ShotGroup::Few; 10]);
    let view = data.eval_pipeline().view(&data.train, 0, 0, 0, 0).unwrap();
    // The border is zero padding, normalised: (0 - 0.2860) / 0.3530.
    assert!((view.data[0] - (-0.2860 / 0.3530)).abs() < 1e-6);
    let raw = data.train.image(0).unwrap();
    assert!((view.data[2 * 32 + 3] - (raw.data[1] - 0.2860) / 0.3530).abs() < 1e-6);
}

#[test]
fn a_missing_dataset_folder_names_the_path_the_files_and_how_to_get_them() {
    let dir = fresh_dir("missing");
    let err = load(&dir, "source: cifar10\nroot: no/such/folder\n").err().unwrap();
    let text = err.to_string();
    assert!(err.is_usage(), "{text}");
    for needle in ["no/such/folder", "data_batch_1.bin", "datasets/cifar10.md", "fix:"] {
        assert!(text.contains(needle), "`{needle}` missing from:\n{text}");
    }
    let err = load(&dir, "source: cifar100\n").err().unwrap();
    assert!(err.is_usage() && err.to_string().contains("needs `root:`"), "{err}");
}

#[test]
fn fashion_mnist_reads_the_debian_package_when_root_is_unset() {
    if !Path::new(DEBIAN_FASHION_MNIST).is_dir() {
        eprintln!("skipped: `apt-get install dataset-fashion-mnist` puts the data in {DEBIAN_FASHION_MNIST}");
        return;
    }
    let dir = fresh_dir("fashion");
    let data = load(&dir, "source: fashion_mnist\nlong_tail: {profile: exp, imbalance: 100, n_max: 500}\npad_to: 32\n").unwrap();
    assert_eq!(data.train.class_counts(), vec![500, 299, 179, 107, 64, 38, 23, 13, 8, 5]);
    assert_eq!(data.test.len(), 10_000);
    assert_eq!(data.sample_shape, [1, 32, 32]);
    assert_eq!(data.stats.classes_in(ShotGroup::Many), vec![0, 1, 2, 3]);
    assert_eq!(data.stats.classes_in(ShotGroup::Few), vec![7, 8, 9]);
}

fn ssdlt(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ssdlt")).args(args).output().expect("running ssdlt")
}

#[test]
fn ssdlt_data_prints_the_histogram_the_shot_groups_and_the_lock_path() {
    let dir = fresh_dir("cli");
    let file = dir.join("quick.yaml");
    let yaml = format!(
        "pipeline: quick\nseed: 3\ndataset:\n{}stages:\n  teacher: {{kind: train, epochs: 1}}\n",
        SYNTHETIC_LT.lines().map(|l| format!("  {l}\n")).collect::<String>()
    );
    std::fs::write(&file, yaml).unwrap();
    let out = ssdlt(&["data", file.to_str().unwrap(), "--stream", "-w", "2", "--batch-size", "16"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("85 training images in 5 classes"), "{stdout}");
    assert!(stdout.contains("████████████████████████████████████████"), "the largest class gets the full bar:\n{stdout}");
    assert!(stdout.contains("many        2 classes        62 images"), "{stdout}");
    assert!(stdout.contains("few         2 classes        11 images"), "{stdout}");
    assert!(stdout.contains(&format!("split lock: {}", dir.join("quick.split.lock.json").display())), "{stdout}");
    assert!(stdout.contains("streamed 85 images through 2 worker(s)"), "{stdout}");
    assert!(dir.join("quick.split.lock.json").is_file());
}

#[test]
fn ssdlt_data_with_a_missing_root_exits_2_and_says_where_to_get_the_data() {
    let dir = fresh_dir("cli-missing");
    let file = dir.join("cifar.yaml");
    std::fs::write(&file, "pipeline: c\ndataset:\n  source: cifar10\n  root: nowhere\nstages: {}\n").unwrap();
    let out = ssdlt(&["data", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("nowhere") && stderr.contains("datasets/cifar10.md"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

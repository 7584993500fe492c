//! Tests: data long tail. Profiles, which images are kept, shot groups, and the split lock that
//! reproduces a split and refuses to mix results from different splits.

use std::io::Write;
use std::path::{Path, PathBuf};

use ssdlt::data::idx::{load_fashion_mnist, DEBIAN_FASHION_MNIST};
use ssdlt::data::long_tail::{long_tail_indices, ClassStats, LongTailSpec, Selection, ShotGroup, ShotThresholds};
use ssdlt::data::split_lock::{ensure_same_split, SplitLock};
use ssdlt::data::synthetic::{balanced_dataset, SyntheticSpec};
use ssdlt::data::{Dataset, Split};
use ssdlt::Error;

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ssdlt-data-long-tail-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A Fashion-MNIST-style training split (gzipped IDX, 10 classes, labels cycling 0..9,
/// `per_class` 2x2 images of each class, every image distinct).
fn fashion_style(per_class: usize) -> Dataset {
    let dir = fresh_dir(&format!("fashion-{per_class}"));
    let n = per_class * 10;
    let gz = |bytes: Vec<u8>| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&bytes).unwrap();
        e.finish().unwrap()
    };
    let mut images = vec![0, 0, 8, 3];
    for d in [n as u32, 2, 2] {
        images.extend(d.to_be_bytes());
    }
    images.extend((0..n).flat_map(|i| (i as u32).to_le_bytes()));
    let mut labels = vec![0, 0, 8, 1];
    labels.extend((n as u32).to_be_bytes());
    labels.extend((0..n).map(|i| (i % 10) as u8));
    std::fs::write(dir.join("train-images-idx3-ubyte.gz"), gz(images)).unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte.gz"), gz(labels)).unwrap();
    load_fashion_mnist(&dir, Split::Train).unwrap()
}

const EXPECTED_500_IF100: [usize; 10] = [500, 299, 179, 107, 64, 38, 23, 13, 8, 5];

#[test]
fn fashion_style_n_max_500_if_100_keeps_500_down_to_5_with_all_shot_groups() {
    let source = fashion_style(520);
    let spec = LongTailSpec { n_max: Some(500), ..LongTailSpec::exponential(100.0) };
    let lock = SplitLock::create(&source, &spec).unwrap();
    assert_eq!(lock.class_counts, EXPECTED_500_IF100);
    assert_eq!(lock.class_counts[9], 5);
    let split = lock.apply(&source).unwrap();
    assert_eq!(split.class_counts(), EXPECTED_500_IF100);
    let stats = ClassStats::of(&split, ShotThresholds::default());
    assert_eq!(stats.classes_in(ShotGroup::Many), vec![0, 1, 2, 3]);
    assert_eq!(stats.classes_in(ShotGroup::Medium), vec![4, 5, 6]);
    assert_eq!(stats.classes_in(ShotGroup::Few), vec![7, 8, 9]);
    assert_eq!(stats.imbalance_ratio, 100.0);
    // Thresholds are settings.
    let strict = ClassStats::of(&split, ShotThresholds { many_above: 200, few_below: 10 });
    assert_eq!(strict.classes_in(ShotGroup::Many), vec![0, 1]);
    assert_eq!(strict.classes_in(ShotGroup::Few), vec![8, 9]);
}

#[test]
fn the_installed_fashion_mnist_gives_the_same_long_tail_profile() {
    let root = Path::new(DEBIAN_FASHION_MNIST);
    if !root.join("train-images-idx3-ubyte.gz").exists() {
        eprintln!("skipped: Fashion-MNIST is not installed at {DEBIAN_FASHION_MNIST}");
        return;
    }
    let source = load_fashion_mnist(root, Split::Train).unwrap();
    let spec = LongTailSpec { n_max: Some(500), ..LongTailSpec::exponential(100.0) };
    let (kept, counts) = long_tail_indices(&source, &spec).unwrap();
    assert_eq!(counts, EXPECTED_500_IF100);
    assert_eq!(kept.len(), EXPECTED_500_IF100.iter().sum::<usize>());
    // n_max defaults to what the source has: 6,000 per class.
    let (_, full) = long_tail_indices(&source, &LongTailSpec::exponential(100.0)).unwrap();
    assert_eq!((full[0], full[9]), (6000, 60));
}

#[test]
fn first_in_file_order_keeps_each_classs_first_images_and_shuffled_depends_only_on_the_seed() {
    let source = fashion_style(30);
    let spec = LongTailSpec { n_max: Some(20), ..LongTailSpec::exponential(10.0) };
    let (kept, counts) = long_tail_indices(&source, &spec).unwrap();
    assert_eq!(counts[0], 20);
    // Class c's images are records c, c+10, c+20...: the first n of them in file order.
    let class9: Vec<usize> = kept.iter().copied().filter(|i| i % 10 == 9).collect();
    assert_eq!(class9, (0..counts[9]).map(|k| 9 + 10 * k).collect::<Vec<_>>());
    let shuffled = |seed| LongTailSpec { selection: Selection::Shuffled { seed }, ..spec };
    let a = long_tail_indices(&source, &shuffled(1)).unwrap();
    assert_eq!(a, long_tail_indices(&source, &shuffled(1)).unwrap());
    assert_ne!(a.0, long_tail_indices(&source, &shuffled(2)).unwrap().0);
    assert_eq!(a.1, counts, "the selection changes which images, never how many");
}

#[test]
fn step_profile_keeps_n_max_for_the_majority_and_n_max_over_if_for_the_rest() {
    let source = fashion_style(100);
    let spec = LongTailSpec { n_max: Some(100), ..LongTailSpec::step(10.0, 0.5) };
    let (_, counts) = long_tail_indices(&source, &spec).unwrap();
    assert_eq!(counts, vec![100, 100, 100, 100, 100, 10, 10, 10, 10, 10]);
}

#[test]
fn a_written_lock_reproduces_the_split_exactly() {
    let dir = fresh_dir("lock");
    let source = fashion_style(60);
    let spec = LongTailSpec { n_max: Some(50), selection: Selection::Shuffled { seed: 7 }, ..LongTailSpec::exponential(10.0) };
    let lock = SplitLock::create(&source, &spec).unwrap();
    let path = dir.join("split.lock.json");
    lock.write(&path).unwrap();
    let read = SplitLock::read(&path).unwrap();
    assert_eq!(read, lock);
    assert_eq!(read.spec, spec);
    assert!(read.generator.starts_with("ssdlt "));
    let a = lock.apply(&source).unwrap();
    let b = read.apply(&fashion_style(60)).unwrap();
    assert_eq!(a.manifest(), b.manifest());
    // A lock made a different way but keeping the same samples has the same fingerprint.
    let same = SplitLock::create(&source, &spec).unwrap();
    assert_eq!(same.fingerprint, lock.fingerprint);
    assert_eq!(lock.short_fingerprint().len(), 16);
}

#[test]
fn results_from_different_splits_are_refused() {
    let source = fashion_style(60);
    let a = SplitLock::create(&source, &LongTailSpec { n_max: Some(50), ..LongTailSpec::exponential(10.0) }).unwrap();
    let b = SplitLock::create(&source, &LongTailSpec { n_max: Some(50), ..LongTailSpec::exponential(50.0) }).unwrap();
    assert!(ensure_same_split("run-a", &a.fingerprint, "run-a-again", &a.fingerprint).is_ok());
    let err = ensure_same_split("run-a", &a.fingerprint, "run-b", &b.fingerprint).unwrap_err();
    assert!(matches!(err, Error::SplitMismatch { .. }));
    assert!(err.is_usage());
    let text = err.to_string();
    assert!(text.contains("run-a") && text.contains(&b.fingerprint[..16]) && text.contains("fix:"), "{text}");
}

#[test]
fn a_lock_refuses_an_edited_file_and_a_changed_source() {
    let dir = fresh_dir("lock-tamper");
    let source = fashion_style(40);
    let lock = SplitLock::create(&source, &LongTailSpec { n_max: Some(40), ..LongTailSpec::exponential(4.0) }).unwrap();
    let path = dir.join("split.lock.json");
    lock.write(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replacen("\"train/000000\"", "\"train/000001\"", 1);
    assert_ne!(edited, text);
    std::fs::write(&path, edited).unwrap();
    let err = SplitLock::read(&path).unwrap_err();
    assert!(err.is_usage() && err.to_string().contains("fingerprint"), "{err}");
    std::fs::write(&path, "{ not json").unwrap();
    assert!(SplitLock::read(&path).unwrap_err().to_string().contains("line 1"));
    // Same ids, different pixels: a different copy of the dataset.
    let spec = SyntheticSpec { classes: 10, channels: 1, size: 4, noise: 0.0, seed: 1 };
    let synthetic = balanced_dataset(&spec, 40, Split::Train).unwrap();
    let err = lock.apply(&synthetic).unwrap_err();
    assert!(matches!(err, Error::SplitMismatch { .. }), "{err}");
    let mut renamed = fashion_style(40);
    renamed.samples[0].hash = renamed.samples[1].hash;
    let err = lock.apply(&renamed).unwrap_err();
    assert!(err.to_string().contains("train/000000") && err.to_string().contains("differs"), "{err}");
}

#[test]
fn a_profile_that_asks_for_more_images_than_a_class_has_is_refused() {
    let source = fashion_style(30);
    let err = long_tail_indices(&source, &LongTailSpec { n_max: Some(31), ..LongTailSpec::exponential(10.0) }).unwrap_err();
    assert!(err.is_usage() && err.to_string().contains("has 30 images but the profile keeps 31"), "{err}");
    assert!(long_tail_indices(&source, &LongTailSpec::exponential(0.5)).is_err());
    let err = long_tail_indices(&source, &LongTailSpec { n_max: Some(5), ..LongTailSpec::exponential(10.0) }).unwrap_err();
    assert!(err.to_string().contains("would keep no images"), "{err}");
}

//! Tests: data sources. Each source reads tiny files this test writes in the exact published
//! format; the real Fashion-MNIST and ImageNet-LT lists are read when installed. Bad input gives
//! an error naming the file, the record or line and what is wrong — never a panic.

use std::io::Write;
use std::path::{Path, PathBuf};

use ssdlt::data::cifar::{load_cifar10, load_cifar100, Cifar100Label};
use ssdlt::data::folder::load_class_folders;
use ssdlt::data::idx::{load_fashion_mnist, DEBIAN_FASHION_MNIST};
use ssdlt::data::inat::load_inat;
use ssdlt::data::list::{list_class_counts, load_image_list, parse_image_list, ListOptions};
use ssdlt::data::pixels::resize_center_crop;
use ssdlt::data::synthetic::{balanced_dataset, SyntheticSpec};
use ssdlt::data::{Manifest, Split};
use ssdlt::Error;

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ssdlt-data-sources-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A CIFAR-10 record: label, then the red, green, blue planes; pixel bytes from `(label, n)`.
fn cifar_record(header: &[u8], n: u8) -> Vec<u8> {
    let mut r = header.to_vec();
    r.extend((0..3072).map(|p| (p as u8).wrapping_mul(3).wrapping_add(n)));
    r
}

fn write_cifar10(dir: &Path, per_batch: usize) {
    for b in 1..=5 {
        let bytes: Vec<u8> =
            (0..per_batch).flat_map(|i| cifar_record(&[((b * per_batch + i) % 10) as u8], (b * 10 + i) as u8)).collect();
        std::fs::write(dir.join(format!("data_batch_{b}.bin")), bytes).unwrap();
    }
    let test: Vec<u8> = (0..4).flat_map(|i| cifar_record(&[i as u8], 200 + i as u8)).collect();
    std::fs::write(dir.join("test_batch.bin"), test).unwrap();
}

#[track_caller]
fn assert_usage_error(err: &Error, needles: &[&str]) {
    let text = err.to_string();
    assert!(err.is_usage(), "bad input must exit with code 2: {text}");
    for n in needles {
        assert!(text.contains(n), "error should mention `{n}`:\n{text}");
    }
    assert!(text.contains("fix:"), "error should say how to fix it:\n{text}");
}

#[test]
fn cifar10_binary_batches_load_in_order_with_chw_pixels_and_stable_ids() {
    let dir = fresh_dir("cifar10");
    write_cifar10(&dir, 3);
    let train = load_cifar10(&dir, Split::Train).unwrap();
    assert_eq!(train.len(), 15);
    assert_eq!(train.num_classes(), 10);
    assert_eq!(train.class_names[0], "airplane");
    assert_eq!(train.samples[4].id, "train/000004");
    // Record 4 is record 1 of data_batch_2.bin (3 records a batch).
    assert_eq!(train.samples[4].label, 7);
    let img = train.image(4).unwrap();
    assert_eq!((img.channels, img.height, img.width), (3, 32, 32));
    // Byte p of the record's pixels lands at CHW offset p: the first 1024 bytes are the red plane.
    let want = |p: usize| (p as u8).wrapping_mul(3).wrapping_add(21) as f32 / 255.0;
    assert_eq!(img.data[0], want(0));
    assert_eq!(img.data[1024 + 5], want(1029));
    assert!(img.data.iter().all(|v| (0.0..=1.0).contains(v)));
    let test = load_cifar10(&dir, Split::Test).unwrap();
    assert_eq!(test.samples[3].id, "test/000003");
    // Hashes follow the pixels: equal bytes, equal hash.
    let again = load_cifar10(&dir, Split::Train).unwrap();
    assert_eq!(train.manifest(), again.manifest());
    assert_ne!(train.samples[0].hash, train.samples[1].hash);
}

#[test]
fn cifar100_reads_fine_or_coarse_labels_and_the_names_file() {
    let dir = fresh_dir("cifar100");
    let bytes: Vec<u8> = (0..6).flat_map(|i| cifar_record(&[(i % 20) as u8, (i * 17 % 100) as u8], i as u8)).collect();
    std::fs::write(dir.join("train.bin"), &bytes).unwrap();
    std::fs::write(dir.join("test.bin"), &bytes[..3074 * 2]).unwrap();
    let fine = load_cifar100(&dir, Split::Train, Cifar100Label::Fine).unwrap();
    assert_eq!(fine.num_classes(), 100);
    assert_eq!(fine.labels(), vec![0, 17, 34, 51, 68, 85]);
    assert_eq!(fine.class_names[3], "class_003");
    let coarse = load_cifar100(&dir, Split::Train, Cifar100Label::Coarse).unwrap();
    assert_eq!(coarse.labels(), vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(fine.samples[2].hash, coarse.samples[2].hash, "the hash covers pixels, not labels");
    let names: String = (0..20).map(|c| format!("super{c}\n")).collect();
    std::fs::write(dir.join("coarse_label_names.txt"), names).unwrap();
    assert_eq!(load_cifar100(&dir, Split::Train, Cifar100Label::Coarse).unwrap().class_names[4], "super4");
    assert_eq!(load_cifar100(&dir, Split::Test, Cifar100Label::Fine).unwrap().len(), 2);
}

#[test]
fn changing_one_cifar_record_changes_exactly_one_manifest_entry() {
    let dir = fresh_dir("cifar-diff");
    write_cifar10(&dir, 2);
    let before = load_cifar10(&dir, Split::Train).unwrap().manifest();
    let path = dir.join("data_batch_3.bin");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[3073 + 100] ^= 0xff; // a pixel of record 1 of batch 3 = train/000005
    std::fs::write(&path, bytes).unwrap();
    let after = load_cifar10(&dir, Split::Train).unwrap().manifest();
    let diff = before.diff(&after);
    assert!(diff.added.is_empty() && diff.removed.is_empty());
    assert_eq!(diff.changed.len(), 1);
    assert_eq!(diff.changed[0].1.id, "train/000005");
    let file = dir.join("manifest.json");
    after.write(&file).unwrap();
    assert_eq!(Manifest::read(&file).unwrap(), after);
}

fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend(d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// `n` 4x4 images (pixel = index + position) and labels `i % 10`, plain or gzipped.
fn write_idx(dir: &Path, prefix: &str, n: usize, gz: bool) {
    let images: Vec<u8> = (0..n * 16).map(|p| (p / 16 + p % 16) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    let (img, lab) = (idx_bytes(&[n as u32, 4, 4], &images), idx_bytes(&[n as u32], &labels));
    let ext = if gz { ".gz" } else { "" };
    let (img, lab) = if gz { (gzip(&img), gzip(&lab)) } else { (img, lab) };
    std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte{ext}")), img).unwrap();
    std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte{ext}")), lab).unwrap();
}

#[test]
fn idx_files_load_plain_or_gzipped_as_single_channel_images() {
    let dir = fresh_dir("idx");
    write_idx(&dir, "train", 25, true);
    write_idx(&dir, "t10k", 7, false);
    let train = load_fashion_mnist(&dir, Split::Train).unwrap();
    assert_eq!(train.len(), 25);
    assert_eq!(train.class_names[9], "Ankle boot");
    assert_eq!(train.samples[13].label, 3);
    assert_eq!(train.samples[13].id, "train/000013");
    let img = train.image(13).unwrap();
    assert_eq!((img.channels, img.height, img.width), (1, 4, 4));
    assert_eq!(img.data[5], 18.0 / 255.0);
    let test = load_fashion_mnist(&dir, Split::Test).unwrap();
    assert_eq!(test.len(), 7);
    // Same bytes, same hash, whatever the compression.
    assert_eq!(test.samples[2].hash, train.samples[2].hash);
}

#[test]
fn the_installed_fashion_mnist_has_60000_train_and_10000_test_images() {
    let root = Path::new(DEBIAN_FASHION_MNIST);
    if !root.join("train-images-idx3-ubyte.gz").exists() {
        eprintln!("skipped: Fashion-MNIST is not installed at {DEBIAN_FASHION_MNIST} (apt-get install dataset-fashion-mnist)");
        return;
    }
    let train = load_fashion_mnist(root, Split::Train).unwrap();
    let test = load_fashion_mnist(root, Split::Test).unwrap();
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    assert_eq!(train.num_classes(), 10);
    assert_eq!(train.class_counts(), vec![6_000; 10]);
    assert_eq!(test.class_counts(), vec![1_000; 10]);
    let img = train.image(0).unwrap();
    assert_eq!((img.channels, img.height, img.width), (1, 28, 28));
    // The published mean pixel of the training set is 0.2860 (the descriptor's statistic).
    let mean: f64 = (0..1000).map(|i| train.image(i * 60).unwrap().data.iter().map(|&v| v as f64).sum::<f64>() / 784.0).sum::<f64>() / 1000.0;
    assert!((mean - 0.2860).abs() < 0.01, "mean {mean}");
}

fn write_png(path: &Path, w: u32, h: u32, seed: u8) {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 10) as u8 + seed, (y * 10) as u8, 128]));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    img.save(path).unwrap();
}

fn write_jpeg(path: &Path, w: u32, h: u32) {
    let img = image::RgbImage::from_fn(w, h, |_, _| image::Rgb([200, 100, 50]));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    img.save_with_format(path, image::ImageFormat::Jpeg).unwrap();
}

#[test]
fn image_lists_decode_png_and_jpeg_and_resize_then_center_crop_for_evaluation() {
    let root = fresh_dir("list");
    write_png(&root.join("train/n01/a.png"), 12, 8, 0);
    write_jpeg(&root.join("train/n02/b.JPEG"), 20, 10);
    write_png(&root.join("train/n01/c.png"), 6, 6, 1);
    let list = root.join("ImageNet_LT_train.txt");
    // No trailing newline on the last line, as in the published val list.
    std::fs::write(&list, "train/n01/a.png 0\n\ntrain/n02/b.JPEG 1\ntrain/n01/c.png 0").unwrap();
    let ds = load_image_list(&root, &list, Split::Train, "imagenet-lt", &ListOptions::default()).unwrap();
    assert_eq!(ds.len(), 3);
    assert_eq!(ds.samples[1].id, "train/n02/b.JPEG");
    assert_eq!(ds.class_counts(), vec![2, 1]);
    let png = ds.image(0).unwrap();
    assert_eq!((png.channels, png.height, png.width), (3, 8, 12));
    assert_eq!(png.data[3], 30.0 / 255.0, "PNG decodes exactly (red of pixel x = 3)");
    let jpeg = ds.image(1).unwrap();
    assert!((jpeg.data[0] - 200.0 / 255.0).abs() < 0.03, "JPEG decodes closely");
    let eval = resize_center_crop(&jpeg, 6, 6).unwrap();
    assert_eq!((eval.height, eval.width), (6, 6));
    for c in 0..3 {
        let mean = |p: &[f32]| p.iter().sum::<f32>() / p.len() as f32;
        assert!((mean(eval.plane(c)) - mean(jpeg.plane(c))).abs() < 0.02, "a flat colour stays flat");
    }
    assert_eq!(ds.samples[0].hash, ssdlt::data::ContentHash::of(&std::fs::read(root.join("train/n01/a.png")).unwrap()));
}

#[test]
fn a_list_entry_may_not_leave_its_root_unless_allowed() {
    let root = fresh_dir("list-escape");
    let outside = fresh_dir("list-escape-outside");
    write_png(&outside.join("x.png"), 4, 4, 0);
    std::fs::create_dir_all(root.join("imgs")).unwrap();
    let rel = format!("../{}/x.png", outside.file_name().unwrap().to_string_lossy());
    for entry in [rel.clone(), outside.join("x.png").display().to_string()] {
        let list = root.join("list.txt");
        std::fs::write(&list, format!("{entry} 0\n")).unwrap();
        let err = load_image_list(&root, &list, Split::Train, "t", &ListOptions::default()).unwrap_err();
        assert_usage_error(&err, &["list.txt", "line 1", "leaves the dataset root", "allow_outside_root"]);
        let allowed = ListOptions { allow_outside_root: true, ..Default::default() };
        assert_eq!(load_image_list(&root, &list, Split::Train, "t", &allowed).unwrap().len(), 1);
    }
}

#[test]
fn the_published_imagenet_lt_lists_have_1000_classes_of_20_and_50_images() {
    let dir = Path::new("/work/shared/datasets/imagenet_lt");
    if !dir.join("ImageNet_LT_val.txt").exists() {
        eprintln!("skipped: the ImageNet-LT lists are not at {}", dir.display());
        return;
    }
    for (file, per_class) in [("ImageNet_LT_val.txt", 20), ("ImageNet_LT_test.txt", 50)] {
        let entries = parse_image_list(&dir.join(file)).unwrap();
        let counts = list_class_counts(&entries);
        assert_eq!(counts.len(), 1000, "{file}");
        assert!(counts.iter().all(|&n| n == per_class), "{file}: every class has {per_class} images");
        assert_eq!(entries.len(), 1000 * per_class);
        assert!(entries[0].path.ends_with(".JPEG"));
    }
}

#[test]
fn class_folders_sort_classes_and_images_like_image_folder() {
    let root = fresh_dir("folder");
    write_png(&root.join("zebra/2.png"), 4, 4, 0);
    write_png(&root.join("zebra/sub/1.png"), 4, 4, 1);
    write_png(&root.join("ant/b.png"), 4, 4, 2);
    std::fs::write(root.join("ant/notes.txt"), "not an image").unwrap();
    let ds = load_class_folders(&root, Split::Train, "toy").unwrap();
    assert_eq!(ds.class_names, vec!["ant", "zebra"]);
    let ids: Vec<&str> = ds.samples.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, vec!["ant/b.png", "zebra/2.png", "zebra/sub/1.png"]);
    assert_eq!(ds.labels(), vec![0, 1, 1]);
}

#[test]
fn inaturalist_json_maps_category_ids_to_ranked_labels() {
    let root = fresh_dir("inat");
    write_png(&root.join("train_val2018/Plantae/9/a.png"), 4, 4, 0);
    write_png(&root.join("train_val2018/Aves/5/b.png"), 4, 4, 1);
    let json = root.join("train2018.json");
    std::fs::write(
        &json,
        r#"{"images": [{"id": 11, "file_name": "train_val2018/Plantae/9/a.png", "width": 4, "height": 4},
                      {"id": 12, "file_name": "train_val2018/Aves/5/b.png"}],
            "annotations": [{"id": 1, "image_id": 12, "category_id": 5}, {"id": 2, "image_id": 11, "category_id": 9}],
            "categories": [{"id": 9, "name": "Quercus"}, {"id": 5, "name": "Corvus"}]}"#,
    )
    .unwrap();
    let ds = load_inat(&root, &json, Split::Train, "inat2018").unwrap();
    assert_eq!(ds.class_names, vec!["Corvus", "Quercus"]);
    assert_eq!(ds.labels(), vec![1, 0]);
    assert_eq!(ds.samples[0].id, "train_val2018/Plantae/9/a.png");
    assert_eq!(ds.image(1).unwrap().height, 4);
}

#[test]
fn the_synthetic_source_gives_a_manifest_with_no_files() {
    let spec = SyntheticSpec { classes: 4, channels: 3, size: 8, noise: 0.05, seed: 3 };
    let ds = balanced_dataset(&spec, 5, Split::Train).unwrap();
    let m = ds.manifest();
    assert_eq!(m.entries.len(), 20);
    assert_eq!(m.entries[7].id, "train/001/000002");
    assert_eq!(balanced_dataset(&spec, 5, Split::Train).unwrap().manifest(), m);
    let other = SyntheticSpec { seed: 4, ..spec };
    assert_ne!(balanced_dataset(&other, 5, Split::Train).unwrap().samples[0].hash, ds.samples[0].hash);
}

// ---- bad input ----

#[test]
fn a_truncated_cifar_batch_names_the_file_and_the_broken_record() {
    let dir = fresh_dir("bad-cifar");
    write_cifar10(&dir, 3);
    let path = dir.join("data_batch_2.bin");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..3073 * 2 + 1000]).unwrap();
    let err = load_cifar10(&dir, Split::Train).unwrap_err();
    assert_usage_error(&err, &["data_batch_2.bin", "record 2", "truncated"]);
}

#[test]
fn a_cifar_label_outside_the_class_range_is_refused() {
    let dir = fresh_dir("bad-cifar-label");
    write_cifar10(&dir, 2);
    let path = dir.join("test_batch.bin");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[3073 * 3] = 12;
    std::fs::write(&path, bytes).unwrap();
    let err = load_cifar10(&dir, Split::Test).unwrap_err();
    assert_usage_error(&err, &["test_batch.bin", "record 3", "label 12", "0..9"]);
}

#[test]
fn corrupt_idx_files_name_what_is_wrong() {
    let dir = fresh_dir("bad-idx");
    write_idx(&dir, "train", 5, false);
    let images = dir.join("train-images-idx3-ubyte");
    let good = std::fs::read(&images).unwrap();
    std::fs::write(&images, &good[..good.len() - 7]).unwrap();
    let err = load_fashion_mnist(&dir, Split::Train).unwrap_err();
    assert_usage_error(&err, &["train-images-idx3-ubyte", "record 4", "truncated"]);
    let mut bad_magic = good.clone();
    bad_magic[0] = 0x42;
    std::fs::write(&images, &bad_magic).unwrap();
    assert_usage_error(&load_fashion_mnist(&dir, Split::Train).unwrap_err(), &["not an IDX file"]);
    let gz = gzip(&good);
    std::fs::write(&images, &gz[..gz.len() / 2]).unwrap();
    assert_usage_error(&load_fashion_mnist(&dir, Split::Train).unwrap_err(), &["gzip"]);
    std::fs::write(&images, &good).unwrap();
    let labels = dir.join("train-labels-idx1-ubyte");
    let mut lab = std::fs::read(&labels).unwrap();
    lab[8 + 3] = 10;
    std::fs::write(&labels, lab).unwrap();
    assert_usage_error(&load_fashion_mnist(&dir, Split::Train).unwrap_err(), &["labels-idx1", "record 3", "label 10"]);
}

#[test]
fn a_list_label_outside_the_class_range_names_the_line() {
    let root = fresh_dir("bad-list-label");
    write_png(&root.join("a.png"), 4, 4, 0);
    let list = root.join("val.txt");
    std::fs::write(&list, "a.png 0\na.png 7\n").unwrap();
    let opts = ListOptions { classes: Some(5), ..Default::default() };
    let err = load_image_list(&root, &list, Split::Val, "t", &opts).unwrap_err();
    assert_usage_error(&err, &["val.txt", "line 2", "label 7", "0..4"]);
    std::fs::write(&list, "a.png zero\n").unwrap();
    assert_usage_error(&load_image_list(&root, &list, Split::Val, "t", &opts).unwrap_err(), &["line 1", "`zero`"]);
}

#[test]
fn a_missing_image_in_a_list_names_the_line_and_the_path() {
    let root = fresh_dir("bad-list-missing");
    write_png(&root.join("a.png"), 4, 4, 0);
    let list = root.join("train.txt");
    std::fs::write(&list, "a.png 0\nb.png 1\na.png 1\n").unwrap();
    let err = load_image_list(&root, &list, Split::Train, "t", &ListOptions::default()).unwrap_err();
    assert_usage_error(&err, &["train.txt", "line 2", "b.png", "cannot be read"]);
}

#[test]
fn an_empty_class_is_refused_with_its_name() {
    let root = fresh_dir("bad-empty-class");
    write_png(&root.join("cat/a.png"), 4, 4, 0);
    std::fs::create_dir_all(root.join("dog")).unwrap();
    let err = load_class_folders(&root, Split::Train, "toy").unwrap_err();
    assert_usage_error(&err, &["dog", "class 1", "no .jpg/.jpeg/.png images"]);
    // In a list, a label that never occurs between others is an empty class too.
    let list = root.join("list.txt");
    std::fs::write(&list, "cat/a.png 0\ncat/a.png 2\n").unwrap();
    let err = load_image_list(&root, &list, Split::Train, "t", &ListOptions::default()).unwrap_err();
    assert_usage_error(&err, &["list.txt", "class 1", "no train images"]);
}

#[test]
fn an_unreadable_jpeg_names_the_list_line_and_the_image() {
    let root = fresh_dir("bad-jpeg");
    write_jpeg(&root.join("good.jpg"), 8, 8);
    let good = std::fs::read(root.join("good.jpg")).unwrap();
    std::fs::write(root.join("cut.jpg"), &good[..good.len() / 3]).unwrap();
    std::fs::write(root.join("text.jpg"), "this is not an image").unwrap();
    let list = root.join("train.txt");
    std::fs::write(&list, "good.jpg 0\ncut.jpg 0\ntext.jpg 0\n").unwrap();
    let ds = load_image_list(&root, &list, Split::Train, "t", &ListOptions::default()).unwrap();
    assert!(ds.image(0).is_ok());
    for (i, line) in [(1, "line 2"), (2, "line 3")] {
        let err = ds.image(i).unwrap_err();
        assert_usage_error(&err, &["train.txt", line, &ds.samples[i].id, "re-download"]);
    }
    assert!(ds.image(2).unwrap_err().to_string().contains("not a JPEG or PNG"));
}

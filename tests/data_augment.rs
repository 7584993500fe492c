//! Tests: data augment. Pipelines deserialize from YAML-shaped lists, every view replays exactly
//! from (seed, epoch, sample id, view), batches come out `[N, C, H, W]`, and the throughput of
//! augmentation + batching is measured (`augmentation_throughput`, ignored: run it in release).

use std::sync::Arc;
use std::time::Instant;

use ssdlt::data::augment::{
    assemble_batch, assemble_two_views, view_rng, Augment, AugmentPipeline, Scratch, TwoViews, KEY_VIEW, QUERY_VIEW,
};
use ssdlt::data::synthetic::{balanced_dataset, SyntheticSpec};
use ssdlt::data::{ContentHash, Dataset, Image, Location, Origin, Pixels, Sample, Split};

fn pipeline(json: &str) -> AugmentPipeline {
    let p: AugmentPipeline = serde_json::from_str(json).unwrap();
    p.validate().unwrap();
    p
}

/// `n` random-looking `[3, size, size]` u8 images held in memory like a decoded CIFAR batch.
fn planar_dataset(n: usize, size: usize) -> Dataset {
    let item = 3 * size * size;
    let bytes: Vec<u8> = (0..n * item).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let buffer: Arc<[u8]> = Arc::from(bytes);
    let file: Arc<std::path::Path> = Arc::from(std::path::Path::new("memory"));
    let samples = (0..n)
        .map(|i| Sample {
            id: format!("train/{i:06}"),
            label: (i % 10) as u32,
            hash: ContentHash::of(&buffer[i * item..(i + 1) * item]),
            pixels: Pixels::Planar { buffer: buffer.clone(), offset: i * item, channels: 3, height: size, width: size },
            origin: Origin { file: file.clone(), location: Location::Record(i) },
        })
        .collect();
    Dataset { name: "memory".into(), split: Split::Train, class_names: (0..10).map(|c| c.to_string()).collect(), samples }
}

#[test]
fn a_yaml_shaped_list_deserializes_into_steps() {
    let p = pipeline(r#"[{"pad_crop": 4}, "hflip", {"resized_crop": {"scale": [0.2, 1.0]}}]"#);
    assert_eq!(p.steps.len(), 3);
    assert_eq!(p.steps[0], Augment::PadCrop(4));
    assert_eq!(p.steps[1], Augment::Hflip);
    match &p.steps[2] {
        Augment::ResizedCrop(r) => {
            assert_eq!(r.scale, [0.2, 1.0]);
            assert_eq!(r.ratio, [0.75, 4.0 / 3.0], "torchvision's default ratio");
            assert_eq!(r.size, None);
        }
        other => panic!("{other:?}"),
    }
    let full = pipeline(
        r#"[{"resized_crop": {"size": 224, "scale": [0.08, 1.0]}}, "hflip",
            {"color_jitter": {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1, "p": 0.8}},
            {"grayscale": 0.2}, {"blur": {"sigma": [0.1, 2.0], "p": 0.5}}, {"cutout": {"size": 16}},
            {"normalize": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}},
            {"resize": 256}, {"center_crop": 224}]"#,
    );
    assert_eq!(full.steps.len(), 9);
    let err = serde_json::from_str::<AugmentPipeline>(r#"["hflip", "vflip"]"#).unwrap_err();
    assert!(err.to_string().contains("vflip"), "{err}");
    let err = serde_json::from_str::<AugmentPipeline>(r#"[{"blur": {"sigmas": [1, 2]}}]"#).unwrap_err();
    assert!(err.to_string().contains("sigmas"), "{err}");
    let bad = serde_json::from_str::<AugmentPipeline>(r#"["hflip", {"grayscale": 1.5}]"#).unwrap();
    let err = bad.validate().unwrap_err();
    assert!(err.is_usage() && err.to_string().contains("step 1 (grayscale)"), "{err}");
}

#[test]
fn every_view_replays_exactly_from_seed_epoch_id_and_view() {
    let ds = planar_dataset(16, 32);
    let strong = pipeline(
        r#"[{"pad_crop": 4}, "hflip", {"color_jitter": {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1, "p": 0.8}},
            {"grayscale": 0.2}, {"blur": {"sigma": [0.1, 2.0], "p": 0.5}}, {"cutout": {"size": 8}}]"#,
    );
    let indices: Vec<usize> = (0..16).rev().collect();
    let batch = assemble_batch(&ds, &indices, &strong, 42, 3, QUERY_VIEW).unwrap();
    assert_eq!(batch.shape, [16, 3, 32, 32]);
    assert_eq!(batch.labels[0], ds.samples[15].label);
    // Sample 15 alone, outside any batch, gives the same pixels as in the batch.
    let alone = strong.view(&ds, 15, 42, 3, QUERY_VIEW).unwrap();
    assert_eq!(&batch.data[..3 * 32 * 32], alone.data.as_slice());
    // Another order, another thread layout: the same per-sample views.
    let again = assemble_batch(&ds, &(0..16).collect::<Vec<_>>(), &strong, 42, 3, QUERY_VIEW).unwrap();
    assert_eq!(&again.data[15 * 3072..], alone.data.as_slice());
    assert_ne!(strong.view(&ds, 15, 42, 4, QUERY_VIEW).unwrap(), alone, "another epoch, another view");
    assert_ne!(strong.view(&ds, 15, 42, 3, KEY_VIEW).unwrap(), alone, "another view number");
    assert_ne!(strong.view(&ds, 15, 43, 3, QUERY_VIEW).unwrap(), alone, "another seed");
}

#[test]
fn two_view_mode_gives_a_query_and_a_stronger_key_batch() {
    let spec = SyntheticSpec { classes: 5, channels: 3, size: 32, noise: 0.05, seed: 1 };
    let ds = balanced_dataset(&spec, 4, Split::Train).unwrap();
    let views = TwoViews {
        query: pipeline(r#"[{"pad_crop": 4}, "hflip"]"#),
        key: pipeline(r#"[{"resized_crop": {"scale": [0.2, 1.0]}}, "hflip", {"color_jitter": {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1, "p": 0.8}}, {"grayscale": 0.2}]"#),
    };
    let indices: Vec<usize> = (0..20).collect();
    let (q, k) = assemble_two_views(&ds, &indices, &views, 5, 0).unwrap();
    assert_eq!(q.shape, [20, 3, 32, 32]);
    assert_eq!(k.shape, q.shape);
    assert_eq!(q.labels, k.labels);
    assert_ne!(q.data, k.data);
    let (q2, k2) = assemble_two_views(&ds, &indices, &views, 5, 0).unwrap();
    assert_eq!((q, k), (q2, k2));
}

#[test]
fn resized_crop_and_eval_resize_center_crop_give_fixed_sizes() {
    let ds = planar_dataset(4, 40);
    let train = pipeline(r#"[{"resized_crop": {"size": 24, "scale": [0.08, 1.0]}}, "hflip"]"#);
    assert_eq!(assemble_batch(&ds, &[0, 1, 2, 3], &train, 0, 0, 0).unwrap().shape, [4, 3, 24, 24]);
    let eval = pipeline(r#"[{"resize": 28}, {"center_crop": 24}]"#);
    let a = assemble_batch(&ds, &[0, 1], &eval, 0, 0, 0).unwrap();
    let b = assemble_batch(&ds, &[0, 1], &eval, 9, 9, 1).unwrap();
    assert_eq!(a, b, "evaluation steps draw nothing");
}

#[test]
fn hflip_flips_about_half_the_samples_and_exactly_mirrors_them() {
    let ds = planar_dataset(400, 8);
    let flip = pipeline(r#"["hflip"]"#);
    let batch = assemble_batch(&ds, &(0..400).collect::<Vec<_>>(), &flip, 1, 0, 0).unwrap();
    let mut flipped = 0;
    for i in 0..400 {
        let orig = ds.image(i).unwrap();
        let got = &batch.data[i * 192..(i + 1) * 192];
        if got != orig.data.as_slice() {
            let mirrored: Vec<f32> = orig.data.chunks(8).flat_map(|r| r.iter().rev().copied()).collect();
            assert_eq!(got, mirrored.as_slice());
            flipped += 1;
        }
    }
    assert!((160..=240).contains(&flipped), "{flipped} of 400 flipped");
}

#[test]
fn normalize_uses_the_per_channel_statistics_and_names_a_channel_mismatch() {
    let mut img = Image { channels: 3, height: 1, width: 2, data: vec![0.5, 0.5, 0.2, 0.2, 1.0, 0.0] };
    let norm = pipeline(r#"[{"normalize": {"mean": [0.5, 0.1, 0.5], "std": [0.5, 0.1, 0.25]}}]"#);
    let mut rng = view_rng(0, 0, "x", 0);
    norm.apply(&mut img, &mut rng, &mut Scratch::default(), "x").unwrap();
    let want = [0.0, 0.0, 1.0, 1.0, 2.0, -2.0];
    assert!(img.data.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6), "{:?}", img.data);
    let fashion = pipeline(r#"[{"normalize": {"mean": [0.2860], "std": [0.3530]}}]"#);
    let err = fashion.view(&planar_dataset(1, 4), 0, 0, 0, 0).unwrap_err();
    let text = err.to_string();
    assert!(err.is_usage() && text.contains("train/000000") && text.contains("3-channel"), "{text}");
}

#[test]
fn a_batch_of_images_that_end_at_different_sizes_names_the_sample() {
    let spec = SyntheticSpec { classes: 2, channels: 3, size: 16, noise: 0.0, seed: 0 };
    let mut ds = balanced_dataset(&spec, 2, Split::Train).unwrap();
    let big = SyntheticSpec { size: 20, ..spec };
    ds.samples[3].pixels = Pixels::Synthetic { spec: big, class: 1, index: 1 };
    let err = assemble_batch(&ds, &[0, 1, 2, 3], &pipeline(r#"["hflip"]"#), 0, 0, 0).unwrap_err();
    assert!(err.to_string().contains(&ds.samples[3].id) && err.to_string().contains("center_crop"), "{err}");
    assert_eq!(assemble_batch(&ds, &[0, 3], &pipeline(r#"[{"resize": 16}, {"center_crop": 16}]"#), 0, 0, 0).unwrap().shape, [2, 3, 16, 16]);
}

/// Images per second of augmentation + batch assembly, for the report:
/// `cargo test --release --test integration augmentation_throughput -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
fn augmentation_throughput() {
    let threads = rayon::current_num_threads();
    let cases = [
        (32, 32, 256, 40, r#"[{"pad_crop": 4}, "hflip", {"normalize": {"mean": [0.4914, 0.4822, 0.4465], "std": [0.2470, 0.2435, 0.2616]}}]"#, "cifar standard"),
        (32, 32, 256, 40, r#"[{"resized_crop": {"scale": [0.2, 1.0]}}, "hflip", {"color_jitter": {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1, "p": 0.8}}, {"grayscale": 0.2}, {"normalize": {"mean": [0.4914, 0.4822, 0.4465], "std": [0.2470, 0.2435, 0.2616]}}]"#, "cifar moco-v2 key"),
        (256, 224, 64, 6, r#"[{"resized_crop": {"size": 224}}, "hflip", {"normalize": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}]"#, "imagenet standard"),
        (256, 224, 64, 6, r#"[{"resized_crop": {"size": 224, "scale": [0.2, 1.0]}}, "hflip", {"color_jitter": {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1, "p": 0.8}}, {"grayscale": 0.2}, {"blur": {"sigma": [0.1, 2.0], "p": 0.5}}, {"normalize": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}]"#, "imagenet moco-v2 key"),
        (256, 224, 64, 6, r#"[{"resize": 256}, {"center_crop": 224}, {"normalize": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}]"#, "imagenet eval"),
    ];
    for (stored, out, batch, batches, json, name) in cases {
        let ds = planar_dataset(batch, stored);
        let p = pipeline(json);
        let indices: Vec<usize> = (0..batch).collect();
        let b = assemble_batch(&ds, &indices, &p, 0, 0, 0).unwrap();
        assert_eq!(b.shape, [batch, 3, out, out]);
        let start = Instant::now();
        for e in 0..batches {
            std::hint::black_box(assemble_batch(&ds, &indices, &p, 0, e as u64, 0).unwrap());
        }
        let rate = (batch * batches) as f64 / start.elapsed().as_secs_f64();
        println!("{name:>22}: {stored}x{stored} u8 -> [{batch}, 3, {out}, {out}] f32: {rate:>9.0} images/s ({threads} threads)");
    }
}

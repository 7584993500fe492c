//! The soft_labels stage: what it stores is what the teacher gives, top-k and dense rows have
//! the right mass, the cache sends only new samples through the teacher, and a corrupted cache
//! part is detected and recomputed.

use std::sync::atomic::Ordering;

use ssdlt::data::augment::{Augment, AugmentPipeline};
use ssdlt::nn::predict_logits;
use ssdlt::spec::dataset::LoadedData;
use ssdlt::spec::stages::SoftLabelsSpec;
use ssdlt::stages::model_io::load_model;
use ssdlt::stages::{soft_labels, NoProgress, StageCounters, StageProgress, SOFT_LABELS_FILE};
use ssdlt::store::soft_labels::{read_soft_labels, write_soft_labels, SoftLabelSet, SOFT_LABEL_EPOCH, SOFT_VIEW_BASE};

use crate::common;
use crate::stages_fixtures::{input, save_random_model, synthetic_data, Notes, Run, Scratch, CLASSES};

fn spec(top_k: Option<usize>, views: u32) -> SoftLabelsSpec {
    SoftLabelsSpec { from: "teacher".into(), temperature: 2.0, top_k, views, augment: Some(AugmentPipeline { steps: vec![Augment::PadCrop(2), Augment::Hflip] }), batch_size: Some(8) }
}

/// Runs the stage on `data` with the teacher in `scratch/teacher`; returns the set and the
/// number of (sample, view) rows that went through the teacher.
fn run_stage(scratch: &Scratch, data: &LoadedData, spec: &SoftLabelsSpec, progress: &dyn StageProgress) -> (SoftLabelSet, u64) {
    let dev = common::cpu();
    let teacher_dir = scratch.root.join("teacher");
    let out = scratch.fresh_dir("out");
    let inputs = [input("teacher", "calibrate", "fp-teacher-1", &teacher_dir)];
    let counters = StageCounters::default();
    let run = Run { dev: &dev, data, name: "soft", inputs: &inputs, out_dir: &out, scratch, progress, counters: &counters };
    soft_labels::run(spec, &run.context()).unwrap();
    (read_soft_labels(&out.join(SOFT_LABELS_FILE)).unwrap(), counters.teacher_forward_samples.load(Ordering::Relaxed))
}

fn with_teacher(test: &str, data: &LoadedData) -> Scratch {
    let scratch = Scratch::new(test);
    save_random_model(&common::cpu(), &scratch.fresh_dir("teacher"), &["fc"], "fc", 9, &data.lock.fingerprint);
    scratch
}

/// softmax(logits / T) of the teacher on view `view` of every training sample, recomputed here.
fn teacher_probs(scratch: &Scratch, data: &LoadedData, spec: &SoftLabelsSpec, view: u32) -> Vec<Vec<f64>> {
    let dev = common::cpu();
    let (mut net, _) = load_model(&dev, &scratch.root.join("teacher")).unwrap();
    let pipeline = if view == 0 { data.eval_pipeline() } else { data.train_pipeline(spec.augment.as_ref().unwrap()) };
    let replay = if view == 0 { 0 } else { SOFT_VIEW_BASE + view };
    let mut images = Vec::new();
    for i in 0..data.train.len() {
        images.extend(pipeline.view(&data.train, i, 5, SOFT_LABEL_EPOCH, replay).unwrap().data);
    }
    let logits = predict_logits(&dev, &mut net, 0, &images, data.sample_shape, 3).unwrap();
    logits
        .chunks(CLASSES)
        .map(|row| {
            let t: Vec<f64> = row.iter().map(|&v| v as f64 / spec.temperature as f64).collect();
            let m = t.iter().cloned().fold(f64::MIN, f64::max);
            let s: f64 = t.iter().map(|v| (v - m).exp()).sum();
            t.iter().map(|v| (v - m).exp() / s).collect()
        })
        .collect()
}

#[test]
fn dense_soft_labels_read_back_equal_to_what_the_teacher_produces_on_each_view() {
    let data = synthetic_data(&[6, 4, 3, 2], 1);
    let scratch = with_teacher("dense", &data);
    let spec = spec(None, 2);
    let (set, forwarded) = run_stage(&scratch, &data, &spec, &NoProgress);
    assert_eq!(forwarded, 2 * 15);
    assert_eq!((set.k, set.num_classes, set.views, set.temperature), (CLASSES, CLASSES, 2, 2.0));
    assert_eq!(set.teacher_fingerprint, "fp-teacher-1");
    assert_eq!(set.rows.len(), 2 * 15);
    let index = set.index();
    for view in 0..2 {
        let want = teacher_probs(&scratch, &data, &spec, view);
        for (i, sample) in data.train.samples.iter().enumerate() {
            let row = &set.rows[index[&(sample.id.as_str(), view)]];
            assert_eq!(row.hash, sample.hash);
            let sum: f32 = row.probs.iter().sum();
            assert!((sum - 1.0).abs() < 1e-5, "dense row sums to {sum}");
            assert!(row.probs.windows(2).all(|w| w[0] >= w[1]), "most probable first");
            for (c, p) in row.classes.iter().zip(&row.probs) {
                assert!((*p as f64 - want[i][*c as usize]).abs() < 1e-5, "sample {i} view {view} class {c}: {p} vs {}", want[i][*c as usize]);
            }
        }
    }
    // View 1 is augmented: some sample's two views differ.
    assert!(set.rows.chunks(2).any(|pair| pair[0].probs != pair[1].probs));
}

#[test]
fn top_k_rows_keep_the_k_most_probable_classes_and_sum_to_at_most_one() {
    let data = synthetic_data(&[6, 4, 3, 2], 1);
    let scratch = with_teacher("topk", &data);
    let spec = spec(Some(2), 1);
    let (set, _) = run_stage(&scratch, &data, &spec, &NoProgress);
    assert_eq!(set.k, 2);
    let want = teacher_probs(&scratch, &data, &spec, 0);
    for (row, probs) in set.rows.iter().zip(&want) {
        let sum: f32 = row.probs.iter().sum();
        assert!(sum <= 1.0 + 1e-6, "top-k row sums to {sum}");
        let mut order: Vec<usize> = (0..CLASSES).collect();
        order.sort_by(|&a, &b| probs[b].partial_cmp(&probs[a]).unwrap());
        assert_eq!(row.classes, order[..2].iter().map(|&c| c as u32).collect::<Vec<_>>());
    }
}

#[test]
fn adding_samples_to_the_dataset_labels_only_the_new_ones() {
    let data = synthetic_data(&[6, 4, 3, 2], 1);
    let scratch = with_teacher("incremental", &data);
    let spec = spec(Some(3), 2);
    let (first, forwarded) = run_stage(&scratch, &data, &spec, &NoProgress);
    assert_eq!(forwarded, 2 * 15);
    let (again, forwarded) = run_stage(&scratch, &data, &spec, &NoProgress);
    assert_eq!(forwarded, 0, "an unchanged dataset runs no teacher");
    assert_eq!(again, first);
    let grown = synthetic_data(&[7, 5, 4, 3], 1);
    let (set, forwarded) = run_stage(&scratch, &grown, &spec, &NoProgress);
    assert_eq!(forwarded, 2 * 4, "only the 4 new samples (2 views each) go through the teacher");
    assert_eq!(set.rows.len(), 2 * 19);
    let old = first.index();
    for row in &set.rows {
        if let Some(&i) = old.get(&(row.id.as_str(), row.view)) {
            assert_eq!(row, &first.rows[i]);
        }
    }
}

#[test]
fn a_corrupted_cache_file_is_reported_and_recomputed() {
    let data = synthetic_data(&[6, 4, 3, 2], 1);
    let scratch = with_teacher("corrupt", &data);
    let spec = spec(None, 1);
    let (first, _) = run_stage(&scratch, &data, &spec, &NoProgress);
    let part = find_part(&scratch.cache);
    let mut bytes = std::fs::read(&part).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(&part, bytes).unwrap();
    let notes = Notes::default();
    let (set, forwarded) = run_stage(&scratch, &data, &spec, &notes);
    assert_eq!(forwarded, 15, "every sample of the corrupt part is recomputed");
    assert_eq!(set, first);
    let notes = notes.0.lock().unwrap();
    assert!(notes.iter().any(|n| n.contains("checksum mismatch")), "{notes:?}");
}

fn find_part(dir: &std::path::Path) -> std::path::PathBuf {
    fn walk(dir: &std::path::Path) -> Option<std::path::PathBuf> {
        for entry in std::fs::read_dir(dir).ok()? {
            let path = entry.ok()?.path();
            if path.is_dir() {
                if let Some(found) = walk(&path) {
                    return Some(found);
                }
            } else if path.extension().is_some_and(|e| e == "arrow") {
                return Some(path);
            }
        }
        None
    }
    walk(dir).unwrap_or_else(|| panic!("no cache part under {}", dir.display()))
}

#[test]
fn a_soft_label_file_that_is_not_arrow_is_an_error_naming_it() {
    let scratch = Scratch::new("bad-file");
    let path = scratch.root.join("soft_labels.arrow");
    std::fs::write(&path, b"not arrow").unwrap();
    let err = read_soft_labels(&path).unwrap_err().to_string();
    assert!(err.contains("soft_labels.arrow") && err.contains("not an Arrow IPC file"), "{err}");
}

#[test]
fn writing_a_set_with_rows_of_the_wrong_width_is_refused() {
    let scratch = Scratch::new("bad-rows");
    let set = SoftLabelSet {
        temperature: 2.0,
        k: 2,
        num_classes: 4,
        teacher_fingerprint: "t".into(),
        views: 1,
        rows: vec![ssdlt::store::soft_labels::SoftLabelRow { id: "a".into(), hash: ssdlt::data::ContentHash([0; 32]), view: 0, classes: vec![1], probs: vec![0.5] }],
    };
    let err = write_soft_labels(&scratch.root.join("x.arrow"), &set).unwrap_err().to_string();
    assert!(err.contains("row 0"), "{err}");
}

#[test]
fn a_top_k_above_the_class_count_or_a_non_model_input_is_a_usage_error() {
    let data = synthetic_data(&[6, 4, 3, 2], 1);
    let scratch = with_teacher("bad-params", &data);
    let dev = common::cpu();
    let out = scratch.fresh_dir("out");
    let counters = StageCounters::default();
    let teacher = [input("teacher", "train", "fp", &scratch.root.join("teacher"))];
    let run = Run { dev: &dev, data: &data, name: "soft", inputs: &teacher, out_dir: &out, scratch: &scratch, progress: &NoProgress, counters: &counters };
    let err = soft_labels::run(&spec(Some(CLASSES + 1), 1), &run.context()).unwrap_err();
    assert!(err.is_usage() && err.to_string().contains("top_k = 5"), "{err}");
    let wrong = [input("other", "soft_labels", "fp", &out)];
    let run = Run { inputs: &wrong, ..run };
    let err = soft_labels::run(&spec(None, 1), &run.context()).unwrap_err();
    assert!(err.is_usage() && err.to_string().contains("must name a train or calibrate stage"), "{err}");
    assert_eq!(counters.teacher_forward_samples.load(Ordering::Relaxed), 0);
}

//! Tests: `ssdlt run` end to end with the real stages on a tiny synthetic pipeline — the results
//! table, a second run that computes nothing, and a data change that sends only the new samples
//! through the teacher.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ssdlt-e2e-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn ssdlt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ssdlt")).args(args).output().expect("running ssdlt")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A teacher kept across data changes, its soft labels, a distilled student, evaluation.
fn pipeline(images_per_class: usize) -> String {
    format!(
        r#"pipeline: e2e
seed: 3
device: cpu
dataset:
  source: synthetic
  synthetic: {{classes: 4, channels: 1, size: 16, images_per_class: {images_per_class}, test_images_per_class: 5}}
  long_tail: {{profile: keep_all}}
defaults:
  model: resnet8
  batch_size: 16
  augment: [hflip]
stages:
  teacher:
    kind: train
    epochs: 1
    losses: [ce, {{contrastive: {{queue: 32, momentum: 0.9}}}}]
    key_augment: [{{pad_crop: 2}}, hflip]
    on_data_change: keep
  soft: {{kind: soft_labels, from: teacher, temperature: 2}}
  student: {{kind: train, epochs: 1, losses: [ce, {{distill: {{from: soft}}}}]}}
  eval: {{kind: evaluate, from: [teacher, student]}}
"#
    )
}

/// A metric of the soft_labels stage's stored report.
fn soft_metric(dir: &Path, name: &str) -> f64 {
    let store = dir.join(".ssdlt/v1");
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(store.join("pipelines/e2e/state.json")).unwrap()).unwrap();
    let fp = state["stages"]["soft"]["fingerprint"].as_str().expect("soft's fingerprint in state.json");
    let outputs: serde_json::Value = serde_json::from_slice(&std::fs::read(store.join("stages").join(fp).join("outputs.json")).unwrap()).unwrap();
    outputs["report"]["metrics"][name].as_f64().unwrap_or_else(|| panic!("no metric `{name}` in {outputs}"))
}

#[test]
fn a_run_ends_with_the_results_table_reruns_nothing_and_labels_only_new_samples_after_a_data_change() {
    let dir = scratch("chain");
    let file = dir.join("e2e.yaml");
    std::fs::write(&file, pipeline(12)).unwrap();
    let file_arg = file.to_str().unwrap();

    let first = ssdlt(&["-q", "run", file_arg]);
    assert!(first.status.success(), "{}", text(&first));
    let stdout = String::from_utf8_lossy(&first.stdout);
    for row in ["teacher/fc", "student/fc_soft", "student/fc"] {
        assert!(stdout.contains(row), "results table lacks `{row}`:\n{stdout}");
    }
    assert!(stdout.contains("many") && stdout.contains("few"), "{stdout}");
    assert_eq!(soft_metric(&dir, "computed"), 48.0, "every training sample goes through the teacher once");

    let second = ssdlt(&["run", file_arg]);
    assert!(second.status.success(), "{}", text(&second));
    assert!(text(&second).contains("nothing to run: all 4 stages cached"), "{}", text(&second));

    // Two more images per class: the kept teacher labels exactly those 8, the rest come from the cache.
    std::fs::write(&file, pipeline(14)).unwrap();
    let plan = ssdlt(&["plan", file_arg]);
    assert!(plan.status.success(), "{}", text(&plan));
    assert!(text(&plan).contains("cached   teacher"), "the keep policy leaves the teacher stored:\n{}", text(&plan));
    let third = ssdlt(&["-q", "run", file_arg]);
    assert!(third.status.success(), "{}", text(&third));
    assert_eq!(soft_metric(&dir, "computed"), 8.0, "only the new samples go through the teacher");
    assert_eq!(soft_metric(&dir, "cached"), 48.0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn gc_frees_what_an_edit_left_behind_and_the_next_run_reruns_nothing() {
    let dir = scratch("gc");
    let file = dir.join("e2e.yaml");
    std::fs::write(&file, pipeline(12)).unwrap();
    let file_arg = file.to_str().unwrap();
    let first = ssdlt(&["-q", "run", file_arg]);
    assert!(first.status.success(), "{}", text(&first));
    // A student of 2 epochs: the student and eval outputs of the first run become garbage.
    std::fs::write(&file, pipeline(12).replace("student: {kind: train, epochs: 1", "student: {kind: train, epochs: 2")).unwrap();
    let second = ssdlt(&["-q", "run", file_arg]);
    assert!(second.status.success(), "{}", text(&second));
    let stages = || std::fs::read_dir(dir.join(".ssdlt/v1/stages")).unwrap().count();
    assert_eq!(stages(), 6);

    let dry = ssdlt(&["gc", "--dry-run", file_arg]);
    assert!(dry.status.success(), "{}", text(&dry));
    let out = String::from_utf8_lossy(&dry.stdout);
    assert!(out.contains("would remove 3 entries") && out.contains("kept 4 stored stage outputs in use"), "{out}");
    assert!(out.contains("  2 stage outputs "), "{out}");
    assert!(out.contains("1 cache folder "), "the old student's cached predictions: {out}");
    assert!(out.contains("stages/"), "a dry run lists every path: {out}");
    assert_eq!(stages(), 6, "a dry run removes nothing");

    let gc = ssdlt(&["gc", file_arg]);
    assert!(gc.status.success(), "{}", text(&gc));
    assert!(String::from_utf8_lossy(&gc.stdout).contains("removed"), "{}", text(&gc));
    assert_eq!(stages(), 4);
    let third = ssdlt(&["run", file_arg]);
    assert!(text(&third).contains("nothing to run: all 4 stages cached"), "{}", text(&third));
    let again = ssdlt(&["gc", file_arg]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to remove; 4 stored stage outputs in use"), "{}", text(&again));
    let _ = std::fs::remove_dir_all(&dir);
}

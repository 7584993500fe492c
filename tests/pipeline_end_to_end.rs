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

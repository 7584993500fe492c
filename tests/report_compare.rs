//! Tests: `ssdlt export`, `ssdlt report` and `ssdlt compare` on stores laid out as `ssdlt run`
//! leaves them (state.json, stage folders with outputs.json, run records), built from the stage
//! files the export tests write.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ssdlt::spec::stages::TableFormat;
use ssdlt::stages::export::stored_table_path;
use ssdlt::stages::{PipelineRef, SOFT_LABELS_FILE};
use ssdlt::store::soft_labels::write_soft_labels;
use ssdlt::store::tables::{read_table, TableName};

use crate::export_tables::{export, soft_set, write_evaluation, write_history, TEST_PER_CLASS, TRAIN_COUNTS};
use crate::stages_fixtures::{input, synthetic_data, Scratch};

fn ssdlt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ssdlt")).args(args).output().expect("running ssdlt")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn write_json(path: &Path, value: &serde_json::Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
}

/// A pipeline file `<name>.yaml` in `root` and the store its last run left: `ce` (train, with a
/// history), `soft` (when `with_soft`), `eval` of models `ce` and `student` with the given
/// skills, and `tables` (export).
fn stored_run(scratch: &Scratch, name: &str, skills: (usize, usize), with_soft: bool) -> PathBuf {
    let root = &scratch.root;
    let file = root.join(format!("{name}.yaml"));
    let soft_stage = if with_soft { "  soft: {kind: soft_labels, from: ce, temperature: 2, views: 2}\n" } else { "" };
    let from = if with_soft { "[soft, eval]" } else { "[eval]" };
    std::fs::write(
        &file,
        format!("pipeline: {name}\nseed: 0\ndataset:\n  source: synthetic\nstages:\n  ce: {{kind: train, epochs: 3, losses: [ce]}}\n{soft_stage}  eval: {{kind: evaluate, from: [ce]}}\n  tables: {{kind: export, from: {from}, format: parquet}}\n"),
    )
    .unwrap();
    let store = root.join(".ssdlt/v1");
    let stage_dir = |stage: &str| store.join("stages").join(format!("{name}-{stage}"));
    let data = synthetic_data(&TRAIN_COUNTS, TEST_PER_CLASS);
    let mut stages = vec![("ce", "train")];
    let ce = stage_dir("ce");
    std::fs::create_dir_all(&ce).unwrap();
    write_history(&ce, 3);
    let mut inputs = Vec::new();
    if with_soft {
        stages.push(("soft", "soft_labels"));
        let dir = stage_dir("soft");
        std::fs::create_dir_all(&dir).unwrap();
        write_soft_labels(&dir.join(SOFT_LABELS_FILE), &soft_set(&data, "teacher")).unwrap();
        inputs.push(input("soft", "soft_labels", &format!("{name}-soft"), &dir));
    }
    stages.push(("eval", "evaluate"));
    write_evaluation(&data, &stage_dir("eval"), &[("ce", "ce-fp", skills.0), ("student", "st-fp", skills.1)]);
    inputs.push(input("eval", "evaluate", &format!("{name}-eval"), &stage_dir("eval")));
    stages.push(("tables", "export"));
    export(&crate::common::cpu(), &data, &inputs, &stage_dir("tables"), None, Some(PipelineRef { name, file: &file }), TableFormat::Parquet, scratch);
    let mut state = serde_json::Map::new();
    let mut record_stages = Vec::new();
    for (stage, kind) in &stages {
        let fp = format!("{name}-{stage}");
        state.insert(stage.to_string(), serde_json::json!({"kind": kind, "fingerprint": fp}));
        write_json(&stage_dir(stage).join("outputs.json"), &serde_json::json!({"format": 1, "stage": stage, "kind": kind, "fingerprint": fp, "ingredients": {"kind": kind, "params": {"epochs": 3}}, "report": {"summary": "", "metrics": {}, "images_per_s": 100.0}, "wall_s": 2.5}));
        record_stages.push(serde_json::json!({"stage": stage, "kind": kind, "fingerprint": fp, "action": "ran", "reasons": [], "params": {"epochs": 3}, "wall_s": 2.5, "images_per_s": 100.0, "report": null, "error": null}));
    }
    write_json(&store.join(format!("pipelines/{name}/state.json")), &serde_json::json!({"format": 1, "pipeline": name, "stages": state, "train": null, "test": null}));
    write_json(
        &store.join(format!("runs/20261201T000000Z-1-{name}.json")),
        &serde_json::json!({"format": 1, "pipeline": name, "pipeline_file": file, "started_at": 1, "finished_at": 2, "device": null, "ssdlt_version": "0", "stages": record_stages}),
    );
    file
}

#[test]
fn the_report_is_one_html_file_with_every_plot_as_inline_svg() {
    let scratch = Scratch::new("report-html");
    let file = stored_run(&scratch, "alpha", (6, 8), true);
    let out = ssdlt(&["report", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let path = scratch.root.join("reports/alpha/report.html");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), path.display().to_string());
    let html = std::fs::read_to_string(&path).unwrap();
    // Per-class vs frequency, shot bars, loss / accuracy / lr curves, entropy, confusion.
    assert_eq!(html.matches("<svg").count(), 7, "{html}");
    for title in ["per-class test accuracy", "accuracy by shot group", "learning rate", "mean entropy (nats) by true class", "row-normalized confusion", "training images of the class (log)"] {
        assert!(html.contains(title), "missing `{title}`");
    }
    assert!(!html.contains("<script") && !html.contains("src=") && !html.contains("<link"), "the report must need no network");
}

#[test]
fn compare_prints_the_metric_deltas_and_the_top_movers() {
    let scratch = Scratch::new("compare");
    let a = stored_run(&scratch, "alpha", (6, 8), true);
    let b = stored_run(&scratch, "beta", (3, 9), false);
    let out = ssdlt(&["compare", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let got = String::from_utf8_lossy(&out.stdout).replace(&scratch.root.display().to_string(), "<dir>");
    let want = "\
A: <dir>/alpha.yaml (pipeline alpha)
B: <dir>/beta.yaml (pipeline beta)

accuracy in percent, delta = B - A in points
model/head  metric        A      B  delta
ce/fc       overall    58.3   33.3  -25.0
            many       66.7   33.3  -33.3
            medium     66.7   33.3  -33.3
            few        50.0   33.3  -16.7
student/fc  overall    75.0   91.7  +16.7
            many       66.7  100.0  +33.3
            medium     66.7   66.7   +0.0
            few        83.3  100.0  +16.7

per-class top movers (up to 5 per model/head, largest change first)
ce/fc:
  class 0    disc-f2-c0   many     66.7 ->   33.3 (-33.3)
  class 1    square-f2-c0 medium   66.7 ->   33.3 (-33.3)
  class 3    cross-f2-c0  few      66.7 ->   33.3 (-33.3)
student/fc:
  class 0    disc-f2-c0   many     66.7 ->  100.0 (+33.3)
  class 3    cross-f2-c0  few      66.7 ->  100.0 (+33.3)
";
    assert_eq!(got, want, "got:\n{got}");
}

#[test]
fn export_writes_a_table_of_the_last_run_in_each_format() {
    let scratch = Scratch::new("export-cli");
    let file = stored_run(&scratch, "alpha", (6, 8), true);
    let f = file.to_str().unwrap();
    let out = ssdlt(&["export", f, "--table", "per_class", "--format", "parquet"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(scratch.root.join("exports/alpha/per_class.parquet").exists());
    let runs = scratch.root.join("runs.csv");
    let out = ssdlt(&["export", f, "--table", "runs", "--format", "csv", "-o", runs.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let csv = std::fs::read_to_string(&runs).unwrap();
    assert_eq!(csv.lines().count(), 1 + 4, "{csv}");
    assert!(csv.lines().nth(1).unwrap().starts_with("ce,train,alpha-ce,\"{\"\"epochs\"\":3}\",2.5,100"), "{csv}");
    let arrow = scratch.root.join("samples.arrow");
    let out = ssdlt(&["-q", "export", f, "--table", "samples", "--format", "arrow", "-o", arrow.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let stored = read_table(&stored_table_path(&scratch.root.join(".ssdlt/v1/stages/alpha-tables"), TableName::Samples)).unwrap();
    assert_eq!(read_table(&arrow).unwrap().batch, stored.batch);
}

#[test]
fn export_of_a_table_the_run_did_not_produce_is_exit_2_and_writes_nothing() {
    let scratch = Scratch::new("export-missing");
    let file = stored_run(&scratch, "beta", (3, 9), false);
    let target = scratch.root.join("soft.parquet");
    let out = ssdlt(&["export", file.to_str().unwrap(), "--table", "soft_labels", "--format", "parquet", "-o", target.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("table `soft_labels`: the last run of pipeline `beta`") && text(&out).contains("has no soft_labels stage"), "{}", text(&out));
    assert!(!target.exists());
}

#[test]
fn export_with_an_unknown_format_or_an_unwritable_path_is_exit_2_and_writes_nothing() {
    let scratch = Scratch::new("export-bad");
    let file = stored_run(&scratch, "alpha", (6, 8), true);
    let f = file.to_str().unwrap();
    let out = ssdlt(&["export", f, "--table", "runs", "--format", "xlsx"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("possible values: arrow, parquet, csv"), "{}", text(&out));
    let blocker = scratch.root.join("not-a-folder");
    std::fs::write(&blocker, b"").unwrap();
    let target = blocker.join("runs.parquet");
    let out = ssdlt(&["export", f, "--table", "runs", "--format", "parquet", "-o", target.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("choose a writable path"), "{}", text(&out));
    assert!(!target.exists());
    let stray: Vec<_> = std::fs::read_dir(&scratch.root).unwrap().filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().contains(".tmp")).collect();
    assert!(stray.is_empty(), "temporary files left: {stray:?}");
}

#[test]
fn report_and_compare_of_a_pipeline_that_never_ran_say_so_with_exit_2() {
    let scratch = Scratch::new("never-ran");
    let file = scratch.root.join("fresh.yaml");
    std::fs::write(&file, "pipeline: fresh\nseed: 0\ndataset:\n  source: synthetic\nstages:\n  ce: {kind: train, epochs: 1, losses: [ce]}\n").unwrap();
    for args in [vec!["report", file.to_str().unwrap()], vec!["compare", file.to_str().unwrap(), file.to_str().unwrap()]] {
        let out = ssdlt(&args);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains("has not run yet") && text(&out).contains("ssdlt run"), "{}", text(&out));
    }
}

//! Tests: every pipeline shipped in pipelines/ parses and lowers, and the shipped chains have the
//! shape the README promises (CE, decoupling baselines, the SSD chain, evaluate, export).

use std::path::{Path, PathBuf};

use ssdlt::plan::lower;
use ssdlt::spec::pipeline::parse_file;
use ssdlt::spec::stages::StageSpec;

fn pipeline_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("pipelines/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_shipped_pipeline_parses_and_lowers() {
    let files = pipeline_files();
    let names: Vec<String> = files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
    for want in [
        "quickstart.yaml",
        "fashion_mnist_lt.yaml",
        "cifar10_lt.yaml",
        "cifar100_lt.yaml",
        "cifar100_lt_if50.yaml",
        "cifar100_lt_if10.yaml",
        "imagenet_lt.yaml",
        "inaturalist2018.yaml",
    ] {
        assert!(names.iter().any(|n| n == want), "pipelines/{want} is missing (have {names:?})");
    }
    for file in &files {
        let spec = parse_file(file).unwrap_or_else(|e| panic!("{e}"));
        lower(&spec).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn every_shipped_pipeline_has_the_baselines_and_the_whole_ssd_chain() {
    for file in pipeline_files() {
        let graph = lower(&parse_file(&file).unwrap()).unwrap();
        let kind = |name: &str| graph.get(name).map(|s| s.spec.kind()).unwrap_or_else(|| panic!("{}: no stage `{name}`", file.display()));
        for (name, want) in [
            ("ce", "train"),
            ("ce_lws", "calibrate"),
            ("ce_crt", "calibrate"),
            ("ce_tau", "calibrate"),
            ("teacher", "train"),
            ("teacher_lws", "calibrate"),
            ("soft", "soft_labels"),
            ("student", "train"),
            ("student_lws", "calibrate"),
            ("eval", "evaluate"),
            ("tables", "export"),
        ] {
            assert_eq!(kind(name), want, "{}: stage `{name}`", file.display());
        }
        assert_eq!(graph.only("student_lws").unwrap().names(), ["teacher", "teacher_lws", "soft", "student", "student_lws"], "{}", file.display());
        let StageSpec::Evaluate(eval) = &graph.get("eval").unwrap().spec else { unreachable!() };
        for model in ["ce", "ce_lws", "teacher_lws", "student", "student_lws"] {
            assert!(eval.from.iter().any(|m| m == model), "{}: eval reads {model}", file.display());
        }
    }
}

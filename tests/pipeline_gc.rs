//! Tests: `ssdlt gc` removes what neither the named pipeline files nor any pipeline's last run
//! needs, and nothing else.

use std::path::{Path, PathBuf};

use ssdlt::runner::gc::collect_garbage;
use ssdlt::runner::{prepare, RunOptions, SilentReporter, StageStatus};
use ssdlt::store::gc::GarbageKind;

use crate::pipeline_run::fixture::{self, FakeExecutor, SyntheticData, TINY};

fn store(dir: &Path) -> PathBuf {
    dir.join(".ssdlt/v1")
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(e) => e.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

fn fingerprints(file: &Path, data: &SyntheticData) -> Vec<(String, String)> {
    let p = prepare(file, &RunOptions::default(), data, &SilentReporter).unwrap();
    p.stages.iter().map(|s| (s.stage.name.clone(), s.fingerprint.clone())).collect()
}

fn fp_of(fps: &[(String, String)], stage: &str) -> String {
    fps.iter().find(|(n, _)| n == stage).unwrap().1.clone()
}

#[test]
fn gc_removes_the_outputs_and_caches_of_edited_stages_and_the_next_run_reruns_nothing() {
    let (dir, file) = fixture::pipeline_dir("gc-edited", TINY);
    let (data, exec) = (SyntheticData::new(), FakeExecutor::default());
    fixture::run(&file, &RunOptions::default(), &data, &exec).unwrap();
    let before = fingerprints(&file, &data);
    // A longer student: student, student_lws, eval and tables get new fingerprints.
    std::fs::write(&file, TINY.replace("student:     {kind: train, epochs: 2", "student:     {kind: train, epochs: 3")).unwrap();
    fixture::run(&file, &RunOptions::default(), &data, &exec).unwrap();
    let after = fingerprints(&file, &data);
    let edited: Vec<String> = ["student", "student_lws", "eval", "tables"].iter().map(|s| fp_of(&before, s)).collect();
    assert!(edited.iter().all(|fp| !after.iter().any(|(_, a)| a == fp)), "the edit changes those four fingerprints");
    // Caches of the old student (predictions) and of a live teacher (soft labels).
    let old_cache = store(&dir).join("cache/predictions").join(&edited[0]);
    let live_cache = store(&dir).join("cache/soft_labels").join(fp_of(&after, "teacher_lws"));
    for d in [&old_cache, &live_cache] {
        std::fs::create_dir_all(d.join("part")).unwrap();
        std::fs::write(d.join("part/rows.arrow"), [7u8; 1500]).unwrap();
    }

    let dry = collect_garbage(std::slice::from_ref(&file), &data, true).unwrap();
    assert_eq!(dry.len(), 1);
    let stage_garbage: Vec<String> = dry[0]
        .garbage
        .iter()
        .filter(|g| g.kind == GarbageKind::StageOutput)
        .map(|g| g.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut want = edited.clone();
    want.sort();
    assert_eq!(stage_garbage, want, "exactly the four outputs the edit replaced");
    let caches: Vec<&PathBuf> = dry[0].garbage.iter().filter(|g| g.kind == GarbageKind::Cache).map(|g| &g.path).collect();
    assert_eq!(caches, [&old_cache]);
    assert_eq!(dry[0].garbage.iter().find(|g| g.path == old_cache).unwrap().bytes, 1500);
    assert_eq!(dry[0].kept_stages, 9);
    assert_eq!(entries(&store(&dir).join("stages")).len(), 13, "a dry run removes nothing");

    let done = collect_garbage(std::slice::from_ref(&file), &data, false).unwrap();
    assert_eq!(done[0].garbage, dry[0].garbage);
    assert_eq!(entries(&store(&dir).join("stages")).len(), 9);
    assert!(!old_cache.exists() && live_cache.exists());
    let again = prepare(&file, &RunOptions::default(), &data, &SilentReporter).unwrap();
    assert!(again.stages.iter().all(|s| matches!(s.status, StageStatus::Cached)), "gc kept everything the pipeline uses");
    assert!(collect_garbage(&[file], &data, false).unwrap()[0].garbage.is_empty(), "a second gc finds nothing");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn gc_keeps_the_checkpoints_of_an_interrupted_stage_until_an_edit_makes_them_useless() {
    let (dir, file) = fixture::pipeline_dir("gc-resume", TINY);
    let (data, exec) = (SyntheticData::new(), FakeExecutor::default());
    *exec.fail.lock().unwrap() = Some("student".into());
    assert!(fixture::run(&file, &RunOptions::default(), &data, &exec).is_err());
    let student = fp_of(&fingerprints(&file, &data), "student");
    let resume = store(&dir).join("resume").join(&student);
    assert!(resume.join("epoch-1").exists(), "the failed stage left its checkpoint");
    // A killed run's half-written folder, and a file gc knows nothing about.
    std::fs::create_dir_all(store(&dir).join("tmp").join(format!("{student}-99999"))).unwrap();
    std::fs::write(store(&dir).join("stages/NOTES.txt"), "mine").unwrap();

    let swept = collect_garbage(std::slice::from_ref(&file), &data, false).unwrap();
    let kinds: Vec<GarbageKind> = swept[0].garbage.iter().map(|g| g.kind).collect();
    assert_eq!(kinds, [GarbageKind::Temporary], "only the killed run's leftovers");
    assert!(resume.join("epoch-1").exists(), "the pipeline still needs the checkpoint");
    assert!(store(&dir).join("stages/NOTES.txt").exists(), "entries that are not fingerprints are left alone");

    std::fs::write(&file, TINY.replace("student:     {kind: train, epochs: 2", "student:     {kind: train, epochs: 3")).unwrap();
    let swept = collect_garbage(&[file], &data, false).unwrap();
    let paths: Vec<&PathBuf> = swept[0].garbage.iter().map(|g| &g.path).collect();
    assert_eq!(paths, [&resume], "the edited student's old checkpoint is garbage now");
    assert!(!resume.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn gc_keeps_the_last_run_of_another_pipeline_sharing_the_folder() {
    let (dir, file) = fixture::pipeline_dir("gc-shared", TINY);
    let (data, exec) = (SyntheticData::new(), FakeExecutor::default());
    let other = dir.join("other.yaml");
    let other_yaml = TINY.replace("pipeline: tiny", "pipeline: other").replace("ce:          {kind: train, epochs: 2", "ce:          {kind: train, epochs: 4");
    std::fs::write(&other, other_yaml).unwrap();
    fixture::run(&file, &RunOptions::default(), &data, &exec).unwrap();
    fixture::run(&other, &RunOptions::default(), &data, &exec).unwrap();
    let stored = entries(&store(&dir).join("stages"));
    let swept = collect_garbage(std::slice::from_ref(&file), &data, false).unwrap();
    assert!(swept[0].garbage.is_empty(), "{:?}", swept[0].garbage);
    assert_eq!(entries(&store(&dir).join("stages")), stored);
    // Forgetting the other pipeline (its state folder) makes its own stages garbage.
    std::fs::remove_dir_all(store(&dir).join("pipelines/other")).unwrap();
    let swept = collect_garbage(&[file], &data, false).unwrap();
    let mine: Vec<String> = fingerprints(&dir.join("pipeline.yaml"), &data).into_iter().map(|(_, fp)| fp).collect();
    assert!(!swept[0].garbage.is_empty());
    assert!(swept[0].garbage.iter().all(|g| !mine.iter().any(|fp| g.path.ends_with(fp))));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn gc_refuses_while_a_run_holds_the_store_and_removes_nothing_when_a_file_does_not_parse() {
    let (dir, file) = fixture::pipeline_dir("gc-refuses", TINY);
    let (data, exec) = (SyntheticData::new(), FakeExecutor::default());
    fixture::run(&file, &RunOptions::default(), &data, &exec).unwrap();
    std::fs::write(&file, TINY.replace("student:     {kind: train, epochs: 2", "student:     {kind: train, epochs: 3")).unwrap();
    let stored = entries(&store(&dir).join("stages"));

    // pid 1 is always alive: a run holding the lock.
    std::fs::write(store(&dir).join("run.lock"), "1").unwrap();
    let err = collect_garbage(std::slice::from_ref(&file), &data, false).unwrap_err().to_string();
    assert!(err.contains("another ssdlt run (pid 1)"), "{err}");
    std::fs::remove_file(store(&dir).join("run.lock")).unwrap();

    let broken = dir.join("broken.yaml");
    std::fs::write(&broken, "pipeline: broken\nstages: [").unwrap();
    let err = collect_garbage(&[file, broken], &data, false).unwrap_err().to_string();
    assert!(err.contains("broken.yaml"), "the error names the file: {err}");
    assert_eq!(entries(&store(&dir).join("stages")), stored, "nothing removed");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn gc_beside_a_pipeline_that_never_ran_reports_nothing_stored_and_creates_nothing() {
    let (dir, file) = fixture::pipeline_dir("gc-empty", TINY);
    let swept = collect_garbage(&[file], &SyntheticData::new(), false).unwrap();
    assert!(!swept[0].exists && swept[0].garbage.is_empty());
    assert!(!dir.join(".ssdlt").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

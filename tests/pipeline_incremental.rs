//! Tests: incremental re-runs when data changes — the manifest dataflow checked against a
//! from-scratch recomputation at every step (the oracle test), and what a data change reruns,
//! keeps and costs.

use std::collections::BTreeMap;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use ssdlt::data::long_tail::{class_targets, ClassStats, Profile, ShotThresholds};
use ssdlt::data::{ContentHash, Manifest, ManifestEntry, Split};
use ssdlt::dataflow::manifest::track_manifests;
use ssdlt::runner::{prepare, RunOptions, SilentReporter, StageStatus};

use crate::pipeline_run::fixture::{self, FakeExecutor, SyntheticData, TINY};

fn random_entry(rng: &mut ChaCha8Rng, id: usize) -> ManifestEntry {
    ManifestEntry {
        id: format!("s{id:04}"),
        hash: ContentHash([rng.random_range(0..4u8); 32]),
        label: rng.random_range(0..6u32),
        split: if rng.random_range(0..4) == 0 { Split::Test } else { Split::Train },
    }
}

/// A random edit: add, remove, relabel, change content, or move between splits.
fn edit(rng: &mut ChaCha8Rng, entries: &mut Vec<ManifestEntry>, next_id: &mut usize) {
    let op = rng.random_range(0..5);
    if op == 0 || entries.is_empty() {
        entries.push(random_entry(rng, *next_id));
        *next_id += 1;
        return;
    }
    let i = rng.random_range(0..entries.len());
    match op {
        1 => {
            entries.remove(i);
        }
        2 => entries[i].label = rng.random_range(0..6),
        3 => entries[i].hash = ContentHash([rng.random_range(4..255u8); 32]),
        _ => entries[i].split = if entries[i].split == Split::Train { Split::Test } else { Split::Train },
    }
}

fn manifest(entries: &[ManifestEntry]) -> Manifest {
    Manifest { version: 1, dataset: "toy".into(), class_names: (0..6).map(|c| c.to_string()).collect(), entries: entries.to_vec() }
}

#[test]
fn manifest_deltas_counts_and_shot_groups_match_a_from_scratch_recomputation_at_every_step() {
    let thresholds = ShotThresholds { many_above: 8, few_below: 4 };
    for seed in 0..8u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut next_id = 0;
        let mut entries: Vec<ManifestEntry> = (0..40).map(|_| {
            next_id += 1;
            random_entry(&mut rng, next_id - 1)
        }).collect();
        let mut versions = vec![entries.clone()];
        for _ in 0..12 {
            for _ in 0..rng.random_range(0..6) {
                edit(&mut rng, &mut entries, &mut next_id);
            }
            versions.push(entries.clone());
        }
        let steps = track_manifests(&versions, thresholds);
        assert_eq!(steps.len(), versions.len());
        for (t, (step, version)) in steps.iter().zip(&versions).enumerate() {
            // Counts and groups from scratch.
            let mut counts = vec![0usize; 6];
            for e in version.iter().filter(|e| e.split == Split::Train) {
                counts[e.label as usize] += 1;
            }
            let stats = ClassStats::from_counts(&counts, thresholds);
            let want_counts: BTreeMap<u32, usize> =
                counts.iter().enumerate().filter(|(_, n)| **n > 0).map(|(c, n)| (c as u32, *n)).collect();
            let want_groups: BTreeMap<u32, _> = want_counts.keys().map(|&c| (c, stats.groups[c as usize])).collect();
            assert_eq!(step.class_counts, want_counts, "seed {seed} step {t}: class counts");
            assert_eq!(step.groups, want_groups, "seed {seed} step {t}: shot groups");
            // The delta against the previous version, from scratch.
            let before = if t == 0 { Vec::new() } else { versions[t - 1].clone() };
            let mut want = manifest(&before).diff(&manifest(version));
            want.added.sort_by(|a, b| a.id.cmp(&b.id));
            want.removed.sort_by(|a, b| a.id.cmp(&b.id));
            want.changed.sort_by(|a, b| a.0.id.cmp(&b.0.id));
            assert_eq!(step.delta, want, "seed {seed} step {t}: delta");
        }
    }
}

fn kept(n_max: usize) -> usize {
    class_targets(Profile::Exponential, 10.0, n_max, 6).unwrap().iter().sum()
}

fn reasons(p: &ssdlt::runner::Prepared, name: &str) -> Vec<String> {
    match &p.stages.iter().find(|s| s.stage.name == name).unwrap().status {
        StageStatus::Run { reasons } => reasons.clone(),
        other => panic!("{name} is {other:?}"),
    }
}

#[test]
fn adding_training_samples_reruns_what_trains_on_them_and_plan_says_how_many() {
    let (_dir, file) = fixture::pipeline_dir("more-train", TINY);
    let (data, exec) = (SyntheticData::new(), FakeExecutor::default());
    fixture::run(&file, &RunOptions::default(), &data, &exec).unwrap();
    *data.n_max.lock().unwrap() = 44;
    let added = kept(44) - kept(40);
    let prepared = prepare(&file, &RunOptions::default(), &data, &SilentReporter).unwrap();
    assert_eq!(prepared.train_change.as_ref().map(|c| (c.added, c.removed, c.changed)), Some((added, 0, 0)));
    assert_eq!(reasons(&prepared, "teacher"), [format!("training data changed: +{added} samples")]);
    assert_eq!(reasons(&prepared, "eval"), ["input `ce` changed", "input `ce_lws` changed", "input `teacher_lws` changed", "input `student` changed", "input `student_lws` changed"]);
    let teacher = prepared.stages.iter().find(|s| s.stage.name == "teacher").unwrap();
    assert_eq!(teacher.data_cost.as_deref(), Some(format!("retrain 6 epochs on {} samples (on_data_change: retrain)", kept(44)).as_str()));
    let text = ssdlt::cli::plan::format_plan(&prepared);
    assert!(text.contains(&format!("training data: {} samples (+{added} samples since the last run)", kept(44))), "{text}");
    assert!(text.contains("stale    teacher"), "{text}");
    exec.reset();
    ssdlt::runner::execute(&prepared, &exec, &fixture::cpu, &SilentReporter, &Default::default()).unwrap();
    assert_eq!(exec.ran().len(), 9, "every stage reads the training data here");
    // The next plan has nothing to say about data any more.
    let again = prepare(&file, &RunOptions::default(), &data, &SilentReporter).unwrap();
    assert!(again.train_change.is_none() && again.to_run() == 0);
}

const KEEP: &str = "\
pipeline: keep
seed: 0
device: cpu
dataset: {source: synthetic}
stages:
  teacher: {kind: train, epochs: 3, losses: [{ce: {}}], on_data_change: keep}
  soft:    {kind: soft_labels, from: teacher, views: 2}
  student: {kind: train, epochs: 2, losses: [{ce: {}}, {distill: {from: soft}}]}
  eval:    {kind: evaluate, from: [teacher, student]}
";

#[test]
fn a_keep_policy_teacher_stays_cached_and_only_new_samples_are_priced_through_it() {
    let (_dir, file) = fixture::pipeline_dir("keep", KEEP);
    let (data, exec) = (SyntheticData::new(), FakeExecutor::default());
    fixture::run(&file, &RunOptions::default(), &data, &exec).unwrap();
    *data.n_max.lock().unwrap() = 44;
    let added = kept(44) - kept(40);
    let prepared = prepare(&file, &RunOptions::default(), &data, &SilentReporter).unwrap();
    let by_name = |n: &str| prepared.stages.iter().find(|s| s.stage.name == n).unwrap().clone();
    assert_eq!(by_name("teacher").status, StageStatus::Cached);
    assert_eq!(by_name("teacher").data_cost.as_deref(), Some("kept: data changes do not rerun it (on_data_change: keep)"));
    assert_eq!(by_name("soft").data_cost, Some(format!("{added} new samples through the teacher (2 views each)")));
    exec.reset();
    ssdlt::runner::execute(&prepared, &exec, &fixture::cpu, &SilentReporter, &Default::default()).unwrap();
    assert_eq!(exec.ran(), ["soft", "student", "eval"]);
}

#[test]
fn changing_test_data_reruns_only_evaluation_and_prices_the_changed_samples() {
    let (_dir, file) = fixture::pipeline_dir("more-test", TINY);
    let (data, exec) = (SyntheticData::new(), FakeExecutor::default());
    fixture::run(&file, &RunOptions::default(), &data, &exec).unwrap();
    *data.test_per_class.lock().unwrap() = 6;
    let prepared = prepare(&file, &RunOptions::default(), &data, &SilentReporter).unwrap();
    assert_eq!(reasons(&prepared, "eval"), ["test data changed: +6 samples"]);
    let eval = prepared.stages.iter().find(|s| s.stage.name == "eval").unwrap();
    assert_eq!(eval.data_cost.as_deref(), Some("6 changed test samples re-predicted"));
    exec.reset();
    ssdlt::runner::execute(&prepared, &exec, &fixture::cpu, &SilentReporter, &Default::default()).unwrap();
    assert_eq!(exec.ran(), ["eval", "tables"]);
    let calls = exec.calls.lock().unwrap();
    assert!(calls[0].previous.is_some(), "evaluate gets its previous output to reuse unchanged predictions");
}

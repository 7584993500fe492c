//! Running a pipeline: which stages are cached, which must run and why, running them into the
//! store, and remembering what ran.
//!
//! Two phases, as in `ssdlt plan` and `ssdlt run`:
//! 1. [`prepare`] parses and lowers the pipeline file, loads the data once, computes every
//!    stage's [`fingerprint::Ingredients`] (no stage has to run for that: a fingerprint is of the
//!    recipe, not of the result), verifies stored outputs and explains every stale stage.
//! 2. [`execute`] runs the stages that are not cached, in order, each into a fresh folder that
//!    [`Store::commit`] checksums and renames into the store; the device is only built when the
//!    first stage actually runs, so a run with everything cached takes a fraction of a second.
//!
//! The runner is generic over the two things that do real work, so tests can count calls:
//! [`StageExecutor`] (the real one calls `crate::stages::run_stage`) and [`PipelineData`] (the
//! real one calls `DatasetSpec::load`).

pub mod backends;
pub mod fingerprint;
pub mod gc;
pub mod selection;

use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::data::long_tail::ShotThresholds;
use crate::data::Manifest;
use crate::dataflow::manifest::manifest_delta;
use crate::error::{Error, Result};
use crate::kernels::Device;
use crate::plan::{PlannedStage, StageGraph};
use crate::spec::dataset::LoadedData;
use crate::spec::pipeline::PipelineSpec;
use crate::spec::stages::{DataChangePolicy, StageSpec};
use crate::stages::inputs::epochs_text;
use crate::stages::{PipelineRef, StageContext, StageCounters, StageInput, StageProgress, StageReport};
use crate::store::layout::{short, Store, Verified};
use crate::store::runs::{
    read_manifest, read_state, write_manifest, write_run_record, write_state, ManifestState, PipelineState, RunRecord,
    StageAction, StageRun, StageState, STATE_FORMAT,
};
use fingerprint::{explain, ingredients, DataChange, DataFingerprints, Ingredients};

/// Computes one stage. The real executor dispatches to `crate::stages::run_stage`.
pub trait StageExecutor: Sync {
    fn execute(&self, stage: &PlannedStage, ctx: &StageContext) -> Result<StageReport>;
}

/// Loads a pipeline's data. The real loader is `DatasetSpec::load(pipeline_file, seed)`.
pub trait PipelineData {
    fn load(&self, pipeline: &PipelineSpec, pipeline_file: &Path) -> Result<LoadedData>;
}

/// What a run tells its user as it goes. The CLI draws progress bars; tests stay silent.
pub trait RunReporter {
    /// A stage's verified stored output is reused.
    fn cached(&self, stage: &PlannedStage);
    /// Something worth a line (a corrupt stored output that will be recomputed).
    fn warning(&self, message: &str);
    /// A stage starts (`index` of `total` stages that run); its progress goes to the result.
    fn starting<'a>(&'a self, stage: &PlannedStage, index: usize, total: usize, reasons: &[String]) -> Box<dyn StageProgress + 'a>;
    /// A stage finished and is stored.
    fn finished(&self, stage: &PlannedStage, report: &StageReport, wall_s: f64);
}

/// A reporter that prints nothing.
pub struct SilentReporter;

impl RunReporter for SilentReporter {
    fn cached(&self, _: &PlannedStage) {}
    fn warning(&self, _: &str) {}
    fn starting<'a>(&'a self, _: &PlannedStage, _: usize, _: usize, _: &[String]) -> Box<dyn StageProgress + 'a> {
        Box::new(crate::stages::NoProgress)
    }
    fn finished(&self, _: &PlannedStage, _: &StageReport, _: f64) {}
}

/// `--force`, `--only`, `--until`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub force: Vec<String>,
    pub only: Option<String>,
    pub until: Option<String>,
}

/// Where a stage stands before the run.
#[derive(Debug, Clone, PartialEq)]
pub enum StageStatus {
    /// Its stored output is intact: reused.
    Cached,
    /// It must run; the reasons say why (`never run`, `param `epochs` 200 -> 100`, ...).
    Run { reasons: Vec<String> },
    /// Not selected by `--only` / `--until`.
    Skipped,
}

/// One stage of a prepared run.
#[derive(Debug, Clone)]
pub struct StagePlan {
    pub stage: PlannedStage,
    pub ingredients: Ingredients,
    pub fingerprint: String,
    pub status: StageStatus,
    /// The fingerprint this stage had in the last run, when it differs (its output is the
    /// stage's `previous`).
    pub previous: Option<String>,
    /// What the data change since the last run costs this stage, when the data changed.
    pub data_cost: Option<String>,
    /// The stored report when cached.
    pub cached_report: Option<StageReport>,
}

/// A pipeline ready to run: parsed, lowered, data loaded, every stage fingerprinted and judged.
pub struct Prepared {
    pub file: PathBuf,
    pub spec: PipelineSpec,
    pub graph: StageGraph,
    pub store: Store,
    pub data: LoadedData,
    pub data_fingerprints: DataFingerprints,
    pub stages: Vec<StagePlan>,
    pub state: PipelineState,
    /// Training / test data changes since the last run (None: unchanged or never ran).
    pub train_change: Option<DataChange>,
    pub test_change: Option<DataChange>,
}

impl Prepared {
    /// Stages that will run.
    pub fn to_run(&self) -> usize {
        self.stages.iter().filter(|s| matches!(s.status, StageStatus::Run { .. })).count()
    }
}

/// Parses, lowers and selects (bad input fails here, before anything is loaded or written),
/// loads the data, fingerprints every stage and verifies what the store holds.
pub fn prepare(file: &Path, options: &RunOptions, data: &dyn PipelineData, reporter: &dyn RunReporter) -> Result<Prepared> {
    let spec = crate::spec::pipeline::parse_file(file)?;
    let graph = crate::plan::lower(&spec)?;
    let selected = selection::select(&graph, options.only.as_deref(), options.until.as_deref())?;
    let forced = selection::forced(&graph, &options.force)?;
    let loaded = data.load(&spec, file)?;
    let store = Store::beside(file);
    let state = read_state(&store, &spec.pipeline);
    let fps = DataFingerprints::of(&loaded);
    let thresholds = loaded.stats.thresholds;

    let train_change = state
        .train
        .as_ref()
        .filter(|s| s.fingerprint != fps.train.fingerprint)
        .and_then(|_| read_manifest(&store, &spec.pipeline, "train"))
        .map(|old| change_between(&old, &loaded.train.manifest(), thresholds));
    let test_change = state
        .test
        .as_ref()
        .filter(|s| s.fingerprint != fps.test.fingerprint)
        .and_then(|_| read_manifest(&store, &spec.pipeline, "test"))
        .map(|old| change_between(&old, &loaded.test.manifest(), thresholds));

    let mut plans: Vec<StagePlan> = Vec::with_capacity(graph.stages.len());
    for (i, stage) in graph.stages.iter().enumerate() {
        let input_fps: Vec<String> = stage
            .inputs
            .iter()
            .map(|name| plans.iter().find(|p| &p.stage.name == name).map(|p| p.fingerprint.clone()).expect("lowered in order"))
            .collect();
        let ingr = ingredients(stage, spec.seed, &input_fps, &fps);
        let fp = ingr.fingerprint();
        let last = state.stages.get(&stage.name).map(|s| s.fingerprint.clone());
        let previous = last.clone().filter(|l| *l != fp && store.stage_dir(l).exists());
        let last_ingredients = last.as_ref().and_then(|l| store.record(l)).map(|r| r.ingredients);
        let data_cost = last_ingredients.as_ref().and_then(|old| data_cost(stage, old, &ingr, &plans, &state, &train_change, &test_change));
        let old_ingredients = last_ingredients.filter(|_| last.as_ref() != Some(&fp));
        let mut cached_report = None;
        let status = if !selected[i] {
            StageStatus::Skipped
        } else if forced[i] {
            let why = if options.force.contains(&stage.name) {
                format!("forced (--force {})", stage.name)
            } else {
                "forced: reads a forced stage".to_string()
            };
            StageStatus::Run { reasons: vec![why] }
        } else {
            match store.verify(&fp) {
                Verified::Intact(record) => {
                    cached_report = Some(record.report);
                    StageStatus::Cached
                }
                Verified::Corrupt(reason) => {
                    reporter.warning(&format!("stored output of `{}` is corrupt ({reason}); recomputing", stage.name));
                    StageStatus::Run { reasons: vec![format!("stored output is corrupt ({reason})")] }
                }
                Verified::Missing => {
                    let reasons = match (&last, &old_ingredients) {
                        (None, _) => vec!["never run".to_string()],
                        (Some(l), _) if *l == fp => vec!["its stored output was deleted".to_string()],
                        (Some(_), Some(old)) => explain(old, &ingr, train_change.as_ref(), test_change.as_ref()),
                        (Some(_), None) => vec!["fingerprint changed (the previous output is no longer stored)".to_string()],
                    };
                    StageStatus::Run { reasons }
                }
            }
        };
        plans.push(StagePlan { stage: stage.clone(), ingredients: ingr, fingerprint: fp, status, previous, data_cost, cached_report });
    }
    Ok(Prepared {
        file: file.to_path_buf(),
        spec,
        graph,
        store,
        data: loaded,
        data_fingerprints: fps,
        stages: plans,
        state,
        train_change,
        test_change,
    })
}

fn change_between(old: &Manifest, new: &Manifest, thresholds: ShotThresholds) -> DataChange {
    let step = manifest_delta(&old.entries, &new.entries, thresholds);
    DataChange { added: step.delta.added.len(), removed: step.delta.removed.len(), changed: step.delta.changed.len() }
}

/// What the data change costs a stage whose data ingredient moved (for `plan`).
fn data_cost(
    stage: &PlannedStage,
    old: &Ingredients,
    new: &Ingredients,
    earlier: &[StagePlan],
    state: &PipelineState,
    train_change: &Option<DataChange>,
    test_change: &Option<DataChange>,
) -> Option<String> {
    let moved = |a: &Option<fingerprint::DataIngredient>, b: &Option<fingerprint::DataIngredient>| match (a, b) {
        (Some(a), Some(b)) => a.fingerprint != b.fingerprint,
        _ => false,
    };
    let inputs_unchanged = || {
        stage.inputs.iter().all(|name| {
            let now = earlier.iter().find(|p| &p.stage.name == name).map(|p| p.fingerprint.as_str());
            state.stages.get(name).map(|s| s.fingerprint.as_str()) == now
        })
    };
    let new_train = train_change.as_ref().map(|c| c.added + c.changed);
    match &stage.spec {
        StageSpec::Train(t) => match &t.on_data_change {
            DataChangePolicy::Keep => train_change.as_ref().map(|_| "kept: data changes do not rerun it (on_data_change: keep)".to_string()),
            _ if !moved(&old.data, &new.data) => None,
            DataChangePolicy::Retrain => Some(format!(
                "retrain {} on {} samples (on_data_change: retrain)",
                epochs_text(t.epochs),
                new.data.as_ref().map_or(0, |d| d.samples)
            )),
            DataChangePolicy::WarmStart { epochs } => {
                Some(format!("continue from the previous weights for {} (on_data_change: warm_start)", epochs_text(*epochs)))
            }
        },
        StageSpec::Calibrate(c) if moved(&old.data, &new.data) => Some(format!("recalibrate {} on the new data", epochs_text(c.epochs))),
        StageSpec::SoftLabels(s) if moved(&old.data, &new.data) => Some(match (inputs_unchanged(), new_train) {
            (true, Some(n)) => {
                format!("{n} new samples through the teacher ({} view{} each)", s.views, if s.views == 1 { "" } else { "s" })
            }
            _ => format!("all {} samples through the teacher (teacher changed)", new.data.as_ref().map_or(0, |d| d.samples)),
        }),
        StageSpec::Evaluate(_) if moved(&old.data, &new.data) => Some(match (inputs_unchanged(), test_change) {
            (true, Some(c)) => format!("{} changed test samples re-predicted", c.added + c.changed),
            _ => format!("all {} test samples predicted", new.data.as_ref().map_or(0, |d| d.samples)),
        }),
        _ => None,
    }
}

/// What one run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub stages: Vec<StageRun>,
    pub record: PathBuf,
    /// The device, when a stage needed one.
    pub device: Option<String>,
}

impl RunSummary {
    pub fn ran(&self) -> usize {
        self.stages.iter().filter(|s| s.action == StageAction::Ran).count()
    }
    pub fn cached(&self) -> usize {
        self.stages.iter().filter(|s| s.action == StageAction::Cached).count()
    }
    /// Each run or cached stage's report, by name.
    pub fn report(&self, stage: &str) -> Option<&StageReport> {
        self.stages.iter().find(|s| s.stage == stage).and_then(|s| s.report.as_ref())
    }
}

/// Runs every stage of `prepared` that is not cached. `device` builds the compute device the
/// first time a stage needs one. Each finished stage is stored and recorded in the pipeline
/// state at once, so a run killed later keeps it; a killed stage keeps its resume folder.
pub fn execute(
    prepared: &Prepared,
    executor: &dyn StageExecutor,
    device: &dyn Fn() -> Result<Device>,
    reporter: &dyn RunReporter,
    counters: &StageCounters,
) -> Result<RunSummary> {
    let started_at = crate::store::layout::unix_now();
    let store = &prepared.store;
    let _lock = store.lock()?;
    let mut state = prepared.state.clone();
    state.format = STATE_FORMAT;
    let dev: OnceCell<Device> = OnceCell::new();
    let total = prepared.to_run();
    let mut runs = Vec::new();
    let mut index = 0;
    let mut failure = None;
    for plan in &prepared.stages {
        let params = plan.ingredients.params.clone();
        let mut record = StageRun {
            stage: plan.stage.name.clone(),
            kind: plan.stage.spec.kind().to_string(),
            fingerprint: plan.fingerprint.clone(),
            action: StageAction::Cached,
            reasons: Vec::new(),
            params,
            wall_s: 0.0,
            images_per_s: None,
            report: plan.cached_report.clone(),
            error: None,
        };
        match &plan.status {
            StageStatus::Skipped => continue,
            StageStatus::Cached => {
                reporter.cached(&plan.stage);
                state.stages.insert(plan.stage.name.clone(), StageState { kind: record.kind.clone(), fingerprint: plan.fingerprint.clone() });
            }
            StageStatus::Run { reasons } => {
                index += 1;
                record.reasons = reasons.clone();
                let t0 = Instant::now();
                match run_one(prepared, plan, executor, device, &dev, reporter, counters, index, total, reasons) {
                    Ok(report) => {
                        record.action = StageAction::Ran;
                        record.wall_s = t0.elapsed().as_secs_f64();
                        record.images_per_s = report.images_per_s;
                        record.report = Some(report);
                        state.stages.insert(plan.stage.name.clone(), StageState { kind: record.kind.clone(), fingerprint: plan.fingerprint.clone() });
                        write_state(store, &state)?;
                    }
                    Err(e) => {
                        record.action = StageAction::Failed;
                        record.wall_s = t0.elapsed().as_secs_f64();
                        record.error = Some(e.to_string());
                        runs.push(record);
                        failure = Some(e);
                        break;
                    }
                }
            }
        }
        runs.push(record);
    }
    // The manifests this run saw become the base the next run diffs against.
    let fps = &prepared.data_fingerprints;
    if state.train.as_ref().map(|s| &s.fingerprint) != Some(&fps.train.fingerprint) {
        write_manifest(store, &prepared.spec.pipeline, "train", &prepared.data.train.manifest())?;
        state.train = Some(ManifestState { fingerprint: fps.train.fingerprint.clone(), samples: fps.train.samples });
    }
    if state.test.as_ref().map(|s| &s.fingerprint) != Some(&fps.test.fingerprint) {
        write_manifest(store, &prepared.spec.pipeline, "test", &prepared.data.test.manifest())?;
        state.test = Some(ManifestState { fingerprint: fps.test.fingerprint.clone(), samples: fps.test.samples });
    }
    if state != prepared.state {
        write_state(store, &state)?;
    }
    let device_name = dev.get().map(Device::name);
    let record = RunRecord {
        format: STATE_FORMAT,
        pipeline: prepared.spec.pipeline.clone(),
        pipeline_file: prepared.file.clone(),
        started_at,
        finished_at: crate::store::layout::unix_now(),
        device: device_name.clone(),
        ssdlt_version: env!("CARGO_PKG_VERSION").to_string(),
        stages: runs.clone(),
    };
    let record_path = write_run_record(store, &record)?;
    match failure {
        Some(e) => Err(e),
        None => Ok(RunSummary { stages: runs, record: record_path, device: device_name }),
    }
}

#[allow(clippy::too_many_arguments)]
fn run_one(
    prepared: &Prepared,
    plan: &StagePlan,
    executor: &dyn StageExecutor,
    device: &dyn Fn() -> Result<Device>,
    dev: &OnceCell<Device>,
    reporter: &dyn RunReporter,
    counters: &StageCounters,
    index: usize,
    total: usize,
    reasons: &[String],
) -> Result<StageReport> {
    let store = &prepared.store;
    let dev = match dev.get() {
        Some(d) => d,
        None => {
            let built = device()?;
            dev.get_or_init(|| built)
        }
    };
    let inputs: Vec<StageInput> = plan
        .stage
        .inputs
        .iter()
        .map(|name| {
            let p = prepared.stages.iter().find(|p| &p.stage.name == name).expect("inputs are stages of the graph");
            StageInput { name: name.clone(), kind: p.stage.spec.kind(), fingerprint: p.fingerprint.clone(), dir: store.stage_dir(&p.fingerprint) }
        })
        .collect();
    for input in &inputs {
        if !store.stage_dir(&input.fingerprint).exists() {
            return Err(Error::Store {
                path: store.stage_dir(&input.fingerprint),
                message: format!("stage `{}` reads `{}`, whose output is not stored", plan.stage.name, input.name),
                fix: format!("run without --only/--until, or run `{}` first", input.name),
            });
        }
    }
    let resume = store.resume_dir(&plan.fingerprint);
    crate::store::layout::create_dir_all(&resume)?;
    let cache = store.cache_dir();
    crate::store::layout::create_dir_all(&cache)?;
    let pending = store.begin(&plan.fingerprint)?;
    let previous = plan.previous.as_ref().map(|fp| store.stage_dir(fp));
    let progress = reporter.starting(&plan.stage, index, total, reasons);
    let t0 = Instant::now();
    let ctx = StageContext {
        dev,
        seed: prepared.spec.seed,
        name: &plan.stage.name,
        fingerprint: &plan.fingerprint,
        data: &prepared.data,
        inputs: &inputs,
        out_dir: &pending.dir,
        resume_dir: &resume,
        cache_dir: &cache,
        previous: previous.as_deref(),
        progress: progress.as_ref(),
        counters,
        pipeline: Some(PipelineRef { name: &prepared.spec.pipeline, file: &prepared.file }),
    };
    let result = executor.execute(&plan.stage, &ctx);
    drop(progress);
    match result {
        Ok(report) => {
            let wall_s = t0.elapsed().as_secs_f64();
            store.commit(pending, &plan.stage.name, &plan.ingredients, &report, wall_s)?;
            store.clear_resume(&plan.fingerprint)?;
            reporter.finished(&plan.stage, &report, wall_s);
            Ok(report)
        }
        Err(e) => {
            store.abandon(pending)?;
            Err(Error::Stage { stage: plan.stage.name.clone(), fingerprint: short(&plan.fingerprint).to_string(), error: Box::new(e) })
        }
    }
}

/// One row of the results table: a model (and head) an evaluate stage measured.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    /// The evaluate stage.
    pub stage: String,
    /// `ce`, `student/fc_soft`: what the metric keys name before the metric.
    pub model: String,
    pub overall: Option<f64>,
    pub many: Option<f64>,
    pub medium: Option<f64>,
    pub few: Option<f64>,
}

/// The rows of every evaluate stage's report, in stage order. A report's metric keys are
/// `<model>[/<head>]/<metric>` (or with `.`), metric one of `top1` / `overall` / `acc`, `many`,
/// `medium`, `few` (a `_acc` or `_shot` suffix is allowed); keys without a model part give a row
/// named after the stage.
pub fn results_table(prepared: &Prepared, summary: &RunSummary) -> Vec<ResultRow> {
    let mut rows = Vec::new();
    for plan in &prepared.stages {
        let StageSpec::Evaluate(eval) = &plan.stage.spec else { continue };
        let Some(report) = summary.report(&plan.stage.name) else { continue };
        let mut mine = rows_of_report(&plan.stage.name, report);
        mine.sort_by_key(|r| {
            let model = r.model.split(['/', '.']).next().unwrap_or("");
            eval.from.iter().position(|f| f == model).unwrap_or(usize::MAX)
        });
        rows.extend(mine);
    }
    rows
}

fn rows_of_report(stage: &str, report: &StageReport) -> Vec<ResultRow> {
    let mut rows: Vec<ResultRow> = Vec::new();
    for (key, value) in &report.metrics {
        let (model, metric) = match key.rfind(['/', '.']) {
            Some(at) => (&key[..at], &key[at + 1..]),
            None => (stage, key.as_str()),
        };
        let metric = metric.trim_end_matches("_acc").trim_end_matches("_shot");
        let slot = match rows.iter().position(|r| r.model == model) {
            Some(i) => i,
            None => {
                rows.push(ResultRow { stage: stage.to_string(), model: model.to_string(), overall: None, many: None, medium: None, few: None });
                rows.len() - 1
            }
        };
        let row = &mut rows[slot];
        match metric {
            "top1" | "overall" | "acc" | "accuracy" => row.overall = Some(*value),
            "many" => row.many = Some(*value),
            "medium" => row.medium = Some(*value),
            "few" => row.few = Some(*value),
            _ => {}
        }
    }
    rows.retain(|r| r.overall.is_some() || r.many.is_some() || r.medium.is_some() || r.few.is_some());
    rows
}

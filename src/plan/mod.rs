//! Lowering a parsed pipeline to the stage graph that runs: `defaults` merged into each stage,
//! the stages each one reads, a topological order, and checks made before anything runs.
//!
//! [`lower`] rejects, each with the file:line:column of the key at fault and the fix:
//! - a reference to a stage that is not defined (with the closest name: "did you mean `soft`?");
//! - a cycle (named: "`a` reads `b`, `b` reads `a`");
//! - a stage reading an output its kind cannot consume. What each kind produces and consumes:
//!
//!   | kind          | produces     | reads                                                    |
//!   |---------------|--------------|----------------------------------------------------------|
//!   | `train`       | a model      | `init`: a model; a `distill` loss's `from`: soft labels  |
//!   | `calibrate`   | a model      | `from`: a model                                          |
//!   | `soft_labels` | soft labels  | `from`: a model (the teacher)                            |
//!   | `evaluate`    | metrics      | `from`: models                                           |
//!   | `export`      | label tables | `from`: soft labels and metrics                          |
//!
//!   (a model is the output of a `train` or `calibrate` stage);
//! - settings no stage could run with ([`checks`]): an unknown `model`, zero epochs or batch size,
//!   no losses, a loss given twice, `key_augment` without a `contrastive` loss, a calibration
//!   `head` the model does not have (`fc_soft` needs a distilled model), a non-positive
//!   temperature, `top_k` or `views` of 0;
//! - a distilled student whose `augment` differs from its soft-label stage's `augment` when that
//!   stage caches augmented views (`views` > 1). This is an error, not a warning: the student
//!   replays view v >= 1 from the soft-label stage's augmentation, so with another list the cached
//!   soft labels would describe images the student never trains on. Setting neither (both take
//!   `defaults.augment`) is the usual way.
//!
//! The order is topological and otherwise follows the file: of the stages whose inputs are all
//! placed, the first in the file comes next. [`select`] holds the `--only`, `--until` and
//! `--force` selections, [`render`] the DOT and Mermaid drawings.

pub mod checks;
pub mod render;
pub mod select;

use crate::error::Result;
use crate::spec::pipeline::PipelineSpec;
use crate::spec::stages::{LossSpec, StageSpec};

/// One node of the graph, with `defaults` merged in.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedStage {
    pub name: String,
    pub spec: StageSpec,
    /// Stages it reads, in the order `StageContext::inputs` gets them: `from` (or `init`) first,
    /// then a `distill` loss's `from`.
    pub inputs: Vec<String>,
}

/// The stages in an order where every stage comes after what it reads.
#[derive(Debug, Clone, PartialEq)]
pub struct StageGraph {
    pub stages: Vec<PlannedStage>,
}

impl StageGraph {
    pub fn get(&self, name: &str) -> Option<&PlannedStage> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// Stage names in run order.
    pub fn names(&self) -> Vec<&str> {
        self.stages.iter().map(|s| s.name.as_str()).collect()
    }
}

/// How a stage reads another: the key that names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadRole {
    /// `from:` of calibrate, soft_labels, evaluate, export.
    From,
    /// `init:` of a train stage.
    Init,
    /// `from:` of a train stage's `distill` loss.
    Distill,
}

impl ReadRole {
    /// The edge label in drawings.
    pub fn label(self) -> &'static str {
        match self {
            ReadRole::From => "from",
            ReadRole::Init => "init",
            ReadRole::Distill => "distill",
        }
    }
}

/// One reference from a stage to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRef {
    pub stage: String,
    pub role: ReadRole,
    /// The key path inside the stage (`from`, `from[1]`, `init`, `losses[1].distill.from`).
    pub key: String,
}

/// Every stage `spec` reads, in `StageContext::inputs` order, with the key that names it.
pub fn stage_refs(spec: &StageSpec) -> Vec<StageRef> {
    let one = |stage: &String, role, key: &str| StageRef { stage: stage.clone(), role, key: key.to_string() };
    let list = |from: &[String]| {
        from.iter().enumerate().map(|(i, s)| one(s, ReadRole::From, &format!("from[{i}]"))).collect::<Vec<_>>()
    };
    match spec {
        StageSpec::Train(t) => {
            let mut v: Vec<StageRef> = t.init.iter().map(|s| one(s, ReadRole::Init, "init")).collect();
            v.extend(t.losses.iter().enumerate().filter_map(|(i, l)| match l {
                LossSpec::Distill(d) => Some(one(&d.from, ReadRole::Distill, &format!("losses[{i}].distill.from"))),
                _ => None,
            }));
            v
        }
        StageSpec::Calibrate(c) => vec![one(&c.from, ReadRole::From, "from")],
        StageSpec::SoftLabels(s) => vec![one(&s.from, ReadRole::From, "from")],
        StageSpec::Evaluate(e) => list(&e.from),
        StageSpec::Export(e) => list(&e.from),
    }
}

/// The stages `spec` reads, in `StageContext::inputs` order.
pub fn stage_inputs(spec: &StageSpec) -> Vec<String> {
    stage_refs(spec).into_iter().map(|r| r.stage).collect()
}

/// Fills a stage's unset settings from `defaults` (the table in
/// `crate::spec::pipeline::Defaults`).
pub fn merge_defaults(pipeline: &PipelineSpec, spec: &StageSpec) -> StageSpec {
    let d = &pipeline.defaults;
    let mut spec = spec.clone();
    match &mut spec {
        StageSpec::Train(t) => {
            t.model = t.model.take().or_else(|| d.model.clone());
            t.batch_size = t.batch_size.or(d.batch_size);
            t.optimizer = t.optimizer.take().or_else(|| d.optimizer.clone());
            t.schedule = t.schedule.take().or_else(|| d.schedule.clone());
            t.augment = t.augment.take().or_else(|| d.augment.clone());
            t.sampler = t.sampler.take().or_else(|| d.sampler.clone());
        }
        StageSpec::Calibrate(c) => {
            c.batch_size = c.batch_size.or(d.batch_size);
            c.optimizer = c.optimizer.take().or_else(|| d.optimizer.clone());
            c.schedule = c.schedule.take().or_else(|| d.schedule.clone());
            c.augment = c.augment.take().or_else(|| d.augment.clone());
        }
        StageSpec::SoftLabels(s) => {
            s.batch_size = s.batch_size.or(d.batch_size);
            s.augment = s.augment.take().or_else(|| d.augment.clone());
        }
        StageSpec::Evaluate(e) => e.batch_size = e.batch_size.or(d.batch_size),
        StageSpec::Export(_) => {}
    }
    spec
}

/// Merges defaults, checks the graph and orders the stages (every input before its readers).
pub fn lower(pipeline: &PipelineSpec) -> Result<StageGraph> {
    let merged: Vec<PlannedStage> = pipeline
        .stages
        .iter()
        .map(|(name, spec)| {
            let spec = merge_defaults(pipeline, spec);
            PlannedStage { name: name.clone(), inputs: stage_inputs(&spec), spec }
        })
        .collect();
    for stage in &merged {
        checks::check_settings(pipeline, stage)?;
    }
    checks::check_references(pipeline, &merged)?;
    checks::check_cycles(pipeline, &merged)?;
    let ordered = topological(merged);
    for stage in &ordered {
        checks::check_across(pipeline, &ordered, stage)?;
    }
    Ok(StageGraph { stages: ordered })
}

/// Kahn's order, preferring file order among ready stages. Needs a graph without cycles or
/// dangling references (checked before).
fn topological(mut pending: Vec<PlannedStage>) -> Vec<PlannedStage> {
    let mut ordered: Vec<PlannedStage> = Vec::with_capacity(pending.len());
    while let Some(i) = pending.iter().position(|s| s.inputs.iter().all(|i| ordered.iter().any(|o| &o.name == i))) {
        ordered.push(pending.remove(i));
    }
    ordered.extend(pending);
    ordered
}

//! Lowering a parsed pipeline to the stage graph that runs: `defaults` merged into each stage,
//! the stages each one reads, a topological order, and checks made before anything runs.

use crate::error::{Error, Result};
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
}

/// The stages `spec` reads, in `StageContext::inputs` order.
pub fn stage_inputs(spec: &StageSpec) -> Vec<String> {
    match spec {
        StageSpec::Train(t) => {
            let mut v: Vec<String> = t.init.iter().cloned().collect();
            v.extend(t.losses.iter().filter_map(|l| match l {
                LossSpec::Distill(d) => Some(d.from.clone()),
                _ => None,
            }));
            v
        }
        StageSpec::Calibrate(c) => vec![c.from.clone()],
        StageSpec::SoftLabels(s) => vec![s.from.clone()],
        StageSpec::Evaluate(e) => e.from.clone(),
        StageSpec::Export(e) => e.from.clone(),
    }
}

/// Merges defaults and orders the stages (every input before its readers).
pub fn lower(pipeline: &PipelineSpec) -> Result<StageGraph> {
    let d = &pipeline.defaults;
    let mut pending: Vec<PlannedStage> = pipeline
        .stages
        .iter()
        .map(|(name, spec)| {
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
            PlannedStage { name: name.clone(), inputs: stage_inputs(&spec), spec }
        })
        .collect();
    let mut ordered: Vec<PlannedStage> = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let ready = pending.iter().position(|s| s.inputs.iter().all(|i| ordered.iter().any(|o| &o.name == i)));
        match ready {
            Some(i) => ordered.push(pending.remove(i)),
            None => {
                let names: Vec<&str> = pending.iter().map(|s| s.name.as_str()).collect();
                return Err(Error::invalid("stage graph", format!("stages {names:?} read stages that are missing or form a cycle")));
            }
        }
    }
    Ok(StageGraph { stages: ordered })
}

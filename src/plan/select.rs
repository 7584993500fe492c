//! Which stages a run touches: `--only STAGE` (the stage and everything it needs), `--until STAGE`
//! (the run order up to and including the stage), `--force STAGE` (the stage and everything
//! downstream of it, recomputed even when cached). Pure functions on [`StageGraph`]; the runner
//! combines them (e.g. `graph.only(a)?` then `.until(b)?` on the result).

use std::collections::BTreeSet;

use super::{PlannedStage, StageGraph};
use crate::error::{Error, Result};
use crate::spec::diagnostic::{did_you_mean, one_of};

impl StageGraph {
    fn position(&self, name: &str) -> Result<usize> {
        self.stages.iter().position(|s| s.name == name).ok_or_else(|| {
            Error::invalid(
                "stage name",
                format!(
                    "no stage `{name}` in this pipeline{}\n  fix: name one of {}",
                    did_you_mean(name, self.stages.iter().map(|s| s.name.as_str())),
                    one_of(self.stages.iter().map(|s| s.name.as_str()))
                ),
            )
        })
    }

    /// A graph of the stages whose names are in `keep`, in this graph's order.
    fn subgraph(&self, keep: &BTreeSet<&str>) -> StageGraph {
        StageGraph { stages: self.stages.iter().filter(|s| keep.contains(s.name.as_str())).cloned().collect() }
    }

    /// `name` and every stage it reads, directly or not, in run order.
    pub fn upstream(&self, name: &str) -> Result<Vec<&PlannedStage>> {
        let at = self.position(name)?;
        let mut keep: BTreeSet<&str> = BTreeSet::from([self.stages[at].name.as_str()]);
        // Readers come after what they read, so one backward pass collects every ancestor.
        for stage in self.stages[..=at].iter().rev() {
            if keep.contains(stage.name.as_str()) {
                keep.extend(stage.inputs.iter().map(String::as_str));
            }
        }
        Ok(self.stages.iter().filter(|s| keep.contains(s.name.as_str())).collect())
    }

    /// `name` and every stage that reads it, directly or not, in run order.
    pub fn downstream(&self, name: &str) -> Result<Vec<&PlannedStage>> {
        let at = self.position(name)?;
        let mut keep: BTreeSet<&str> = BTreeSet::from([self.stages[at].name.as_str()]);
        for stage in &self.stages[at..] {
            if stage.inputs.iter().any(|i| keep.contains(i.as_str())) {
                keep.insert(stage.name.as_str());
            }
        }
        Ok(self.stages.iter().filter(|s| keep.contains(s.name.as_str())).collect())
    }

    /// `--only STAGE`: the stage with what it needs.
    pub fn only(&self, name: &str) -> Result<StageGraph> {
        let keep = self.upstream(name)?.into_iter().map(|s| s.name.as_str()).collect();
        Ok(self.subgraph(&keep))
    }

    /// `--until STAGE`: every stage up to and including it in run order (stages of other
    /// branches that come earlier included), nothing after it.
    pub fn until(&self, name: &str) -> Result<StageGraph> {
        let at = self.position(name)?;
        Ok(StageGraph { stages: self.stages[..=at].to_vec() })
    }

    /// `--force STAGE...`: the named stages and everything downstream of them, in run order.
    pub fn forced(&self, names: &[String]) -> Result<Vec<String>> {
        let mut keep: BTreeSet<&str> = BTreeSet::new();
        for name in names {
            keep.extend(self.downstream(name)?.into_iter().map(|s| s.name.as_str()));
        }
        Ok(self.stages.iter().filter(|s| keep.contains(s.name.as_str())).map(|s| s.name.clone()).collect())
    }
}

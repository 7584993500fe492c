//! Which stages a run touches, as one flag per stage in run order: `--only STAGE` (it and what
//! it needs), `--until STAGE` (every stage up to it in run order), `--force STAGE` (it and
//! everything downstream of it). The selections themselves are [`StageGraph`]'s
//! (`src/plan/select.rs`); this turns them into the flags the runner walks with.

use crate::error::Result;
use crate::plan::StageGraph;

/// `selected[i]` for `graph.stages[i]`. Both flags given: stages both select.
pub fn select(graph: &StageGraph, only: Option<&str>, until: Option<&str>) -> Result<Vec<bool>> {
    let mut selected = vec![true; graph.stages.len()];
    if let Some(name) = only {
        keep_only(graph, &mut selected, &graph.only(name)?.names());
    }
    if let Some(name) = until {
        keep_only(graph, &mut selected, &graph.until(name)?.names());
    }
    Ok(selected)
}

/// `forced[i]`: stage `i` is named by `--force` or reads (directly or not) one that is.
pub fn forced(graph: &StageGraph, force: &[String]) -> Result<Vec<bool>> {
    let names = graph.forced(force)?;
    Ok(graph.stages.iter().map(|s| names.contains(&s.name)).collect())
}

fn keep_only(graph: &StageGraph, selected: &mut [bool], names: &[&str]) {
    for (flag, stage) in selected.iter_mut().zip(&graph.stages) {
        *flag &= names.contains(&stage.name.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::PlannedStage;
    use crate::spec::stages::{ExportSpec, StageSpec, TableFormat};

    fn graph(edges: &[(&str, &[&str])]) -> StageGraph {
        StageGraph {
            stages: edges
                .iter()
                .map(|(name, inputs)| PlannedStage {
                    name: name.to_string(),
                    spec: StageSpec::Export(ExportSpec { from: vec![], format: TableFormat::Csv, dir: None }),
                    inputs: inputs.iter().map(|s| s.to_string()).collect(),
                })
                .collect(),
        }
    }

    #[test]
    fn only_takes_the_stage_and_what_it_needs_until_takes_the_prefix() {
        let g = graph(&[("a", &[]), ("b", &["a"]), ("c", &[]), ("d", &["b"]), ("e", &["c", "d"])]);
        assert_eq!(select(&g, Some("d"), None).unwrap(), vec![true, true, false, true, false]);
        assert_eq!(select(&g, None, Some("c")).unwrap(), vec![true, true, true, false, false]);
        assert_eq!(forced(&g, &["b".into()]).unwrap(), vec![false, true, false, true, true]);
    }

    #[test]
    fn a_misspelled_stage_name_gets_a_suggestion() {
        let g = graph(&[("teacher", &[]), ("student", &["teacher"])]);
        let err = select(&g, Some("techer"), None).unwrap_err().to_string();
        assert!(err.contains("did you mean `teacher`?"), "{err}");
        assert!(select(&g, Some("techer"), None).unwrap_err().is_usage());
    }
}

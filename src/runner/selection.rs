//! Which stages a run touches: `--only STAGE` (it and what it needs), `--until STAGE` (every
//! stage up to it in run order), `--force STAGE` (it and everything downstream of it).

use crate::error::{Error, Result};
use crate::plan::StageGraph;

/// `selected[i]` for `graph.stages[i]`. Both flags given: stages both select.
pub fn select(graph: &StageGraph, only: Option<&str>, until: Option<&str>) -> Result<Vec<bool>> {
    let n = graph.stages.len();
    let mut selected = vec![true; n];
    if let Some(name) = only {
        let at = position(graph, "--only", name)?;
        let needed = ancestors(graph, at);
        for (i, s) in selected.iter_mut().enumerate() {
            *s &= needed[i];
        }
    }
    if let Some(name) = until {
        let at = position(graph, "--until", name)?;
        for s in selected.iter_mut().skip(at + 1) {
            *s = false;
        }
    }
    Ok(selected)
}

/// `forced[i]`: stage `i` is named by `--force` or reads (directly or not) one that is.
pub fn forced(graph: &StageGraph, force: &[String]) -> Result<Vec<bool>> {
    let mut forced = vec![false; graph.stages.len()];
    for name in force {
        forced[position(graph, "--force", name)?] = true;
    }
    // Topological order: a stage's inputs come before it, so one pass propagates downstream.
    for i in 0..graph.stages.len() {
        if !forced[i] {
            forced[i] = graph.stages[i].inputs.iter().any(|input| graph.stages.iter().position(|s| &s.name == input).is_some_and(|j| forced[j]));
        }
    }
    Ok(forced)
}

/// `stage at` and every stage it reads, directly or not.
fn ancestors(graph: &StageGraph, at: usize) -> Vec<bool> {
    let mut needed = vec![false; graph.stages.len()];
    needed[at] = true;
    for i in (0..=at).rev() {
        if needed[i] {
            for input in &graph.stages[i].inputs {
                if let Some(j) = graph.stages.iter().position(|s| &s.name == input) {
                    needed[j] = true;
                }
            }
        }
    }
    needed
}

fn position(graph: &StageGraph, flag: &str, name: &str) -> Result<usize> {
    graph.stages.iter().position(|s| s.name == name).ok_or_else(|| {
        let names: Vec<&str> = graph.stages.iter().map(|s| s.name.as_str()).collect();
        let hint = names
            .iter()
            .map(|n| (edit_distance(n, name), *n))
            .filter(|(d, n)| *d <= (n.len().max(name.len()) / 3).max(1))
            .min()
            .map(|(_, n)| format!("did you mean `{n}`? "))
            .unwrap_or_default();
        Error::invalid(
            format!("{flag} {name}"),
            format!("the pipeline has no stage `{name}`; {hint}its stages are: {}", names.join(", ")),
        )
    })
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let keep = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(row[j + 1] + 1);
            prev = keep;
        }
    }
    row[b.len()]
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

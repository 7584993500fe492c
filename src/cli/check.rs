//! `ssdlt check FILE`: parse, lower and check a pipeline without running anything. Prints
//! `ok: N stages` and the run order, or the first error (exit code 2).

use std::path::PathBuf;

use crate::plan::StageGraph;

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The pipeline YAML file.
    pub file: PathBuf,
}

pub fn run(args: &CheckArgs) -> anyhow::Result<()> {
    let spec = crate::spec::pipeline::parse_file(&args.file)?;
    let graph = crate::plan::lower(&spec)?;
    print!("{}", summary(&spec.pipeline, &graph));
    if let Some(root) = &spec.dataset.root {
        let resolved = args.file.parent().unwrap_or(std::path::Path::new(".")).join(root);
        if !resolved.exists() {
            eprintln!(
                "note: the dataset root {} does not exist yet; `ssdlt run` needs it (datasets/*.md say how to get each dataset)",
                resolved.display()
            );
        }
    }
    Ok(())
}

/// `ok: N stages (pipeline P)` then one line per stage in run order: number, name, kind, inputs.
pub fn summary(pipeline: &str, graph: &StageGraph) -> String {
    let width = graph.stages.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let kind_width = graph.stages.iter().map(|s| s.spec.kind().len()).max().unwrap_or(0);
    let mut out = format!("ok: {} stages (pipeline {pipeline})\n", graph.stages.len());
    for (i, s) in graph.stages.iter().enumerate() {
        let reads = if s.inputs.is_empty() { String::new() } else { format!("  <- {}", s.inputs.join(", ")) };
        let line = format!("{:>3}. {:<width$}  {:<kind_width$}{reads}", i + 1, s.name, s.spec.kind());
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

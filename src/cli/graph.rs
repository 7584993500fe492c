//! `ssdlt graph FILE [--format dot|mermaid]`: the stage graph of a pipeline as Graphviz DOT
//! (`ssdlt graph p.yaml | dot -Tsvg > p.svg`) or a Mermaid flowchart (for markdown).

use std::path::PathBuf;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(clap::Args, Debug)]
pub struct GraphArgs {
    /// The pipeline YAML file.
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
}

pub fn run(args: &GraphArgs) -> anyhow::Result<()> {
    let spec = crate::spec::pipeline::parse_file(&args.file)?;
    let graph = crate::plan::lower(&spec)?;
    let text = match args.format {
        GraphFormat::Dot => crate::plan::render::dot(&graph, &spec.pipeline),
        GraphFormat::Mermaid => crate::plan::render::mermaid(&graph),
    };
    print!("{text}");
    Ok(())
}

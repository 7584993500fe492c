//! The stage graph drawn as Graphviz DOT or a Mermaid flowchart: one node per stage (its name and
//! kind), one edge per reference from the stage read to its reader, labelled with the key that
//! reads it (`from`, `init`, `distill`). Nodes are coloured by what they produce.

use super::checks::Output;
use super::{stage_refs, StageGraph};

fn fill(output: Output) -> &'static str {
    match output {
        Output::Model => "#dbeafe",
        Output::SoftLabels => "#fef3c7",
        Output::Metrics => "#dcfce7",
        Output::Tables => "#f3e8ff",
    }
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Graphviz DOT (`dot -Tsvg`), titled `title` (the pipeline's name).
pub fn dot(graph: &StageGraph, title: &str) -> String {
    let mut out = format!("digraph {} {{\n", quoted(title));
    out.push_str("  rankdir=LR;\n");
    out.push_str("  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=10];\n");
    for s in &graph.stages {
        let label = format!("{}\\n{}", s.name, s.spec.kind());
        out.push_str(&format!("  {} [label=\"{label}\", fillcolor=\"{}\"];\n", quoted(&s.name), fill(Output::of(&s.spec))));
    }
    for s in &graph.stages {
        for r in stage_refs(&s.spec) {
            out.push_str(&format!("  {} -> {} [label=\"{}\"];\n", quoted(&r.stage), quoted(&s.name), r.role.label()));
        }
    }
    out.push_str("}\n");
    out
}

/// A Mermaid flowchart (renders in GitHub markdown inside a ```` ```mermaid ```` block). Node ids
/// are `s0`, `s1`, ... in run order, since stage names may collide with Mermaid keywords (`end`).
pub fn mermaid(graph: &StageGraph) -> String {
    let id = |name: &str| graph.stages.iter().position(|s| s.name == name).map(|i| format!("s{i}"));
    let mut out = String::from("flowchart LR\n");
    for (i, s) in graph.stages.iter().enumerate() {
        out.push_str(&format!("  s{i}[\"{}<br/>{}\"]:::{}\n", s.name, s.spec.kind(), s.spec.kind()));
    }
    for s in &graph.stages {
        let Some(to) = id(&s.name) else { continue };
        for r in stage_refs(&s.spec) {
            // A subgraph (`--only`) keeps every input, so each reference has a node.
            let Some(from) = id(&r.stage) else { continue };
            out.push_str(&format!("  {from} -->|{}| {to}\n", r.role.label()));
        }
    }
    let kinds = [
        ("train", Output::Model),
        ("calibrate", Output::Model),
        ("soft_labels", Output::SoftLabels),
        ("evaluate", Output::Metrics),
        ("export", Output::Tables),
    ];
    for (kind, output) in kinds {
        if graph.stages.iter().any(|s| s.spec.kind() == kind) {
            out.push_str(&format!("  classDef {kind} fill:{}\n", fill(output)));
        }
    }
    out
}

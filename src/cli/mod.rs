//! Command-line interface: one file per command; `run` dispatches.


mod bench;
mod check;
mod bench_data;
mod bench_distill;
mod data;
mod compare;
mod demo;
mod export;
mod gc;
mod graph;
mod info;
pub mod plan;
pub mod progress;
pub mod run;
mod report;

use clap::{Parser, Subcommand};

use crate::kernels::DeviceChoice;

#[derive(Parser, Debug)]
#[command(name = "ssdlt", version, about = "Long-tailed image classification with SSD-LT (self-supervision to distillation)")]
pub struct Cli {
    /// Compute device: `auto` takes a hardware GPU through wgpu when there is one, else `cpu`
    /// (default `auto`; for `run`, the pipeline file's `device:` unless given here).
    #[arg(long, global = true, value_enum)]
    pub device: Option<DeviceChoice>,
    /// Print only results and errors (no progress).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the GPU adapters wgpu sees and what `--device auto` would pick.
    Info(info::InfoArgs),
    /// Train a CIFAR ResNet on built-in synthetic classes and report held-out accuracy.
    Demo(demo::DemoArgs),
    /// Measure GEMM and ResNet-32 convolution GFLOP/s and ResNet-32 training/inference images/s per device.
    Bench(bench::BenchArgs),
    /// Parse and check a pipeline file (keys, references, cycles, stage kinds) without running it.
    Check(check::CheckArgs),
    /// Print a pipeline's stage graph as Graphviz DOT or a Mermaid flowchart.
    Graph(graph::GraphArgs),
    /// Load a pipeline's dataset section: class histogram, shot groups, split lock (no training).
    Data(data::DataArgs),
    /// Write one label table (samples, soft_labels, predictions, per_class, runs) of a pipeline's last run as Arrow, Parquet or CSV.
    Export(export::ExportArgs),
    /// Write a self-contained HTML report (SVG plots) of a pipeline's last run.
    Report(report::ReportArgs),
    /// Print the metric differences of two pipelines' last runs.
    Compare(compare::CompareArgs),
    /// Run a pipeline file: stale stages run, stored ones are reused; ends with the results table.
    Run(run::RunArgs),
    /// What `run` would do: each stage cached, stale and why, or new; what a data change costs.
    Plan(run::RunArgs),
    /// Remove stored outputs, caches and checkpoints that neither these pipeline files nor any pipeline's last run needs.
    Gc(gc::GcArgs),

}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    crate::kernels::cpu_simd::SimdLevel::from_env()?;
    match cli.command {
        Command::Info(args) => info::run(&args),
        Command::Demo(args) => {
            let (dev, reason) = crate::kernels::Device::select(cli.device.unwrap_or_default())?;
            if !cli.quiet {
                eprintln!("device: {reason}");
            }
            demo::run(&args, &dev, cli.quiet)
        }
        Command::Check(args) => check::run(&args),
        Command::Graph(args) => graph::run(&args),
        Command::Data(args) => data::run(&args, cli.quiet),
        Command::Export(args) => export::run(&args, cli.quiet),
        Command::Report(args) => report::run(&args),
        Command::Compare(args) => compare::run(&args),
        Command::Bench(args) => bench::run(&args, cli.device.unwrap_or_default(), cli.quiet),
        Command::Run(args) => {
            run::run(&args, cli.device, cli.quiet, &crate::runner::backends::DatasetLoader, &crate::runner::backends::StageRegistry)
        }
        Command::Plan(args) => plan::run(&args, &crate::runner::backends::DatasetLoader),
        Command::Gc(args) => gc::run(&args, &crate::runner::backends::DatasetLoader),

    }
}

//! Command-line interface: one file per command; `run` dispatches.


mod bench;
mod demo;
mod info;
pub mod plan;
pub mod progress;
pub mod run;

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
    /// Run a pipeline file: stale stages run, stored ones are reused; ends with the results table.
    Run(run::RunArgs),
    /// What `run` would do: each stage cached, stale and why, or new; what a data change costs.
    Plan(run::RunArgs),

}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Info(args) => info::run(&args),
        Command::Demo(args) => {
            let (dev, reason) = crate::kernels::Device::select(cli.device.unwrap_or_default())?;
            if !cli.quiet {
                eprintln!("device: {reason}");
            }
            demo::run(&args, &dev, cli.quiet)
        }
        Command::Bench(args) => bench::run(&args, cli.device.unwrap_or_default(), cli.quiet),
        Command::Run(args) => {
            run::run(&args, cli.device, cli.quiet, &crate::runner::backends::DatasetLoader, &crate::runner::backends::StageRegistry)
        }
        Command::Plan(args) => plan::run(&args, &crate::runner::backends::DatasetLoader),

    }
}

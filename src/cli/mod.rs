//! Command-line interface: one file per command; `run` dispatches.


mod info;

use clap::{Parser, Subcommand};

use crate::kernels::DeviceChoice;

#[derive(Parser, Debug)]
#[command(name = "ssdlt", version, about = "Long-tailed image classification with SSD-LT (self-supervision to distillation)")]
pub struct Cli {
    /// Compute device: `auto` takes a hardware GPU through wgpu when there is one, else `cpu`.
    #[arg(long, global = true, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
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

}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Info(args) => info::run(&args),

    }
}

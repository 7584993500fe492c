//! `ssdlt compare RUN_A RUN_B`: metric differences (overall, many, medium, few, per-class top
//! movers) of two pipeline files' last runs, matched by (model stage, head).

use std::path::PathBuf;

use crate::store::run_view::last_run;

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// The first pipeline YAML file (its last run).
    pub run_a: PathBuf,
    /// The second pipeline YAML file (its last run).
    pub run_b: PathBuf,
}

pub fn run(args: &CompareArgs) -> anyhow::Result<()> {
    let (a, b) = (last_run(&args.run_a)?, last_run(&args.run_b)?);
    print!("{}", crate::report::compare::compare(&a, &b)?);
    Ok(())
}

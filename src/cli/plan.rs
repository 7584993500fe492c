//! `ssdlt plan FILE`: a dry run. For each stage: cached, stale and why, or new; and what a data
//! change since the last run will cost (which samples go through which network). Nothing runs,
//! nothing is written.

use crate::runner::{prepare, PipelineData, Prepared, SilentReporter, StageStatus};
use crate::store::layout::short;

use super::run::RunArgs;

/// Prints the plan of `ssdlt run` with the same arguments.
pub fn run(args: &RunArgs, data: &dyn PipelineData) -> anyhow::Result<()> {
    let prepared = prepare(&args.file, &args.options(), data, &SilentReporter)?;
    print!("{}", format_plan(&prepared));
    Ok(())
}

/// The plan as text: a header with the data, then one line per stage
/// (`cached`, `stale`, `new`, `skipped`), then a `data change:` line under each stage a data
/// change affects.
pub fn format_plan(p: &Prepared) -> String {
    let fps = &p.data_fingerprints;
    let since = |change: &Option<crate::runner::fingerprint::DataChange>| {
        change.as_ref().map(|c| format!(" ({} since the last run)", c.describe())).unwrap_or_default()
    };
    let mut out = format!(
        "pipeline `{}` ({}): {} stages, {} to run\ntraining data: {} samples{}, split {}; test data: {} samples{}\n",
        p.spec.pipeline,
        p.file.display(),
        p.stages.len(),
        p.to_run(),
        fps.train.samples,
        since(&p.train_change),
        short(&fps.train.fingerprint),
        fps.test.samples,
        since(&p.test_change),
    );
    let name_w = p.stages.iter().map(|s| s.stage.name.len()).max().unwrap_or(0);
    let kind_w = p.stages.iter().map(|s| s.stage.spec.kind().len()).max().unwrap_or(0);
    for s in &p.stages {
        let (status, detail) = match &s.status {
            StageStatus::Cached => ("cached", short(&s.fingerprint).to_string()),
            StageStatus::Run { reasons } if reasons.len() == 1 && reasons[0] == "never run" => ("new", reasons[0].clone()),
            StageStatus::Run { reasons } => ("stale", reasons.join("; ")),
            StageStatus::Skipped => ("skipped", "not selected by --only/--until".to_string()),
        };
        out.push_str(&format!("{status:<8} {:<name_w$}  {:<kind_w$}  {detail}\n", s.stage.name, s.stage.spec.kind()));
        if let Some(cost) = &s.data_cost {
            out.push_str(&format!("{:<8} {:<name_w$}  data change: {cost}\n", "", ""));
        }
    }
    out
}

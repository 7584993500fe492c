//! `ssdlt run FILE [--force STAGE]... [--only STAGE] [--until STAGE]`: runs what is stale,
//! reuses what is stored, and ends with the many/medium/few table of every evaluated model.

use std::path::PathBuf;
use std::time::Instant;

use crate::dataflow::workers::WorkerArgs;
use crate::kernels::{Device, DeviceChoice};
use crate::runner::{execute, prepare, results_table, PipelineData, ResultRow, RunOptions, StageExecutor};
use crate::stages::StageCounters;

use super::progress::TerminalReporter;

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// The pipeline YAML file; its outputs are stored in `.ssdlt/` beside it.
    pub file: PathBuf,
    /// Run STAGE and everything that reads it even when stored (repeatable).
    #[arg(long, value_name = "STAGE")]
    pub force: Vec<String>,
    /// Run only STAGE and the stages it needs.
    #[arg(long, value_name = "STAGE")]
    pub only: Option<String>,
    /// Run the stages up to and including STAGE, in run order.
    #[arg(long, value_name = "STAGE")]
    pub until: Option<String>,
    /// Timely worker threads that decode and augment batches ahead of training.
    #[command(flatten)]
    pub workers: WorkerArgs,
}

impl RunArgs {
    pub fn options(&self) -> RunOptions {
        RunOptions { force: self.force.clone(), only: self.only.clone(), until: self.until.clone() }
    }
}

/// Runs the pipeline. `device` is `--device` when given on the command line; it overrides the
/// file's `device:`.
pub fn run(
    args: &RunArgs,
    device: Option<DeviceChoice>,
    quiet: bool,
    data: &dyn PipelineData,
    executor: &dyn StageExecutor,
) -> anyhow::Result<()> {
    let t0 = Instant::now();
    if args.workers.processes > 1 {
        return Err(crate::Error::invalid(
            "-n/--processes",
            format!(
                "{} processes: a training run uses one process (its batches come from -w worker threads); \
                 several processes would each train on their own shard with no gradient exchange. \
                 Use -w THREADS here; `ssdlt data FILE --stream -n N` streams across processes",
                args.workers.processes
            ),
        )
        .into());
    }
    args.workers.install()?;
    let reporter = TerminalReporter::new(quiet);
    let prepared = prepare(&args.file, &args.options(), data, &reporter)?;
    let choice = device.unwrap_or(prepared.spec.device);
    let build_device = || -> crate::Result<Device> {
        let (dev, reason) = Device::select(choice)?;
        if !quiet {
            reporter.line(&format!("device: {reason}"));
        }
        Ok(dev)
    };
    let counters = StageCounters::default();
    let summary = execute(&prepared, executor, &build_device, &reporter, &counters)?;
    if !quiet {
        let selected = summary.stages.len();
        if summary.ran() == 0 {
            reporter.line(&format!("nothing to run: all {selected} stages cached ({:.2} s)", t0.elapsed().as_secs_f64()));
        } else {
            reporter.line(&format!(
                "ran {} of {selected} stages, {} cached, in {}; run record {}",
                summary.ran(),
                summary.cached(),
                super::progress::duration(t0.elapsed().as_secs_f64()),
                summary.record.display()
            ));
        }
    }
    let rows = results_table(&prepared, &summary);
    if !rows.is_empty() {
        print!("{}", format_results(&rows));
    }
    Ok(())
}

/// The results table: one row per evaluated model (and head), top-1 accuracy in percent
/// overall and on many / medium / few-shot classes. Metrics given as fractions are scaled.
pub fn format_results(rows: &[ResultRow]) -> String {
    let values = rows.iter().flat_map(|r| [r.overall, r.many, r.medium, r.few]).flatten();
    let scale = if values.clone().all(|v| v <= 1.0) { 100.0 } else { 1.0 };
    let cell = |v: Option<f64>| v.map(|v| format!("{:.2}", v * scale)).unwrap_or_else(|| "-".into());
    let stage_w = rows.iter().map(|r| r.stage.len()).max().unwrap_or(0).max("stage".len());
    let model_w = rows.iter().map(|r| r.model.len()).max().unwrap_or(0).max("model".len());
    let mut out = format!(
        "{:<stage_w$}  {:<model_w$}  {:>8}  {:>7}  {:>7}  {:>7}\n",
        "stage", "model", "overall", "many", "medium", "few"
    );
    for r in rows {
        out.push_str(&format!(
            "{:<stage_w$}  {:<model_w$}  {:>8}  {:>7}  {:>7}  {:>7}\n",
            r.stage,
            r.model,
            cell(r.overall),
            cell(r.many),
            cell(r.medium),
            cell(r.few)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_results_table_aligns_columns_and_shows_percentages() {
        let row = |model: &str, v: f64| ResultRow {
            stage: "eval".into(),
            model: model.into(),
            overall: Some(v),
            many: Some(0.9),
            medium: None,
            few: Some(0.125),
        };
        let text = format_results(&[row("ce", 0.712), row("student/fc_soft", 0.75)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "stage  model             overall     many   medium      few");
        assert_eq!(lines[1], "eval   ce                  71.20    90.00        -    12.50");
        assert_eq!(lines[2], "eval   student/fc_soft     75.00    90.00        -    12.50");
    }
}

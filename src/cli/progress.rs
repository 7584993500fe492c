//! What `ssdlt run` prints while it runs: one line per cached stage, and for a stage that runs a
//! bar for the stage (elapsed time, last phase summary) and one for the current phase (an epoch:
//! steps done, loss, accuracy, images/s, ETA). With `-q` nothing but warnings; when stderr is not
//! a terminal (CI logs, `| tee`) bars become one plain line per finished phase.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::plan::PlannedStage;
use crate::runner::RunReporter;
use crate::stages::{NoProgress, StageProgress, StageReport};

/// The terminal side of a run.
pub struct TerminalReporter {
    quiet: bool,
    bars: bool,
    multi: MultiProgress,
}

impl TerminalReporter {
    pub fn new(quiet: bool) -> TerminalReporter {
        let bars = !quiet && std::io::stderr().is_terminal();
        let target = if bars { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        TerminalReporter { quiet, bars, multi: MultiProgress::with_draw_target(target) }
    }

    /// A line above the bars (or plain on stderr).
    pub fn line(&self, text: &str) {
        if self.bars {
            // A failed write to the terminal is not worth failing a run for.
            let _ = self.multi.println(text);
        } else {
            eprintln!("{text}");
        }
    }
}

impl RunReporter for TerminalReporter {
    fn cached(&self, stage: &PlannedStage) {
        if !self.quiet {
            self.line(&format!("cached   {} ({})", stage.name, stage.spec.kind()));
        }
    }

    fn warning(&self, message: &str) {
        self.line(&format!("warning: {message}"));
    }

    fn starting<'a>(&'a self, stage: &PlannedStage, index: usize, total: usize, reasons: &[String]) -> Box<dyn StageProgress + 'a> {
        if self.quiet {
            return Box::new(NoProgress);
        }
        let label = format!("[{index}/{total}] {} ({})", stage.name, stage.spec.kind());
        self.line(&format!("run      {label}: {}", reasons.join("; ")));
        let stage_bar = if self.bars {
            let bar = self.multi.add(ProgressBar::new_spinner());
            bar.set_style(ProgressStyle::with_template("{spinner} {prefix} {elapsed_precise} {wide_msg}").expect("a valid template"));
            bar.set_prefix(label.clone());
            bar.enable_steady_tick(Duration::from_millis(200));
            Some(bar)
        } else {
            None
        };
        Box::new(StageBars { reporter: self, label, stage_bar, phase: Mutex::new(None) })
    }

    fn finished(&self, stage: &PlannedStage, report: &StageReport, wall_s: f64) {
        if !self.quiet {
            let speed = report.images_per_s.map(|v| format!(", {v:.0} img/s")).unwrap_or_default();
            self.line(&format!("done     {} in {}{speed}: {}", stage.name, duration(wall_s), report.summary));
        }
    }
}

/// The bars of one running stage.
struct StageBars<'a> {
    reporter: &'a TerminalReporter,
    label: String,
    stage_bar: Option<ProgressBar>,
    phase: Mutex<Option<(String, ProgressBar, Instant)>>,
}

impl StageProgress for StageBars<'_> {
    fn begin(&self, phase: &str, total: u64) {
        let bar = if self.reporter.bars {
            let bar = self.reporter.multi.add(ProgressBar::new(total));
            bar.set_style(
                ProgressStyle::with_template("  {prefix:>14} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar.set_prefix(phase.to_string());
            bar
        } else {
            ProgressBar::hidden()
        };
        let mut slot = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, old, _)) = slot.take() {
            old.finish_and_clear();
        }
        *slot = Some((phase.to_string(), bar, Instant::now()));
    }

    fn advance(&self, done: u64, metrics: &[(&str, f64)]) {
        let slot = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, bar, _)) = slot.as_ref() {
            bar.inc(done);
            bar.set_message(format_metrics(metrics));
        }
    }

    fn finish(&self, summary: &str) {
        let mut slot = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        let (phase, took) = match slot.take() {
            Some((phase, bar, t0)) => {
                bar.finish_and_clear();
                (phase, t0.elapsed().as_secs_f64())
            }
            None => (String::new(), 0.0),
        };
        match &self.stage_bar {
            Some(bar) => bar.set_message(format!("{phase}: {summary}")),
            None => self.reporter.line(&format!("  {} {phase} ({}): {summary}", self.label, duration(took))),
        }
    }

    fn note(&self, message: &str) {
        self.reporter.line(&format!("  {}: {message}", self.label));
    }
}

impl Drop for StageBars<'_> {
    fn drop(&mut self) {
        if let Some((_, bar, _)) = self.phase.get_mut().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
        if let Some(bar) = &self.stage_bar {
            bar.finish_and_clear();
        }
    }
}

/// `loss 0.412  acc 87.5%  img/s 1530`: accuracies (names containing `acc`, values in [0, 1])
/// as percentages.
pub fn format_metrics(metrics: &[(&str, f64)]) -> String {
    metrics
        .iter()
        .map(|(name, v)| {
            if name.contains("acc") && (0.0..=1.0).contains(v) {
                format!("{name} {:.1}%", v * 100.0)
            } else if v.abs() >= 100.0 {
                format!("{name} {v:.0}")
            } else {
                format!("{name} {v:.4}")
            }
        })
        .collect::<Vec<_>>()
        .join("  ")
}

/// `0.4 s`, `12.3 s`, `4 min 05 s`, `2 h 03 min`.
pub fn duration(seconds: f64) -> String {
    if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else if seconds < 3600.0 {
        format!("{} min {:02} s", (seconds / 60.0) as u64, seconds as u64 % 60)
    } else {
        format!("{} h {:02} min", (seconds / 3600.0) as u64, seconds as u64 / 60 % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_show_accuracies_as_percentages() {
        assert_eq!(format_metrics(&[("loss", 0.41234), ("acc", 0.875), ("img/s", 1530.4)]), "loss 0.4123  acc 87.5%  img/s 1530");
        assert_eq!(duration(12.34), "12.3 s");
        assert_eq!(duration(245.0), "4 min 05 s");
        assert_eq!(duration(7380.0), "2 h 03 min");
    }
}

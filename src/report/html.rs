//! `ssdlt report`: one self-contained HTML file (inline SVG, inline CSS, no scripts, nothing
//! fetched) of a pipeline's last run: the metrics table of every evaluated (model, head),
//! per-class accuracy against training frequency, many/medium/few bars per method, training
//! curves (loss, accuracy, learning rate), soft-label entropy by class and the confusion matrix
//! of the last evaluated model.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{evaluations, train_counts, train_labels, training_curve};
use crate::error::{Error, Result};
use crate::report::plots;
use crate::stages::SOFT_LABELS_FILE;
use crate::store::run_view::RunView;
use crate::store::soft_labels::read_soft_labels;
use crate::store::tables::entropy;

/// HTML-escapes text.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.1}", 100.0 * v)).unwrap_or_else(|| "–".into())
}

/// The report of the last run in `view` as HTML text. Errors (usage) when the run evaluated no
/// model.
pub fn render(view: &RunView) -> Result<String> {
    let evals = evaluations(view)?;
    if evals.iter().all(|(_, r)| r.results.is_empty()) {
        return Err(Error::invalid(
            format!("report of `{}`", view.pipeline_file.display()),
            "the last run has no evaluate stage with results; add one (`eval: {kind: evaluate, from: [...]}`) and run the pipeline",
        ));
    }
    let counts = train_counts(view);
    let mut body = String::new();
    let _ = writeln!(body, "<h1>ssdlt report: {}</h1>", escape(&view.pipeline));
    let _ = writeln!(body, "<p class=\"meta\">pipeline file {} · {} stages stored · ssdlt {}</p>", escape(&view.pipeline_file.display().to_string()), view.stages.len(), env!("CARGO_PKG_VERSION"));

    // Metrics table.
    body.push_str("<h2>Accuracy</h2>\n<table><tr><th>evaluate</th><th>model</th><th>head</th><th>top-1</th><th>many</th><th>medium</th><th>few</th><th>top-5</th><th>ECE</th></tr>\n");
    for (stage, report) in &evals {
        for r in &report.results {
            let m = &r.metrics;
            let mark = if r.default_head { "" } else { " class=\"alt\"" };
            let _ = writeln!(
                body,
                "<tr{mark}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td></tr>",
                escape(stage),
                escape(&r.model),
                escape(&r.head),
                pct(Some(m.top1)),
                pct(m.many),
                pct(m.medium),
                pct(m.few),
                pct(Some(m.top5)),
                m.ece
            );
        }
    }
    body.push_str("</table>\n<p class=\"meta\">Percent. Rows in grey are a model's second head.</p>\n");

    // Per-class accuracy against training frequency, default heads.
    let defaults: Vec<(&str, &crate::store::metrics::HeadMetrics)> = evals.iter().flat_map(|(s, r)| r.results.iter().filter(|h| h.default_head).map(move |h| (s.as_str(), h))).collect();
    let series: Vec<(String, Vec<(f64, f64)>)> = defaults
        .iter()
        .map(|(_, h)| {
            let points = h
                .metrics
                .per_class_accuracy
                .iter()
                .enumerate()
                .filter_map(|(c, acc)| {
                    let x = match &counts {
                        Some(n) => n.get(c).copied().unwrap_or(0).max(1) as f64,
                        None => c as f64,
                    };
                    acc.map(|a| (x, a))
                })
                .collect();
            (h.model.clone(), points)
        })
        .collect();
    let (x_desc, log_x) = match &counts {
        Some(_) => ("training images of the class (log)", true),
        None => ("class index (training counts need an export stage)", false),
    };
    body.push_str("<h2>Per-class accuracy against training frequency</h2>\n");
    body.push_str(&plots::scatter("per-class test accuracy", x_desc, "accuracy", &series, log_x)?);

    // Many / medium / few bars.
    let groups: Vec<String> = defaults.iter().map(|(_, h)| h.model.clone()).collect();
    let values: Vec<Vec<Option<f64>>> = defaults.iter().map(|(_, h)| vec![h.metrics.many, h.metrics.medium, h.metrics.few]).collect();
    body.push_str("\n<h2>Many / medium / few-shot accuracy per method</h2>\n");
    body.push_str(&plots::grouped_bars("accuracy by shot group", "accuracy", &groups, &["many", "medium", "few"], &values, Some(1.0))?);

    // Training curves.
    let curves: Vec<(String, Vec<super::CurvePoint>)> = view.stages.iter().filter(|s| matches!(s.kind.as_str(), "train" | "calibrate")).filter_map(|s| training_curve(s).map(|c| (s.name.clone(), c))).collect();
    body.push_str("\n<h2>Training curves</h2>\n");
    if curves.is_empty() {
        body.push_str("<p>No stored train or calibrate stage has a history.</p>\n");
    } else {
        type Pick = fn(&super::CurvePoint) -> Option<f64>;
        let picks: [(&str, &str, Pick); 3] = [("loss", "training loss", |p| p.loss), ("accuracy", "training accuracy", |p| p.accuracy), ("lr", "learning rate", |p| p.lr)];
        for (title, y, pick) in picks {
            let series: Vec<(String, Vec<(f64, f64)>)> = curves.iter().map(|(n, c)| (n.clone(), c.iter().filter_map(|p| pick(p).map(|v| (p.epoch, v))).collect::<Vec<_>>())).filter(|(_, p)| !p.is_empty()).collect();
            if !series.is_empty() {
                body.push_str(&plots::lines(title, "epoch", y, &series)?);
                body.push('\n');
            }
        }
    }

    // Soft-label entropy by class.
    body.push_str("\n<h2>Soft-label entropy by class</h2>\n");
    let labels = train_labels(view);
    let mut any_soft = false;
    for s in view.of_kind("soft_labels") {
        let Ok(set) = read_soft_labels(&s.dir.join(SOFT_LABELS_FILE)) else { continue };
        let mut sums: BTreeMap<u32, (f64, usize)> = BTreeMap::new();
        for r in &set.rows {
            let class = match &labels {
                Some(l) => l.get(&r.id).copied(),
                None => r.classes.first().copied(),
            };
            if let Some(c) = class {
                let e = sums.entry(c).or_insert((0.0, 0));
                e.0 += entropy(&r.probs) as f64;
                e.1 += 1;
            }
        }
        let classes: Vec<String> = (0..set.num_classes as u32).map(|c| c.to_string()).collect();
        let values: Vec<Vec<Option<f64>>> = (0..set.num_classes as u32).map(|c| vec![sums.get(&c).map(|(s, n)| s / *n as f64)]).collect();
        let by = if labels.is_some() { "true class" } else { "teacher's top class (labels need an export stage)" };
        body.push_str(&plots::grouped_bars(&format!("`{}`: mean entropy (nats) by {by}", s.name), "entropy", &classes, &["entropy"], &values, None)?);
        body.push('\n');
        any_soft = true;
    }
    if !any_soft {
        body.push_str("<p>The run has no soft_labels stage.</p>\n");
    }

    // Confusion matrix of the last evaluated model's default head.
    if let Some((stage, h)) = defaults.last() {
        let _ = writeln!(body, "\n<h2>Confusion matrix: {} ({}, {})</h2>", escape(&h.model), escape(&h.head), escape(stage));
        body.push_str(&plots::heatmap("row-normalized confusion", &h.metrics.confusion)?);
        body.push('\n');
    }

    Ok(format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>ssdlt report: {}</title>\n<style>\n\
         body {{ font-family: sans-serif; max-width: 780px; margin: 2em auto; color: #222; }}\n\
         table {{ border-collapse: collapse; }} td, th {{ padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: right; }}\n\
         td:nth-child(-n+3), th:nth-child(-n+3) {{ text-align: left; }} tr.alt {{ color: #888; }} .meta {{ color: #666; font-size: 90%; }}\n\
         svg {{ display: block; margin: 1em 0; }}\n</style></head>\n<body>\n{body}</body></html>\n",
        escape(&view.pipeline)
    ))
}

//! `ssdlt compare RUN_A RUN_B`: the metric differences of two runs' evaluations, matched by
//! (model stage, head): overall top-1, many, medium and few-shot accuracy, then the classes whose
//! accuracy moved most.

use std::fmt::Write as _;

use indexmap::IndexMap;

use super::evaluations;
use crate::error::{Error, Result};
use crate::stages::export::shot_group_name;
use crate::store::metrics::HeadMetrics;
use crate::store::run_view::RunView;

/// Classes listed per (model, head) under "top movers".
pub const TOP_MOVERS: usize = 5;

struct Evaluated {
    head: HeadMetrics,
    class_names: Vec<String>,
    groups: Vec<&'static str>,
}

fn heads_of(view: &RunView) -> Result<IndexMap<(String, String), Evaluated>> {
    let mut out = IndexMap::new();
    for (_, report) in evaluations(view)? {
        let groups: Vec<&'static str> = report.shot_groups.iter().map(|&g| shot_group_name(g)).collect();
        for h in report.results {
            out.insert((h.model.clone(), h.head.clone()), Evaluated { head: h, class_names: report.class_names.clone(), groups: groups.clone() });
        }
    }
    if out.is_empty() {
        return Err(Error::invalid(format!("run of `{}`", view.pipeline_file.display()), "its last run has no evaluate stage with results; nothing to compare"));
    }
    Ok(out)
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.1}", 100.0 * v)).unwrap_or_else(|| "-".into())
}

fn delta(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!("{:+.1}", 100.0 * (b - a)),
        _ => "-".into(),
    }
}

/// The comparison as text (a table, then the top movers). Accuracies in percent; Δ = B − A in
/// percentage points.
pub fn compare(a: &RunView, b: &RunView) -> Result<String> {
    let (ha, hb) = (heads_of(a)?, heads_of(b)?);
    let mut out = String::new();
    let _ = writeln!(out, "A: {} (pipeline {})", a.pipeline_file.display(), a.pipeline);
    let _ = writeln!(out, "B: {} (pipeline {})", b.pipeline_file.display(), b.pipeline);
    let common: Vec<&(String, String)> = ha.keys().filter(|k| hb.contains_key(*k)).collect();
    let width = common.iter().map(|(m, h)| m.len() + h.len() + 1).max().unwrap_or(0).max(10);
    let _ = writeln!(out, "\naccuracy in percent, delta = B - A in points");
    let _ = writeln!(out, "{:<width$}  {:<8} {:>6} {:>6} {:>6}", "model/head", "metric", "A", "B", "delta");
    for key in &common {
        let (ma, mb) = (&ha[*key].head.metrics, &hb[*key].head.metrics);
        let name = format!("{}/{}", key.0, key.1);
        for (i, (metric, va, vb)) in [("overall", Some(ma.top1), Some(mb.top1)), ("many", ma.many, mb.many), ("medium", ma.medium, mb.medium), ("few", ma.few, mb.few)].into_iter().enumerate() {
            let label = if i == 0 { name.as_str() } else { "" };
            let _ = writeln!(out, "{label:<width$}  {metric:<8} {:>6} {:>6} {:>6}", pct(va), pct(vb), delta(va, vb));
        }
    }
    let only = |x: &IndexMap<(String, String), Evaluated>, y: &IndexMap<(String, String), Evaluated>| -> Vec<String> { x.keys().filter(|k| !y.contains_key(*k)).map(|(m, h)| format!("{m}/{h}")).collect() };
    let (only_a, only_b) = (only(&ha, &hb), only(&hb, &ha));
    if !only_a.is_empty() {
        let _ = writeln!(out, "only in A: {}", only_a.join(", "));
    }
    if !only_b.is_empty() {
        let _ = writeln!(out, "only in B: {}", only_b.join(", "));
    }
    if common.is_empty() {
        let _ = writeln!(out, "(no model/head evaluated in both runs)");
        return Ok(out);
    }

    let _ = writeln!(out, "\nper-class top movers (up to {TOP_MOVERS} per model/head, largest change first)");
    for key in &common {
        let (ea, eb) = (&ha[*key], &hb[*key]);
        let (pa, pb) = (&ea.head.metrics.per_class_accuracy, &eb.head.metrics.per_class_accuracy);
        let mut moves: Vec<(usize, f64, f64)> = pa.iter().zip(pb).enumerate().filter_map(|(c, (x, y))| Some((c, (*x)?, (*y)?))).filter(|(_, x, y)| x != y).collect();
        moves.sort_by(|p, q| (q.2 - q.1).abs().partial_cmp(&(p.2 - p.1).abs()).unwrap_or(std::cmp::Ordering::Equal).then(p.0.cmp(&q.0)));
        moves.truncate(TOP_MOVERS);
        let _ = writeln!(out, "{}/{}:", key.0, key.1);
        if moves.is_empty() {
            let _ = writeln!(out, "  no class changed");
        }
        for (c, x, y) in moves {
            let name = eb.class_names.get(c).cloned().unwrap_or_default();
            let group = eb.groups.get(c).copied().unwrap_or("");
            let _ = writeln!(out, "  class {c:<4} {name:<12} {group:<6} {:>6} -> {:>6} ({:+.1})", pct(Some(x)), pct(Some(y)), 100.0 * (y - x));
        }
    }
    Ok(out)
}

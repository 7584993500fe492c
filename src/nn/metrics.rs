//! Long-tail classification metrics from logits: top-1 / top-5, many / medium / few-shot
//! accuracy, per-class accuracy, the confusion matrix, expected calibration error and NLL.
//!
//! Conventions (those of the decoupling / SSD-LT evaluation code):
//! - the prediction is the arg-max logit, the first class on ties; top-k ranks logits
//!   descending, lower class first on ties;
//! - a shot group's accuracy is the mean of the per-class accuracies of its classes that have
//!   test samples (on a balanced test set this equals the sample accuracy of the group);
//! - ECE (Guo et al. 2017) bins the confidence (the softmax maximum) into `bins` equal-width
//!   bins (lower, upper], and sums |accuracy - mean confidence| weighted by the bin's share.

use serde::{Deserialize, Serialize};

use crate::data::long_tail::ShotGroup;
use crate::error::{Error, Result};

/// What the metrics of one classifier on one labelled set are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationMetrics {
    pub samples: usize,
    pub classes: usize,
    /// Fractions in [0, 1].
    pub top1: f64,
    /// Fraction of samples whose label is among the `top5_k` highest logits.
    pub top5: f64,
    /// min(5, classes).
    pub top5_k: usize,
    /// None when the group has no class with test samples.
    pub many: Option<f64>,
    pub medium: Option<f64>,
    pub few: Option<f64>,
    /// None for a class without test samples.
    pub per_class_accuracy: Vec<Option<f64>>,
    pub per_class_samples: Vec<usize>,
    /// `confusion[true][predicted]` = number of samples.
    pub confusion: Vec<Vec<u64>>,
    pub ece: f64,
    pub ece_bins: usize,
    /// Mean negative log-likelihood (softmax cross-entropy).
    pub nll: f64,
}

/// One row's prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct RowPrediction {
    pub predicted: u32,
    /// Softmax probability of the predicted class.
    pub confidence: f32,
    /// The `k` highest classes and their logits, highest first.
    pub top_classes: Vec<u32>,
    pub top_logits: Vec<f32>,
    /// log-sum-exp of the row (for the NLL).
    pub log_sum_exp: f64,
}

/// The prediction of one logit row, with its top `k` classes.
pub fn row_prediction(row: &[f32], k: usize) -> RowPrediction {
    let mut order: Vec<usize> = (0..row.len()).collect();
    // Descending logits, lower class first on ties (a stable sort on the negated key).
    order.sort_by(|&a, &b| row[b].partial_cmp(&row[a]).unwrap_or(std::cmp::Ordering::Equal));
    let best = order[0];
    let max = row[best] as f64;
    let sum: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
    let k = k.min(row.len());
    RowPrediction {
        predicted: best as u32,
        confidence: (1.0 / sum) as f32,
        top_classes: order[..k].iter().map(|&c| c as u32).collect(),
        top_logits: order[..k].iter().map(|&c| row[c]).collect(),
        log_sum_exp: max + sum.ln(),
    }
}

/// Metrics of `logits` (`[N, classes]` row-major) against `labels` `[N]`; `groups[c]` is class
/// c's shot group (from the training split's counts).
pub fn classification_metrics(logits: &[f32], labels: &[u32], classes: usize, groups: &[ShotGroup], ece_bins: usize) -> Result<ClassificationMetrics> {
    if classes == 0 || logits.len() != labels.len() * classes {
        return Err(Error::invalid("metrics", format!("{} logits for {} labels of {classes} classes", logits.len(), labels.len())));
    }
    if groups.len() != classes {
        return Err(Error::invalid("metrics", format!("{} shot groups for {classes} classes", groups.len())));
    }
    if ece_bins == 0 {
        return Err(Error::invalid("ece_bins", "needs at least 1 bin"));
    }
    let top5_k = classes.min(5);
    let mut confusion = vec![vec![0u64; classes]; classes];
    let mut per_class_samples = vec![0usize; classes];
    let mut per_class_correct = vec![0usize; classes];
    let (mut correct, mut top5, mut nll) = (0usize, 0usize, 0f64);
    let mut bin_count = vec![0usize; ece_bins];
    let mut bin_correct = vec![0usize; ece_bins];
    let mut bin_confidence = vec![0f64; ece_bins];
    for (row, &label) in logits.chunks_exact(classes).zip(labels) {
        let label = label as usize;
        if label >= classes {
            return Err(Error::invalid("metrics", format!("label {label} with {classes} classes")));
        }
        let p = row_prediction(row, top5_k);
        let hit = p.predicted as usize == label;
        confusion[label][p.predicted as usize] += 1;
        per_class_samples[label] += 1;
        if hit {
            correct += 1;
            per_class_correct[label] += 1;
        }
        if p.top_classes.contains(&(label as u32)) {
            top5 += 1;
        }
        nll += p.log_sum_exp - row[label] as f64;
        let conf = p.confidence as f64;
        let bin = ((conf * ece_bins as f64).ceil() as usize).clamp(1, ece_bins) - 1;
        bin_count[bin] += 1;
        bin_correct[bin] += hit as usize;
        bin_confidence[bin] += conf;
    }
    let n = labels.len();
    let frac = |a: usize| if n == 0 { 0.0 } else { a as f64 / n as f64 };
    let per_class_accuracy: Vec<Option<f64>> = per_class_correct.iter().zip(&per_class_samples).map(|(&c, &t)| (t > 0).then(|| c as f64 / t as f64)).collect();
    let group_mean = |g: ShotGroup| {
        let accs: Vec<f64> = per_class_accuracy.iter().zip(groups).filter(|(_, gg)| **gg == g).filter_map(|(a, _)| *a).collect();
        (!accs.is_empty()).then(|| accs.iter().sum::<f64>() / accs.len() as f64)
    };
    let ece = (0..ece_bins)
        .filter(|&b| bin_count[b] > 0)
        .map(|b| {
            let m = bin_count[b] as f64;
            (m / n as f64) * (bin_correct[b] as f64 / m - bin_confidence[b] / m).abs()
        })
        .sum();
    Ok(ClassificationMetrics {
        samples: n,
        classes,
        top1: frac(correct),
        top5: frac(top5),
        top5_k,
        many: group_mean(ShotGroup::Many),
        medium: group_mean(ShotGroup::Medium),
        few: group_mean(ShotGroup::Few),
        per_class_accuracy,
        per_class_samples,
        confusion,
        ece,
        ece_bins,
        nll: if n == 0 { 0.0 } else { nll / n as f64 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ShotGroup::{Few, Many, Medium};

    #[test]
    fn metrics_match_a_hand_computation_on_known_logits() {
        // 3 classes (many, medium, few), 6 samples.
        let logits = [
            3.0, 1.0, 0.0, // label 0: correct
            2.0, 1.0, 0.0, // label 0: correct
            0.0, 2.0, 1.0, // label 1: correct
            2.0, 0.0, 1.0, // label 1: predicted 0, label ranked 3rd
            0.0, 1.0, 0.5, // label 2: predicted 1, label ranked 2nd
            1.0, 1.0, 1.0, // label 2: a tie -> predicted 0
        ];
        let labels = [0, 0, 1, 1, 2, 2];
        let m = classification_metrics(&logits, &labels, 3, &[Many, Medium, Few], 10).unwrap();
        assert_eq!(m.top5_k, 3);
        assert!((m.top1 - 3.0 / 6.0).abs() < 1e-12);
        assert!((m.top5 - 1.0).abs() < 1e-12);
        assert_eq!(m.per_class_accuracy, vec![Some(1.0), Some(0.5), Some(0.0)]);
        assert_eq!((m.many, m.medium, m.few), (Some(1.0), Some(0.5), Some(0.0)));
        assert_eq!(m.confusion, vec![vec![2, 0, 0], vec![1, 1, 0], vec![1, 1, 0]]);
        let lse = |r: &[f64]| r.iter().map(|v| v.exp()).sum::<f64>().ln();
        let rows: Vec<Vec<f64>> = logits.chunks(3).map(|r| r.iter().map(|&v| v as f64).collect()).collect();
        let nll: f64 = rows.iter().zip(labels).map(|(r, l)| lse(r) - r[l as usize]).sum::<f64>() / 6.0;
        assert!((m.nll - nll).abs() < 1e-6, "{} vs {nll}", m.nll);
        // ECE by hand: confidences and hits, 10 bins.
        let conf: Vec<f64> = rows.iter().map(|r| r.iter().cloned().fold(f64::MIN, f64::max).exp() / r.iter().map(|v| v.exp()).sum::<f64>()).collect();
        let hits = [1.0, 1.0, 1.0, 0.0, 0.0, 0.0];
        let mut ece = 0.0;
        for b in 0..10 {
            let (lo, hi) = (b as f64 / 10.0, (b + 1) as f64 / 10.0);
            let members: Vec<usize> = (0..6).filter(|&i| conf[i] > lo && conf[i] <= hi).collect();
            if !members.is_empty() {
                let acc = members.iter().map(|&i| hits[i]).sum::<f64>() / members.len() as f64;
                let c = members.iter().map(|&i| conf[i]).sum::<f64>() / members.len() as f64;
                ece += members.len() as f64 / 6.0 * (acc - c).abs();
            }
        }
        assert!((m.ece - ece).abs() < 1e-6, "{} vs {ece}", m.ece);
    }

    #[test]
    fn top5_is_at_least_top1_and_empty_groups_are_none() {
        let logits: Vec<f32> = (0..8 * 7).map(|i| ((i * 37) % 11) as f32).collect();
        let labels: Vec<u32> = (0..8).map(|i| (i * 3 % 7) as u32).collect();
        let m = classification_metrics(&logits, &labels, 7, &[Many; 7], 15).unwrap();
        assert!(m.top5 >= m.top1);
        assert_eq!((m.medium, m.few), (None, None));
    }

    #[test]
    fn ece_of_a_perfectly_calibrated_toy_is_zero() {
        // Confidence 0.8 on every row (logits ln 4 and 0), 8 of 10 correct.
        let hi = 4f32.ln();
        let mut logits = Vec::new();
        let mut labels = Vec::new();
        for i in 0..10 {
            logits.extend_from_slice(&[hi, 0.0]);
            labels.push(if i < 8 { 0 } else { 1 });
        }
        let m = classification_metrics(&logits, &labels, 2, &[Many, Few], 15).unwrap();
        assert!(m.ece.abs() < 1e-6, "ece {}", m.ece);
        assert!((m.top1 - 0.8).abs() < 1e-12);
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert!(classification_metrics(&[0.0; 5], &[0, 1], 3, &[Many; 3], 10).is_err());
        assert!(classification_metrics(&[0.0; 6], &[0, 3], 3, &[Many; 3], 10).is_err());
        assert!(classification_metrics(&[0.0; 6], &[0, 1], 3, &[Many; 3], 0).is_err());
    }
}

//! Tests: data samplers. Class frequencies each sampler produces, checked against its stated
//! probabilities within binomial error bars, and epoch orders fixed by (seed, epoch).

use ssdlt::data::samplers::{Sampler, SamplerKind};

/// A long-tailed label list: 800, 200, 50, 10 samples of classes 0..3, interleaved.
fn long_tail_labels() -> Vec<u32> {
    let counts = [800usize, 200, 50, 10];
    let mut labels: Vec<u32> = counts.iter().enumerate().flat_map(|(c, &n)| vec![c as u32; n]).collect();
    labels.reverse();
    labels
}

fn class_frequencies(order: &[usize], labels: &[u32], classes: usize) -> Vec<f64> {
    let mut f = vec![0.0; classes];
    for &i in order {
        f[labels[i] as usize] += 1.0;
    }
    f.iter().map(|v| v / order.len() as f64).collect()
}

/// Observed shares within 5 binomial standard deviations of the expected ones.
#[track_caller]
fn assert_frequencies(what: &str, got: &[f64], want: &[f64], draws: usize) {
    for (c, (g, w)) in got.iter().zip(want).enumerate() {
        let sd = (w * (1.0 - w) / draws as f64).sqrt();
        assert!((g - w).abs() <= 5.0 * sd + 1e-9, "{what}: class {c} share {g:.4}, expected {w:.4} (sd {sd:.4})");
    }
}

#[test]
fn instance_balanced_epochs_are_permutations_of_the_dataset() {
    let labels = long_tail_labels();
    let s = Sampler::new(SamplerKind::InstanceBalanced, &labels, 4, 1).unwrap();
    let mut order = s.epoch(0);
    assert_eq!(order.len(), labels.len());
    assert_ne!(order, (0..labels.len()).collect::<Vec<_>>());
    order.sort_unstable();
    assert_eq!(order, (0..labels.len()).collect::<Vec<_>>());
}

#[test]
fn class_balanced_draws_runs_of_k_from_each_class_equally_often() {
    let labels = long_tail_labels();
    let k = 4;
    let s = Sampler::new(SamplerKind::ClassBalanced { samples_per_class: k }, &labels, 4, 3).unwrap().with_epoch_len(4000);
    let order = s.epoch(0);
    assert_eq!(order.len(), 4000);
    for run in order.chunks(k) {
        assert!(run.iter().all(|&i| labels[i] == labels[run[0]]), "k samples of one class in a row");
    }
    // Classes are visited in shuffled cycles, so the shares are exact up to one cycle.
    let f = class_frequencies(&order, &labels, 4);
    assert!(f.iter().all(|v| (v - 0.25).abs() <= 4.0 * k as f64 / 4000.0), "{f:?}");
    // The 10 images of the rarest class are all used, each about equally often.
    let mut uses = std::collections::HashMap::new();
    for &i in order.iter().filter(|&&i| labels[i] == 3) {
        *uses.entry(i).or_insert(0) += 1;
    }
    assert_eq!(uses.len(), 10);
    assert!(uses.values().all(|&u| (99..=101).contains(&u)), "{uses:?}");
}

#[test]
fn square_root_sampling_follows_the_square_root_of_the_class_sizes() {
    let labels = long_tail_labels();
    let s = Sampler::new(SamplerKind::SquareRoot, &labels, 4, 5).unwrap().with_epoch_len(20_000);
    let want = s.class_probabilities(0);
    let norm: f64 = [800f64, 200., 50., 10.].iter().map(|v| v.sqrt()).sum();
    assert!((want[0] - 800f64.sqrt() / norm).abs() < 1e-12);
    assert_frequencies("square root", &class_frequencies(&s.epoch(0), &labels, 4), &want, 20_000);
}

#[test]
fn progressively_balanced_moves_from_instance_to_class_balanced() {
    let labels = long_tail_labels();
    let s = Sampler::new(SamplerKind::ProgressivelyBalanced { total_epochs: 10 }, &labels, 4, 9).unwrap().with_epoch_len(20_000);
    let instance: Vec<f64> = [800.0, 200.0, 50.0, 10.0].iter().map(|v| v / 1060.0).collect();
    assert_eq!(s.class_probabilities(0), instance);
    assert!(s.class_probabilities(10).iter().all(|p| (p - 0.25).abs() < 1e-12));
    assert!(s.class_probabilities(25).iter().all(|p| (p - 0.25).abs() < 1e-12), "past T stays balanced");
    for epoch in [0, 5, 10] {
        let want = s.class_probabilities(epoch);
        assert_frequencies(&format!("epoch {epoch}"), &class_frequencies(&s.epoch(epoch), &labels, 4), &want, 20_000);
    }
    let mid = s.class_probabilities(5);
    assert!((mid[3] - (0.5 * 10.0 / 1060.0 + 0.5 * 0.25)).abs() < 1e-12);
}

#[test]
fn each_epoch_order_is_fixed_by_seed_and_epoch() {
    let labels = long_tail_labels();
    for kind in [
        SamplerKind::InstanceBalanced,
        SamplerKind::ClassBalanced { samples_per_class: 2 },
        SamplerKind::SquareRoot,
        SamplerKind::ProgressivelyBalanced { total_epochs: 4 },
    ] {
        let a = Sampler::new(kind, &labels, 4, 11).unwrap();
        let b = Sampler::new(kind, &labels, 4, 11).unwrap();
        // Any epoch, in any order, on a fresh sampler: the same indices.
        assert_eq!(a.epoch(3), b.epoch(3), "{kind:?}");
        let _ = b.epoch(0);
        assert_eq!(a.epoch(3), b.epoch(3), "{kind:?}: no hidden state between epochs");
        assert_ne!(a.epoch(3), a.epoch(4), "{kind:?}: epochs differ");
        let other = Sampler::new(kind, &labels, 4, 12).unwrap();
        assert_ne!(a.epoch(3), other.epoch(3), "{kind:?}: seeds differ");
    }
}

#[test]
fn balancing_samplers_refuse_an_empty_class_and_bad_settings() {
    let labels = vec![0u32, 0, 2, 2];
    let err = Sampler::new(SamplerKind::ClassBalanced { samples_per_class: 1 }, &labels, 3, 0).unwrap_err();
    assert!(err.is_usage() && err.to_string().contains("class 1 has no samples"), "{err}");
    assert!(Sampler::new(SamplerKind::InstanceBalanced, &labels, 3, 0).is_ok());
    assert!(Sampler::new(SamplerKind::ClassBalanced { samples_per_class: 0 }, &[0, 1], 2, 0).is_err());
    assert!(Sampler::new(SamplerKind::InstanceBalanced, &[0, 5], 2, 0).unwrap_err().to_string().contains("label 5"));
    let kind: SamplerKind = serde_json::from_str(r#"{"class_balanced": {"samples_per_class": 4}}"#).unwrap();
    assert_eq!(kind, SamplerKind::ClassBalanced { samples_per_class: 4 });
}

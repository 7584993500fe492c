//! Long-tailed versions of balanced datasets, and the class statistics long-tail results are
//! reported by.
//!
//! Profiles (class index `i` of `C`, imbalance factor `IF` = n_max / n_min):
//! - exponential, as CIFAR-10/100-LT (Cao et al., LDAM-DRW; used by SSD-LT): class `i` keeps
//!   `floor(n_max * (1/IF)^(i/(C-1)))`, computed in f64 exactly as the reference Python
//!   `int(img_max * (imb_factor ** (cls_idx / (cls_num - 1.0))))` with `imb_factor = 1/IF`, so
//!   CIFAR-10-LT IF 100 keeps 5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50;
//! - step: the first `C - floor(C * minority_fraction)` classes keep `n_max`, the others
//!   `floor(n_max / IF)`.
//!
//! Which images are kept is deterministic and written into the split lock
//! ([`super::split_lock`]): [`Selection::FirstInFileOrder`] keeps each class's first `n` images
//! in the source's order; [`Selection::Shuffled`] keeps the first `n` of a ChaCha8 permutation
//! seeded by `seed`. (LDAM-DRW's own code shuffles with NumPy's global seed 0; that draw cannot be
//! reproduced outside NumPy, so to match a published split exactly, read its lock file.)
//!
//! Shot groups follow Liu et al. (OLTR): many-shot classes have more than 100 training images,
//! few-shot fewer than 20, medium the rest; both thresholds are settings.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::dataset::Dataset;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Profile {
    /// Every image of every class (capped at `n_max` when set): for sources that are already
    /// long-tailed (ImageNet-LT, Places-LT, iNaturalist), so they get a split lock too.
    KeepAll,
    Exponential,
    /// `minority_fraction` of the classes (the last ones) are minority classes (0.5 in LDAM).
    Step { minority_fraction: f64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Selection {
    FirstInFileOrder,
    Shuffled { seed: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LongTailSpec {
    pub profile: Profile,
    /// n_max / n_min, at least 1 (1 keeps n_max images of every class).
    pub imbalance_factor: f64,
    /// Images kept of class 0; `None`: the largest class count of the source.
    #[serde(default)]
    pub n_max: Option<usize>,
    pub selection: Selection,
}

impl LongTailSpec {
    pub fn exponential(imbalance_factor: f64) -> Self {
        LongTailSpec { profile: Profile::Exponential, imbalance_factor, n_max: None, selection: Selection::FirstInFileOrder }
    }

    pub fn step(imbalance_factor: f64, minority_fraction: f64) -> Self {
        LongTailSpec {
            profile: Profile::Step { minority_fraction },
            imbalance_factor,
            n_max: None,
            selection: Selection::FirstInFileOrder,
        }
    }
}

/// Images each of `classes` classes keeps under `profile`.
pub fn class_targets(profile: Profile, imbalance_factor: f64, n_max: usize, classes: usize) -> Result<Vec<usize>> {
    if !(imbalance_factor >= 1.0 && imbalance_factor.is_finite()) {
        return Err(Error::invalid(
            "long-tail imbalance factor",
            format!("{imbalance_factor} (it is n_max / n_min: a finite number >= 1, e.g. 100)"),
        ));
    }
    if classes == 0 {
        return Err(Error::invalid("long-tail profile", "the dataset has no classes"));
    }
    let ratio = 1.0 / imbalance_factor;
    Ok(match profile {
        Profile::KeepAll => {
            return Err(Error::invalid(
                "long-tail profile",
                "keep_all takes each class's own count; it has no per-class targets of its own",
            ))
        }
        Profile::Exponential if classes == 1 => vec![n_max],
        Profile::Exponential => (0..classes)
            .map(|i| (n_max as f64 * ratio.powf(i as f64 / (classes as f64 - 1.0))) as usize)
            .collect(),
        Profile::Step { minority_fraction } => {
            if !(0.0..=1.0).contains(&minority_fraction) {
                return Err(Error::invalid(
                    "step profile",
                    format!("minority_fraction {minority_fraction} must be in [0, 1] (LDAM uses 0.5)"),
                ));
            }
            let minority = (classes as f64 * minority_fraction) as usize;
            (0..classes).map(|i| if i < classes - minority { n_max } else { (n_max as f64 * ratio) as usize }).collect()
        }
    })
}

/// Indices (into `dataset.samples`, ascending) kept by `spec`, and the per-class counts.
pub fn long_tail_indices(dataset: &Dataset, spec: &LongTailSpec) -> Result<(Vec<usize>, Vec<usize>)> {
    let classes = dataset.num_classes();
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (i, s) in dataset.samples.iter().enumerate() {
        by_class[s.label as usize].push(i);
    }
    let largest = by_class.iter().map(Vec::len).max().unwrap_or(0);
    let n_max = spec.n_max.unwrap_or(largest);
    let targets = match spec.profile {
        Profile::KeepAll => by_class.iter().map(|m| m.len().min(n_max)).collect(),
        profile => class_targets(profile, spec.imbalance_factor, n_max, classes)?,
    };
    let mut kept = Vec::with_capacity(targets.iter().sum());
    for (class, (members, &want)) in by_class.iter_mut().zip(&targets).enumerate() {
        if members.len() < want {
            return Err(Error::invalid(
                "long-tail profile",
                format!(
                    "class {class} (`{}`) of {} {} has {} images but the profile keeps {want}; lower n_max \
                     (now {n_max}) or start from a larger split",
                    dataset.class_names[class],
                    dataset.name,
                    dataset.split,
                    members.len()
                ),
            ));
        }
        if want == 0 {
            return Err(Error::invalid(
                "long-tail profile",
                format!(
                    "class {class} would keep no images (n_max {n_max} / imbalance factor {}); raise n_max or \
                     lower the imbalance factor",
                    spec.imbalance_factor
                ),
            ));
        }
        if let Selection::Shuffled { seed } = spec.selection {
            use rand::seq::SliceRandom;
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (class as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            members.shuffle(&mut rng);
        }
        kept.extend_from_slice(&members[..want]);
    }
    kept.sort_unstable();
    Ok((kept, targets))
}

/// Many / medium / few-shot thresholds on training images per class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShotThresholds {
    /// Many-shot: more than this many images (100).
    pub many_above: usize,
    /// Few-shot: fewer than this many images (20).
    pub few_below: usize,
}

impl Default for ShotThresholds {
    fn default() -> Self {
        ShotThresholds { many_above: 100, few_below: 20 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShotGroup {
    Many,
    Medium,
    Few,
}

/// Per-class counts of a training split and what follows from them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassStats {
    pub counts: Vec<usize>,
    pub total: usize,
    /// Largest count / smallest count.
    pub imbalance_ratio: f64,
    pub thresholds: ShotThresholds,
    pub groups: Vec<ShotGroup>,
}

impl ClassStats {
    pub fn from_counts(counts: &[usize], thresholds: ShotThresholds) -> ClassStats {
        let max = counts.iter().copied().max().unwrap_or(0);
        let min = counts.iter().copied().min().unwrap_or(0);
        let groups = counts
            .iter()
            .map(|&n| {
                if n > thresholds.many_above {
                    ShotGroup::Many
                } else if n < thresholds.few_below {
                    ShotGroup::Few
                } else {
                    ShotGroup::Medium
                }
            })
            .collect();
        ClassStats {
            counts: counts.to_vec(),
            total: counts.iter().sum(),
            imbalance_ratio: if min == 0 { f64::INFINITY } else { max as f64 / min as f64 },
            thresholds,
            groups,
        }
    }

    pub fn of(dataset: &Dataset, thresholds: ShotThresholds) -> ClassStats {
        ClassStats::from_counts(&dataset.class_counts(), thresholds)
    }

    /// Classes in `group`, ascending.
    pub fn classes_in(&self, group: ShotGroup) -> Vec<usize> {
        self.groups.iter().enumerate().filter(|(_, g)| **g == group).map(|(c, _)| c).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_profile_matches_the_cifar10_lt_reference_counts() {
        let got = class_targets(Profile::Exponential, 100.0, 5000, 10).unwrap();
        assert_eq!(got, vec![5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]);
        assert_eq!(got.iter().sum::<usize>(), 12406);
        let c100 = class_targets(Profile::Exponential, 100.0, 500, 100).unwrap();
        assert_eq!((c100[0], c100[99], c100.iter().sum::<usize>()), (500, 5, 10847));
    }

    #[test]
    fn step_profile_halves_the_classes() {
        assert_eq!(class_targets(Profile::Step { minority_fraction: 0.5 }, 10.0, 100, 4).unwrap(), vec![100, 100, 10, 10]);
        assert!(class_targets(Profile::Exponential, 0.5, 100, 4).is_err());
    }
}

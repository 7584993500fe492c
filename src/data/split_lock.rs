//! The split lock: a JSON file recording exactly which samples a long-tailed split keeps (id,
//! label, content hash), with the per-class counts and how it was made (generator, profile,
//! imbalance factor, n_max, selection and seed). Publishing the lock lets anyone rebuild the
//! same split from their copy of the source, and a changed or missing image is caught rather
//! than silently training on different data.
//!
//! The fingerprint is a blake3 hash over the format version, the dataset name, the source split
//! and the kept (id, label, hash) triples sorted by id: two locks with the same fingerprint
//! describe the same training set, however they were made. Results carry it, and
//! [`ensure_same_split`] refuses to compare results from different splits.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::dataset::{ContentHash, Dataset, Split};
use super::long_tail::{long_tail_indices, LongTailSpec};
use crate::error::{Error, Result};

/// Bumped when the lock layout or the fingerprint recipe changes.
pub const SPLIT_LOCK_VERSION: u32 = 1;

/// What produced the lock.
pub const GENERATOR: &str = concat!("ssdlt ", env!("CARGO_PKG_VERSION"), " long_tail v1");

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedSample {
    pub id: String,
    pub label: u32,
    pub hash: ContentHash,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitLock {
    pub version: u32,
    pub generator: String,
    pub dataset: String,
    pub source_split: Split,
    pub class_names: Vec<String>,
    pub spec: LongTailSpec,
    /// n_max actually used (the spec's, or the source's largest class).
    pub n_max: usize,
    pub class_counts: Vec<usize>,
    pub fingerprint: String,
    pub kept: Vec<LockedSample>,
}

fn fingerprint_of(dataset: &str, split: Split, kept: &[LockedSample]) -> String {
    let mut sorted: Vec<&LockedSample> = kept.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    let mut h = blake3::Hasher::new();
    h.update(b"ssdlt-split-lock");
    h.update(&SPLIT_LOCK_VERSION.to_le_bytes());
    for field in [dataset, split.as_str()] {
        h.update(&(field.len() as u64).to_le_bytes());
        h.update(field.as_bytes());
    }
    for s in sorted {
        h.update(&(s.id.len() as u64).to_le_bytes());
        h.update(s.id.as_bytes());
        h.update(&s.label.to_le_bytes());
        h.update(&s.hash.0);
    }
    h.finalize().to_hex().to_string()
}

impl SplitLock {
    /// Applies `spec` to `source` and records the result.
    pub fn create(source: &Dataset, spec: &LongTailSpec) -> Result<SplitLock> {
        let (indices, class_counts) = long_tail_indices(source, spec)?;
        let kept: Vec<LockedSample> = indices
            .iter()
            .map(|&i| {
                let s = &source.samples[i];
                LockedSample { id: s.id.clone(), label: s.label, hash: s.hash }
            })
            .collect();
        let n_max = spec.n_max.unwrap_or_else(|| source.class_counts().into_iter().max().unwrap_or(0));
        Ok(SplitLock {
            version: SPLIT_LOCK_VERSION,
            generator: GENERATOR.to_string(),
            dataset: source.name.clone(),
            source_split: source.split,
            class_names: source.class_names.clone(),
            spec: *spec,
            n_max,
            class_counts,
            fingerprint: fingerprint_of(&source.name, source.split, &kept),
            kept,
        })
    }

    /// A short form of the fingerprint for logs and file names (16 hex digits).
    pub fn short_fingerprint(&self) -> &str {
        self.fingerprint.get(..16).unwrap_or(&self.fingerprint)
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).expect("a split lock always serializes");
        crate::store::atomic::write_atomically(path, json.as_bytes())
    }

    /// Reads a lock and checks that its fingerprint and counts match its contents.
    pub fn read(path: &Path) -> Result<SplitLock> {
        let fix = "restore the lock file as published (it must not be edited by hand), or create a new split";
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::data_file(path, format!("cannot read split lock: {e}"), fix))?;
        let lock: SplitLock = serde_json::from_str(&text).map_err(|e| {
            Error::data_record(path, format!("line {} column {}", e.line(), e.column()), e.to_string(), fix)
        })?;
        if lock.version != SPLIT_LOCK_VERSION {
            return Err(Error::data_file(
                path,
                format!("split lock version {} (this ssdlt reads version {SPLIT_LOCK_VERSION})", lock.version),
                "use the ssdlt version that wrote it, or recreate the split from its recorded profile",
            ));
        }
        let recomputed = fingerprint_of(&lock.dataset, lock.source_split, &lock.kept);
        if recomputed != lock.fingerprint {
            return Err(Error::data_file(
                path,
                format!("fingerprint {} does not match the kept samples (they hash to {recomputed})", lock.fingerprint),
                fix,
            ));
        }
        let mut counts = vec![0usize; lock.class_names.len()];
        for (i, s) in lock.kept.iter().enumerate() {
            match counts.get_mut(s.label as usize) {
                Some(c) => *c += 1,
                None => {
                    return Err(Error::data_record(
                        path,
                        format!("kept entry {i} (`{}`)", s.id),
                        format!("label {} is outside the {} classes", s.label, lock.class_names.len()),
                        fix,
                    ))
                }
            }
        }
        if counts != lock.class_counts {
            return Err(Error::data_file(path, "class_counts do not match the kept samples", fix));
        }
        Ok(lock)
    }

    /// The locked split taken from `source`, in the lock's order. Fails when an id is missing from
    /// the source or its label or content differs.
    pub fn apply(&self, source: &Dataset) -> Result<Dataset> {
        use std::collections::HashMap;
        if source.name != self.dataset || source.split != self.source_split {
            return Err(Error::SplitMismatch {
                message: format!(
                    "the lock is for {} {}, the source is {} {}",
                    self.dataset, self.source_split, source.name, source.split
                ),
                fix: "load the dataset and split the lock was made from".to_string(),
            });
        }
        let by_id: HashMap<&str, usize> = source.samples.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
        let mut indices = Vec::with_capacity(self.kept.len());
        for k in &self.kept {
            let i = *by_id.get(k.id.as_str()).ok_or_else(|| Error::SplitMismatch {
                message: format!("sample `{}` of the lock is not in the {} {} source", k.id, source.name, source.split),
                fix: "complete your copy of the dataset (the lock names every kept sample)".to_string(),
            })?;
            let s = &source.samples[i];
            if s.hash != k.hash || s.label != k.label {
                return Err(Error::SplitMismatch {
                    message: format!(
                        "sample `{}` differs from the lock (label {} vs {}, hash {} vs {})",
                        k.id,
                        s.label,
                        k.label,
                        &s.hash.to_hex()[..16],
                        &k.hash.to_hex()[..16]
                    ),
                    fix: "use the same copy of the dataset the lock was made from (re-download it)".to_string(),
                });
            }
            indices.push(i);
        }
        Ok(source.subset(&indices))
    }
}

/// Refuses to compare results made on different splits. `a` and `b` name the results (e.g. the
/// run folders) for the message.
pub fn ensure_same_split(a: &str, a_fingerprint: &str, b: &str, b_fingerprint: &str) -> Result<()> {
    if a_fingerprint == b_fingerprint {
        return Ok(());
    }
    let short = |f: &str| f.chars().take(16).collect::<String>();
    Err(Error::SplitMismatch {
        message: format!(
            "{a} was trained on split {} and {b} on split {}: their accuracies are not comparable",
            short(a_fingerprint),
            short(b_fingerprint)
        ),
        fix: "re-run one of them with the other's split lock file".to_string(),
    })
}

//! The dataset manifest as a differential-dataflow collection: what changed since the last run,
//! class counts and shot groups maintained from the changes, and which samples still need work.
//!
//! [`track_manifests`] feeds a sequence of manifest versions into one dataflow, version `i` at
//! time `i`: version 0 is inserted, each later version arrives as a diff against the one before
//! (its predecessor retracted, itself inserted; differential consolidates the two so only the
//! samples that differ flow on). Downstream of the entries:
//! - the consolidated updates at each time are the delta (added / removed / changed ids);
//! - `label` of the training entries, counted (`count` arranges by label), is the class count
//!   collection, updated by a retraction and an insertion per touched class;
//! - each count mapped to its shot group (many / medium / few) is the group collection, which
//!   only moves when a class crosses a threshold.
//!
//! [`uncached`] is an antijoin: the wanted (id, hash) keys minus those a cache holds.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use differential_dataflow::input::Input;

use crate::data::long_tail::{ShotGroup, ShotThresholds};
use crate::data::{ContentHash, ManifestDiff, ManifestEntry, Split};

/// A manifest entry as differential data: (id, (hash, label, split)).
type Row = (String, ([u8; 32], u32, Split));

fn row(e: &ManifestEntry) -> Row {
    (e.id.clone(), (e.hash.0, e.label, e.split))
}

fn entry((id, (hash, label, split)): &Row) -> ManifestEntry {
    ManifestEntry { id: id.clone(), hash: ContentHash(*hash), label: *label, split: *split }
}

/// Shot groups by code, as they travel through the dataflow (ordered, hashable data).
const GROUPS: [ShotGroup; 3] = [ShotGroup::Many, ShotGroup::Medium, ShotGroup::Few];

fn group_code(n: usize, thresholds: ShotThresholds) -> u8 {
    if n > thresholds.many_above {
        0
    } else if n < thresholds.few_below {
        2
    } else {
        1
    }
}

/// One version of the manifest as the dataflow saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestStep {
    /// Against the previous version (everything is `added` for version 0); sorted by id.
    pub delta: ManifestDiff,
    /// Training images per class label, from the count collection (classes without images
    /// are absent).
    pub class_counts: BTreeMap<u32, usize>,
    /// Shot group of each class with training images, from the group collection.
    pub groups: BTreeMap<u32, ShotGroup>,
}

/// Accumulates a collection's updates: the value whose multiplicity is non-zero.
fn accumulate<K: Ord + Clone, V: Ord + Clone>(updates: &[((K, V), isize)]) -> BTreeMap<K, V> {
    let mut weights: BTreeMap<(K, V), isize> = BTreeMap::new();
    for (kv, diff) in updates {
        *weights.entry(kv.clone()).or_default() += diff;
    }
    weights.into_iter().filter(|(_, w)| *w > 0).map(|((k, v), _)| (k, v)).collect()
}

/// Runs `versions` through the manifest dataflow and returns what it maintained after each one.
/// `thresholds` are the many/few shot limits on training images per class.
pub fn track_manifests(versions: &[Vec<ManifestEntry>], thresholds: ShotThresholds) -> Vec<ManifestStep> {
    let rows: Vec<Vec<Row>> = versions.iter().map(|v| v.iter().map(row).collect()).collect();
    timely::execute_directly(move |worker| {
        type Updates<D> = Rc<RefCell<Vec<(D, u64, isize)>>>;
        let deltas: Updates<Row> = Rc::default();
        let counts: Updates<(u32, isize)> = Rc::default();
        let groups: Updates<(u32, u8)> = Rc::default();
        let (mut input, probe) = worker.dataflow::<u64, _, _>(|scope| {
            let (input, entries) = scope.new_collection::<Row, isize>();
            let seen = deltas.clone();
            entries.clone().consolidate().inspect(move |u| seen.borrow_mut().push(u.clone()));
            let class_counts = entries.filter(|(_, (_, _, split))| *split == Split::Train).map(|(_, (_, label, _))| label).count();
            let seen = counts.clone();
            let class_counts = class_counts.inspect(move |u| seen.borrow_mut().push(*u));
            let seen = groups.clone();
            let (probe, _) = class_counts
                .map(move |(label, n)| (label, group_code(n.max(0) as usize, thresholds)))
                .consolidate()
                .inspect(move |u| seen.borrow_mut().push(*u))
                .probe();
            (input, probe)
        });

        let mut steps = Vec::with_capacity(rows.len());
        let mut count_updates: Vec<((u32, usize), isize)> = Vec::new();
        let mut group_updates: Vec<((u32, u8), isize)> = Vec::new();
        for (t, version) in rows.iter().enumerate() {
            let t = t as u64;
            if t > 0 {
                for r in &rows[t as usize - 1] {
                    input.remove(r.clone());
                }
            }
            for r in version {
                input.insert(r.clone());
            }
            input.advance_to(t + 1);
            input.flush();
            worker.step_while(|| probe.less_than(input.time()));

            let mut changes: BTreeMap<String, (Option<Row>, Option<Row>)> = BTreeMap::new();
            for (r, time, diff) in deltas.borrow_mut().drain(..) {
                debug_assert_eq!(time, t);
                let slot = changes.entry(r.0.clone()).or_default();
                if diff > 0 {
                    slot.1 = Some(r);
                } else {
                    slot.0 = Some(r);
                }
            }
            let mut delta = ManifestDiff::default();
            for (_, change) in changes {
                match change {
                    (None, Some(new)) => delta.added.push(entry(&new)),
                    (Some(old), None) => delta.removed.push(entry(&old)),
                    (Some(old), Some(new)) => delta.changed.push((entry(&old), entry(&new))),
                    (None, None) => {}
                }
            }
            count_updates.extend(counts.borrow_mut().drain(..).map(|((label, n), _, d)| ((label, n.max(0) as usize), d)));
            group_updates.extend(groups.borrow_mut().drain(..).map(|(lg, _, d)| (lg, d)));
            let groups = accumulate(&group_updates).into_iter().map(|(label, code)| (label, GROUPS[code as usize])).collect();
            steps.push(ManifestStep { delta, class_counts: accumulate(&count_updates), groups });
        }
        steps
    })
}

/// The delta from `old` to `new` and the class counts and groups after it, through the dataflow.
pub fn manifest_delta(old: &[ManifestEntry], new: &[ManifestEntry], thresholds: ShotThresholds) -> ManifestStep {
    track_manifests(&[old.to_vec(), new.to_vec()], thresholds).pop().expect("two versions give two steps")
}

/// Keys of `wanted` (sample id, content hash) that are not in `cached`, in `wanted`'s order:
/// `wanted` antijoined with the distinct `cached` keys.
pub fn uncached(wanted: &[(String, ContentHash)], cached: &[(String, ContentHash)]) -> Vec<(String, ContentHash)> {
    let wanted_rows: Vec<((String, [u8; 32]), usize)> =
        wanted.iter().enumerate().map(|(i, (id, h))| ((id.clone(), h.0), i)).collect();
    let cached_rows: Vec<(String, [u8; 32])> = cached.iter().map(|(id, h)| (id.clone(), h.0)).collect();
    let mut left: Vec<usize> = timely::execute_directly(move |worker| {
        let out: Rc<RefCell<Vec<(usize, isize)>>> = Rc::default();
        let seen = out.clone();
        worker.dataflow::<u64, _, _>(|scope| {
            let (_, want) = scope.new_collection_from(wanted_rows);
            let (_, have) = scope.new_collection_from(cached_rows);
            want.antijoin(have.distinct()).consolidate().inspect(move |((_, i), _, d)| seen.borrow_mut().push((*i, *d)));
        });
        while worker.has_dataflows() {
            worker.step_or_park(None);
        }
        let result: Vec<usize> = out.borrow().iter().filter(|(_, d)| *d > 0).map(|(i, _)| *i).collect();
        result
    });
    left.sort_unstable();
    left.into_iter().map(|i| wanted[i].clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, byte: u8) -> (String, ContentHash) {
        (id.to_string(), ContentHash([byte; 32]))
    }

    #[test]
    fn uncached_keeps_wanted_order_and_ignores_duplicate_cache_entries() {
        let wanted = vec![key("c", 1), key("a", 1), key("b", 2), key("d", 4)];
        let cached = vec![key("a", 1), key("a", 1), key("b", 3), key("z", 9)];
        assert_eq!(uncached(&wanted, &cached), vec![key("c", 1), key("b", 2), key("d", 4)]);
        assert_eq!(uncached(&wanted, &[]), wanted);
        assert!(uncached(&[], &cached).is_empty());
    }
}

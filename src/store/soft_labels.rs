//! Soft labels in memory: one row per (sample, view) with the teacher's top-k classes and
//! probabilities. The Arrow IPC file format that stores them is written and read here too.
//!
//! Views: view 0 is the un-augmented sample (`LoadedData::eval_pipeline`); view v >= 1 is
//! `LoadedData::train_pipeline(augment).view(dataset, index, pipeline_seed, SOFT_LABEL_EPOCH,
//! SOFT_VIEW_BASE + v)`, so a student replays exactly the pixels the teacher saw.

use crate::data::ContentHash;

/// Replay epoch of augmented soft-label views.
pub const SOFT_LABEL_EPOCH: u64 = 0;
/// Added to a soft-label view number in the augmentation replay key, so it never collides
/// with a training view (0 = query, 1 = key).
pub const SOFT_VIEW_BASE: u32 = 1 << 16;

#[derive(Debug, Clone, PartialEq)]
pub struct SoftLabelRow {
    pub id: String,
    pub hash: ContentHash,
    pub view: u32,
    /// The k class ids, most probable first.
    pub classes: Vec<u32>,
    /// Their probabilities at `temperature` (summing to at most 1).
    pub probs: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SoftLabelSet {
    pub temperature: f32,
    /// Classes kept per row (`num_classes` when dense).
    pub k: usize,
    pub num_classes: usize,
    pub teacher_fingerprint: String,
    pub views: u32,
    pub rows: Vec<SoftLabelRow>,
}

impl SoftLabelSet {
    /// Row index of each (sample id, view).
    pub fn index(&self) -> std::collections::HashMap<(&str, u32), usize> {
        self.rows.iter().enumerate().map(|(i, r)| ((r.id.as_str(), r.view), i)).collect()
    }
}

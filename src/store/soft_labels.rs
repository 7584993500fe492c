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

/// Bumped when the soft-label file layout changes; readers refuse other versions.
pub const SOFT_LABELS_SCHEMA_VERSION: u32 = 1;

/// Schema metadata keys of a soft-label file (readable with `pyarrow.ipc.open_file(p).schema.metadata`).
pub mod keys {
    pub const FORMAT: &str = "ssdlt.format";
    pub const SCHEMA_VERSION: &str = "ssdlt.schema_version";
    pub const TEMPERATURE: &str = "ssdlt.temperature";
    pub const K: &str = "ssdlt.k";
    pub const NUM_CLASSES: &str = "ssdlt.num_classes";
    pub const VIEWS: &str = "ssdlt.views";
    pub const TEACHER_FINGERPRINT: &str = "ssdlt.teacher_fingerprint";
}

/// `ssdlt.format` of a soft-label file.
pub const SOFT_LABELS_FORMAT: &str = "soft_labels";

/// The Arrow schema of a soft-label file with `k` classes per row:
/// `id` utf8, `hash` fixed_size_binary(32) (blake3 of the sample's bytes), `view` uint32,
/// `classes` fixed_size_list<uint32, k> (most probable first), `probs` fixed_size_list<float32, k>;
/// temperature, k, class count, views and the teacher's fingerprint in the schema metadata.
pub fn soft_labels_schema(set: &SoftLabelSet) -> arrow::datatypes::Schema {
    use arrow::datatypes::{DataType, Field, Schema};
    use crate::store::arrow_io::{fixed_list_type, metadata_map};
    let fields = vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("hash", DataType::FixedSizeBinary(32), false),
        Field::new("view", DataType::UInt32, false),
        Field::new("classes", fixed_list_type(DataType::UInt32, set.k), false),
        Field::new("probs", fixed_list_type(DataType::Float32, set.k), false),
    ];
    Schema::new(fields).with_metadata(metadata_map(&[
        (keys::FORMAT, SOFT_LABELS_FORMAT.to_string()),
        (keys::SCHEMA_VERSION, SOFT_LABELS_SCHEMA_VERSION.to_string()),
        (keys::TEMPERATURE, set.temperature.to_string()),
        (keys::K, set.k.to_string()),
        (keys::NUM_CLASSES, set.num_classes.to_string()),
        (keys::VIEWS, set.views.to_string()),
        (keys::TEACHER_FINGERPRINT, set.teacher_fingerprint.clone()),
    ]))
}

impl SoftLabelSet {
    /// Checks the set's own consistency (row widths, class ids, probabilities, views); `path`
    /// names the file in the error.
    pub fn validate(&self, path: &std::path::Path) -> crate::Result<()> {
        let bad = |m: String| crate::Error::File { path: path.to_path_buf(), message: m };
        if self.k == 0 || self.k > self.num_classes {
            return Err(bad(format!("k = {} classes per row with {} classes; k must be in 1..={}", self.k, self.num_classes, self.num_classes)));
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(bad(format!("temperature {} must be a positive number", self.temperature)));
        }
        for (i, r) in self.rows.iter().enumerate() {
            if r.classes.len() != self.k || r.probs.len() != self.k {
                return Err(bad(format!("row {i} (sample `{}`, view {}): {} classes and {} probabilities, expected {}", r.id, r.view, r.classes.len(), r.probs.len(), self.k)));
            }
            if let Some(c) = r.classes.iter().find(|&&c| c as usize >= self.num_classes) {
                return Err(bad(format!("row {i} (sample `{}`): class {c} outside 0..{}", r.id, self.num_classes)));
            }
            if r.view >= self.views {
                return Err(bad(format!("row {i} (sample `{}`): view {} but the file has {} views", r.id, r.view, self.views)));
            }
            let sum: f32 = r.probs.iter().sum();
            if r.probs.iter().any(|p| !(0.0..=1.0).contains(p)) || sum > 1.0 + 1e-4 {
                return Err(bad(format!("row {i} (sample `{}`, view {}): probabilities must lie in [0, 1] and sum to at most 1 (sum {sum})", r.id, r.view)));
            }
        }
        Ok(())
    }
}

/// The bytes of the Arrow IPC file holding `set` (`path` only names it in errors).
pub fn encode_soft_labels(set: &SoftLabelSet, path: &std::path::Path) -> crate::Result<Vec<u8>> {
    use arrow::array::{ArrayRef, StringArray, UInt32Array};
    use crate::store::arrow_io::{encode_ipc, fixed_list_f32, fixed_list_u32, hash_column};
    set.validate(path)?;
    let ids: ArrayRef = std::sync::Arc::new(StringArray::from_iter_values(set.rows.iter().map(|r| r.id.as_str())));
    let views: ArrayRef = std::sync::Arc::new(UInt32Array::from_iter_values(set.rows.iter().map(|r| r.view)));
    let classes = fixed_list_u32(set.rows.iter().flat_map(|r| r.classes.iter().copied()).collect(), set.k)?;
    let probs = fixed_list_f32(set.rows.iter().flat_map(|r| r.probs.iter().copied()).collect(), set.k)?;
    let columns = vec![ids, hash_column(set.rows.iter().map(|r| r.hash.0)), views, classes, probs];
    encode_ipc(soft_labels_schema(set), columns, path)
}

/// Reads a soft-label set from the bytes of its Arrow IPC file, checking the format, the schema
/// version and every row's shape (`path` names the file in errors).
pub fn decode_soft_labels(bytes: &[u8], path: &std::path::Path) -> crate::Result<SoftLabelSet> {
    use arrow::array::{Array, StringArray, UInt32Array};
    use crate::store::arrow_io::{column, decode_ipc, hash_values, list_values_f32, list_values_u32, metadata, metadata_parsed};
    let bad = |m: String| crate::Error::File { path: path.to_path_buf(), message: m };
    let (schema, batches) = decode_ipc(bytes, path)?;
    let format = metadata(&schema, keys::FORMAT, path)?;
    if format != SOFT_LABELS_FORMAT {
        return Err(bad(format!("holds `{format}`, not soft labels")));
    }
    let version: u32 = metadata_parsed(&schema, keys::SCHEMA_VERSION, path)?;
    if version != SOFT_LABELS_SCHEMA_VERSION {
        return Err(bad(format!("soft-label schema version {version}; this ssdlt reads version {SOFT_LABELS_SCHEMA_VERSION}: re-run the soft_labels stage")));
    }
    let mut set = SoftLabelSet {
        temperature: metadata_parsed(&schema, keys::TEMPERATURE, path)?,
        k: metadata_parsed(&schema, keys::K, path)?,
        num_classes: metadata_parsed(&schema, keys::NUM_CLASSES, path)?,
        teacher_fingerprint: metadata(&schema, keys::TEACHER_FINGERPRINT, path)?.to_string(),
        views: metadata_parsed(&schema, keys::VIEWS, path)?,
        rows: Vec::new(),
    };
    for batch in &batches {
        let ids = column::<StringArray>(batch, "id", "Utf8", path)?;
        let views = column::<UInt32Array>(batch, "view", "UInt32", path)?;
        let hashes = hash_values(batch, "hash", path)?;
        let (classes, kc) = list_values_u32(batch, "classes", path)?;
        let (probs, kp) = list_values_f32(batch, "probs", path)?;
        if kc != set.k || kp != set.k {
            return Err(bad(format!("rows hold {kc} classes and {kp} probabilities but the metadata says k = {}", set.k)));
        }
        if ids.null_count() > 0 {
            return Err(bad("column `id` has nulls".to_string()));
        }
        for i in 0..batch.num_rows() {
            set.rows.push(SoftLabelRow {
                id: ids.value(i).to_string(),
                hash: ContentHash(hashes[i]),
                view: views.value(i),
                classes: classes[i * set.k..(i + 1) * set.k].to_vec(),
                probs: probs[i * set.k..(i + 1) * set.k].to_vec(),
            });
        }
    }
    set.validate(path)?;
    Ok(set)
}

/// Writes `set` to `path` as an Arrow IPC file, atomically (temporary file + rename).
pub fn write_soft_labels(path: &std::path::Path, set: &SoftLabelSet) -> crate::Result<()> {
    let bytes = encode_soft_labels(set, path)?;
    crate::store::atomic::write_atomically(path, &bytes)
}

/// Reads the soft-label file at `path` (what a distilled student trains from). Errors name the
/// file and what is wrong with it.
pub fn read_soft_labels(path: &std::path::Path) -> crate::Result<SoftLabelSet> {
    let bytes = std::fs::read(path).map_err(|e| crate::Error::io(path, e))?;
    decode_soft_labels(&bytes, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn set() -> SoftLabelSet {
        let row = |id: &str, view: u32, classes: Vec<u32>, probs: Vec<f32>| SoftLabelRow { id: id.into(), hash: ContentHash::of(id.as_bytes()), view, classes, probs };
        SoftLabelSet {
            temperature: 2.0,
            k: 2,
            num_classes: 3,
            teacher_fingerprint: "teacher-fp".into(),
            views: 2,
            rows: vec![row("a", 0, vec![2, 0], vec![0.7, 0.2]), row("a", 1, vec![1, 2], vec![0.5, 0.5]), row("b", 0, vec![0, 1], vec![0.9, 0.05])],
        }
    }

    #[test]
    fn a_soft_label_set_round_trips_through_arrow_ipc_bytes() {
        let bytes = encode_soft_labels(&set(), Path::new("mem.arrow")).unwrap();
        assert_eq!(decode_soft_labels(&bytes, Path::new("mem.arrow")).unwrap(), set());
        let empty = SoftLabelSet { rows: Vec::new(), ..set() };
        assert_eq!(decode_soft_labels(&encode_soft_labels(&empty, Path::new("e")).unwrap(), Path::new("e")).unwrap(), empty);
    }

    #[test]
    fn another_schema_version_is_refused_with_the_file_name() {
        let mut schema = soft_labels_schema(&set());
        schema.metadata.insert(keys::SCHEMA_VERSION.to_string(), "99".to_string());
        let columns = {
            let bytes = encode_soft_labels(&set(), Path::new("x")).unwrap();
            let (_, batches) = crate::store::arrow_io::decode_ipc(&bytes, Path::new("x")).unwrap();
            batches[0].columns().to_vec()
        };
        let bytes = crate::store::arrow_io::encode_ipc(schema, columns, Path::new("x")).unwrap();
        let err = decode_soft_labels(&bytes, Path::new("old/soft_labels.arrow")).unwrap_err().to_string();
        assert!(err.contains("old/soft_labels.arrow") && err.contains("schema version 99"), "{err}");
    }
}

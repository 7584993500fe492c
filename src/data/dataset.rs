//! The in-memory form every source produces: a [`Dataset`] of [`Sample`]s, each with a stable id,
//! a label, a blake3 hash of its raw bytes and where its pixels live, plus the [`Manifest`]
//! (id, hash, label, split) that downstream caches key on.
//!
//! Pixels stay in their stored form (u8 planes shared by all samples of a binary file, an encoded
//! JPEG/PNG on disk, or a synthetic recipe) until [`Dataset::image`] decodes one sample to f32
//! CHW in [0, 1], so a 115k-image list costs a few megabytes until it is read.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::pixels::{decode_file, Image};
use super::synthetic::{self, SyntheticSpec};
use crate::error::{Error, Result};

/// Which part of a dataset a sample belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    Train,
    Val,
    Test,
}

impl Split {
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
            Split::Test => "test",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// blake3 hash of a sample's raw bytes (the stored record or the encoded file), shown as hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    pub fn of(bytes: &[u8]) -> Self {
        ContentHash(*blake3::hash(bytes).as_bytes())
    }

    pub fn to_hex(&self) -> String {
        blake3::Hash::from_bytes(self.0).to_hex().to_string()
    }

    pub fn from_hex(hex: &str) -> Option<Self> {
        blake3::Hash::from_hex(hex).ok().map(|h| ContentHash(*h.as_bytes()))
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({})", &self.to_hex()[..16])
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for ContentHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ContentHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let hex = String::deserialize(d)?;
        ContentHash::from_hex(&hex)
            .ok_or_else(|| serde::de::Error::custom(format!("`{hex}` is not a 64-digit blake3 hex hash")))
    }
}

/// Where in which file a sample was read, so a later decode error can name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// 1-based line of a text list.
    Line(usize),
    /// 0-based record of a binary file (CIFAR record, IDX item).
    Record(usize),
    /// 0-based entry of a JSON array.
    Entry(usize),
    /// The file itself (class-per-folder trees).
    WholeFile,
    /// Generated, not read.
    Generated,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Record(n) => write!(f, "record {n}"),
            Location::Entry(n) => write!(f, "entry {n}"),
            Location::WholeFile => f.write_str("file"),
            Location::Generated => f.write_str("generated sample"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: Arc<Path>,
    pub location: Location,
}

/// Where a sample's pixels are and in what form.
#[derive(Debug, Clone)]
pub enum Pixels {
    /// u8 planes `[channels, height, width]` at `offset` in a buffer shared by a whole file.
    Planar { buffer: Arc<[u8]>, offset: usize, channels: usize, height: usize, width: usize },
    /// An encoded JPEG or PNG file.
    Encoded(PathBuf),
    /// Rendered on demand by the built-in generator.
    Synthetic { spec: SyntheticSpec, class: usize, index: u64 },
}

#[derive(Debug, Clone)]
pub struct Sample {
    /// Stable across runs and machines: `train/000123` for binary files, the relative path for
    /// image files.
    pub id: String,
    pub label: u32,
    pub hash: ContentHash,
    pub pixels: Pixels,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub struct Dataset {
    /// Short name, e.g. `cifar10`, `fashion-mnist`, `imagenet-lt`.
    pub name: String,
    pub split: Split,
    /// One name per class; labels index into it.
    pub class_names: Vec<String>,
    pub samples: Vec<Sample>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    pub fn labels(&self) -> Vec<u32> {
        self.samples.iter().map(|s| s.label).collect()
    }

    /// Images per class, indexed by label.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0usize; self.num_classes()];
        for s in &self.samples {
            counts[s.label as usize] += 1;
        }
        counts
    }

    /// Sample `i` decoded to f32 `[channels, height, width]` in [0, 1], at its stored size.
    /// A decode error names the file, where the sample came from and the sample id.
    pub fn image(&self, i: usize) -> Result<Image> {
        let sample = &self.samples[i];
        match &sample.pixels {
            Pixels::Planar { buffer, offset, channels, height, width } => {
                let n = channels * height * width;
                let bytes = &buffer[*offset..*offset + n];
                Ok(Image {
                    channels: *channels,
                    height: *height,
                    width: *width,
                    data: bytes.iter().map(|&b| b as f32 / 255.0).collect(),
                })
            }
            Pixels::Encoded(path) => decode_file(path).map_err(|e| match e {
                Error::DataFile { path, message, fix } => Error::data_record(
                    sample.origin.file.to_path_buf(),
                    sample.origin.location.to_string(),
                    format!("image {} (sample `{}`): {message}", path.display(), sample.id),
                    fix,
                ),
                other => other,
            }),
            Pixels::Synthetic { spec, class, index } => Ok(Image {
                channels: spec.channels,
                height: spec.size,
                width: spec.size,
                data: synthetic::render(spec, *class, *index),
            }),
        }
    }

    /// Fails with the class name and a fix when a class has no samples (samplers and long-tail
    /// profiles need every class).
    pub fn ensure_no_empty_class(&self, source: &Path) -> Result<()> {
        let counts = self.class_counts();
        if let Some(c) = counts.iter().position(|&n| n == 0) {
            return Err(Error::data_file(
                source,
                format!(
                    "class {c} (`{}`) of {} has no {} images ({} classes, {} images in all)",
                    self.class_names[c],
                    self.name,
                    self.split,
                    counts.len(),
                    self.len()
                ),
                "add images for the class, or remove it from the class list so that labels stay 0..C-1",
            ));
        }
        Ok(())
    }

    pub fn manifest(&self) -> Manifest {
        Manifest {
            version: MANIFEST_VERSION,
            dataset: self.name.clone(),
            class_names: self.class_names.clone(),
            entries: self
                .samples
                .iter()
                .map(|s| ManifestEntry { id: s.id.clone(), hash: s.hash, label: s.label, split: self.split })
                .collect(),
        }
    }

    /// A dataset holding only the samples at `indices`, in that order (class names are kept).
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        Dataset {
            name: self.name.clone(),
            split: self.split,
            class_names: self.class_names.clone(),
            samples: indices.iter().map(|&i| self.samples[i].clone()).collect(),
        }
    }
}

/// Bumped when the manifest layout or the meaning of an id or hash changes.
pub const MANIFEST_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    pub id: String,
    pub hash: ContentHash,
    pub label: u32,
    pub split: Split,
}

/// Every sample of a dataset split: what downstream stages key their caches on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub version: u32,
    pub dataset: String,
    pub class_names: Vec<String>,
    pub entries: Vec<ManifestEntry>,
}

/// What changed between two manifests, by id: the unit an incremental re-run retracts and inserts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestDiff {
    pub added: Vec<ManifestEntry>,
    pub removed: Vec<ManifestEntry>,
    /// (old, new) pairs with the same id and a different hash, label or split.
    pub changed: Vec<(ManifestEntry, ManifestEntry)>,
}

impl Manifest {
    pub fn write(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).expect("a manifest always serializes");
        std::fs::write(path, json).map_err(|e| Error::io(path, e))
    }

    pub fn read(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
            Error::data_record(path, format!("line {}", e.line()), e.to_string(), "rewrite the manifest with ssdlt")
        })?;
        if manifest.version != MANIFEST_VERSION {
            return Err(Error::data_file(
                path,
                format!("manifest version {} (this ssdlt reads version {MANIFEST_VERSION})", manifest.version),
                "regenerate the manifest from the dataset with this version of ssdlt",
            ));
        }
        Ok(manifest)
    }

    /// Entries of `new` not in `self`, of `self` not in `new`, and those whose content changed.
    pub fn diff(&self, new: &Manifest) -> ManifestDiff {
        use std::collections::HashMap;
        let old: HashMap<&str, &ManifestEntry> = self.entries.iter().map(|e| (e.id.as_str(), e)).collect();
        let newer: HashMap<&str, &ManifestEntry> = new.entries.iter().map(|e| (e.id.as_str(), e)).collect();
        let mut diff = ManifestDiff::default();
        for e in &new.entries {
            match old.get(e.id.as_str()) {
                None => diff.added.push(e.clone()),
                Some(o) if *o != e => diff.changed.push(((*o).clone(), e.clone())),
                Some(_) => {}
            }
        }
        diff.removed = self.entries.iter().filter(|e| !newer.contains_key(e.id.as_str())).cloned().collect();
        diff
    }
}

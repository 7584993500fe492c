//! Image-list datasets in the ImageNet-LT / Places-LT format: one text file per split, one line
//! per image, `relative/path.JPEG label`, paths relative to a root folder.
//!
//! The path is everything before the last run of whitespace, so paths with spaces work; blank
//! lines are skipped and the last line needs no newline (the published `ImageNet_LT_val.txt` has
//! none). A path may not leave the root (`..`, absolute paths) unless
//! [`ListOptions::allow_outside_root`] says so: a list copied from elsewhere must not read
//! arbitrary files. Sample ids are the paths as written; hashes cover the encoded file bytes.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use super::dataset::{ContentHash, Dataset, Location, Origin, Pixels, Sample, Split};
use crate::error::{Error, Result};

/// One parsed line of a list file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// 1-based line number in the list file.
    pub line: usize,
    pub path: String,
    pub label: u32,
}

#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Number of classes; labels must be below it. `None`: one more than the largest label, and
    /// every label in between must occur.
    pub classes: Option<usize>,
    /// Class names (length = classes); `None`: `class_0000`...
    pub class_names: Option<Vec<String>>,
    /// Let entries be absolute or contain `..`.
    pub allow_outside_root: bool,
}

const LIST_FIX: &str = "each line must be `relative/path/to/image.jpg <label>` with an integer label";

/// Parses a list file without touching the images.
pub fn parse_image_list(list: &Path) -> Result<Vec<ListEntry>> {
    let text = std::fs::read_to_string(list).map_err(|e| {
        Error::data_file(list, format!("cannot read image list: {e}"), "check the path of the split's list file")
    })?;
    let mut entries = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let bad = |message: String| Error::data_record(list, format!("line {}", i + 1), message, LIST_FIX);
        let (path, label) = line
            .rsplit_once(char::is_whitespace)
            .ok_or_else(|| bad(format!("`{line}` has no label (expected `path label`)")))?;
        let label: u32 =
            label.parse().map_err(|_| bad(format!("label `{label}` is not a non-negative integer")))?;
        entries.push(ListEntry { line: i + 1, path: path.trim_end().to_string(), label });
    }
    if entries.is_empty() {
        return Err(Error::data_file(list, "the image list has no entries", LIST_FIX));
    }
    Ok(entries)
}

/// Whether `path` stays inside the root it is joined to.
fn stays_inside(path: &Path) -> bool {
    path.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// Loads a list-file split over `root`: checks every path and label, reads and hashes every image
/// (in parallel). Errors name the list file and line.
pub fn load_image_list(root: &Path, list: &Path, split: Split, name: &str, options: &ListOptions) -> Result<Dataset> {
    let entries = parse_image_list(list)?;
    let max_label = entries.iter().map(|e| e.label).max().unwrap_or(0) as usize;
    let classes = options.classes.or(options.class_names.as_ref().map(Vec::len)).unwrap_or(max_label + 1);
    if let Some(names) = &options.class_names {
        if names.len() != classes {
            return Err(Error::invalid(
                "class names",
                format!("{} names given for {classes} classes of {}", names.len(), list.display()),
            ));
        }
    }
    let list_path: Arc<Path> = Arc::from(list);
    let loaded: Vec<Result<Sample>> = entries
        .par_iter()
        .map(|e| {
            let at = format!("line {}", e.line);
            if e.label as usize >= classes {
                return Err(Error::data_record(
                    list,
                    at,
                    format!("label {} of `{}` is outside the class range 0..{}", e.label, e.path, classes - 1),
                    "fix the label, or raise the number of classes in the dataset options",
                ));
            }
            let rel = Path::new(&e.path);
            if !options.allow_outside_root && !stays_inside(rel) {
                return Err(Error::data_record(
                    list,
                    at,
                    format!("`{}` leaves the dataset root {} (absolute path or `..`)", e.path, root.display()),
                    "write paths relative to the root, or set allow_outside_root if the list is trusted",
                ));
            }
            let file: PathBuf = root.join(rel);
            let bytes = std::fs::read(&file).map_err(|err| {
                Error::data_record(
                    list,
                    at,
                    format!("image {} cannot be read: {err}", file.display()),
                    "restore the image under the root, fix the root folder, or remove the line",
                )
            })?;
            Ok(Sample {
                id: e.path.clone(),
                label: e.label,
                hash: ContentHash::of(&bytes),
                pixels: Pixels::Encoded(file),
                origin: Origin { file: list_path.clone(), location: Location::Line(e.line) },
            })
        })
        .collect();
    let samples = loaded.into_iter().collect::<Result<Vec<_>>>()?;
    let class_names = options
        .class_names
        .clone()
        .unwrap_or_else(|| (0..classes).map(|c| format!("class_{c:04}")).collect());
    let dataset = Dataset { name: name.to_string(), split, class_names, samples };
    if options.classes.is_none() {
        dataset.ensure_no_empty_class(list)?;
    }
    Ok(dataset)
}

/// Images per label among `entries` (length: one more than the largest label).
pub fn list_class_counts(entries: &[ListEntry]) -> Vec<usize> {
    let classes = entries.iter().map(|e| e.label as usize + 1).max().unwrap_or(0);
    let mut counts = vec![0; classes];
    for e in entries {
        counts[e.label as usize] += 1;
    }
    counts
}

//! iNaturalist 2018-style COCO JSON: `images` (`id`, `file_name`), `annotations` (`image_id`,
//! `category_id`), `categories` (`id`, `name`), with `file_name` relative to a root folder.
//!
//! Labels are the category ids ranked in ascending order (iNat 2018's ids are already 0..8141, so
//! label = id there). Images keep the file's order; ids are the `file_name`s. Every image needs
//! exactly one annotation: the unlabelled iNat test file is not a training or evaluation split.

use std::collections::HashMap;
use std::path::{Component, Path};
use std::sync::Arc;

use rayon::prelude::*;
use serde::Deserialize;

use super::dataset::{ContentHash, Dataset, Location, Origin, Pixels, Sample, Split};
use crate::error::{Error, Result};

#[derive(Deserialize)]
struct InatFile {
    images: Vec<InatImage>,
    annotations: Vec<InatAnnotation>,
    categories: Vec<InatCategory>,
}

#[derive(Deserialize)]
struct InatImage {
    id: u64,
    file_name: String,
}

#[derive(Deserialize)]
struct InatAnnotation {
    image_id: u64,
    category_id: u64,
}

#[derive(Deserialize)]
struct InatCategory {
    id: u64,
    #[serde(default)]
    name: Option<String>,
}

/// Loads an iNaturalist-style JSON split with images under `root`.
pub fn load_inat(root: &Path, json: &Path, split: Split, name: &str) -> Result<Dataset> {
    let fix = "use the train2018.json / val2018.json files of iNaturalist 2018 (or the same COCO layout)";
    let text = std::fs::read_to_string(json)
        .map_err(|e| Error::data_file(json, format!("cannot read annotation file: {e}"), fix))?;
    let file: InatFile = serde_json::from_str(&text).map_err(|e| {
        Error::data_record(json, format!("line {} column {}", e.line(), e.column()), e.to_string(), fix)
    })?;
    let mut category_ids: Vec<u64> = file.categories.iter().map(|c| c.id).collect();
    category_ids.sort_unstable();
    category_ids.dedup();
    let label_of: HashMap<u64, u32> = category_ids.iter().enumerate().map(|(i, &id)| (id, i as u32)).collect();
    let mut names = vec![String::new(); category_ids.len()];
    for c in &file.categories {
        names[label_of[&c.id] as usize] = c.name.clone().unwrap_or_else(|| format!("category_{}", c.id));
    }
    let mut annotation_of: HashMap<u64, (usize, u64)> = HashMap::new();
    for (i, a) in file.annotations.iter().enumerate() {
        if !label_of.contains_key(&a.category_id) {
            return Err(Error::data_record(
                json,
                format!("annotations entry {i} (image id {})", a.image_id),
                format!("category_id {} is not among the {} categories", a.category_id, names.len()),
                "add the category to `categories` or fix the annotation",
            ));
        }
        if annotation_of.insert(a.image_id, (i, a.category_id)).is_some() {
            return Err(Error::data_record(
                json,
                format!("annotations entry {i}"),
                format!("image id {} has a second annotation", a.image_id),
                "keep one label per image (single-label classification)",
            ));
        }
    }
    let json_path: Arc<Path> = Arc::from(json);
    let loaded: Vec<Result<Sample>> = file
        .images
        .par_iter()
        .enumerate()
        .map(|(i, img)| {
            let at = format!("images entry {i} (image id {})", img.id);
            let &(_, category) = annotation_of.get(&img.id).ok_or_else(|| {
                Error::data_record(json, at.clone(), "the image has no annotation", "annotate it or drop it from `images`")
            })?;
            let rel = Path::new(&img.file_name);
            if !rel.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir)) {
                return Err(Error::data_record(
                    json,
                    at,
                    format!("file_name `{}` leaves the root {}", img.file_name, root.display()),
                    "file names must be relative to the image root",
                ));
            }
            let path = root.join(rel);
            let bytes = std::fs::read(&path).map_err(|e| {
                Error::data_record(
                    json,
                    at.clone(),
                    format!("image {} cannot be read: {e}", path.display()),
                    "restore the image under the root or fix the root folder",
                )
            })?;
            Ok(Sample {
                id: img.file_name.clone(),
                label: label_of[&category],
                hash: ContentHash::of(&bytes),
                pixels: Pixels::Encoded(path),
                origin: Origin { file: json_path.clone(), location: Location::Entry(i) },
            })
        })
        .collect();
    let samples = loaded.into_iter().collect::<Result<Vec<_>>>()?;
    Ok(Dataset { name: name.to_string(), split, class_names: names, samples })
}

//! Class-per-folder trees (torchvision's `ImageFolder` layout): `root/<class>/**/<image>.{jpg,jpeg,png}`.
//!
//! Classes are the sub-folders of `root` sorted by name (label = rank), images are found
//! recursively and sorted by path, so labels and order match `ImageFolder`. Sample ids are the
//! paths relative to `root` with `/` separators; hashes cover the encoded file bytes. A class
//! folder without images is an error (an empty class breaks class-balanced sampling and the
//! long-tail profiles).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use super::dataset::{ContentHash, Dataset, Location, Origin, Pixels, Sample, Split};
use crate::error::{Error, Result};

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if is_image(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// Loads `root/<class>/...` as one split named `name`.
pub fn load_class_folders(root: &Path, split: Split, name: &str) -> Result<Dataset> {
    let fix_root = "point the source at the folder whose sub-folders are the classes";
    let read = std::fs::read_dir(root)
        .map_err(|e| Error::data_file(root, format!("cannot list the dataset folder: {e}"), fix_root))?;
    let mut classes: Vec<String> = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| Error::io(root, e))?;
        if entry.path().is_dir() {
            classes.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    classes.sort();
    if classes.is_empty() {
        return Err(Error::data_file(root, "no class sub-folders", fix_root));
    }
    let mut files: Vec<(u32, PathBuf)> = Vec::new();
    for (label, class) in classes.iter().enumerate() {
        let dir = root.join(class);
        let mut found = Vec::new();
        walk(&dir, &mut found)?;
        if found.is_empty() {
            return Err(Error::data_file(
                &dir,
                format!("class {label} (`{class}`) holds no .jpg/.jpeg/.png images"),
                "add images to the class folder or delete the folder (labels are the sorted folder names)",
            ));
        }
        found.sort();
        files.extend(found.into_iter().map(|f| (label as u32, f)));
    }
    let loaded: Vec<Result<Sample>> = files
        .into_par_iter()
        .map(|(label, file)| {
            let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
            let rel = file.strip_prefix(root).unwrap_or(&file);
            let id = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            Ok(Sample {
                id,
                label,
                hash: ContentHash::of(&bytes),
                origin: Origin { file: Arc::from(file.as_path()), location: Location::WholeFile },
                pixels: Pixels::Encoded(file),
            })
        })
        .collect();
    let samples = loaded.into_iter().collect::<Result<Vec<_>>>()?;
    Ok(Dataset { name: name.to_string(), split, class_names: classes, samples })
}

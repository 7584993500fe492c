//! CIFAR-10 and CIFAR-100 in the "binary version" layout from
//! <https://www.cs.toronto.edu/~kriz/cifar.html>.
//!
//! CIFAR-10: `data_batch_1.bin` .. `data_batch_5.bin` (train) and `test_batch.bin`, each a run of
//! 3073-byte records: 1 label byte, then 1024 red, 1024 green, 1024 blue bytes (32 x 32, row
//! major) — already CHW. CIFAR-100: `train.bin` and `test.bin`, 3074-byte records: coarse label,
//! fine label, then the same 3072 pixel bytes.
//!
//! Sample ids are `train/000123` / `test/000123`, numbering records across the batch files in
//! order (the order torchvision's `CIFAR10` concatenates them in), so index `i` here is index
//! `i` there. The content hash covers the 3072 pixel bytes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use super::dataset::{ContentHash, Dataset, Location, Origin, Pixels, Sample, Split};
use crate::error::{Error, Result};

pub const CIFAR10_CLASSES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

const PIXELS: usize = 3 * 32 * 32;

/// Which CIFAR-100 label becomes the sample label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cifar100Label {
    /// The 100 fine classes (what CIFAR-100-LT uses).
    Fine,
    /// The 20 superclasses.
    Coarse,
}

/// Loads CIFAR-10 from `root` (the folder holding the `.bin` files, or its parent holding
/// `cifar-10-batches-bin/`).
pub fn load_cifar10(root: &Path, split: Split) -> Result<Dataset> {
    let dir = resolve(root, "cifar-10-batches-bin", "data_batch_1.bin");
    let files: Vec<PathBuf> = match split {
        Split::Train => (1..=5).map(|i| dir.join(format!("data_batch_{i}.bin"))).collect(),
        Split::Test => vec![dir.join("test_batch.bin")],
        Split::Val => return Err(no_val_split("CIFAR-10")),
    };
    let class_names = CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect();
    read_records(&files, split, 1, 0, 10, "cifar10", class_names, CIFAR10_FIX)
}

/// Loads CIFAR-100 from `root` (the folder holding `train.bin`/`test.bin`, or its parent holding
/// `cifar-100-binary/`). Class names come from `fine_label_names.txt` / `coarse_label_names.txt`
/// beside the data when present, else `class_000`...
pub fn load_cifar100(root: &Path, split: Split, label: Cifar100Label) -> Result<Dataset> {
    let dir = resolve(root, "cifar-100-binary", "train.bin");
    let file = match split {
        Split::Train => dir.join("train.bin"),
        Split::Test => dir.join("test.bin"),
        Split::Val => return Err(no_val_split("CIFAR-100")),
    };
    let (label_byte, classes, names_file) = match label {
        Cifar100Label::Coarse => (0, 20, "coarse_label_names.txt"),
        Cifar100Label::Fine => (1, 100, "fine_label_names.txt"),
    };
    let class_names = match std::fs::read_to_string(dir.join(names_file)) {
        Ok(text) => {
            let names: Vec<String> =
                text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
            if names.len() != classes {
                return Err(Error::data_file(
                    dir.join(names_file),
                    format!("lists {} class names, CIFAR-100 has {classes}", names.len()),
                    "restore the file from the CIFAR-100 binary archive, or delete it to use numbered names",
                ));
            }
            names
        }
        Err(_) => (0..classes).map(|c| format!("class_{c:03}")).collect(),
    };
    read_records(&[file], split, 2, label_byte, classes, "cifar100", class_names, CIFAR100_FIX)
}

const CIFAR10_FIX: &str = "download https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz (the binary version) and \
     extract it; point the source at the cifar-10-batches-bin folder";
const CIFAR100_FIX: &str = "download https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz (the binary version) and \
     extract it; point the source at the cifar-100-binary folder";

fn no_val_split(name: &str) -> Error {
    Error::invalid(
        "split",
        format!("{name} has only train and test splits; hold out part of train for validation instead"),
    )
}

fn resolve(root: &Path, subfolder: &str, probe: &str) -> PathBuf {
    if !root.join(probe).exists() && root.join(subfolder).join(probe).exists() {
        root.join(subfolder)
    } else {
        root.to_path_buf()
    }
}

#[allow(clippy::too_many_arguments)]
fn read_records(
    files: &[PathBuf],
    split: Split,
    header: usize,
    label_byte: usize,
    classes: usize,
    name: &str,
    class_names: Vec<String>,
    fix: &str,
) -> Result<Dataset> {
    let record = header + PIXELS;
    let mut samples = Vec::new();
    for file in files {
        let bytes = std::fs::read(file)
            .map_err(|e| Error::data_file(file, format!("cannot read {name} batch file: {e}"), fix))?;
        if bytes.len() % record != 0 {
            let whole = bytes.len() / record;
            return Err(Error::data_record(
                file,
                format!("record {whole} (byte {})", whole * record),
                format!(
                    "file is truncated or not a {name} binary file: {} bytes is {whole} records of {record} \
                     bytes and {} bytes over",
                    bytes.len(),
                    bytes.len() % record
                ),
                fix,
            ));
        }
        let buffer: Arc<[u8]> = Arc::from(bytes);
        let path: Arc<Path> = Arc::from(file.as_path());
        let base = samples.len();
        let parsed: Vec<Result<Sample>> = (0..buffer.len() / record)
            .into_par_iter()
            .map(|r| {
                let at = r * record;
                let label = buffer[at + label_byte] as usize;
                if label >= classes {
                    return Err(Error::data_record(
                        file,
                        format!("record {r} (byte {at})"),
                        format!("label {label} is outside the class range 0..{} of {name}", classes - 1),
                        format!("the file is corrupt or not a {name} file; {fix}"),
                    ));
                }
                let pixels = &buffer[at + header..at + record];
                Ok(Sample {
                    id: format!("{split}/{:06}", base + r),
                    label: label as u32,
                    hash: ContentHash::of(pixels),
                    pixels: Pixels::Planar {
                        buffer: buffer.clone(),
                        offset: at + header,
                        channels: 3,
                        height: 32,
                        width: 32,
                    },
                    origin: Origin { file: path.clone(), location: Location::Record(r) },
                })
            })
            .collect();
        for s in parsed {
            samples.push(s?);
        }
    }
    Ok(Dataset { name: name.to_string(), split, class_names, samples })
}

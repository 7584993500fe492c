//! IDX files (MNIST, Fashion-MNIST), plain or gzip-compressed (detected from the bytes, not the
//! name).
//!
//! An IDX file starts with a big-endian magic `0x0000TTDD` (TT = 0x08 for unsigned bytes, DD the
//! number of dimensions), then DD big-endian u32 sizes, then the items row major. Images are
//! `idx3` (`[N, rows, cols]`), labels `idx1` (`[N]`). Sample ids are `train/012345` /
//! `test/012345`; the hash covers the image's rows x cols bytes.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use super::dataset::{ContentHash, Dataset, Location, Origin, Pixels, Sample, Split};
use crate::error::{Error, Result};

pub const FASHION_MNIST_CLASSES: [&str; 10] =
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

const FASHION_FIX: &str = "download the four *-ubyte.gz files from https://github.com/zalandoresearch/fashion-mnist \
     (or `apt-get install dataset-fashion-mnist`, which puts them in /usr/share/datasets/fashion-mnist)";
const MNIST_FIX: &str = "download the four *-ubyte.gz files of MNIST (e.g. from a torchvision mirror) into the folder";

/// An IDX array of unsigned bytes.
#[derive(Debug, Clone)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    /// Offset of the first item in `bytes` (after the header).
    pub offset: usize,
    pub bytes: Arc<[u8]>,
}

/// Reads an IDX file of unsigned bytes, gunzipping it when it starts with the gzip magic.
pub fn read_idx(path: &Path, fix: &str) -> Result<IdxArray> {
    let raw = std::fs::read(path).map_err(|e| Error::data_file(path, format!("cannot read IDX file: {e}"), fix))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::MultiGzDecoder::new(raw.as_slice()).read_to_end(&mut out).map_err(|e| {
            Error::data_file(path, format!("corrupt or truncated gzip data: {e}"), format!("re-download the file; {fix}"))
        })?;
        out
    } else {
        raw
    };
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(Error::data_file(
            path,
            format!("not an IDX file: header {:02x?} (expected 00 00 08 0N)", &bytes[..bytes.len().min(4)]),
            fix,
        ));
    }
    if bytes[2] != 0x08 {
        return Err(Error::data_file(
            path,
            format!("IDX element type 0x{:02x} is not unsigned bytes (0x08)", bytes[2]),
            fix,
        ));
    }
    let ndims = bytes[3] as usize;
    let offset = 4 + 4 * ndims;
    if bytes.len() < offset {
        return Err(Error::data_file(path, format!("IDX header for {ndims} dimensions is truncated"), fix));
    }
    let dims: Vec<usize> =
        (0..ndims).map(|d| u32::from_be_bytes(bytes[4 + 4 * d..8 + 4 * d].try_into().unwrap()) as usize).collect();
    let item = dims.iter().skip(1).try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let items = dims.first().copied().unwrap_or(0);
    let (Some(item), Some(_)) = (item, item.and_then(|i| i.checked_mul(items))) else {
        return Err(Error::data_file(path, format!("IDX dimensions {dims:?} are impossibly large: corrupt header"), fix));
    };
    let have = bytes.len() - offset;
    if have != items * item {
        let whole = have.checked_div(item).unwrap_or(0);
        return Err(Error::data_record(
            path,
            format!("record {whole}"),
            format!(
                "header promises {items} items of {item} bytes ({} bytes) but the file holds {have}: {}",
                items * item,
                if have < items * item { "the file is truncated" } else { "trailing bytes after the last item" }
            ),
            format!("re-download the file; {fix}"),
        ));
    }
    Ok(IdxArray { dims, offset, bytes: Arc::from(bytes) })
}

/// Images (`idx3`) and labels (`idx1`) as one dataset of `[1, rows, cols]` samples.
pub fn load_idx(
    images: &Path,
    labels: &Path,
    split: Split,
    name: &str,
    class_names: Vec<String>,
    fix: &str,
) -> Result<Dataset> {
    let img = read_idx(images, fix)?;
    let lab = read_idx(labels, fix)?;
    if img.dims.len() != 3 {
        return Err(Error::data_file(images, format!("expected 3 dimensions [N, rows, cols], found {:?}", img.dims), fix));
    }
    if lab.dims.len() != 1 {
        return Err(Error::data_file(labels, format!("expected 1 dimension [N], found {:?}", lab.dims), fix));
    }
    if img.dims[0] != lab.dims[0] {
        return Err(Error::data_file(
            labels,
            format!("{} labels for {} images in {}", lab.dims[0], img.dims[0], images.display()),
            format!("use the labels file of the same split; {fix}"),
        ));
    }
    let (rows, cols) = (img.dims[1], img.dims[2]);
    let classes = class_names.len();
    let image_path: Arc<Path> = Arc::from(images);
    let parsed: Vec<Result<Sample>> = (0..img.dims[0])
        .into_par_iter()
        .map(|i| {
            let label = lab.bytes[lab.offset + i] as usize;
            if label >= classes {
                return Err(Error::data_record(
                    labels,
                    format!("record {i}"),
                    format!("label {label} is outside the class range 0..{} of {name}", classes - 1),
                    format!("the labels file is corrupt or belongs to another dataset; {fix}"),
                ));
            }
            let at = img.offset + i * rows * cols;
            Ok(Sample {
                id: format!("{split}/{i:06}"),
                label: label as u32,
                hash: ContentHash::of(&img.bytes[at..at + rows * cols]),
                pixels: Pixels::Planar { buffer: img.bytes.clone(), offset: at, channels: 1, height: rows, width: cols },
                origin: Origin { file: image_path.clone(), location: Location::Record(i) },
            })
        })
        .collect();
    let samples = parsed.into_iter().collect::<Result<Vec<_>>>()?;
    Ok(Dataset { name: name.to_string(), split, class_names, samples })
}

/// `{prefix}-{kind}-ubyte` in `root`, plain or `.gz`.
fn find(root: &Path, prefix: &str, kind: &str, fix: &str) -> Result<PathBuf> {
    let plain = root.join(format!("{prefix}-{kind}-ubyte"));
    let gz = root.join(format!("{prefix}-{kind}-ubyte.gz"));
    if plain.exists() {
        Ok(plain)
    } else if gz.exists() {
        Ok(gz)
    } else {
        Err(Error::data_file(root, format!("neither {prefix}-{kind}-ubyte nor {prefix}-{kind}-ubyte.gz is here"), fix))
    }
}

fn load_named(root: &Path, split: Split, name: &str, class_names: Vec<String>, fix: &str) -> Result<Dataset> {
    let prefix = match split {
        Split::Train => "train",
        Split::Test => "t10k",
        Split::Val => {
            return Err(Error::invalid(
                "split",
                format!("{name} has only train and test splits; hold out part of train for validation instead"),
            ))
        }
    };
    let images = find(root, prefix, "images-idx3", fix)?;
    let labels = find(root, prefix, "labels-idx1", fix)?;
    load_idx(&images, &labels, split, name, class_names, fix)
}

/// Fashion-MNIST from `root` (`train-images-idx3-ubyte[.gz]` etc.): `[1, 28, 28]`, 10 classes.
pub fn load_fashion_mnist(root: &Path, split: Split) -> Result<Dataset> {
    let names = FASHION_MNIST_CLASSES.iter().map(|s| s.to_string()).collect();
    load_named(root, split, "fashion-mnist", names, FASHION_FIX)
}

/// MNIST from `root`: `[1, 28, 28]`, digits 0-9.
pub fn load_mnist(root: &Path, split: Split) -> Result<Dataset> {
    let names = (0..10).map(|d| d.to_string()).collect();
    load_named(root, split, "mnist", names, MNIST_FIX)
}

/// Where the Debian package `dataset-fashion-mnist` installs Fashion-MNIST.
pub const DEBIAN_FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

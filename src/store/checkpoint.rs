//! Model checkpoints as safetensors files, named as PyTorch's state_dict.
//!
//! Tensors are F32 except BatchNorm's `num_batches_tracked` (I64, a 0-d tensor, as PyTorch
//! stores it), so `safetensors.torch.load_file` + `load_state_dict(strict=True)` loads them into
//! the equivalent torchvision / CIFAR-ResNet module. The header metadata records the format and
//! its version, the ssdlt version and the architecture. Saving writes a temporary file beside
//! the target and renames it over, so a crash never leaves a half-written checkpoint.

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::tensor::Dtype;
use safetensors::SafeTensors;

use super::atomic::write_atomically;
use crate::error::{Error, Result};
use crate::nn::network::Network;
use crate::nn::{BufferValue, HasState, StateEntry, StateEntryMut};

/// `format` metadata value of our checkpoints.
pub const CHECKPOINT_FORMAT: &str = "ssdlt-checkpoint";
/// Bumped when the layout of names or metadata changes incompatibly.
pub const CHECKPOINT_FORMAT_VERSION: &str = "1";

fn err(path: &Path, message: impl Into<String>) -> Error {
    Error::Checkpoint { path: path.to_path_buf(), message: message.into() }
}

/// Metadata written into every checkpoint of `net` (plus the caller's own keys).
pub fn network_metadata(net: &Network) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("format".to_string(), CHECKPOINT_FORMAT.to_string()),
        ("format_version".to_string(), CHECKPOINT_FORMAT_VERSION.to_string()),
        ("ssdlt_version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
        ("architecture".to_string(), net.config.arch.name()),
        ("in_channels".to_string(), net.config.in_channels.to_string()),
        ("network".to_string(), net.config.describe()),
    ])
}

/// Saves `net`'s state_dict to `path`, with `extra` metadata (e.g. stage, epoch, dataset
/// fingerprint) added to the standard keys.
pub fn save_network(path: &Path, net: &Network, extra: &BTreeMap<String, String>) -> Result<()> {
    let mut meta = network_metadata(net);
    meta.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    save_state(path, net, &meta)
}

/// Saves any state_dict (in PyTorch naming) with `metadata`.
pub fn save_state(path: &Path, model: &impl HasState, metadata: &BTreeMap<String, String>) -> Result<()> {
    let mut entries = Vec::new();
    model.state(&mut entries);
    let mut owned: Vec<(String, &'static str, Vec<usize>, Vec<u8>)> = Vec::with_capacity(entries.len());
    for e in &entries {
        let (dtype, shape, bytes) = match e {
            StateEntry::Param(p) => ("F32", p.shape().to_vec(), bytemuck::cast_slice(&p.value.to_vec()).to_vec()),
            StateEntry::Buffer(b) => match &b.value {
                BufferValue::F32(t) => ("F32", t.shape().to_vec(), bytemuck::cast_slice(&t.to_vec()).to_vec()),
                BufferValue::Count(n) => ("I64", Vec::new(), n.to_le_bytes().to_vec()),
            },
        };
        owned.push((e.name().to_string(), dtype, shape, bytes));
    }
    write_atomically(path, &encode_safetensors(&owned, metadata))
}

/// The safetensors bytes of `tensors` (name, safetensors dtype, shape, little-endian data), laid out in
/// the given order: an 8-byte header length, a JSON header with `__metadata__` first and keys
/// in a fixed order, spaces up to 8-byte alignment, then the data. The same model and metadata
/// always give the same bytes (the `safetensors` crate writes metadata from a HashMap, whose
/// order changes from run to run), so a content-addressed store sees identical models as equal.
fn encode_safetensors(tensors: &[(String, &str, Vec<usize>, Vec<u8>)], metadata: &BTreeMap<String, String>) -> Vec<u8> {
    let quote = |s: &str| serde_json::to_string(s).expect("a string serializes");
    let mut header = String::from("{");
    if !metadata.is_empty() {
        let entries: Vec<String> = metadata.iter().map(|(k, v)| format!("{}:{}", quote(k), quote(v))).collect();
        header.push_str(&format!("\"__metadata__\":{{{}}}", entries.join(",")));
    }
    let mut offset = 0usize;
    for (i, (name, dtype, shape, bytes)) in tensors.iter().enumerate() {
        if i > 0 || !metadata.is_empty() {
            header.push(',');
        }
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        header.push_str(&format!("{}:{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{offset},{}]}}", quote(name), dims.join(","), offset + bytes.len()));
        offset += bytes.len();
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut out = Vec::with_capacity(8 + header.len() + offset);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for (_, _, _, bytes) in tensors {
        out.extend_from_slice(bytes);
    }
    out
}

/// Reads only the metadata of a checkpoint.
pub fn read_metadata(path: &Path) -> Result<BTreeMap<String, String>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| err(path, format!("not a safetensors file: {e}")))?;
    Ok(meta.metadata().clone().unwrap_or_default().into_iter().collect())
}

/// Loads `path` into `net`: every state_dict entry must be present with its shape and dtype,
/// and the file must hold nothing else. Returns the file's metadata.
pub fn load_network(path: &Path, net: &mut Network) -> Result<BTreeMap<String, String>> {
    load_state(path, net)
}

/// Loads a checkpoint into any state_dict, strictly (PyTorch's `strict=True`): all problems
/// (missing, unexpected, shape or dtype mismatches) are reported together by tensor name.
pub fn load_state(path: &Path, model: &mut impl HasState) -> Result<BTreeMap<String, String>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| err(path, format!("not a safetensors file: {e}")))?;
    let metadata = read_metadata_from(&bytes);
    let mut entries = Vec::new();
    model.state_mut(&mut entries);

    let mut problems = Vec::new();
    let expected: std::collections::HashSet<String> = entries.iter().map(|e| e.name().to_string()).collect();
    for e in &entries {
        let name = e.name();
        match file.tensor(name) {
            Err(_) => problems.push(format!("missing tensor `{name}` (expected shape {:?})", e.shape())),
            Ok(view) => {
                let want_dtype = match e {
                    StateEntryMut::Buffer(b) if matches!(b.value, BufferValue::Count(_)) => Dtype::I64,
                    _ => Dtype::F32,
                };
                if view.shape() != e.shape().as_slice() {
                    problems.push(format!("tensor `{name}`: expected shape {:?}, found {:?}", e.shape(), view.shape()));
                } else if view.dtype() != want_dtype {
                    problems.push(format!("tensor `{name}`: expected dtype {want_dtype:?}, found {:?}", view.dtype()));
                }
            }
        }
    }
    let mut unexpected: Vec<&str> = file.names().into_iter().filter(|n| !expected.contains(*n)).collect();
    unexpected.sort_unstable();
    for n in unexpected {
        problems.push(format!("unexpected tensor `{n}`"));
    }
    if !problems.is_empty() {
        let arch = metadata.get("network").or(metadata.get("architecture")).map(|a| format!(" (file was written for {a})")).unwrap_or_default();
        return Err(err(path, format!("does not match the model{arch}:\n  {}", problems.join("\n  "))));
    }

    for e in entries {
        let view = file.tensor(e.name()).expect("checked above");
        match e {
            StateEntryMut::Param(p) => p.value.write(&bytemuck::pod_collect_to_vec::<u8, f32>(view.data())),
            StateEntryMut::Buffer(b) => match &mut b.value {
                BufferValue::F32(t) => t.write(&bytemuck::pod_collect_to_vec::<u8, f32>(view.data())),
                BufferValue::Count(n) => *n = i64::from_le_bytes(view.data().try_into().expect("I64 scalar is 8 bytes")),
            },
        }
    }
    Ok(metadata)
}

fn read_metadata_from(bytes: &[u8]) -> BTreeMap<String, String> {
    SafeTensors::read_metadata(bytes).ok().and_then(|(_, m)| m.metadata().clone()).unwrap_or_default().into_iter().collect()
}

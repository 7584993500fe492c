//! Epoch checkpoints of a `train` stage, so a killed run resumes where it stopped and ends
//! bit-identical to an uninterrupted one.
//!
//! One safetensors file in the stage's resume folder holds everything the next epoch depends
//! on: the network's state_dict (`net/<name>`, BatchNorm running statistics and counters
//! included), every parameter's SGD momentum buffer (`velocity/<name>`), and with a contrastive
//! term the key encoder (`key/<name>`), the queue (`moco/queue`), its labels (`moco/queue_labels`,
//! U32) and write pointer (`moco/ptr`, U32). The metadata holds the format and its version, the
//! stage fingerprint, the epochs and optimizer steps done and the history so far (JSON). The
//! learning rate, the sampler order and every augmentation are pure functions of (seed, epoch,
//! step), so nothing else is needed. The file is written to a temporary name, synced and renamed,
//! so a crash leaves the previous checkpoint or the new one, never half of one.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

use super::EpochRecord;
use crate::error::{Error, Result};
use crate::store::atomic::write_atomically;
use crate::kernels::Tensor;
use crate::nn::{BufferValue, HasState, MultiLossTrainer, StateEntry, StateEntryMut};

/// The checkpoint's file name inside `StageContext::resume_dir`.
pub const CHECKPOINT_FILE: &str = "train-checkpoint.safetensors";
pub const RESUME_FORMAT: &str = "ssdlt-train-resume";
/// Bumped when the tensors or metadata a checkpoint holds change incompatibly.
pub const RESUME_FORMAT_VERSION: &str = "1";

/// Where a checkpoint left a run.
#[derive(Debug, Clone, PartialEq)]
pub struct ResumePoint {
    pub epochs_done: usize,
    pub steps_done: usize,
    pub history: Vec<EpochRecord>,
}

struct Owned {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

fn f32_entry(name: String, t: &Tensor) -> Owned {
    Owned { name, dtype: Dtype::F32, shape: t.shape().to_vec(), bytes: bytemuck::cast_slice(&t.to_vec()).to_vec() }
}

fn u32_entry(name: String, t: &Tensor) -> Owned {
    Owned { name, dtype: Dtype::U32, shape: t.shape().to_vec(), bytes: bytemuck::cast_slice(&t.to_vec_u32()).to_vec() }
}

fn state_entries(prefix: &str, model: &impl HasState, velocities: bool, out: &mut Vec<Owned>) {
    let mut entries = Vec::new();
    model.state(&mut entries);
    for e in entries {
        let name = format!("{prefix}/{}", e.name());
        match e {
            StateEntry::Param(p) => {
                out.push(f32_entry(name, &p.value));
                if velocities {
                    out.push(f32_entry(format!("velocity/{}", p.name), &p.velocity));
                }
            }
            StateEntry::Buffer(b) => match &b.value {
                BufferValue::F32(t) => out.push(f32_entry(name, t)),
                BufferValue::Count(n) => out.push(Owned { name, dtype: Dtype::I64, shape: Vec::new(), bytes: n.to_le_bytes().to_vec() }),
            },
        }
    }
}

/// Writes the state of `trainer` after `epochs_done` epochs into `dir` (atomically).
pub fn save(dir: &Path, fingerprint: &str, trainer: &MultiLossTrainer, epochs_done: usize, history: &[EpochRecord]) -> Result<()> {
    let path = dir.join(CHECKPOINT_FILE);
    let mut owned = Vec::new();
    state_entries("net", &trainer.net, true, &mut owned);
    if let Some(m) = &trainer.moco {
        state_entries("key", &m.key, false, &mut owned);
        owned.push(f32_entry("moco/queue".into(), &m.queue));
        owned.push(u32_entry("moco/queue_labels".into(), &m.queue_labels));
        owned.push(u32_entry("moco/ptr".into(), &m.ptr));
    }
    let views = owned
        .iter()
        .map(|o| TensorView::new(o.dtype, o.shape.clone(), &o.bytes).map(|v| (o.name.clone(), v)))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Checkpoint { path: path.clone(), message: format!("cannot describe a tensor: {e}") })?;
    let history_json = serde_json::to_string(history).expect("epoch records serialize");
    let meta: HashMap<String, String> = [
        ("format", RESUME_FORMAT.to_string()),
        ("format_version", RESUME_FORMAT_VERSION.to_string()),
        ("fingerprint", fingerprint.to_string()),
        ("epochs_done", epochs_done.to_string()),
        ("steps_done", trainer.steps_done().to_string()),
        ("history", history_json),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let bytes = safetensors::serialize(views, Some(meta)).map_err(|e| Error::Checkpoint { path: path.clone(), message: format!("cannot serialize: {e}") })?;
    write_atomically(&path, &bytes)
}


/// One write into the trainer, checked before any is made.
enum Pending<'a> {
    F32(&'a Tensor, Vec<f32>),
    U32(&'a Tensor, Vec<u32>),
    Count(&'a mut i64, i64),
}

fn expect<'f>(file: &'f SafeTensors, name: &str, dtype: Dtype, shape: &[usize], problems: &mut Vec<String>) -> Option<&'f [u8]> {
    match file.tensor(name) {
        Err(_) => {
            problems.push(format!("missing `{name}`"));
            None
        }
        Ok(v) if v.dtype() != dtype || v.shape() != shape => {
            problems.push(format!("`{name}`: {:?} {:?}, expected {dtype:?} {shape:?}", v.dtype(), v.shape()));
            None
        }
        Ok(v) => Some(v.data()),
    }
}

fn collect_state<'a>(file: &SafeTensors, prefix: &str, model: &'a mut impl HasState, velocities: bool, pending: &mut Vec<Pending<'a>>, problems: &mut Vec<String>) {
    let mut entries = Vec::new();
    model.state_mut(&mut entries);
    for e in entries {
        let name = format!("{prefix}/{}", e.name());
        match e {
            StateEntryMut::Param(p) => {
                let shape = p.shape().to_vec();
                if let Some(d) = expect(file, &name, Dtype::F32, &shape, problems) {
                    pending.push(Pending::F32(&p.value, bytemuck::pod_collect_to_vec(d)));
                }
                if velocities {
                    if let Some(d) = expect(file, &format!("velocity/{}", p.name), Dtype::F32, &shape, problems) {
                        pending.push(Pending::F32(&p.velocity, bytemuck::pod_collect_to_vec(d)));
                    }
                }
            }
            StateEntryMut::Buffer(b) => match &mut b.value {
                BufferValue::F32(t) => {
                    let shape = t.shape().to_vec();
                    if let Some(d) = expect(file, &name, Dtype::F32, &shape, problems) {
                        pending.push(Pending::F32(t, bytemuck::pod_collect_to_vec(d)));
                    }
                }
                BufferValue::Count(n) => {
                    if let Some(d) = expect(file, &name, Dtype::I64, &[], problems) {
                        let v = i64::from_le_bytes(d.try_into().unwrap_or([0; 8]));
                        pending.push(Pending::Count(n, v));
                    }
                }
            },
        }
    }
}

/// Loads the checkpoint in `dir` into `trainer` when there is one written by this stage
/// (`fingerprint`). Ok(None): no checkpoint. An unreadable, foreign or mismatching checkpoint is
/// an error and leaves the trainer untouched (the caller reports it and starts over).
pub fn load(dir: &Path, fingerprint: &str, trainer: &mut MultiLossTrainer) -> Result<Option<ResumePoint>> {
    let path = dir.join(CHECKPOINT_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let bad = |m: String| Error::Checkpoint { path: path.clone(), message: m };
    let file = SafeTensors::deserialize(&bytes).map_err(|e| bad(format!("not a safetensors file: {e}")))?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(format!("not a safetensors file: {e}")))?;
    let meta: BTreeMap<String, String> = header.metadata().clone().unwrap_or_default().into_iter().collect();
    let get = |k: &str| meta.get(k).cloned().ok_or_else(|| bad(format!("metadata has no `{k}`")));
    if get("format")? != RESUME_FORMAT || get("format_version")? != RESUME_FORMAT_VERSION {
        return Err(bad(format!("not a version {RESUME_FORMAT_VERSION} train checkpoint")));
    }
    if get("fingerprint")? != fingerprint {
        return Err(bad("written by another configuration of the stage (fingerprint differs)".into()));
    }
    let epochs_done: usize = get("epochs_done")?.parse().map_err(|_| bad("epochs_done is not a number".into()))?;
    let steps_done: usize = get("steps_done")?.parse().map_err(|_| bad("steps_done is not a number".into()))?;
    let history: Vec<EpochRecord> = serde_json::from_str(&get("history")?).map_err(|e| bad(format!("history: {e}")))?;
    if history.len() != epochs_done {
        return Err(bad(format!("{} history records for {epochs_done} epochs", history.len())));
    }

    let mut pending = Vec::new();
    let mut problems = Vec::new();
    let (net, moco) = (&mut trainer.net, &mut trainer.moco);
    collect_state(&file, "net", net, true, &mut pending, &mut problems);
    if let Some(m) = moco {
        collect_state(&file, "key", &mut m.key, false, &mut pending, &mut problems);
        let queue_shape = m.queue.shape().to_vec();
        if let Some(d) = expect(&file, "moco/queue", Dtype::F32, &queue_shape, &mut problems) {
            pending.push(Pending::F32(&m.queue, bytemuck::pod_collect_to_vec(d)));
        }
        for (name, t) in [("moco/queue_labels", &m.queue_labels), ("moco/ptr", &m.ptr)] {
            let shape = t.shape().to_vec();
            if let Some(d) = expect(&file, name, Dtype::U32, &shape, &mut problems) {
                pending.push(Pending::U32(t, bytemuck::pod_collect_to_vec(d)));
            }
        }
    }
    if problems.is_empty() && file.len() != pending.len() {
        problems.push(format!("{} tensors in the file, {} expected (another set of losses or heads)", file.len(), pending.len()));
    }
    if !problems.is_empty() {
        return Err(bad(format!("does not match this stage's model:\n  {}", problems.join("\n  "))));
    }
    for p in pending {
        match p {
            Pending::F32(t, v) => t.write(&v),
            Pending::U32(t, v) => t.write_u32(&v),
            Pending::Count(n, v) => *n = v,
        }
    }
    trainer.set_steps_done(steps_done);
    Ok(Some(ResumePoint { epochs_done, steps_done, history }))
}

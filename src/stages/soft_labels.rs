//! `soft_labels`: runs a (calibrated) teacher over every training sample and view and stores
//! its temperature-softened outputs, so the student never runs the teacher.
//!
//! For each training sample and view v in 0..views (view conventions in
//! `crate::store::soft_labels`), the teacher (the model of `from`, eval mode, its default head)
//! gives probs = softmax(logits / T), of which the `top_k` most probable classes are kept (all
//! when `top_k` is unset).
//!
//! Cache: `ctx.cache_dir/soft_labels/<teacher fingerprint>/<settings digest>/`, a
//! [`PartFolder`] of soft-label Arrow files. The digest covers what else fixes a row's values
//! (temperature, k, the eval and view pipelines, the pipeline seed), so pipelines sharing a
//! teacher with other settings never mix rows. A run sends through the teacher only the
//! (sample id, content hash, view) keys missing from the cache (counted in
//! `ctx.counters.teacher_forward_samples`) and appends them as new parts; a corrupt part is
//! reported, removed and its rows recomputed. The stage's output `soft_labels.arrow` holds the
//! full set for the current training manifest, in manifest order, views ascending.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

use serde::Serialize;

use super::inputs::{model_input, settings_digest};
use super::model_io::load_model;
use super::{StageContext, StageReport, SOFT_LABELS_FILE};
use crate::data::ContentHash;
use crate::dataflow::batches::{for_each_batch, BatchPlan};
use crate::dataflow::manifest::uncached;
use crate::error::{Error, Result};
use crate::kernels::losses::softmax_with_temperature;
use crate::nn::buffers::Slot;
use crate::nn::calibration::linear_head;
use crate::spec::stages::SoftLabelsSpec;
use crate::store::checksummed::PartFolder;
use crate::store::soft_labels::{decode_soft_labels, encode_soft_labels, write_soft_labels, SoftLabelRow, SoftLabelSet, SOFT_LABELS_SCHEMA_VERSION, SOFT_LABEL_EPOCH, SOFT_VIEW_BASE};

/// New rows are appended to the cache in parts of at most this many, so a killed run keeps
/// what it computed.
const ROWS_PER_PART: usize = 8192;

/// Teacher batch size when the spec sets none.
const DEFAULT_BATCH: usize = 256;

#[derive(Serialize)]
struct CacheSettings<'a> {
    schema_version: u32,
    temperature: f32,
    k: usize,
    eval_pipeline: &'a crate::data::augment::AugmentPipeline,
    view_pipeline: &'a crate::data::augment::AugmentPipeline,
    seed: u64,
}

type RowKey = (String, ContentHash, u32);

/// The cache folder of a teacher's soft labels under these settings.
pub fn cache_folder(ctx: &StageContext, spec: &SoftLabelsSpec, teacher_fingerprint: &str, k: usize) -> PartFolder {
    let eval = ctx.data.eval_pipeline();
    let view = ctx.data.train_pipeline(&spec.augment.clone().unwrap_or_default());
    let digest = settings_digest(&CacheSettings { schema_version: SOFT_LABELS_SCHEMA_VERSION, temperature: spec.temperature, k, eval_pipeline: &eval, view_pipeline: &view, seed: ctx.seed });
    PartFolder::new(ctx.cache_dir.join("soft_labels").join(teacher_fingerprint).join(digest))
}

/// Runs a soft_labels stage (see the module docs) into `ctx.out_dir`.
pub fn run(spec: &SoftLabelsSpec, ctx: &StageContext) -> Result<StageReport> {
    let what = || format!("soft_labels stage `{}`", ctx.name);
    let teacher = model_input(ctx, 0, "soft_labels")?;
    if !(spec.temperature.is_finite() && spec.temperature > 0.0) {
        return Err(Error::invalid(what(), format!("temperature {} must be a positive number", spec.temperature)));
    }
    if spec.views == 0 {
        return Err(Error::invalid(what(), "`views` must be at least 1 (view 0 is the un-augmented sample)"));
    }
    let batch_size = spec.batch_size.unwrap_or(DEFAULT_BATCH);
    if batch_size == 0 {
        return Err(Error::invalid(what(), "`batch_size` must be at least 1"));
    }
    let (mut net, info) = load_model(ctx.dev, &teacher.dir)?;
    let head = net.head_index(&info.default_head).ok_or_else(|| Error::invalid(what(), format!("the teacher has no head `{}`", info.default_head)))?;
    let classes = linear_head(&mut net, head)?.cfg.out_features;
    let train = &ctx.data.train;
    if classes != train.num_classes() {
        return Err(Error::invalid(what(), format!("the teacher `{}` has {classes} classes but the training data has {}", teacher.name, train.num_classes())));
    }
    let k = spec.top_k.unwrap_or(classes);
    if k == 0 || k > classes {
        return Err(Error::invalid(what(), format!("top_k = {k} must be in 1..={classes} (leave it unset for dense soft labels)")));
    }
    let started = Instant::now();
    let empty_set = |rows: Vec<SoftLabelRow>| SoftLabelSet { temperature: spec.temperature, k, num_classes: classes, teacher_fingerprint: teacher.fingerprint.clone(), views: spec.views, rows };

    // What the cache holds.
    let folder = cache_folder(ctx, spec, &teacher.fingerprint, k);
    let mut cached: HashMap<RowKey, SoftLabelRow> = HashMap::new();
    let mut corrupt = 0usize;
    for part in folder.parts()? {
        let decoded = part.bytes.map_err(|reason| Error::File { path: part.path.clone(), message: reason }).and_then(|bytes| decode_soft_labels(&bytes, &part.path));
        match decoded {
            Ok(set) if set.temperature == spec.temperature && set.k == k && set.num_classes == classes => {
                for row in set.rows {
                    cached.insert((row.id.clone(), row.hash, row.view), row);
                }
            }
            Ok(_) => {
                corrupt += 1;
                ctx.progress.note(&format!("soft-label cache part {} does not match this stage's settings; removed, its samples are recomputed", part.path.display()));
                folder.discard(&part.path)?;
            }
            Err(e) => {
                corrupt += 1;
                ctx.progress.note(&format!("soft-label cache part is unusable ({e}); removed, its samples are recomputed"));
                folder.discard(&part.path)?;
            }
        }
    }

    // What the current manifest needs and the cache lacks, per view.
    let wanted: Vec<(String, ContentHash)> = train.samples.iter().map(|s| (s.id.clone(), s.hash)).collect();
    let index_of: HashMap<&str, usize> = train.samples.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
    let eval_pipeline = ctx.data.eval_pipeline();
    let view_pipeline = ctx.data.train_pipeline(&spec.augment.clone().unwrap_or_default());
    let mut missing_total = 0usize;
    let mut work: Vec<(u32, Vec<usize>)> = Vec::new();
    for view in 0..spec.views {
        let have: Vec<(String, ContentHash)> = cached.keys().filter(|(_, _, v)| *v == view).map(|(id, h, _)| (id.clone(), *h)).collect();
        let missing = uncached(&wanted, &have);
        missing_total += missing.len();
        let indices: Vec<usize> = missing.iter().map(|(id, _)| index_of[id.as_str()]).collect();
        if !indices.is_empty() {
            work.push((view, indices));
        }
    }

    // Teacher forward passes for the missing keys only.
    ctx.progress.begin(&format!("{} teacher forward", ctx.name), missing_total as u64);
    let mut pending: Vec<SoftLabelRow> = Vec::new();
    let mut x_slot = Slot::default();
    let mut probs_slot = Slot::default();
    let flush = |rows: &mut Vec<SoftLabelRow>| -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let set = empty_set(std::mem::take(rows));
        let bytes = encode_soft_labels(&set, folder.dir())?;
        folder.append(&bytes)?;
        Ok(())
    };
    let mut new_rows: Vec<SoftLabelRow> = Vec::new();
    for (view, indices) in &work {
        let (pipeline, replay_view) = if *view == 0 { (&eval_pipeline, 0) } else { (&view_pipeline, SOFT_VIEW_BASE + view) };
        let views = [(pipeline, replay_view)];
        let plan = BatchPlan { dataset: train, order: indices, batch_size, drop_last: false, views: &views, seed: ctx.seed, epoch: SOFT_LABEL_EPOCH };
        for_each_batch(&plan, |batch| {
            let b = &batch.views[0];
            let n = b.shape[0];
            let x = x_slot.f32(ctx.dev, &b.shape);
            x.write(&b.data);
            net.forward_features(ctx.dev, &x, false);
            let logits = net.forward_head(ctx.dev, head);
            let probs = probs_slot.f32(ctx.dev, &[n, classes]);
            softmax_with_temperature(ctx.dev, &logits, spec.temperature, &probs);
            let probs = probs.to_vec();
            for (row, &i) in probs.chunks_exact(classes).zip(&batch.indices) {
                let (top_classes, top_probs) = top_k(row, k);
                let sample = &train.samples[i];
                pending.push(SoftLabelRow { id: sample.id.clone(), hash: sample.hash, view: *view, classes: top_classes, probs: top_probs });
            }
            ctx.counters.teacher_forward_samples.fetch_add(n as u64, Ordering::Relaxed);
            ctx.progress.advance(n as u64, &[]);
            if pending.len() >= ROWS_PER_PART {
                new_rows.extend(pending.iter().cloned());
                flush(&mut pending)?;
            }
            Ok(())
        })?;
    }
    new_rows.extend(pending.iter().cloned());
    flush(&mut pending)?;
    for row in new_rows {
        cached.insert((row.id.clone(), row.hash, row.view), row);
    }
    let elapsed = started.elapsed().as_secs_f64();
    ctx.progress.finish(&format!("{missing_total} of {} (sample, view) soft labels computed, {} from the cache", wanted.len() * spec.views as usize, wanted.len() * spec.views as usize - missing_total));

    // The full set for the current manifest.
    let mut rows = Vec::with_capacity(wanted.len() * spec.views as usize);
    for (id, hash) in &wanted {
        for view in 0..spec.views {
            let row = cached.remove(&(id.clone(), *hash, view)).expect("every missing key was just computed");
            rows.push(row);
        }
    }
    let set = empty_set(rows);
    write_soft_labels(&ctx.out_dir.join(SOFT_LABELS_FILE), &set)?;
    let total = set.rows.len();
    let mut metrics = std::collections::BTreeMap::new();
    metrics.insert("rows".to_string(), total as f64);
    metrics.insert("computed".to_string(), missing_total as f64);
    metrics.insert("cached".to_string(), (total - missing_total) as f64);
    metrics.insert("corrupt_parts".to_string(), corrupt as f64);
    Ok(StageReport {
        summary: format!("{total} soft labels (T {}, k {k}, {} views): {missing_total} computed, {} cached", spec.temperature, spec.views, total - missing_total),
        metrics,
        images_per_s: (missing_total > 0 && elapsed > 0.0).then(|| missing_total as f64 / elapsed),
    })
}

/// The `k` most probable classes of a probability row, most probable first (lower class
/// first on ties), with their probabilities.
pub fn top_k(probs: &[f32], k: usize) -> (Vec<u32>, Vec<f32>) {
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].partial_cmp(&probs[a]).unwrap_or(std::cmp::Ordering::Equal));
    order.truncate(k);
    (order.iter().map(|&c| c as u32).collect(), order.iter().map(|&c| probs[c]).collect())
}

#[cfg(test)]
mod tests {
    use super::top_k;

    #[test]
    fn top_k_keeps_the_most_probable_classes_first_and_breaks_ties_by_class() {
        let (c, p) = top_k(&[0.1, 0.4, 0.1, 0.4], 3);
        assert_eq!(c, vec![1, 3, 0]);
        assert_eq!(p, vec![0.4, 0.4, 0.1]);
    }
}

//! `evaluate`: long-tail metrics of every model in `from` on every test sample (eval mode).
//!
//! Each model's linear classifier heads are reported, its default head first (a distilled
//! student's `fc_soft`, then `fc`). Metrics (see `crate::nn::metrics`): top-1, top-5, many /
//! medium / few-shot accuracy with groups from the training split's class counts, per-class
//! accuracy, confusion matrix, ECE over `ece_bins` bins, NLL. Files (layouts in
//! `crate::store::metrics`): `metrics.json`, `metrics.arrow`, `predictions.arrow`.
//!
//! Incremental: logits are cached per (model fingerprint, head, sample content hash) under
//! `ctx.cache_dir/predictions/<model fingerprint>/<eval pipeline digest>/`; only test samples
//! without cached logits go through the model (counted in `ctx.counters.predicted_samples`),
//! so re-evaluating an unchanged model after a few test images changed predicts just those.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::inputs::{model_input, settings_digest};
use super::model_io::load_model;
use super::{StageContext, StageReport, METRICS_ARROW, METRICS_JSON, PREDICTIONS_FILE};
use crate::dataflow::batches::{for_each_batch, BatchPlan};
use crate::error::{Error, Result};
use crate::nn::buffers::Slot;
use crate::nn::metrics::{classification_metrics, row_prediction};
use crate::nn::HeadKind;
use crate::spec::stages::EvaluateSpec;
use crate::store::checksummed::PartFolder;
use crate::store::metrics::{decode_prediction_part, encode_prediction_part, write_predictions, CachedLogits, EvaluationReport, HeadMetrics, PredictionRow, METRICS_SCHEMA_VERSION};

/// Batch size when the spec sets none.
const DEFAULT_BATCH: usize = 256;

/// Runs an evaluate stage (see the module docs) into `ctx.out_dir`.
pub fn run(spec: &EvaluateSpec, ctx: &StageContext) -> Result<StageReport> {
    let what = || format!("evaluate stage `{}`", ctx.name);
    if spec.ece_bins == 0 {
        return Err(Error::invalid(what(), "`ece_bins` must be at least 1"));
    }
    let batch_size = spec.batch_size.unwrap_or(DEFAULT_BATCH);
    if batch_size == 0 {
        return Err(Error::invalid(what(), "`batch_size` must be at least 1"));
    }
    if ctx.inputs.is_empty() {
        return Err(Error::invalid(what(), "`from` names no model stage"));
    }
    let test = &ctx.data.test;
    let classes = test.num_classes();
    let groups = &ctx.data.stats.groups;
    if groups.len() != classes {
        return Err(Error::invalid(what(), format!("the training split has {} classes, the test split {classes}", groups.len())));
    }
    let labels = test.labels();
    let pipeline = ctx.data.eval_pipeline();
    let pipeline_digest = settings_digest(&pipeline);
    let k = classes.min(5);
    let started = Instant::now();
    let mut predicted_total = 0usize;
    let mut results = Vec::new();
    let mut predictions = Vec::new();

    for index in 0..ctx.inputs.len() {
        let input = model_input(ctx, index, "evaluate")?;
        let (mut net, info) = load_model(ctx.dev, &input.dir)?;
        if info.split_fingerprint != ctx.data.lock.fingerprint {
            ctx.progress.note(&format!("`{}` was trained on another training split (split lock {}); shot groups are those of the current split", input.name, &info.split_fingerprint[..info.split_fingerprint.len().min(16)]));
        }
        // Linear heads, the default first.
        let mut heads: Vec<(usize, String)> = net.config.heads.iter().enumerate().filter(|(_, h)| matches!(h.kind, HeadKind::Linear { .. })).map(|(i, h)| (i, h.name.clone())).collect();
        heads.sort_by_key(|(_, name)| *name != info.default_head);
        if heads.is_empty() {
            return Err(Error::invalid(what(), format!("the model of `{}` has no classifier head", input.name)));
        }
        for (i, name) in &heads {
            let out = net.config.heads[*i].out_dim();
            if out != classes {
                return Err(Error::invalid(what(), format!("head `{name}` of `{}` has {out} classes but the test data has {classes}", input.name)));
            }
        }

        // Cached logits of this model.
        let folder = PartFolder::new(ctx.cache_dir.join("predictions").join(&input.fingerprint).join(&pipeline_digest));
        let mut cache: HashMap<(String, [u8; 32]), Vec<f32>> = HashMap::new();
        for part in folder.parts()? {
            let decoded = part.bytes.map_err(|reason| Error::File { path: part.path.clone(), message: reason }).and_then(|bytes| decode_prediction_part(&bytes, classes, &part.path));
            match decoded {
                Ok(rows) => {
                    for r in rows {
                        cache.insert((r.head, r.hash), r.logits);
                    }
                }
                Err(e) => {
                    ctx.progress.note(&format!("prediction cache part is unusable ({e}); removed, its samples are predicted again"));
                    folder.discard(&part.path)?;
                }
            }
        }
        let mut seen = HashSet::new();
        let missing: Vec<usize> = (0..test.len())
            .filter(|&i| {
                let hash = test.samples[i].hash.0;
                heads.iter().any(|(_, name)| !cache.contains_key(&(name.clone(), hash))) && seen.insert(hash)
            })
            .collect();

        // Predict the missing samples with every head at once.
        ctx.progress.begin(&format!("{} predict `{}`", ctx.name, input.name), missing.len() as u64);
        let mut new_rows: Vec<CachedLogits> = Vec::new();
        let mut x_slot = Slot::default();
        let views = [(&pipeline, 0u32)];
        let plan = BatchPlan { dataset: test, order: &missing, batch_size, drop_last: false, views: &views, seed: ctx.seed, epoch: 0 };
        for_each_batch(&plan, |batch| {
            let b = &batch.views[0];
            let x = x_slot.f32(ctx.dev, &b.shape);
            x.write(&b.data);
            net.forward_features(ctx.dev, &x, false);
            for (hi, name) in &heads {
                let logits = net.forward_head(ctx.dev, *hi).to_vec();
                for (row, &i) in logits.chunks_exact(classes).zip(&batch.indices) {
                    new_rows.push(CachedLogits { hash: test.samples[i].hash.0, head: name.clone(), logits: row.to_vec() });
                }
            }
            ctx.counters.predicted_samples.fetch_add(b.shape[0] as u64, Ordering::Relaxed);
            ctx.progress.advance(b.shape[0] as u64, &[]);
            Ok(())
        })?;
        ctx.progress.finish(&format!("`{}`: {} test samples predicted, {} from the cache", input.name, missing.len(), test.len() - missing.len()));
        predicted_total += missing.len();
        if !new_rows.is_empty() {
            folder.append(&encode_prediction_part(&new_rows, classes, folder.dir())?)?;
        }
        for r in new_rows {
            cache.insert((r.head, r.hash), r.logits);
        }

        // Metrics and prediction rows per head.
        for (_, name) in &heads {
            let mut logits = Vec::with_capacity(test.len() * classes);
            for s in &test.samples {
                logits.extend_from_slice(&cache[&(name.clone(), s.hash.0)]);
            }
            let metrics = classification_metrics(&logits, &labels, classes, groups, spec.ece_bins)?;
            for (row, s) in logits.chunks_exact(classes).zip(&test.samples) {
                let p = row_prediction(row, k);
                predictions.push(PredictionRow { model: input.name.clone(), head: name.clone(), id: s.id.clone(), label: s.label, predicted: p.predicted, confidence: p.confidence, top_classes: p.top_classes, top_logits: p.top_logits });
            }
            results.push(HeadMetrics { model: input.name.clone(), fingerprint: input.fingerprint.clone(), head: name.clone(), default_head: *name == info.default_head, metrics });
        }
    }

    let report = EvaluationReport { schema_version: METRICS_SCHEMA_VERSION, class_names: test.class_names.clone(), shot_groups: groups.clone(), results };
    report.write_json(&ctx.out_dir.join(METRICS_JSON))?;
    report.write_arrow(&ctx.out_dir.join(METRICS_ARROW))?;
    write_predictions(&ctx.out_dir.join(PREDICTIONS_FILE), &predictions, k)?;

    let pct = |v: Option<f64>| v.map(|v| format!("{:.1}", 100.0 * v)).unwrap_or_else(|| "-".into());
    let mut metrics = BTreeMap::new();
    let mut lines = Vec::new();
    for r in &report.results {
        let m = &r.metrics;
        let key = |name: &str| format!("{}/{}/{name}", r.model, r.head);
        for (name, v) in [("top1", Some(m.top1)), ("top5", Some(m.top5)), ("many", m.many), ("medium", m.medium), ("few", m.few), ("ece", Some(m.ece))] {
            if let Some(v) = v {
                metrics.insert(key(name), v);
            }
        }
        if r.default_head {
            lines.push(format!("{}: top-1 {} (many {} / medium {} / few {})", r.model, pct(Some(m.top1)), pct(m.many), pct(m.medium), pct(m.few)));
        }
    }
    metrics.insert("predicted_samples".to_string(), predicted_total as f64);
    let elapsed = started.elapsed().as_secs_f64();
    Ok(StageReport { summary: lines.join("; "), metrics, images_per_s: (predicted_total > 0 && elapsed > 0.0).then(|| predicted_total as f64 / elapsed) })
}

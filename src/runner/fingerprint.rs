//! Stage fingerprints: what a stored output was computed from, hashed.
//!
//! A fingerprint is blake3 over the canonical JSON (object keys sorted, no whitespace) of a
//! stage's [`Ingredients`]: its kind, its parameters with `defaults` merged, the pipeline seed,
//! the fingerprints of the stages it reads, the data it depends on, and the kernel version. The
//! ingredients are stored beside the output, so [`explain`] can say which one changed.
//!
//! Data a kind depends on: `train`, `calibrate` and `soft_labels` the training split (the split
//! lock's fingerprint and the deterministic preprocessing), except a `train` stage whose
//! `on_data_change` is `keep`; `evaluate` the test manifest; `export` only its inputs.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::data::Manifest;
use crate::plan::PlannedStage;
use crate::spec::dataset::LoadedData;
use crate::spec::stages::{DataChangePolicy, StageSpec};

/// Everything a stage's result depends on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ingredients {
    pub kind: String,
    /// The stage's parameters with `defaults` merged (the `kind` key removed).
    pub params: Value,
    pub seed: u64,
    /// (stage name, fingerprint) of each stage it reads, in `PlannedStage::inputs` order.
    pub inputs: Vec<(String, String)>,
    pub data: Option<DataIngredient>,
    /// [`kernel_version`] of the build that computed it.
    pub kernels: String,
}

/// The data a stage was computed on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataIngredient {
    /// `train` (the long-tailed training split) or `test`.
    pub split: String,
    /// The split lock's fingerprint (train) or [`manifest_fingerprint`] (test).
    pub fingerprint: String,
    pub samples: usize,
    /// blake3 of the deterministic preprocessing (`prepare`, `eval_sizing`, `finish`, input shape).
    pub preprocess: String,
}

/// blake3 over every WGSL kernel source, the cpu kernels' revision and the crate version: a
/// kernel change (or a new release) makes every stored output stale.
pub fn kernel_version() -> String {
    kernel_version_of(crate::kernels::CPU_KERNELS_REVISION)
}

fn kernel_version_of(cpu_revision: u32) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"ssdlt-kernels");
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(&cpu_revision.to_le_bytes());
    for shader in crate::kernels::Shader::ALL {
        h.update(shader.file_name().as_bytes());
        h.update(&(shader.source().len() as u64).to_le_bytes());
        h.update(shader.source().as_bytes());
    }
    h.finalize().to_hex().to_string()
}

/// blake3 over a manifest's (id, hash, label, split) entries sorted by id, and its class names.
pub fn manifest_fingerprint(manifest: &Manifest) -> String {
    let mut entries: Vec<_> = manifest.entries.iter().collect();
    entries.sort_by(|a, b| a.id.cmp(&b.id));
    let mut h = blake3::Hasher::new();
    h.update(b"ssdlt-manifest");
    h.update(&manifest.version.to_le_bytes());
    for name in std::iter::once(&manifest.dataset).chain(&manifest.class_names) {
        h.update(&(name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
    }
    for e in entries {
        h.update(&(e.id.len() as u64).to_le_bytes());
        h.update(e.id.as_bytes());
        h.update(&e.hash.0);
        h.update(&e.label.to_le_bytes());
        h.update(e.split.as_str().as_bytes());
    }
    h.finalize().to_hex().to_string()
}

/// What the stages of one pipeline share: the data fingerprints, computed once per run.
#[derive(Debug, Clone, PartialEq)]
pub struct DataFingerprints {
    pub train: DataIngredient,
    pub test: DataIngredient,
}

impl DataFingerprints {
    pub fn of(data: &LoadedData) -> DataFingerprints {
        let preprocess = {
            let json = serde_json::json!({
                "prepare": data.prepare,
                "eval_sizing": data.eval_sizing,
                "finish": data.finish,
                "sample_shape": data.sample_shape,
                "shots": data.stats.thresholds,
            });
            blake3::hash(canonical_json(&json).as_bytes()).to_hex().to_string()
        };
        DataFingerprints {
            train: DataIngredient {
                split: "train".into(),
                fingerprint: data.lock.fingerprint.clone(),
                samples: data.train.len(),
                preprocess: preprocess.clone(),
            },
            test: DataIngredient {
                split: "test".into(),
                fingerprint: manifest_fingerprint(&data.test.manifest()),
                samples: data.test.len(),
                preprocess,
            },
        }
    }
}

/// The ingredients of `stage` given its inputs' fingerprints (in `stage.inputs` order).
pub fn ingredients(stage: &PlannedStage, seed: u64, inputs: &[String], data: &DataFingerprints) -> Ingredients {
    let mut params = serde_json::to_value(&stage.spec).expect("stage params always serialize");
    if let Value::Object(map) = &mut params {
        map.remove("kind");
    }
    let depends = match &stage.spec {
        StageSpec::Train(t) if t.on_data_change == DataChangePolicy::Keep => None,
        StageSpec::Train(_) | StageSpec::Calibrate(_) | StageSpec::SoftLabels(_) => Some(data.train.clone()),
        StageSpec::Evaluate(_) => Some(data.test.clone()),
        StageSpec::Export(_) => None,
    };
    Ingredients {
        kind: stage.spec.kind().to_string(),
        params,
        seed,
        inputs: stage.inputs.iter().cloned().zip(inputs.iter().cloned()).collect(),
        data: depends,
        kernels: kernel_version(),
    }
}

impl Ingredients {
    /// blake3 of the canonical JSON, hex (64 digits).
    pub fn fingerprint(&self) -> String {
        let value = serde_json::to_value(self).expect("ingredients always serialize");
        let mut h = blake3::Hasher::new();
        h.update(b"ssdlt-stage-v1\0");
        h.update(canonical_json(&value).as_bytes());
        h.finalize().to_hex().to_string()
    }
}

/// JSON with object keys sorted at every level and no whitespace: the same value always gives
/// the same bytes, whatever order a map was built in.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// How the training data moved between the last run and this one (for messages).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataChange {
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
}

impl DataChange {
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.added > 0 {
            parts.push(format!("+{} samples", self.added));
        }
        if self.removed > 0 {
            parts.push(format!("-{} samples", self.removed));
        }
        if self.changed > 0 {
            parts.push(format!("{} changed", self.changed));
        }
        if parts.is_empty() {
            "same samples, different split or preprocessing".into()
        } else {
            parts.join(", ")
        }
    }
}

/// Why a stage whose stored output was made from `old` must run again for `new`, one line per
/// difference: `param `epochs` 200 -> 100`, `input `teacher` changed`, `training data changed:
/// +50 samples`, `kernels changed`. `train_change`/`test_change` describe the data deltas when
/// they are known.
pub fn explain(old: &Ingredients, new: &Ingredients, train_change: Option<&DataChange>, test_change: Option<&DataChange>) -> Vec<String> {
    let mut why = Vec::new();
    if old.kind != new.kind {
        why.push(format!("kind changed: {} -> {}", old.kind, new.kind));
    } else {
        let mut diffs = Vec::new();
        diff_values("", &old.params, &new.params, &mut diffs);
        why.extend(diffs);
    }
    if old.seed != new.seed {
        why.push(format!("seed {} -> {}", old.seed, new.seed));
    }
    let old_names: Vec<&String> = old.inputs.iter().map(|(n, _)| n).collect();
    let new_names: Vec<&String> = new.inputs.iter().map(|(n, _)| n).collect();
    if old_names != new_names {
        why.push(format!("inputs changed: {} -> {}", list(&old_names), list(&new_names)));
    } else {
        for ((name, a), (_, b)) in old.inputs.iter().zip(&new.inputs) {
            if a != b {
                why.push(format!("input `{name}` changed"));
            }
        }
    }
    match (&old.data, &new.data) {
        (Some(a), Some(b)) if a != b => {
            let what = if b.split == "train" { "training data" } else { "test data" };
            if a.fingerprint == b.fingerprint && a.preprocess != b.preprocess {
                why.push(format!("{what} preprocessing changed"));
            } else {
                let change = if b.split == "train" { train_change } else { test_change };
                match change {
                    Some(c) => why.push(format!("{what} changed: {}", c.describe())),
                    None => why.push(format!("{what} changed: {} -> {} samples", a.samples, b.samples)),
                }
            }
        }
        (None, Some(_)) => why.push("now depends on the data (on_data_change no longer `keep`)".into()),
        (Some(_), None) => why.push("no longer depends on the data (on_data_change: keep)".into()),
        _ => {}
    }
    if old.kernels != new.kernels {
        why.push("kernels changed (another ssdlt version, edited shaders or new cpu kernels)".into());
    }
    if why.is_empty() {
        why.push("fingerprint recipe changed".into());
    }
    why
}

fn list(names: &[&String]) -> String {
    let inner: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    format!("[{}]", inner.join(", "))
}

/// Appends one line per leaf that differs: `param `optimizer.sgd.lr` 0.1 -> 0.05`.
fn diff_values(path: &str, old: &Value, new: &Value, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let sub = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => diff_values(&sub, x, y, out),
                    (Some(x), None) => out.push(format!("param `{sub}` {} removed", compact(x))),
                    (None, Some(y)) => out.push(format!("param `{sub}` set to {}", compact(y))),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff_values(&format!("{path}[{i}]"), x, y, out);
            }
        }
        (Value::Number(a), Value::Number(b)) if same_number(a, b) => {}
        (a, b) if a != b => out.push(format!("param `{}` {} -> {}", if path.is_empty() { "(all)" } else { path }, compact(a), compact(b))),
        _ => {}
    }
}

/// Equal up to the last bits JSON text may lose on a round trip (serde_json's float parser is
/// not exact to the last unit).
fn same_number(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => a == b || (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
        _ => a == b,
    }
}

fn compact(v: &Value) -> String {
    let s = match v {
        Value::Null => "unset".to_string(),
        // Parameters are f32: show `0.2`, not the f64 expansion `0.20000000298023224`.
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(x) if (x as f32) as f64 == x => format!("{}", x as f32),
            Some(x) => format!("{x}"),
            None => n.to_string(),
        },
        other => other.to_string(),
    };
    if s.chars().count() > 60 {
        format!("{}...", s.chars().take(57).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"y":[1,{"q":2,"p":3}],"x":null}}"#).unwrap();
        assert_eq!(canonical_json(&a), r#"{"a":{"x":null,"y":[1,{"p":3,"q":2}]},"b":1}"#);
    }

    #[test]
    fn explain_names_the_changed_parameter_with_both_values() {
        let mk = |epochs: u64| Ingredients {
            kind: "train".into(),
            params: serde_json::json!({"epochs": epochs, "optimizer": {"sgd": {"lr": 0.1}}}),
            seed: 0,
            inputs: vec![],
            data: None,
            kernels: "k".into(),
        };
        assert_eq!(explain(&mk(200), &mk(100), None, None), vec!["param `epochs` 200 -> 100".to_string()]);
        assert_ne!(mk(200).fingerprint(), mk(100).fingerprint());
        assert_eq!(mk(200).fingerprint(), mk(200).fingerprint());
    }

    #[test]
    fn a_new_cpu_kernel_revision_changes_the_kernel_version() {
        let now = crate::kernels::CPU_KERNELS_REVISION;
        assert_eq!(kernel_version(), kernel_version_of(now));
        assert_ne!(kernel_version_of(now), kernel_version_of(now - 1));
    }

    #[test]
    fn f32_parameters_read_back_from_json_compare_equal_and_print_short() {
        let fresh = serde_json::json!({"lr": 0.2f32, "t": 0.1f32});
        let stored: Value = serde_json::from_str(&serde_json::to_string(&fresh).unwrap()).unwrap();
        let mut diffs = Vec::new();
        diff_values("", &stored, &fresh, &mut diffs);
        assert!(diffs.is_empty(), "{diffs:?}");
        diff_values("", &stored, &serde_json::json!({"lr": 0.05f32, "t": 0.1f32}), &mut diffs);
        assert_eq!(diffs, ["param `lr` 0.2 -> 0.05"]);
    }
}

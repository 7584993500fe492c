//! The top level of a pipeline file, and parsing it with diagnostics that point at the line.
//!
//! ```yaml
//! pipeline: cifar100-lt-ssd      # a name (required): names the store's state and exports
//! seed: 0                        # default 0: every random choice derives from it
//! device: auto                   # auto (default) | cpu | wgpu; `--device` on the command line wins
//! dataset: {source: cifar100, root: data/cifar-100-binary}   # see `crate::spec::dataset`
//! defaults:                      # optional; see [`Defaults`] for what each key fills in
//!   model: resnet32
//!   batch_size: 128
//!   optimizer: {sgd: {lr: 0.1, momentum: 0.9, weight_decay: 5.0e-4}}
//!   schedule: {cosine: {warmup_epochs: 5}}
//!   augment: [{pad_crop: 4}, hflip]
//! stages:                        # name -> stage; the kinds are in `crate::spec::stages`
//!   ce:      {kind: train, epochs: 200, losses: [ce]}
//!   ce_lws:  {kind: calibrate, from: ce, method: lws, epochs: 10}
//!   eval:    {kind: evaluate, from: [ce, ce_lws]}
//! ```
//!
//! Every map rejects keys it does not know. Parsing goes through a located YAML tree
//! ([`super::yaml`]) and a path-tracking deserializer ([`super::de`]), so an error says
//! `file:line:column`, the key's full path (`stages.ce.epoch`), what is wrong and the fix
//! ("unknown key `epoch`, did you mean `epochs`?"). A few shorthands are accepted: a bare name
//! for a choice whose settings all have defaults (`losses: [ce]`, `schedule: cosine`,
//! `sampler: class_balanced`), an empty value for "all defaults" (`- ce:`), and a single value
//! where a list is expected (`from: ce`, `losses: ce`). Anchors, aliases and merge keys
//! (`<<: *base`) work as in YAML.
//!
//! Stage names are letters, digits, `_` and `-` (they name store folders and graph nodes).

use std::path::Path;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::dataset::DatasetSpec;
use super::de::{from_node, DeError};
use super::diagnostic::{did_you_mean, excerpt, path_string, Diagnostic, Seg, SourceMap};
use super::stages::{OptimizerSpec, SamplerSpec, ScheduleSpec, StageSpec};
use super::yaml::{self, Node, NodeKind, YamlError};
use crate::data::augment::AugmentPipeline;
use crate::error::Error;
use crate::kernels::DeviceChoice;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    pub pipeline: String,
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub device: DeviceChoice,
    pub dataset: DatasetSpec,
    #[serde(default)]
    pub defaults: Defaults,
    /// Stages in file order.
    pub stages: IndexMap<String, StageSpec>,
    /// Where each key sits in the file, for the checks made after parsing (`crate::plan`).
    /// Empty for a spec built in code; errors then name the key path only.
    #[serde(skip)]
    pub origin: SourceMap,
}

/// Values stages take unless they set their own (merged by `crate::plan::lower`):
///
/// | key          | train | calibrate | soft_labels | evaluate | built-in when unset            |
/// |--------------|-------|-----------|-------------|----------|--------------------------------|
/// | `model`      | yes   |           |             |          | `resnet32`                     |
/// | `batch_size` | yes   | yes       | yes         | yes      | 128                            |
/// | `optimizer`  | yes   | yes       |             |          | sgd lr 0.1, momentum 0.9, wd 5e-4 |
/// | `schedule`   | yes   | yes       |             |          | cosine, no warm-up             |
/// | `augment`    | yes   | yes       | yes (views 1..) |      | none                           |
/// | `sampler`    | yes   | never (class-balanced, 2 per class) | | | instance-balanced        |
///
/// `key_augment` (a contrastive loss's key view) has no default: it is per stage.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub batch_size: Option<usize>,
    #[serde(default)]
    pub optimizer: Option<OptimizerSpec>,
    #[serde(default)]
    pub schedule: Option<ScheduleSpec>,
    #[serde(default)]
    pub augment: Option<AugmentPipeline>,
    #[serde(default)]
    pub sampler: Option<SamplerSpec>,
}

/// The top level without `stages` (parsed stage by stage, see [`parse_stage`]). `stages` is
/// listed so that a misspelt `stage:` gets the suggestion and a missing one is reported.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Head {
    pipeline: String,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    device: DeviceChoice,
    dataset: DatasetSpec,
    #[serde(default)]
    defaults: Defaults,
    #[serde(rename = "stages")]
    _stages: serde::de::IgnoredAny,
}

/// The stage kinds and what each does, for messages.
pub const STAGE_KINDS: [(&str, &str); 5] = [
    ("train", "a network trained with a list of losses (ce, contrastive, distill)"),
    ("calibrate", "a trained model's classifier re-balanced: lws, crt or tau_norm"),
    ("soft_labels", "a teacher's softened predictions, cached"),
    ("evaluate", "accuracy overall and many/medium/few of models"),
    ("export", "label tables of soft_labels and evaluate stages"),
];

/// Reads and parses a pipeline file. Errors name the file, line and column, the offending key
/// and a suggestion.
pub fn parse_file(path: &Path) -> crate::Result<PipelineSpec> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::from(Diagnostic {
            path: path.to_path_buf(),
            line: 0,
            column: 0,
            key: String::new(),
            message: format!("cannot read the pipeline file: {e}"),
            excerpt: String::new(),
            fix: "check the path (relative to the current directory) and that the file is readable UTF-8 text".into(),
        })
    })?;
    parse_str(&text, path)
}

/// Parses pipeline YAML; `path` is only used in messages (and recorded in `origin`).
pub fn parse_str(text: &str, path: &Path) -> crate::Result<PipelineSpec> {
    let root = yaml::parse(text).map_err(|e| malformed(path, text, e))?;
    let origin = SourceMap::build(path, text, &root);
    match &root.kind {
        NodeKind::Map(_) => {}
        _ if root.is_null() => {
            return Err(origin.error(
                "",
                "the pipeline file is empty",
                "start from pipelines/quickstart.yaml: a file needs `pipeline`, `dataset` and `stages`",
            ))
        }
        _ => {
            return Err(origin.error(
                "",
                "a pipeline file must be a map of keys (`pipeline`, `seed`, `device`, `dataset`, `defaults`, `stages`)",
                "start from pipelines/quickstart.yaml",
            ))
        }
    }
    let head: Head = from_node(&root, Vec::new()).map_err(|e| located(&origin, e))?;
    let stages_node = root.get("stages").expect("Head requires `stages`");
    let stages = parse_stages(stages_node, &origin)?;
    Ok(PipelineSpec {
        pipeline: head.pipeline,
        seed: head.seed,
        device: head.device,
        dataset: head.dataset,
        defaults: head.defaults,
        stages,
        origin,
    })
}

fn parse_stages(node: &Node, origin: &SourceMap) -> crate::Result<IndexMap<String, StageSpec>> {
    let entries = match &node.kind {
        NodeKind::Map(entries) if !entries.is_empty() => entries,
        _ if node.is_null() || matches!(&node.kind, NodeKind::Map(_)) => {
            return Err(origin.error(
                "stages",
                "`stages` is empty",
                "add at least one stage, e.g. `ce: {kind: train, epochs: 10, losses: [ce]}`",
            ))
        }
        _ => {
            return Err(origin.error(
                "stages",
                "`stages` must be a map of stage name -> stage settings",
                "write `stages:` followed by indented `name: {kind: ..., ...}` lines",
            ))
        }
    };
    let mut stages = IndexMap::new();
    for (key, value) in entries {
        let Some(name) = key.scalar_text() else {
            return Err(origin.error("stages", "a stage name must be a plain name, not a list or a map", "name the stage, e.g. `teacher:`"));
        };
        let at = format!("stages.{name}");
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(origin.error(
                &at,
                format!("stage name `{name}` may hold only letters, digits, `_` and `-`"),
                "rename the stage (names become store folders and graph nodes)",
            ));
        }
        let spec = parse_stage(name, value, origin)?;
        stages.insert(name.to_string(), spec);
    }
    Ok(stages)
}

/// One stage: `kind` picks the parameters struct, which then reads the other keys.
fn parse_stage(name: &str, node: &Node, origin: &SourceMap) -> crate::Result<StageSpec> {
    let at = format!("stages.{name}");
    let kinds = || STAGE_KINDS.iter().map(|(k, what)| format!("`{k}` ({what})")).collect::<Vec<_>>().join(", ");
    let NodeKind::Map(entries) = &node.kind else {
        return Err(origin.error(
            &at,
            format!("stage `{name}` must be a map with a `kind` and its settings"),
            format!("write e.g. `{name}: {{kind: train, epochs: 10, losses: [ce]}}`"),
        ));
    };
    let Some(kind_node) = node.get("kind") else {
        return Err(origin.error(&at, format!("stage `{name}` has no `kind`"), format!("add `kind:` with one of {}", kinds())));
    };
    let kind = kind_node.scalar_text().filter(|_| !kind_node.is_null()).unwrap_or_default();
    let rest = Node {
        kind: NodeKind::Map(entries.iter().filter(|(k, _)| k.scalar_text() != Some("kind")).cloned().collect()),
        mark: node.mark,
    };
    let base = vec![Seg::Key("stages".into()), Seg::Key(name.into())];
    let parsed = match kind {
        "train" => from_node(&rest, base).map(StageSpec::Train),
        "calibrate" => from_node(&rest, base).map(StageSpec::Calibrate),
        "soft_labels" => from_node(&rest, base).map(StageSpec::SoftLabels),
        "evaluate" => from_node(&rest, base).map(StageSpec::Evaluate),
        "export" => from_node(&rest, base).map(StageSpec::Export),
        other => {
            let message = if other.is_empty() {
                format!("stage `{name}` has an empty `kind`")
            } else {
                format!("unknown stage kind `{other}`{}", did_you_mean(other, STAGE_KINDS.iter().map(|(k, _)| *k)))
            };
            return Err(origin.error(&format!("{at}.kind"), message, format!("use one of {}", kinds())));
        }
    };
    parsed.map_err(|e| located(origin, e))
}

/// A deserialization error with its place in the file.
fn located(origin: &SourceMap, e: DeError) -> Error {
    let (message, fix) = e.message_and_fix();
    match &e.place {
        Some(p) => origin.error_at(p.mark, &path_string(&p.path), message, fix),
        None => origin.error_at(Default::default(), "", message, fix),
    }
}

fn malformed(path: &Path, text: &str, e: YamlError) -> Error {
    let fix = if e.message.contains("mapping values are not allowed") {
        "a value holding `: ` must be quoted, or this line is indented wrongly: align it with its siblings"
    } else if e.message.contains("tab") {
        "indent with spaces, not tabs"
    } else if e.message.contains("duplicate key") {
        "keep one of the two (a later one would silently win elsewhere)"
    } else if e.message.contains("second YAML document") {
        "remove the `---` line and what follows, or move it to its own file"
    } else {
        "check the indentation, and that brackets and quotes opened near here are closed"
    };
    let message = if e.message.starts_with("duplicate key") || e.message.starts_with("a second YAML") {
        e.message.clone()
    } else {
        format!("malformed YAML: {}", e.message)
    };
    let excerpt = match e.mark.line.checked_sub(1).and_then(|i| text.lines().nth(i)) {
        Some(line) => excerpt(line, e.mark.line, e.mark.column),
        None => String::new(),
    };
    Diagnostic { path: path.to_path_buf(), line: e.mark.line, column: e.mark.column, key: String::new(), message, excerpt, fix: fix.into() }.into()
}

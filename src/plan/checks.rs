//! The checks [`super::lower`] makes before anything runs: settings no stage could run with,
//! references (dangling, of the wrong kind), cycles, and checks across stages (a calibration
//! head the model lacks, a student whose augmentation differs from its cached views').

use crate::error::{Error, Result};
use crate::spec::diagnostic::{did_you_mean, one_of, suggest};
use crate::spec::pipeline::PipelineSpec;
use crate::spec::stages::{CalibrationMethod, DataChangePolicy, LossSpec, OptimizerSpec, SamplerSpec, StageSpec};

use super::{stage_refs, PlannedStage, ReadRole, StageRef};

/// What a stage's stored output is, for type checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Model,
    SoftLabels,
    Metrics,
    Tables,
}

impl Output {
    pub fn of(spec: &StageSpec) -> Output {
        match spec {
            StageSpec::Train(_) | StageSpec::Calibrate(_) => Output::Model,
            StageSpec::SoftLabels(_) => Output::SoftLabels,
            StageSpec::Evaluate(_) => Output::Metrics,
            StageSpec::Export(_) => Output::Tables,
        }
    }

    fn words(self) -> &'static str {
        match self {
            Output::Model => "a model",
            Output::SoftLabels => "soft labels",
            Output::Metrics => "metrics",
            Output::Tables => "label tables",
        }
    }
}

/// What a reference through `role` from a stage of `reader`'s kind may point at, in words.
fn accepted(reader: &StageSpec, role: ReadRole) -> (&'static [Output], &'static str) {
    match (reader, role) {
        (StageSpec::Train(_), ReadRole::Distill) => (&[Output::SoftLabels], "soft labels (a soft_labels stage)"),
        (StageSpec::Export(_), _) => (&[Output::SoftLabels, Output::Metrics], "soft labels or metrics (a soft_labels or evaluate stage)"),
        _ => (&[Output::Model], "a model (a train or calibrate stage)"),
    }
}

/// Model names offered as suggestions for an unknown `model`.
const MODEL_NAMES: [&str; 9] =
    ["resnet8", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet32-w8", "resnet50", "resnext50_32x4d"];

/// The heads a calibrate stage can re-balance.
const HEADS: [&str; 2] = ["fc", "fc_soft"];

fn stage_error(p: &PipelineSpec, stage: &str, key: &str, message: impl Into<String>, fix: impl Into<String>) -> Error {
    let path = if key.is_empty() { format!("stages.{stage}") } else { format!("stages.{stage}.{key}") };
    p.origin.error(&path, message, fix)
}

/// The key to point at for a setting that may come from `defaults`: the stage's own when the
/// file sets it there, else `defaults.<key>` when that is where it came from.
fn setting_error(p: &PipelineSpec, stage: &str, key: &str, message: impl Into<String>, fix: impl Into<String>) -> Error {
    let own = format!("stages.{stage}.{key}");
    let from_defaults = format!("defaults.{key}");
    let at = if !p.origin.has(&own) && p.origin.has(&from_defaults) { from_defaults } else { own };
    p.origin.error(&at, message, fix)
}

fn positive(p: &PipelineSpec, stage: &str, key: &str, value: f32) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        return Ok(());
    }
    Err(stage_error(p, stage, key, format!("`{key}` must be a positive number, got {value}"), format!("set `{key}` above 0")))
}

fn at_least_one(p: &PipelineSpec, stage: &str, key: &str, value: usize, example: usize) -> Result<()> {
    if value >= 1 {
        return Ok(());
    }
    Err(setting_error(p, stage, key, format!("`{key}` must be at least 1, got 0"), format!("set e.g. `{key}: {example}`")))
}

fn check_optimizer(p: &PipelineSpec, stage: &str, optimizer: &Option<OptimizerSpec>) -> Result<()> {
    let Some(OptimizerSpec::Sgd(sgd)) = optimizer else { return Ok(()) };
    if !(sgd.lr.is_finite() && sgd.lr > 0.0) {
        return Err(setting_error(p, stage, "optimizer", format!("the SGD learning rate must be positive, got {}", sgd.lr), "set e.g. `optimizer: {sgd: {lr: 0.1}}`"));
    }
    if !(0.0..1.0).contains(&sgd.momentum) || sgd.weight_decay < 0.0 {
        return Err(setting_error(
            p,
            stage,
            "optimizer",
            format!("SGD momentum must be in [0, 1) and weight decay at least 0, got {} and {}", sgd.momentum, sgd.weight_decay),
            "use e.g. `{sgd: {lr: 0.1, momentum: 0.9, weight_decay: 5.0e-4}}`",
        ));
    }
    Ok(())
}

fn check_sampler(p: &PipelineSpec, stage: &str, sampler: &Option<SamplerSpec>) -> Result<()> {
    if let Some(SamplerSpec::ClassBalanced { per_class: 0 }) = sampler {
        return Err(setting_error(p, stage, "sampler", "a class-balanced sampler needs `per_class` of at least 1", "use e.g. `sampler: {class_balanced: {per_class: 2}}`"));
    }
    Ok(())
}

/// Settings of one stage (defaults merged) that no run could use.
pub fn check_settings(p: &PipelineSpec, stage: &PlannedStage) -> Result<()> {
    let name = stage.name.as_str();
    match &stage.spec {
        StageSpec::Train(t) => {
            at_least_one(p, name, "epochs", t.epochs, 10)?;
            if let Some(b) = t.batch_size {
                at_least_one(p, name, "batch_size", b, 128)?;
            }
            if let Err(e) = crate::nn::arch::Arch::parse(t.model()) {
                let reason = match e {
                    Error::Invalid { message, .. } => message,
                    other => other.to_string(),
                };
                return Err(setting_error(
                    p,
                    name,
                    "model",
                    format!("unknown model `{}`{}", t.model(), did_you_mean(t.model(), MODEL_NAMES)),
                    format!("{reason}; e.g. {}", one_of(MODEL_NAMES)),
                ));
            }
            check_optimizer(p, name, &t.optimizer)?;
            check_sampler(p, name, &t.sampler)?;
            if t.losses.is_empty() {
                return Err(stage_error(p, name, "losses", "a train stage needs at least one loss", "write e.g. `losses: [ce]`"));
            }
            let mut seen: Vec<&str> = Vec::new();
            for (i, loss) in t.losses.iter().enumerate() {
                let (kind, key) = match loss {
                    LossSpec::Ce(_) => ("ce", format!("losses[{i}]")),
                    LossSpec::Contrastive(_) => ("contrastive", format!("losses[{i}]")),
                    LossSpec::Distill(_) => ("distill", format!("losses[{i}]")),
                };
                if seen.contains(&kind) {
                    return Err(stage_error(p, name, &key, format!("the `{kind}` loss is listed twice"), format!("keep one `{kind}` (set its `weight` to scale it)")));
                }
                seen.push(kind);
                match loss {
                    LossSpec::Ce(ce) => {
                        if ce.balanced_softmax && ce.logit_adjust.is_some() {
                            return Err(stage_error(
                                p,
                                name,
                                &format!("{key}.ce"),
                                "`balanced_softmax` and `logit_adjust` both set (balanced softmax is logit adjustment with tau = 1)",
                                "keep one of the two",
                            ));
                        }
                    }
                    LossSpec::Contrastive(c) => {
                        positive(p, name, &format!("{key}.contrastive.temperature"), c.temperature)?;
                        if !(0.0..1.0).contains(&c.momentum) {
                            return Err(stage_error(
                                p,
                                name,
                                &format!("{key}.contrastive.momentum"),
                                format!("the key encoder's momentum must be in [0, 1), got {}", c.momentum),
                                "use e.g. `momentum: 0.999` (MoCo)",
                            ));
                        }
                        at_least_one(p, name, &format!("{key}.contrastive.queue"), c.queue, 4096)?;
                        at_least_one(p, name, &format!("{key}.contrastive.dim"), c.dim, 128)?;
                    }
                    LossSpec::Distill(d) => positive(p, name, &format!("{key}.distill.temperature"), d.temperature)?,
                }
            }
            if t.key_augment.is_some() && !seen.contains(&"contrastive") {
                return Err(stage_error(
                    p,
                    name,
                    "key_augment",
                    "`key_augment` is set but no `contrastive` loss uses a key view",
                    "remove `key_augment`, or add a `contrastive` loss to `losses`",
                ));
            }
            if let DataChangePolicy::WarmStart { epochs: 0 } = t.on_data_change {
                return Err(stage_error(p, name, "on_data_change", "`warm_start` needs `epochs` of at least 1", "use e.g. `on_data_change: {warm_start: {epochs: 5}}`"));
            }
        }
        StageSpec::Calibrate(c) => {
            if c.method != CalibrationMethod::TauNorm {
                at_least_one(p, name, "epochs", c.epochs, 10)?;
            }
            if let Some(b) = c.batch_size {
                at_least_one(p, name, "batch_size", b, 128)?;
            }
            if !(c.tau.is_finite() && c.tau >= 0.0) {
                return Err(stage_error(p, name, "tau", format!("`tau` must be 0 or more, got {}", c.tau), "use e.g. `tau: 1.0`"));
            }
            if let Some(head) = &c.head {
                if !HEADS.contains(&head.as_str()) {
                    return Err(stage_error(
                        p,
                        name,
                        "head",
                        format!("unknown head `{head}`{}", did_you_mean(head, HEADS)),
                        format!("use {} (hard labels) or {} (a distilled student's soft head); unset takes the model's default head", "`fc`", "`fc_soft`"),
                    ));
                }
            }
            check_optimizer(p, name, &c.optimizer)?;
            check_sampler(p, name, &c.sampler)?;
        }
        StageSpec::SoftLabels(s) => {
            positive(p, name, "temperature", s.temperature)?;
            if let Some(k) = s.top_k {
                at_least_one(p, name, "top_k", k, 10)?;
            }
            at_least_one(p, name, "views", s.views as usize, 1)?;
            if let Some(b) = s.batch_size {
                at_least_one(p, name, "batch_size", b, 128)?;
            }
        }
        StageSpec::Evaluate(e) => {
            if e.from.is_empty() {
                return Err(stage_error(p, name, "from", "an evaluate stage needs at least one model in `from`", "list the model stages, e.g. `from: [ce, ce_lws]`"));
            }
            at_least_one(p, name, "ece_bins", e.ece_bins, 15)?;
            if let Some(b) = e.batch_size {
                at_least_one(p, name, "batch_size", b, 128)?;
            }
        }
        StageSpec::Export(e) => {
            if e.from.is_empty() {
                return Err(stage_error(p, name, "from", "an export stage needs at least one stage in `from`", "list soft_labels and evaluate stages, e.g. `from: [soft, eval]`"));
            }
        }
    }
    let refs = stage_refs(&stage.spec);
    for (i, r) in refs.iter().enumerate() {
        if refs[..i].iter().any(|o| o.stage == r.stage && o.role == r.role) {
            return Err(stage_error(p, name, &r.key, format!("`{}` is listed twice", r.stage), format!("keep one `{}`", r.stage)));
        }
    }
    Ok(())
}

/// Every reference names a defined stage whose output the reader can consume.
pub fn check_references(p: &PipelineSpec, stages: &[PlannedStage]) -> Result<()> {
    for stage in stages {
        for r in stage_refs(&stage.spec) {
            let Some(target) = stages.iter().find(|s| s.name == r.stage) else {
                let others = stages.iter().map(|s| s.name.as_str()).filter(|n| *n != stage.name);
                let (_, wanted) = accepted(&stage.spec, r.role);
                let fitting = fitting_names(stages, &stage.spec, r.role, &stage.name);
                return Err(stage_error(
                    p,
                    &stage.name,
                    &r.key,
                    format!(
                        "stage `{}` reads `{}`, which is not defined{}",
                        stage.name,
                        r.stage,
                        suggest(&r.stage, others).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default()
                    ),
                    if fitting.is_empty() {
                        format!("define a stage `{}` producing {wanted}", r.stage)
                    } else {
                        format!("name a stage producing {wanted}: {}", one_of(fitting.iter().map(String::as_str)))
                    },
                ));
            };
            if target.name == stage.name {
                return Err(stage_error(
                    p,
                    &stage.name,
                    &r.key,
                    format!("stages form a cycle: `{}` reads itself", stage.name),
                    "a stage reads only stages before it in the graph; name another stage",
                ));
            }
            let (ok, wanted) = accepted(&stage.spec, r.role);
            let produced = Output::of(&target.spec);
            if !ok.contains(&produced) {
                let fitting = fitting_names(stages, &stage.spec, r.role, &stage.name);
                return Err(stage_error(
                    p,
                    &stage.name,
                    &r.key,
                    format!(
                        "stage `{}` reads `{}` through `{}`, but `{}` is {} `{}` stage, which produces {}; this takes {wanted}",
                        stage.name,
                        r.stage,
                        r.key,
                        r.stage,
                        if target.spec.kind().starts_with('e') { "an" } else { "a" },
                        target.spec.kind(),
                        produced.words()
                    ),
                    if fitting.is_empty() {
                        format!("add a stage producing {wanted} and name it here")
                    } else {
                        format!("name one of {}", one_of(fitting.iter().map(String::as_str)))
                    },
                ));
            }
        }
    }
    Ok(())
}

/// Stages (other than `reader_name`) whose output a reference through `role` accepts.
fn fitting_names(stages: &[PlannedStage], reader: &StageSpec, role: ReadRole, reader_name: &str) -> Vec<String> {
    let (ok, _) = accepted(reader, role);
    stages.iter().filter(|s| s.name != reader_name && ok.contains(&Output::of(&s.spec))).map(|s| s.name.clone()).collect()
}

/// No stage depends on itself through other stages. Needs [`check_references`] first.
pub fn check_cycles(p: &PipelineSpec, stages: &[PlannedStage]) -> Result<()> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(i: usize, stages: &[PlannedStage], marks: &mut [Mark], path: &mut Vec<(usize, StageRef)>) -> Option<Vec<(usize, StageRef)>> {
        marks[i] = Mark::Open;
        for r in stage_refs(&stages[i].spec) {
            let Some(j) = stages.iter().position(|s| s.name == r.stage) else { continue };
            path.push((i, r));
            match marks[j] {
                Mark::Open => {
                    let start = path.iter().position(|(k, _)| *k == j).unwrap_or(0);
                    return Some(path[start..].to_vec());
                }
                Mark::New => {
                    if let Some(cycle) = visit(j, stages, marks, path) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
            path.pop();
        }
        marks[i] = Mark::Done;
        None
    }
    let mut marks = vec![Mark::New; stages.len()];
    for i in 0..stages.len() {
        if marks[i] != Mark::New {
            continue;
        }
        if let Some(cycle) = visit(i, stages, &mut marks, &mut Vec::new()) {
            let words: Vec<String> = cycle.iter().map(|(k, r)| format!("`{}` reads `{}`", stages[*k].name, r.stage)).collect();
            let (first, r) = &cycle[0];
            return Err(stage_error(
                p,
                &stages[*first].name,
                &r.key,
                format!("stages form a cycle: {}", words.join(", ")),
                "remove one of these references: a stage can read only stages that do not depend on it",
            ));
        }
    }
    Ok(())
}

/// Whether the model a stage produces has a `fc_soft` head (a distilled student, or a model
/// made from one).
fn has_soft_head(stages: &[PlannedStage], name: &str) -> bool {
    match stages.iter().find(|s| s.name == name).map(|s| &s.spec) {
        Some(StageSpec::Train(t)) => {
            t.losses.iter().any(|l| matches!(l, LossSpec::Distill(_))) || t.init.as_deref().is_some_and(|i| has_soft_head(stages, i))
        }
        Some(StageSpec::Calibrate(c)) => has_soft_head(stages, &c.from),
        _ => false,
    }
}

/// Checks that look at a stage and what it reads (after the graph is known to be sound).
pub fn check_across(p: &PipelineSpec, stages: &[PlannedStage], stage: &PlannedStage) -> Result<()> {
    let name = stage.name.as_str();
    match &stage.spec {
        StageSpec::Calibrate(c) if c.head.as_deref() == Some("fc_soft") && !has_soft_head(stages, &c.from) => Err(stage_error(
            p,
            name,
            "head",
            format!("`head: fc_soft` needs a distilled model, but `{}` has no soft head (no `distill` loss made it)", c.from),
            "use `head: fc` (or leave `head` unset), or calibrate a student trained with a `distill` loss",
        )),
        StageSpec::Train(t) => {
            for r in stage_refs(&stage.spec).into_iter().filter(|r| r.role == ReadRole::Distill) {
                let Some(StageSpec::SoftLabels(s)) = stages.iter().find(|o| o.name == r.stage).map(|o| &o.spec) else { continue };
                if s.views > 1 && t.augment.clone().unwrap_or_default() != s.augment.clone().unwrap_or_default() {
                    return Err(stage_error(
                        p,
                        name,
                        if p.origin.has(&format!("stages.{name}.augment")) { "augment" } else { &r.key },
                        format!(
                            "stage `{name}` replays the {} cached views of `{}`, but its `augment` differs from `{}`'s, so the soft labels would describe other images",
                            s.views, r.stage, r.stage
                        ),
                        format!("give `{name}` and `{}` the same `augment` (or set neither: both then take `defaults.augment`)", r.stage),
                    ));
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

//! Tests: pipeline YAML parsing with located diagnostics, lowering to the stage graph (defaults,
//! references, cycles, type checks), the `--only/--until/--force` selections, DOT and Mermaid
//! drawings, and `ssdlt check` / `ssdlt graph` on the command line.

use std::path::{Path, PathBuf};
use std::process::Command;

use ssdlt::plan::{lower, render, StageGraph};
use ssdlt::spec::pipeline::{parse_str, PipelineSpec};
use ssdlt::spec::stages::{LossSpec, SamplerSpec, StageSpec};
use ssdlt::Error;

const SSD: &str = "\
pipeline: tiny-ssd
seed: 3
device: cpu
dataset: {source: synthetic}
defaults:
  model: resnet8
  batch_size: 16
  augment: [{pad_crop: 2}, hflip]
  sampler: square_root
stages:
  ce: {kind: train, epochs: 2, losses: [ce]}
  ce_lws: {kind: calibrate, from: ce, method: lws, epochs: 1}
  teacher:
    kind: train
    epochs: 2
    losses: [ce, {contrastive: {queue: 64, temperature: 0.2}}]
    key_augment: [{resized_crop: {scale: [0.2, 1.0]}}, hflip]
  teacher_lws: {kind: calibrate, from: teacher, method: lws, epochs: 1}
  soft: {kind: soft_labels, from: teacher_lws, top_k: 5, views: 2}
  student: {kind: train, epochs: 2, losses: [ce, {distill: {from: soft}}]}
  student_lws: {kind: calibrate, from: student, head: fc_soft, method: lws, epochs: 1}
  eval: {kind: evaluate, from: [ce, ce_lws, teacher_lws, student, student_lws]}
  tables: {kind: export, from: [soft, eval], format: parquet}
";

fn parse(yaml: &str) -> PipelineSpec {
    parse_str(yaml, Path::new("p.yaml")).unwrap_or_else(|e| panic!("{e}"))
}

fn graph(yaml: &str) -> StageGraph {
    lower(&parse(yaml)).unwrap_or_else(|e| panic!("{e}"))
}

/// The parts of a spec error: (line, column, key, message, fix).
struct Diag {
    line: usize,
    column: usize,
    key: String,
    message: String,
    fix: String,
    shown: String,
}

fn diag(err: Error) -> Diag {
    let shown = err.to_string();
    assert!(err.is_usage(), "spec errors are usage errors: {shown}");
    match err {
        Error::Spec(d) => Diag { line: d.line, column: d.column, key: d.key, message: d.message, fix: d.fix, shown },
        other => panic!("expected a spec error, got {other}"),
    }
}

fn parse_error(yaml: &str) -> Diag {
    diag(parse_str(yaml, Path::new("p.yaml")).expect_err("the file should be rejected"))
}

fn lower_error(yaml: &str) -> Diag {
    diag(lower(&parse(yaml)).expect_err("the graph should be rejected"))
}

const HEAD: &str = "pipeline: t\ndataset: {source: synthetic}\nstages:\n";

#[test]
fn the_whole_ssd_chain_parses_with_bare_loss_names() {
    let spec = parse(SSD);
    assert_eq!(spec.stages.len(), 9);
    assert_eq!(spec.seed, 3);
    let StageSpec::Train(teacher) = &spec.stages["teacher"] else { panic!("teacher is a train stage") };
    assert!(matches!(teacher.losses[0], LossSpec::Ce(ref ce) if ce.weight == 1.0));
    let LossSpec::Contrastive(c) = &teacher.losses[1] else { panic!("second loss is contrastive") };
    assert_eq!((c.queue, c.momentum, c.mask_same_class), (64, 0.999, true));
    assert_eq!(teacher.key_augment.as_ref().map(|a| a.steps.len()), Some(2));
    let StageSpec::Export(tables) = &spec.stages["tables"] else { panic!("tables is an export stage") };
    assert_eq!(tables.from, ["soft", "eval"]);
}

#[test]
fn shorthands_read_as_their_long_forms() {
    let spec = parse(&format!(
        "{HEAD}  a: {{kind: train, epochs: 1, losses: ce, schedule: cosine, sampler: class_balanced}}\n  b:\n    kind: train\n    epochs: 1\n    losses:\n      - ce:\n          weight: 0.5\n  e: {{kind: evaluate, from: a}}\n"
    ));
    let StageSpec::Train(a) = &spec.stages["a"] else { panic!() };
    assert_eq!(a.losses.len(), 1);
    assert_eq!(a.sampler, Some(SamplerSpec::ClassBalanced { per_class: 2 }));
    let StageSpec::Train(b) = &spec.stages["b"] else { panic!() };
    assert!(matches!(b.losses[0], LossSpec::Ce(ref ce) if ce.weight == 0.5));
    let StageSpec::Evaluate(e) = &spec.stages["e"] else { panic!() };
    assert_eq!(e.from, ["a"]);
}

#[test]
fn an_unknown_key_names_its_line_column_path_and_the_closest_key() {
    let d = parse_error(&format!("{HEAD}  ce:\n    kind: train\n    epoch: 10\n    losses: [ce]\n"));
    assert_eq!((d.line, d.column), (6, 5));
    assert_eq!(d.key, "stages.ce.epoch");
    assert_eq!(d.message, "unknown key `epoch`, did you mean `epochs`?");
    assert!(d.fix.contains("rename `epoch` to `epochs`"), "{}", d.fix);
    assert!(d.shown.starts_with("p.yaml:6:5: unknown key `epoch`"), "{}", d.shown);
}

#[test]
fn an_unknown_key_without_a_near_name_lists_the_keys() {
    let d = parse_error(&format!("{HEAD}  e: {{kind: evaluate, from: [a], zzzz: 1}}\n"));
    assert_eq!(d.key, "stages.e.zzzz");
    assert_eq!(d.message, "unknown key `zzzz`");
    assert!(d.fix.contains("`stages.e` takes `from`, `batch_size`, `ece_bins`"), "{}", d.fix);
}

#[test]
fn a_wrong_type_says_what_the_key_must_be_and_what_it_got() {
    let d = parse_error(&format!("{HEAD}  ce:\n    kind: train\n    epochs: ten\n    losses: [ce]\n"));
    assert_eq!((d.line, d.column), (6, 13));
    assert_eq!(d.key, "stages.ce.epochs");
    assert_eq!(d.message, "`epochs` must be a whole number (0 or more), got `ten`");
    assert!(d.fix.contains("e.g. `epochs: 10`"), "{}", d.fix);

    let d = parse_error(&format!("{HEAD}  ce: {{kind: train, epochs: 1, losses: [ce], optimizer: {{sgd: {{lr: fast}}}}}}\n"));
    assert_eq!(d.key, "stages.ce.optimizer.sgd.lr");
    assert_eq!(d.message, "`lr` must be a number, got `fast`");
}

#[test]
fn an_unknown_stage_kind_lists_the_kinds_and_suggests_one() {
    let d = parse_error(&format!("{HEAD}  ce: {{kind: trian, epochs: 1}}\n"));
    assert_eq!(d.key, "stages.ce.kind");
    assert_eq!(d.line, 4);
    assert_eq!(d.message, "unknown stage kind `trian`, did you mean `train`?");
    for kind in ["train", "calibrate", "soft_labels", "evaluate", "export"] {
        assert!(d.fix.contains(&format!("`{kind}`")), "{}", d.fix);
    }
}

#[test]
fn a_stage_without_a_kind_is_told_to_add_one() {
    let d = parse_error(&format!("{HEAD}  ce: {{epochs: 1, losses: [ce]}}\n"));
    assert_eq!(d.key, "stages.ce");
    assert_eq!(d.message, "stage `ce` has no `kind`");
    assert!(d.fix.starts_with("add `kind:`"), "{}", d.fix);
}

#[test]
fn a_missing_required_key_is_named_with_its_stage() {
    let d = parse_error(&format!("{HEAD}  ce: {{kind: train, losses: [ce]}}\n"));
    assert_eq!(d.message, "missing key `epochs` in `stages.ce`");
    assert_eq!(d.line, 4);
    assert!(d.fix.contains("add `epochs: ...`"), "{}", d.fix);

    let d = parse_error("pipeline: t\ndataset: {source: synthetic}\n");
    assert_eq!(d.message, "missing key `stages` in the top level of the file");
}

#[test]
fn errors_inside_losses_and_augment_carry_their_full_path() {
    let d = parse_error(&format!("{HEAD}  t: {{kind: train, epochs: 1, losses: [ce, {{contrastive: {{queu: 10}}}}]}}\n"));
    assert_eq!(d.key, "stages.t.losses[1].contrastive.queu");
    assert_eq!(d.message, "unknown key `queu`, did you mean `queue`?");

    let d = parse_error(&format!("{HEAD}  t:\n    kind: train\n    epochs: 1\n    losses: [ce]\n    augment:\n      - {{pad_crop: 4}}\n      - hflp\n"));
    assert_eq!(d.key, "stages.t.augment[1]");
    assert_eq!((d.line, d.column), (10, 9));
    assert_eq!(d.message, "unknown value `hflp` for `augment[1]`, did you mean `hflip`?");

    let d = parse_error(&format!("{HEAD}  t: {{kind: train, epochs: 1, losses: [{{cee: {{weight: 1}}}}]}}\n"));
    assert_eq!(d.key, "stages.t.losses[0].cee");
    assert_eq!(d.message, "unknown key `cee`, did you mean `ce`?");

    let d = parse_error(&format!("{HEAD}  t: {{kind: train, epochs: 1, losses: [crossentropy]}}\n"));
    assert_eq!(d.key, "stages.t.losses[0]");
    assert!(d.fix.contains("`ce`, `contrastive`, `distill`"), "{}", d.fix);
}

#[test]
fn an_unknown_top_level_key_suggests_the_right_one() {
    let d = parse_error("pipeline: t\ndataset: {source: synthetic}\nstage:\n  ce: {kind: train, epochs: 1, losses: [ce]}\n");
    assert_eq!((d.line, d.column, d.key.as_str()), (3, 1, "stage"));
    assert_eq!(d.message, "unknown key `stage`, did you mean `stages`?");
}

#[test]
fn an_unknown_dataset_source_suggests_the_closest() {
    let d = parse_error("pipeline: t\ndataset: {source: cifar-10}\nstages:\n  ce: {kind: train, epochs: 1, losses: [ce]}\n");
    assert_eq!(d.key, "dataset.source");
    assert_eq!(d.message, "unknown value `cifar-10` for `source`, did you mean `cifar10`?");
}

#[test]
fn malformed_yaml_points_at_the_line() {
    let d = parse_error(&format!("{HEAD}  ce: {{kind: train, epochs: 1\n  b: 2\n"));
    assert!(d.message.starts_with("malformed YAML"), "{}", d.message);
    assert!(d.line >= 4, "line {}", d.line);

    let d = parse_error("pipeline: t\n---\npipeline: u\n");
    assert!(d.message.contains("a second YAML document"), "{}", d.message);

    let d = parse_error("pipeline: t\ndataset:\n\tsource: synthetic\n");
    assert_eq!(d.line, 3);
    assert_eq!(d.fix, "indent with spaces, not tabs");

    let d = parse_error("pipeline: t\ndataset:\n  source: synthetic\n    root: x\n");
    assert!(d.message.starts_with("malformed YAML"), "{}", d.message);
    assert_eq!(d.line, 4);
    assert!(d.fix.contains("indented"), "{}", d.fix);
}

#[test]
fn duplicate_stage_names_and_empty_files_are_rejected() {
    let d = parse_error(&format!("{HEAD}  ce: {{kind: train, epochs: 1, losses: [ce]}}\n  ce: {{kind: train, epochs: 2, losses: [ce]}}\n"));
    assert_eq!(d.line, 5);
    assert_eq!(d.message, "duplicate key `ce` (first set at line 4)");

    assert_eq!(parse_error("").message, "the pipeline file is empty");
    assert_eq!(parse_error(HEAD).message, "`stages` is empty");
}

#[test]
fn defaults_fill_what_a_stage_leaves_unset_and_never_the_calibration_sampler() {
    let g = graph(&SSD.replace("  ce: {kind: train, epochs: 2, losses: [ce]}", "  ce: {kind: train, epochs: 2, losses: [ce], model: resnet20, batch_size: 32}"));
    let StageSpec::Train(ce) = &g.get("ce").unwrap().spec else { panic!() };
    assert_eq!((ce.model(), ce.batch_size()), ("resnet20", 32), "a stage's own values win");
    assert_eq!(ce.sampler(), SamplerSpec::SquareRoot, "the sampler comes from defaults");
    assert_eq!(ce.augment().steps.len(), 2);
    let StageSpec::Train(teacher) = &g.get("teacher").unwrap().spec else { panic!() };
    assert_eq!((teacher.model(), teacher.batch_size()), ("resnet8", 16));
    let StageSpec::Calibrate(lws) = &g.get("ce_lws").unwrap().spec else { panic!() };
    assert_eq!(lws.batch_size(), 16);
    assert_eq!(lws.sampler(), SamplerSpec::ClassBalanced { per_class: 2 }, "calibration never takes the training sampler");
    let StageSpec::SoftLabels(soft) = &g.get("soft").unwrap().spec else { panic!() };
    assert_eq!(soft.augment.as_ref().map(|a| a.steps.len()), Some(2));
    let StageSpec::Evaluate(eval) = &g.get("eval").unwrap().spec else { panic!() };
    assert_eq!(eval.batch_size, Some(16));
}

#[test]
fn the_order_is_topological_and_otherwise_follows_the_file() {
    let g = graph(&format!(
        "{HEAD}  eval: {{kind: evaluate, from: [lws, ce]}}\n  lws: {{kind: calibrate, from: ce, method: lws}}\n  ce: {{kind: train, epochs: 1, losses: [ce]}}\n  other: {{kind: train, epochs: 1, losses: [ce]}}\n"
    ));
    assert_eq!(g.names(), ["ce", "lws", "eval", "other"]);
    assert_eq!(g.get("eval").unwrap().inputs, ["lws", "ce"]);
    let g = graph(SSD);
    assert_eq!(g.get("student").unwrap().inputs, ["soft"]);
}

#[test]
fn a_dangling_reference_suggests_the_closest_stage() {
    let d = lower_error(&SSD.replace("distill: {from: soft}", "distill: {from: sotf}"));
    assert_eq!(d.key, "stages.student.losses[1].distill.from");
    assert_eq!(d.message, "stage `student` reads `sotf`, which is not defined; did you mean `soft`?");
    assert!(d.fix.contains("`soft`"), "{}", d.fix);
    assert_eq!(d.line, 20);
}

#[test]
fn a_cycle_is_named_stage_by_stage() {
    let d = lower_error(&format!(
        "{HEAD}  a: {{kind: calibrate, from: c, method: lws}}\n  b: {{kind: calibrate, from: a, method: lws}}\n  c: {{kind: calibrate, from: b, method: lws}}\n"
    ));
    assert_eq!(d.message, "stages form a cycle: `a` reads `c`, `c` reads `b`, `b` reads `a`");
    assert_eq!((d.key.as_str(), d.line), ("stages.a.from", 4));

    let d = lower_error(&format!("{HEAD}  a: {{kind: calibrate, from: a, method: lws}}\n"));
    assert_eq!(d.message, "stages form a cycle: `a` reads itself");
}

#[test]
fn a_stage_reading_an_output_its_kind_cannot_consume_is_rejected() {
    let d = lower_error(&SSD.replace("soft: {kind: soft_labels, from: teacher_lws", "soft: {kind: soft_labels, from: eval"));
    assert_eq!(d.key, "stages.soft.from");
    assert!(d.message.contains("`eval` is an `evaluate` stage, which produces metrics; this takes a model"), "{}", d.message);
    assert!(d.fix.contains("`teacher_lws`"), "{}", d.fix);

    let d = lower_error(&SSD.replace("distill: {from: soft}", "distill: {from: teacher_lws}"));
    assert!(d.message.contains("produces a model; this takes soft labels"), "{}", d.message);
    assert!(d.fix.contains("`soft`"), "{}", d.fix);

    let d = lower_error(&SSD.replace("from: [soft, eval], format", "from: [soft, ce], format"));
    assert_eq!(d.key, "stages.tables.from[1]");

    let d = lower_error(&SSD.replace("from: [ce, ce_lws, teacher_lws", "from: [ce, soft, teacher_lws"));
    assert_eq!(d.key, "stages.eval.from[1]");

    let d = lower_error(&SSD.replace("losses: [ce, {distill: {from: soft}}]", "losses: [ce], init: tables"));
    assert_eq!(d.key, "stages.student.init");
}

#[test]
fn a_student_must_augment_like_the_views_it_replays() {
    let d = lower_error(&SSD.replace(
        "losses: [ce, {distill: {from: soft}}]}",
        "losses: [ce, {distill: {from: soft}}], augment: [hflip]}",
    ));
    assert_eq!(d.key, "stages.student.augment");
    assert!(d.message.contains("replays the 2 cached views of `soft`"), "{}", d.message);
    // With one view (view 0, un-augmented) the student may augment as it likes.
    graph(&SSD.replace("views: 2", "views: 1").replace(
        "losses: [ce, {distill: {from: soft}}]}",
        "losses: [ce, {distill: {from: soft}}], augment: [hflip]}",
    ));
}

#[test]
fn settings_no_stage_could_run_with_are_rejected_before_running() {
    let d = lower_error(&SSD.replace("from: student, head", "from: ce, head"));
    assert_eq!(d.key, "stages.student_lws.head");
    assert!(d.message.contains("needs a distilled model"), "{}", d.message);

    let d = lower_error(&SSD.replace("head: fc_soft", "head: soft"));
    assert_eq!(d.message, "unknown head `soft`, did you mean `fc_soft`?");

    let d = lower_error(&SSD.replace("model: resnet8", "model: resnet9"));
    assert_eq!(d.key, "defaults.model");
    assert!(d.message.starts_with("unknown model `resnet9`, did you mean `resnet8`?"), "{}", d.message);

    let d = lower_error(&SSD.replace("  ce: {kind: train, epochs: 2", "  ce: {kind: train, epochs: 0"));
    assert_eq!(d.key, "stages.ce.epochs");

    let d = lower_error(&SSD.replace("losses: [ce]}", "losses: [ce, ce]}"));
    assert_eq!(d.message, "the `ce` loss is listed twice");

    let d = lower_error(&SSD.replace("losses: [ce]}", "losses: [ce], key_augment: [hflip]}"));
    assert_eq!(d.key, "stages.ce.key_augment");

    let d = lower_error(&SSD.replace("top_k: 5", "top_k: 0"));
    assert_eq!(d.key, "stages.soft.top_k");

    let d = lower_error(&SSD.replace("from: [ce, ce_lws, teacher_lws", "from: [ce, ce_lws, ce"));
    assert_eq!((d.key.as_str(), d.message.as_str()), ("stages.eval.from[2]", "`ce` is listed twice"));
}

#[test]
fn only_keeps_the_stage_and_what_it_needs() {
    let g = graph(SSD);
    assert_eq!(g.only("student").unwrap().names(), ["teacher", "teacher_lws", "soft", "student"]);
    assert_eq!(g.only("ce").unwrap().names(), ["ce"]);
    assert_eq!(g.only("tables").unwrap().names(), g.names(), "tables needs every stage");
}

#[test]
fn until_keeps_the_run_order_up_to_the_stage() {
    let g = graph(SSD);
    assert_eq!(g.until("teacher_lws").unwrap().names(), ["ce", "ce_lws", "teacher", "teacher_lws"]);
}

#[test]
fn force_takes_the_stage_and_everything_downstream() {
    let g = graph(SSD);
    assert_eq!(g.forced(&["soft".into()]).unwrap(), ["soft", "student", "student_lws", "eval", "tables"]);
    assert_eq!(g.forced(&["ce_lws".into(), "student_lws".into()]).unwrap(), ["ce_lws", "student_lws", "eval", "tables"]);
}

#[test]
fn selecting_an_unknown_stage_suggests_the_closest() {
    let err = graph(SSD).only("studnet").unwrap_err();
    assert!(err.is_usage());
    assert!(err.to_string().contains("no stage `studnet` in this pipeline, did you mean `student`?"), "{err}");
}

const SMALL: &str = "\
pipeline: small
dataset: {source: synthetic}
stages:
  ce: {kind: train, epochs: 1, losses: [ce]}
  soft: {kind: soft_labels, from: ce}
  student: {kind: train, epochs: 1, losses: [ce, {distill: {from: soft}}], init: ce}
  eval: {kind: evaluate, from: [ce, student]}
";

#[test]
fn dot_draws_each_stage_with_its_kind_and_each_read_as_a_labelled_edge() {
    let want = "\
digraph \"small\" {
  rankdir=LR;
  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];
  edge [fontname=\"Helvetica\", fontsize=10];
  \"ce\" [label=\"ce\\ntrain\", fillcolor=\"#dbeafe\"];
  \"soft\" [label=\"soft\\nsoft_labels\", fillcolor=\"#fef3c7\"];
  \"student\" [label=\"student\\ntrain\", fillcolor=\"#dbeafe\"];
  \"eval\" [label=\"eval\\nevaluate\", fillcolor=\"#dcfce7\"];
  \"ce\" -> \"soft\" [label=\"from\"];
  \"ce\" -> \"student\" [label=\"init\"];
  \"soft\" -> \"student\" [label=\"distill\"];
  \"ce\" -> \"eval\" [label=\"from\"];
  \"student\" -> \"eval\" [label=\"from\"];
}
";
    assert_eq!(render::dot(&graph(SMALL), "small"), want);
}

#[test]
fn mermaid_draws_the_same_graph_as_a_flowchart() {
    let want = "\
flowchart LR
  s0[\"ce<br/>train\"]:::train
  s1[\"soft<br/>soft_labels\"]:::soft_labels
  s2[\"student<br/>train\"]:::train
  s3[\"eval<br/>evaluate\"]:::evaluate
  s0 -->|from| s1
  s0 -->|init| s2
  s1 -->|distill| s2
  s0 -->|from| s3
  s2 -->|from| s3
  classDef train fill:#dbeafe
  classDef soft_labels fill:#fef3c7
  classDef evaluate fill:#dcfce7
";
    assert_eq!(render::mermaid(&graph(SMALL)), want);
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ssdlt-pipeline-spec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn ssdlt(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ssdlt")).args(args).output().expect("running ssdlt");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn check_prints_ok_and_the_run_order() {
    let file = temp_file("small.yaml", SMALL);
    let (code, stdout, stderr) = ssdlt(&["check", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let want = "\
ok: 4 stages (pipeline small)
  1. ce       train
  2. soft     soft_labels  <- ce
  3. student  train        <- ce, soft
  4. eval     evaluate     <- ce, student
";
    assert_eq!(stdout, want);
}

#[test]
fn check_exits_2_with_the_located_message_and_the_fix() {
    let file = temp_file("typo.yaml", &SMALL.replace("epochs: 1, losses: [ce]}", "epoch: 1, losses: [ce]}"));
    let (code, stdout, stderr) = ssdlt(&["check", file.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    let want = format!(
        "error: {}:4:21: unknown key `epoch`, did you mean `epochs`? (at `stages.ce.epoch`)\n  4 |   ce: {{kind: train, epoch: 1, losses: [ce]}}\n    |                     ^^^^^\n  fix: rename `epoch` to `epochs`\n",
        file.display()
    );
    assert_eq!(stderr, want);

    let file = temp_file("cycle.yaml", &SMALL.replace("from: ce}", "from: student}"));
    let (code, _, stderr) = ssdlt(&["check", file.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(":5:29: stages form a cycle: `soft` reads `student`, `student` reads `soft`"), "{stderr}");

    let (code, _, stderr) = ssdlt(&["check", "no/such/pipeline.yaml"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot read the pipeline file"), "{stderr}");
}

#[test]
fn check_notes_a_dataset_root_that_does_not_exist_yet_and_still_passes() {
    let file = temp_file("rooted.yaml", &SMALL.replace("{source: synthetic}", "{source: cifar10, root: no-such-folder}"));
    let (code, stdout, stderr) = ssdlt(&["check", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stderr.contains("note: the dataset root") && stderr.contains("no-such-folder"), "{stderr}");
}

#[test]
fn graph_prints_dot_by_default_and_mermaid_on_request() {
    let file = temp_file("graph.yaml", SMALL);
    let (code, stdout, stderr) = ssdlt(&["graph", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, render::dot(&graph(SMALL), "small"));
    let (code, stdout, stderr) = ssdlt(&["graph", file.to_str().unwrap(), "--format", "mermaid"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, render::mermaid(&graph(SMALL)));
}

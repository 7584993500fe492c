#!/usr/bin/env python3
"""The README's Fashion-MNIST-LT results table: ssdlt's runs (one `ssdlt run` per seed of
pipelines/fashion_mnist_lt.yaml) beside the independent PyTorch reference
(tests/reference_ssd_lt.py, one run per seed), mean +- std over seeds, and the difference of the
means in points.

  python3 tests/fashion_mnist_lt_table.py \
      --ours runs/seed*/exports/fashion-mnist-lt/per_class.parquet \
      --reference runs/ref/seed*/results.json [--per-seed]

ssdlt's side is read from its exported `per_class` label table (Parquet, Arrow or CSV, as
`ssdlt export --table per_class` writes it): overall accuracy is the mean over the balanced test
set's classes, many/medium/few the mean over each shot group's classes.
"""

import argparse
import json
import statistics

# (method label, ssdlt (model, head), reference method)
ROWS = [
    ("CE", ("ce", "fc"), "ce"),
    ("CE + LWS", ("ce_lws", "fc"), "ce_lws"),
    ("CE + cRT", ("ce_crt", "fc"), "ce_crt"),
    ("CE + tau-norm", ("ce_tau", "fc"), "ce_tau"),
    ("SSD teacher (stage I: CE + MoCo)", ("teacher", "fc"), "teacher"),
    ("SSD teacher + LWS (stage II, soft labels)", ("teacher_lws", "fc"), "teacher_lws"),
    ("SSD student, hard head `fc`", ("student", "fc"), "student_fc"),
    ("SSD student, soft head (stage III)", ("student", "fc_soft"), "student"),
    ("SSD student + LWS (stage IV)", ("student_lws", "fc_soft"), "student_lws"),
]
GROUPS = ["overall", "many", "medium", "few"]


def read_table(path):
    import pyarrow.csv
    import pyarrow.ipc
    import pyarrow.parquet

    if path.endswith(".parquet"):
        return pyarrow.parquet.read_table(path).to_pylist()
    if path.endswith(".csv"):
        return pyarrow.csv.read_csv(path).to_pylist()
    return pyarrow.ipc.open_file(path).read_all().to_pylist()


def ours_of(path):
    """{(model, head): {group: accuracy in points}} of one run's per_class table."""
    by_model = {}
    for row in read_table(path):
        by_model.setdefault((row["model"], row["head"]), []).append(row)
    out = {}
    for key, rows in by_model.items():
        acc = lambda keep: 100 * statistics.mean(r["accuracy"] for r in rows if keep(r))
        out[key] = {"overall": acc(lambda r: True), **{g: acc(lambda r, g=g: r["shot_group"] == g) for g in GROUPS[1:]}}
    return out


def mean_std(values):
    if not values:
        return None
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def cell(ms):
    return "–" if ms is None else f"{ms[0]:.1f} ± {ms[1]:.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours", nargs="*", default=[], help="per_class tables of ssdlt's runs, one per seed")
    ap.add_argument("--reference", nargs="*", default=[], help="results.json of the reference, one per seed")
    ap.add_argument("--per-seed", action="store_true", help="also print every seed's overall accuracy")
    args = ap.parse_args()
    ours = [ours_of(p) for p in args.ours]
    refs = [json.load(open(p)) for p in args.reference]
    print(f"ssdlt: {len(ours)} seeds; reference: {len(refs)} seeds (seeds {', '.join(str(r['seed']) for r in refs)})\n")
    head = "| method | " + " | ".join(f"ssdlt {g}" for g in GROUPS) + " | reference overall | Δ overall (ssdlt − ref) |"
    print(head)
    print("|" + "---|" * (len(GROUPS) + 3))
    for label, key, ref_key in ROWS:
        cells = [cell(mean_std([run[key][g] for run in ours if key in run])) for g in GROUPS]
        ours_overall = mean_std([run[key]["overall"] for run in ours if key in run])
        ref_overall = mean_std([r["methods"][ref_key]["overall"] for r in refs])
        delta = "–" if ours_overall is None or ref_overall is None else f"{ours_overall[0] - ref_overall[0]:+.1f}"
        print(f"| {label} | " + " | ".join(cells) + f" | {cell(ref_overall)} | {delta} |")
    print("\nreference, all groups:\n")
    print("| method | " + " | ".join(GROUPS) + " |")
    print("|" + "---|" * (len(GROUPS) + 1))
    for label, _, ref_key in ROWS:
        print(f"| {label} | " + " | ".join(cell(mean_std([r["methods"][ref_key][g] for r in refs])) for g in GROUPS) + " |")
    if args.per_seed:
        print("\nper seed, overall (ssdlt runs in the order given, then the reference):\n")
        for label, key, ref_key in ROWS:
            o = ", ".join(f"{run[key]['overall']:.1f}" for run in ours if key in run)
            r = ", ".join(f"{x['methods'][ref_key]['overall']:.1f}" for x in refs)
            print(f"- {label}: ssdlt [{o}]  reference [{r}]")
        print_stage_one_evidence(ours, [run_name(p) for p in args.ours], refs)


def run_name(path):
    """The folder the pipeline file of a per_class table sits in (`.../seed1/exports/<pipeline>/per_class.parquet` -> `seed1`)."""
    parts = path.replace("\\", "/").split("/")
    return parts[parts.index("exports") - 1] if "exports" in parts[1:] else path


def print_stage_one_evidence(ours, names, refs):
    """Per seed and implementation: the stage I teacher against plain CE (overall and few-shot),
    and the SSD student (stages III and IV) against the LWS baseline: the evidence for where SSD
    falls short of LWS, if it does."""
    print("\nper seed: stage I teacher against CE, and the SSD student against CE + LWS (overall; few-shot in brackets):\n")
    print("| run | CE | teacher | teacher − CE | CE + LWS | student III | student IV | IV − LWS |")
    print("|---|---|---|---|---|---|---|---|")
    def both(acc):
        return f"{acc['overall']:.1f} ({acc['few']:.1f})"
    def row(name, ce, teacher, lws, s3, s4):
        d_t = f"{teacher['overall'] - ce['overall']:+.1f} ({teacher['few'] - ce['few']:+.1f})"
        d_s = f"{s4['overall'] - lws['overall']:+.1f} ({s4['few'] - lws['few']:+.1f})"
        print(f"| {name} | {both(ce)} | {both(teacher)} | {d_t} | {both(lws)} | {both(s3)} | {both(s4)} | {d_s} |")
    keys = [("ce", "fc"), ("teacher", "fc"), ("ce_lws", "fc"), ("student", "fc_soft"), ("student_lws", "fc_soft")]
    for name, run in zip(names, ours):
        if all(k in run for k in keys):
            row(f"ssdlt {name}", *(run[k] for k in keys))
    for r in refs:
        m = r["methods"]
        if all(k in m for k in ("ce", "teacher", "ce_lws", "student", "student_lws")):
            row(f"reference seed {r['seed']}", m["ce"], m["teacher"], m["ce_lws"], m["student"], m["student_lws"])


if __name__ == "__main__":
    main()

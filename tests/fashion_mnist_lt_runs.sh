#!/usr/bin/env bash
# Reproduces the README's Fashion-MNIST-LT results table: for seeds 0, 1 and 2, one `ssdlt run`
# of pipelines/fashion_mnist_lt.yaml (seed set in a copy of the file) and one run of the
# independent PyTorch reference (tests/reference_ssd_lt.py, checked against the same split lock),
# then the table (tests/fashion_mnist_lt_table.py).
#
#   cargo build --release && tests/fashion_mnist_lt_runs.sh [WORKDIR]   # default runs/fashion_mnist_lt
#
# About 2 h per seed for each implementation on 2 cores. Both resume: run it again after an
# interruption and finished stages (ssdlt) or epochs (reference) are not redone. SEEDS="0 1"
# picks seeds; SSDLT points at another binary.
set -euo pipefail
work=${1:-runs/fashion_mnist_lt}
ssdlt=${SSDLT:-target/release/ssdlt}
seeds=${SEEDS:-0 1 2}
for seed in $seeds; do
  dir="$work/seed$seed"
  mkdir -p "$dir"
  sed "s/^seed: 0$/seed: $seed/" pipelines/fashion_mnist_lt.yaml > "$dir/fashion_mnist_lt.yaml"
  "$ssdlt" run "$dir/fashion_mnist_lt.yaml"
  python3 tests/reference_ssd_lt.py --seed "$seed" --out "$work/ref/seed$seed" --lock "$dir/fashion_mnist_lt.split.lock.json"
done
python3 tests/fashion_mnist_lt_table.py --per-seed \
  --ours "$work"/seed*/exports/fashion-mnist-lt/per_class.parquet \
  --reference "$work"/ref/seed*/results.json

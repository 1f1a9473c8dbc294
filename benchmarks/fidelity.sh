#!/usr/bin/env bash
# resbench's ResNet-20 against an independent trainer (benchmarks/fidelity_reference.py)
# on the same files and budget, two seeds each, fp32 on the CPU.
#   bash benchmarks/fidelity.sh DATA OUTDIR [EPOCHS]
# Two lanes run side by side, one thread each (accuracy does not depend on it); each run
# writes OUTDIR/<side>-s<seed>.json. Summarise with benchmarks/fidelity_report.py.
set -euo pipefail
data=$(realpath "$1"); out=$(realpath -m "$2"); epochs=${3:-3}
here="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$out"
rb() {  # tree side seed epochs
  local tree=$1 side=$2 seed=$3 n=$4
  # run from the tree itself: python -m puts the current folder first on sys.path
  (cd "$tree" && RESBENCH_RESULTS_DIR="$out/records-$side" PYTHONPATH="$tree" python3 -m resbench train resnet20 \
    --dataset cifar10 --data-dir "$data" --no-download --epochs "$n" --seed "$seed" --device cpu --threads 1 --json) \
    > "$out/$side-s$seed.json.tmp"
  mv "$out/$side-s$seed.json.tmp" "$out/$side-s$seed.json"
}
ref() { python3 "$here/benchmarks/fidelity_reference.py" --data-dir "$data" --epochs "$epochs" --seed "$1" --threads 1 \
          --out "$out/reference-s$1.json"; }
lane_a() { rb "$here" resbench 0 "$epochs"; rb "$here" resbench 1 "$epochs"; }
lane_b() { ref 0; ref 1; }
lane_a & a=$!
lane_b & b=$!
wait $a; wait $b

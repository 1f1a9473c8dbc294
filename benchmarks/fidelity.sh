#!/usr/bin/env bash
# resbench's ResNet-20 against an independent trainer (benchmarks/fidelity_reference.py)
# on the same files and budget, two seeds each, fp32 on the CPU; with OLD_TREE, also
# that checkout's resbench against this one on a SUBSET-image training set for SUB_EPOCHS
# (where memorising a fixed augmented copy shows fast).
#   bash benchmarks/fidelity.sh DATA OUTDIR [EPOCHS] [OLD_TREE] [SUBSET] [SUB_EPOCHS]
# Two lanes run side by side, one thread each (accuracy does not depend on it); each run
# writes OUTDIR/<side>-s<seed>.json. Summarise with benchmarks/fidelity_report.py.
set -euo pipefail
data=$(realpath "$1"); out=$(realpath -m "$2"); epochs=${3:-4}; old=${4:-}; subset=${5:-5000}; sub_epochs=${6:-20}
here="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$out"
rb() {  # tree side seed epochs [extra args]
  local tree=$1 side=$2 seed=$3 n=$4; shift 4
  # run from the tree itself: python -m puts the current folder first on sys.path
  (cd "$tree" && RESBENCH_RESULTS_DIR="$out/records-$side" PYTHONPATH="$tree" python3 -m resbench train resnet20 \
    --dataset cifar10 --data-dir "$data" --no-download --epochs "$n" --seed "$seed" --device cpu --threads 1 --json "$@") \
    > "$out/$side-s$seed.json.tmp"
  mv "$out/$side-s$seed.json.tmp" "$out/$side-s$seed.json"
}
ref() { python3 "$here/benchmarks/fidelity_reference.py" --data-dir "$data" --epochs "$epochs" --seed "$1" --threads 1 \
          --out "$out/reference-s$1.json"; }
lane_a() { rb "$here" resbench 0 "$epochs"; rb "$here" resbench 1 "$epochs"
           if [ -n "$old" ]; then rb "$old" old-subset 0 "$sub_epochs" --subset "$subset"; fi; }
lane_b() { ref 0; ref 1
           if [ -n "$old" ]; then rb "$here" resbench-subset 0 "$sub_epochs" --subset "$subset"; fi; }
lane_a & a=$!
lane_b & b=$!
wait $a; wait $b

#!/usr/bin/env bash
# Step, linear and cosine learning-rate schedules on the full 50k CIFAR-10 training set at
# two equal short budgets (epochs; the schedule does not change a step's cost), two seeds
# each, ResNet-20, bf16 autocast on a CPU with native bf16.
#   bash benchmarks/schedules.sh DATA OUTDIR [BUDGETS] [SEEDS]
# BUDGETS and SEEDS are space-separated lists (default "3 6" and "0 1"). Two lanes run side
# by side, one thread each; each run writes OUTDIR/<schedule>-e<epochs>-s<seed>.json, and a
# finished run is kept, so the script resumes. Summarise with benchmarks/schedules_report.py.
set -euo pipefail
data=$(realpath "$1"); out=$(realpath -m "$2"); budgets=${3:-"3 6"}; seeds=${4:-"0 1"}
here="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$out"
run() {  # schedule epochs seed
  local f="$out/$1-e$2-s$3.json"
  [ -s "$f" ] && return 0
  (cd "$here" && RESBENCH_RESULTS_DIR="$out/records" PYTHONPATH="$here" python3 -m resbench train resnet20 \
    --dataset cifar10 --data-dir "$data" --no-download --epochs "$2" --seed "$3" --schedule "$1" \
    --dtype bf16 --device cpu --threads 1 --json) > "$f.tmp"
  mv "$f.tmp" "$f"
}
jobs=()
for e in $budgets; do for s in $seeds; do for sch in step linear cosine; do jobs+=("$sch $e $s"); done; done; done
lane() {  # every other job, starting at $1
  local i
  for ((i = $1; i < ${#jobs[@]}; i += 2)); do run ${jobs[$i]}; done
}
lane 0 & a=$!
lane 1 & b=$!
wait $a; wait $b

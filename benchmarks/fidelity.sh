#!/usr/bin/env bash
# resbench's ResNet-20 against an independent trainer (benchmarks/fidelity_reference.py)
# on the same files and budget, two seeds each side, on the CPU: resbench in fp32 and in
# bf16 autocast, the reference in fp32.
#   bash benchmarks/fidelity.sh DATA OUTDIR [EPOCHS]
# Two lanes run side by side, one thread each (accuracy does not depend on it); each run
# writes OUTDIR/<side>-s<seed>.json. Summarise with benchmarks/fidelity_report.py.
set -euo pipefail
data=$(realpath "$1"); out=$(realpath -m "$2"); epochs=${3:-3}
here="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$out"
rb() {  # side dtype seed
  local side=$1 dtype=$2 seed=$3
  [ -s "$out/$side-s$seed.json" ] && return 0  # a finished run is kept: the script resumes
  # run from the tree itself: python -m puts the current folder first on sys.path
  (cd "$here" && RESBENCH_RESULTS_DIR="$out/records-$side" PYTHONPATH="$here" python3 -m resbench train resnet20 \
    --dataset cifar10 --data-dir "$data" --no-download --epochs "$epochs" --seed "$seed" --dtype "$dtype" \
    --device cpu --threads 1 --json) > "$out/$side-s$seed.json.tmp"
  mv "$out/$side-s$seed.json.tmp" "$out/$side-s$seed.json"
}
ref() {
  [ -s "$out/reference-s$1.json" ] && return 0
  python3 "$here/benchmarks/fidelity_reference.py" --data-dir "$data" --epochs "$epochs" --seed "$1" --threads 1 \
    --out "$out/reference-s$1.json"
}
lane_a() { rb resbench fp32 0; rb resbench fp32 1; rb bf16 bf16 1; }
lane_b() { ref 0; ref 1; rb bf16 bf16 0; }
lane_a & a=$!
lane_b & b=$!
wait $a; wait $b

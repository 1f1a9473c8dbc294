#!/usr/bin/env bash
# resbench's ResNet-20 against an independent trainer (benchmarks/fidelity_reference.py)
# on the same files and budget, two seeds each, fp32 on the CPU; optionally the same
# resbench command on another checkout (OLD_TREE) to show what a code change does.
#   bash benchmarks/fidelity.sh DATA OUTDIR [EPOCHS] [OLD_TREE]
# Each run writes OUTDIR/<side>-s<seed>.json; run nothing else on the machine meanwhile.
set -euo pipefail
data=$(realpath "$1"); out=$(realpath -m "$2"); epochs=${3:-15}; old=${4:-}
here="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$out"
rb() {  # tree side seed
  # run from the tree itself: python -m puts the current folder first on sys.path
  (cd "$1" && RESBENCH_RESULTS_DIR="$out/records-$2" PYTHONPATH="$1" python3 -m resbench train resnet20 --dataset cifar10 \
    --data-dir "$data" --no-download --epochs "$epochs" --seed "$3" --device cpu --json) > "$out/$2-s$3.json.tmp"
  mv "$out/$2-s$3.json.tmp" "$out/$2-s$3.json"
}
ref() { python3 "$here/benchmarks/fidelity_reference.py" --data-dir "$data" --epochs "$epochs" --seed "$1" --out "$out/reference-s$1.json"; }
rb "$here" resbench 0; ref 0
[ -n "$old" ] && rb "$old" old 0
rb "$here" resbench 1; ref 1

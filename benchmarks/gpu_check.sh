#!/usr/bin/env bash
# GPU proof in one script (<= 11 minutes on a machine that already has torch and resbench):
# the CUDA tests, then the CUDA training and profiling benchmarks, then one summary.
#
#   bash benchmarks/gpu_check.sh [OUT_DIR]      # default: results/benchmarks
#
# Writes OUT_DIR/gpu_check.log (everything) and OUT_DIR/train_throughput_cuda.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-results/benchmarks}"
mkdir -p "$out"
log="$out/gpu_check.log"
python3 -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'" || { echo "no CUDA device here"; exit 2; }
{
  echo "# $(date -u +%FT%TZ) $(python3 -c 'import torch; print(torch.cuda.get_device_name(0), "torch", torch.__version__)')"
  echo "## CUDA tests"
  timeout 240 python3 -m pytest -q -p no:cacheprovider tests/measure/test_timing.py tests/train/test_recipe.py tests/model/test_packed.py tests/train/test_graphs.py tests/measure/test_counters.py -k "cuda or graph or pack" 2>&1 | tail -15
  echo "## training throughput (resnet20, CUDA)"
  timeout 180 python3 benchmarks/train_throughput.py --device cuda --steps 100 --out "$out/train_throughput_cuda.txt" 2>&1
  echo "## profile fidelity and breakdown (CUDA)"
  timeout 60 python3 -m resbench profile resnet50 --device cuda -b 64 --breakdown --no-save 2>&1 | tail -20
  echo "## launch-bound or not (resnet50, batch 128, inference): eager against CUDA graphs"
  # An eager step whose GPU-busy share is low should speed up under CUDA graphs; one that
  # does not speed up was never launch-bound, and a low busy share then means kernel time is undercounted.
  for g in "" --cuda-graphs; do
    timeout 90 python3 -m resbench profile resnet50 --device cuda -b 128 $g --no-save --json 2>/dev/null \
      | python3 -c 'import json, sys; r = json.load(sys.stdin); r = r[0] if isinstance(r, list) else r; print("resnet50 b128 '"${g:-eager}"': median", round(r["latency_ms"]["median"], 3), "ms, gpu_busy", r.get("gpu_busy"))'
  done
} 2>&1 | tee "$log"
echo "## summary"
grep -E "passed|failed|img/s per member|members:|epoch, one member|packed members take|^resnet50 b128" "$log"

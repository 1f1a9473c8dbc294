#!/usr/bin/env bash
# Training evidence on one GPU, side by side, within a time limit (run after gpu_check.sh, alone):
#
#   bash benchmarks/gpu_evidence.sh DATA WORK [SECONDS [JOB...]]    # default 420 s, every job
#
# DATA holds cifar-10-batches-py/. The jobs named (all by default) start at once, each in its
# own process group, and whatever is unfinished after SECONDS is stopped (every job keeps what
# it finished: runs as JSON, the reference's checkpoint after every epoch, so the same command
# resumes on the same WORK):
#   ref164: WORK/reference164, the independent trainer (benchmarks/fidelity_reference.py),
#      ResNet-20, the paper's 164-epoch step schedule, seed 0, on the same files as resbench's full run;
#   tost: WORK/tost_step then WORK/tost_linear, fidelity_tost.py pairs (resbench and the reference
#      on the same seeds), ResNet-20 option A, 6 epochs, 14 seeds, step then linear schedule;
#   tost_mean: WORK/tost_step_mean, the same step-schedule pairs with the reference's crop border
#      the mean colour, as resbench's (--pad-fill mean): is the border the bias tost found?
#   tost_mean_linear: WORK/tost_linear_mean, those pairs under the linear schedule --budget plans use;
#   tost_arms: WORK/tost_arms_{B,C,bottleneck}, the same pairs (linear schedule, border matched)
#      for shortcut options B and C and the 29-layer bottleneck net, against the reference's own
#      implementations of them, one arm after another, EV_ARM_SEEDS (default 14) pairs each;
#   abc: WORK/abc, resbench compare --shortcuts A,B,C, 13 epochs (the planner's floor), 8 seeds
#      packed per arm, linear schedule, per-seed records in WORK/abc/records.
# Side by side they share the GPU by time slices: on one H200 (2026-12-04) ref164, tost and abc
# together ran each several times slower than alone (the packed A/B/C arm ~60 s an epoch), so
# name one or two jobs per call.
# Sizes can be shrunk for a dry run on the CPU: EV_DEVICE=cpu EV_SUBSET=512 EV_REF_EPOCHS=1
# EV_TOST_EPOCHS=1 EV_TOST_SEEDS=3 EV_ABC_EPOCHS=1 EV_ABC_SEEDS=2.
set -uo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: gpu_evidence.sh DATA WORK [SECONDS [JOB...]]" >&2; exit 2; }
data=$1; work=$2; limit=${3:-420}; shift $(( $# < 3 ? $# : 3 ))
[[ $limit =~ ^[0-9]{1,6}$ ]] && [ "$limit" -ge 1 ] || { echo "gpu_evidence.sh: SECONDS must be a whole number of seconds from 1 to 999999, got '$limit'" >&2; exit 2; }
for j in "$@"; do [ -n "$j" ] || { echo "gpu_evidence.sh: an empty job name; give ref164, tost, tost_mean, tost_mean_linear, tost_arms or abc" >&2; exit 2; }; done
want=" ${*:-ref164 tost tost_mean tost_mean_linear tost_arms abc} "
for j in $want; do case $j in ref164|tost|tost_mean|tost_mean_linear|tost_arms|abc) ;; *) echo "gpu_evidence.sh: unknown job $j; give ref164, tost, tost_mean, tost_mean_linear, tost_arms or abc" >&2; exit 2;; esac; done
[ -d "$data/cifar-10-batches-py" ] || { echo "gpu_evidence.sh: $data has no cifar-10-batches-py/; give the folder prepare.py wrote" >&2; exit 2; }
dev=${EV_DEVICE:-cuda}
sub=${EV_SUBSET:+--subset $EV_SUBSET}
mkdir -p "$work" 2>/dev/null && [ -w "$work" ] || { echo "gpu_evidence.sh: cannot write WORK $work; give a folder you can write" >&2; exit 2; }
export PYTHONUNBUFFERED=1
set -m  # each background job in a process group of its own, so a stop reaches its children
start=$(date +%s)
echo "# $(date -u +%FT%TZ) gpu_evidence: device $dev, limit ${limit} s"

pids=()
if [[ $want == *" ref164 "* ]]; then
python3 benchmarks/fidelity_reference.py --data-dir "$data" --device "$dev" --workers 6 --threads 2 \
  --epochs "${EV_REF_EPOCHS:-164}" --seed 0 $sub --out "$work/reference164.json" \
  --checkpoint "$work/reference164.ckpt" > "$work/reference164.log" 2>&1 &
pids+=($!)
fi
if [[ $want == *" tost "* ]]; then
( for sched in step linear; do
    python3 benchmarks/fidelity_tost.py run "$data" "$work/tost_$sched" --arm resnet20 --schedule "$sched" \
      --epochs "${EV_TOST_EPOCHS:-6}" --seeds "${EV_TOST_SEEDS:-14}" --device "$dev" --lanes 4 $sub || exit
  done ) > "$work/tost.log" 2>&1 &
pids+=($!)
fi
if [[ $want == *" tost_mean "* ]]; then
python3 benchmarks/fidelity_tost.py run "$data" "$work/tost_step_mean" --arm resnet20 --schedule step --pad-fill mean \
  --epochs "${EV_TOST_EPOCHS:-6}" --seeds "${EV_TOST_SEEDS:-14}" --device "$dev" --lanes 4 $sub > "$work/tost_mean.log" 2>&1 &
pids+=($!)
fi
if [[ $want == *" tost_mean_linear "* ]]; then
python3 benchmarks/fidelity_tost.py run "$data" "$work/tost_linear_mean" --arm resnet20 --schedule linear --pad-fill mean \
  --epochs "${EV_TOST_EPOCHS:-6}" --seeds "${EV_TOST_SEEDS:-14}" --device "$dev" --lanes 4 $sub > "$work/tost_mean_linear.log" 2>&1 &
pids+=($!)
fi
if [[ $want == *" tost_arms "* ]]; then
( for arm in B:resnet20:shortcut=B C:resnet20:shortcut=C bottleneck:cifar-resnet29-bottleneck; do
    python3 benchmarks/fidelity_tost.py run "$data" "$work/tost_arms_${arm%%:*}" --arm "${arm#*:}" --schedule linear \
      --pad-fill mean --epochs "${EV_TOST_EPOCHS:-6}" --seeds "${EV_ARM_SEEDS:-14}" --device "$dev" --lanes 4 $sub || exit
  done ) > "$work/tost_arms.log" 2>&1 &
pids+=($!)
fi
if [[ $want == *" abc "* ]]; then
python3 -m resbench compare --shortcuts A,B,C --data-dir "$data" --no-download --device "$dev" $sub \
  --epochs "${EV_ABC_EPOCHS:-13}" --seeds "${EV_ABC_SEEDS:-8}" --schedule linear \
  --results-dir "$work/abc" --csv "$work/abc.csv" --plot "$work/abc.png" --json > "$work/abc.json" 2> "$work/abc.log" &
pids+=($!)
fi

jobs_left() { local n=0 p; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && n=$((n + 1)); done; echo $n; }
while [ "$(jobs_left)" -gt 0 ] && [ $(( $(date +%s) - start )) -lt "$limit" ]; do sleep 5; done
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && kill -TERM -- -"$p" 2>/dev/null; done
sleep 3
for p in "${pids[@]}"; do kill -KILL -- -"$p" 2>/dev/null; done
wait 2>/dev/null
echo "# after $(( $(date +%s) - start )) s:"
for f in reference164.log tost.log tost_mean.log tost_mean_linear.log tost_arms.log abc.log; do [ -f "$work/$f" ] && { echo "## $f"; tail -5 "$work/$f"; }; done
ls "$work"/tost_step "$work"/tost_linear "$work"/tost_step_mean "$work"/tost_linear_mean "$work"/tost_arms_* 2>/dev/null | grep -c '\.json$' | sed 's/^/finished TOST runs: /'

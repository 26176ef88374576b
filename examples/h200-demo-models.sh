#!/usr/bin/env bash
# What ran on the device's H200 to make the embedded demo models, in two calls of at most 10 minutes:
#   examples/h200-demo-models.sh BIN WORK teachers   scene data, four teacher variants side by side on the
#                                                    one GPU (the recipe and three probes of lr and width),
#                                                    each scored on the validation split
#   examples/h200-demo-models.sh BIN WORK students TEACHER_CKPT
#                                                    bf16 export of the chosen teacher, its linear and hybrid
#                                                    students (full-length recipes) side by side, and the
#                                                    three scored on the held-out test split
# WORK/data/tokenizer must exist (make-data --tokenizer DIR --vocab 1024, as make-demo-models.sh makes it).
# Every run stops cleanly (SIGINT: a checkpoint) when its time is up, so the call always ends in time; runs
# side by side get a share of the CPU threads (OpenMP threads of four processes on 16 cores oversubscribe).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=$1 work=$2 phase=$3
data=$work/data
recipes=$repo/examples/recipes
device=${DEVICE:-cuda}  # DEVICE=cpu tries the same steps on a CPU build
sets=(--set "tokenizer=$data/tokenizer" --set "train_data=$data/train.jsonl" --set "eval_data=$data/val.jsonl"
      --set "device=$device")

latest() { ls -d "$1"/ckpt-* 2>/dev/null | sort | tail -1; }  # the final checkpoint, or a stopped run's last
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-3}
rate() {  # median tokens/s per stage of a run's metrics
  [ -f "$1/metrics.jsonl" ] || { echo "$1: no steps"; return 0; }
  python3 - "$1/metrics.jsonl" <<'EOF'
import json, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1])]
for st in sorted({r["stage"] for r in rows}):
    v = [r["tokens_per_s"] for r in rows if r["stage"] == st]
    print(f"{sys.argv[1]} {st}: {len(v)} steps, median {statistics.median(v):.0f} tokens/s, wall {rows[-1]['wall_s']:.0f} s")
EOF
}

heartbeat() {  # the last line of each run's log every 20 s, so a call that runs out of time still shows where
  while sleep 20; do for f in "$@"; do [ -f "$f" ] && echo "$(date +%T) $(basename "$f"): $(tail -c 300 "$f" | tr '\r' '\n' | tail -n 1)"; done; done
}

if [ "$phase" = teachers ]; then
  if [ ! -f "$data/test.jsonl" ]; then
    "$bin" make-data --out "$data" --split train --count 30000 --questions-per-scene 3 --seed 0
    "$bin" make-data --out "$data" --split val --count 600 --seed 1
    "$bin" make-data --out "$data" --split test --count 600 --seed 2026  # fresh: never used for choices
  fi
  declare -A variant=(
    [base]=""
    [lr1e-3]="stage0.lr=0.001"
    [lr2e-3]="stage0.lr=0.002"
    [wide]='architecture_overrides={"hidden":192,"intermediate":384,"llm_layers":6}'
  )
  for name in "${!variant[@]}"; do
    extra=()
    [ -n "${variant[$name]}" ] && extra=(--set "${variant[$name]}")
    timeout -s INT "${TEACHER_SECONDS:-300}" "$bin" train-teacher --run "$work/t-$name" \
      --recipe "$recipes/demo-teacher.json" "${sets[@]}" "${extra[@]}" > "$work/t-$name.log" 2>&1 &
  done
  heartbeat "$work"/t-*.log &
  beat=$!
  wait $(jobs -p | grep -v "^$beat$") || true
  kill "$beat"
  ckpts=() labels=()
  for name in "${!variant[@]}"; do
    rate "$work/t-$name"
    ck=$(latest "$work/t-$name/teacher")
    [ -n "$ck" ] && ckpts+=("$ck") labels+=(--label "$name")
  done
  "$bin" eval --device "$device" --data "$data/val.jsonl" --limit "${EVAL_LIMIT:-0}" "${ckpts[@]}" "${labels[@]}" \
    --json "$work/teachers-val.json"
  exit 0
fi

teacher=$4
models=$work/models
"$bin" export "$teacher" --out "$models/demo-teacher" --dtype bf16
for plan in linear hybrid; do
  timeout -s INT "${STUDENT_SECONDS:-330}" "$bin" distill --run "$work/$plan" --recipe "$recipes/demo-$plan-full.json" \
    --set "teacher=$models/demo-teacher" --set "train_data=$data/train.jsonl" --set "eval_data=$data/val.jsonl" \
    --set "device=$device" \
    > "$work/$plan.log" 2>&1 &
done
heartbeat "$work"/linear.log "$work"/hybrid.log &
beat=$!
wait $(jobs -p | grep -v "^$beat$") || true
kill "$beat"
for plan in linear hybrid; do
  rate "$work/$plan"
  "$bin" export "$(latest "$work/$plan/stage3")" --out "$models/demo-$plan" --dtype bf16
done
for split in test val; do
  "$bin" eval --device "$device" --data "$data/$split.jsonl" "$models/demo-teacher" "$models/demo-linear" "$models/demo-hybrid" \
    --label teacher --label linear --label hybrid --json "$work/eval-$split.json" --csv "$work/eval-$split.csv"
done

#!/usr/bin/env bash
# What ran on the device's H200 to make the embedded demo models (resources/models), in three calls of at
# most 10 minutes each:
#   examples/h200-demo-models.sh BIN WORK teacher    scene data and the teacher (demo-teacher.json) alone on
#                                                    the GPU, bf16 export (WORK/models/demo-teacher-first)
#   examples/h200-demo-models.sh BIN WORK teacher-on 5500 more steps from those weights
#                                                    (demo-teacher-continued.json, stage 0 "from"), bf16
#                                                    export (WORK/models/demo-teacher), both teachers
#                                                    scored on the val and test splits
#   examples/h200-demo-models.sh BIN WORK students   the linear and hybrid students from WORK/models/demo-teacher
#                                                    (full-length recipes) side by side, bf16 exports, all
#                                                    three scored on the test and val splits
# WORK/data/tokenizer must exist (make-data --tokenizer DIR --vocab 1024, as make-demo-models.sh makes it);
# make-data is deterministic, so the students' call draws the same data again (about 20 s).
# A run that reaches the time limit stops cleanly (SIGINT: a checkpoint), so a call always ends in time.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=$1 work=$2 phase=$3
data=$work/data models=$work/models recipes=$repo/examples/recipes
device=${DEVICE:-cuda}  # DEVICE=cpu tries the same steps on a CPU build

final() {  # a stage's final checkpoint, or a stopped run's last one
  if [ -f "$1/final" ]; then echo "$1/$(cat "$1/final")"; else ls -d "$1"/ckpt-* | sort | tail -1; fi
}
heartbeat() {  # the last line of each log every 30 s, so a call that runs out of time still shows where
  while sleep 30; do for f in "$@"; do echo "$(date +%T) $(basename "$f"): $(tail -c 300 "$f" | tr '\r' '\n' | tail -n 1)"; done; done
}

if [ ! -f "$data/test.jsonl" ]; then
  "$bin" make-data --out "$data" --split train --count 60000 --questions-per-scene 3 --seed 0
  "$bin" make-data --out "$data" --split val --count 600 --seed 1
  "$bin" make-data --out "$data" --split test --count 600 --seed 2026  # fresh: never used for choices
fi

if [ "$phase" = teacher ]; then
  OMP_NUM_THREADS=${OMP_NUM_THREADS:-8} timeout -s INT "${TEACHER_SECONDS:-390}" "$bin" train-teacher \
    --run "$work/teacher" --recipe "$recipes/demo-teacher.json" --set "tokenizer=$data/tokenizer" \
    --set "train_data=$data/train.jsonl" --set "eval_data=$data/val.jsonl" --set "device=$device" || true
  "$bin" export "$(final "$work/teacher/teacher")" --out "$models/demo-teacher-first" --dtype bf16
  exit 0
fi

if [ "$phase" = teacher-on ]; then
  OMP_NUM_THREADS=${OMP_NUM_THREADS:-8} timeout -s INT "${TEACHER_SECONDS:-480}" "$bin" train-teacher \
    --run "$work/teacher-on" --recipe "$recipes/demo-teacher-continued.json" --set "tokenizer=$data/tokenizer" \
    --set "stage0.from=$models/demo-teacher-first" --set "train_data=$data/train.jsonl" \
    --set "eval_data=$data/val.jsonl" --set "device=$device" || true
  "$bin" export "$(final "$work/teacher-on/teacher")" --out "$models/demo-teacher" --dtype bf16
  for split in val test; do
    "$bin" eval --device "$device" --data "$data/$split.jsonl" "$models/demo-teacher-first" "$models/demo-teacher" \
      --label first --label teacher --json "$work/teacher-$split.json"
  done
  exit 0
fi

export OMP_NUM_THREADS=${OMP_NUM_THREADS:-6}  # two processes on 16 cores
for plan in linear hybrid; do
  timeout -s INT "${STUDENT_SECONDS:-380}" "$bin" distill --run "$work/$plan" --recipe "$recipes/demo-$plan-full.json" \
    --set "teacher=$models/demo-teacher" --set "train_data=$data/train.jsonl" --set "eval_data=$data/val.jsonl" \
    --set "device=$device" > "$work/$plan.log" 2>&1 &
done
heartbeat "$work"/linear.log "$work"/hybrid.log &
beat=$!
wait $(jobs -p | grep -v "^$beat$") || true
kill "$beat"
for plan in linear hybrid; do
  "$bin" export "$(final "$work/$plan/stage3")" --out "$models/demo-$plan" --dtype bf16
done
for split in test val; do
  "$bin" eval --device "$device" --data "$data/$split.jsonl" "$models/demo-teacher" "$models/demo-linear" \
    "$models/demo-hybrid" --label teacher --label linear --label hybrid --json "$work/eval-$split.json" \
    --csv "$work/eval-$split.csv"
done

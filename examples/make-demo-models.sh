#!/usr/bin/env bash
# Rebuilds the embedded demo models from nothing, deterministically from the committed recipes and seeds:
# scene data and tokenizer, the demo teacher, its linear and hybrid students (full-length recipes), an
# evaluation table on a held-out test split, and bf16 copies of the three in resources/models/. Runs are
# resumable: run it again after a stop. The recipes train on CUDA; DEVICE=cpu runs the same steps on the
# CPU (hours for the teacher).
#   examples/make-demo-models.sh [path/to/mmmamba] [work dir]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
mmmamba=${1:-$repo/build/dev/bin/mmmamba}
work=${2:-$repo/build/demo-work}
device=${DEVICE:-cuda}
data=$work/data
models=$repo/resources/models
recipes=$repo/examples/recipes
mkdir -p "$work" "$models"

if [ ! -f "$data/test.jsonl" ]; then
  # 1024 pieces: every answer word is one token (384 split "bottom left" into 10 and "no" into 3).
  [ -f "$data/tokenizer/tokenizer.model" ] || "$mmmamba" make-data --tokenizer "$data/tokenizer" --vocab 1024
  "$mmmamba" make-data --out "$data" --split train --count 30000 --questions-per-scene 3 --seed 0
  "$mmmamba" make-data --out "$data" --split val --count 600 --seed 1
  "$mmmamba" make-data --out "$data" --split test --count 600 --seed 2026  # held out: no choice was made on it
fi
datasets=(--set "train_data=$data/train.jsonl" --set "eval_data=$data/val.jsonl" --set "device=$device")

train() {  # train COMMAND RUN RECIPE [--set ...]: start, or resume an unfinished run
  local cmd=$1 run=$2 recipe=$3
  shift 3
  if [ -f "$run/recipe.json" ]; then "$mmmamba" "$cmd" --run "$run" --resume
  else "$mmmamba" "$cmd" --run "$run" --recipe "$recipe" "$@"; fi
}
final() { echo "$1/$2/$(cat "$1/$2/final")"; }

train train-teacher "$work/teacher" "$recipes/demo-teacher.json" --set "tokenizer=$data/tokenizer" "${datasets[@]}"
"$mmmamba" export "$(final "$work/teacher" teacher)" --out "$models/demo-teacher" --dtype bf16
for plan in linear hybrid; do
  train distill "$work/$plan" "$recipes/demo-$plan-full.json" --set "teacher=$models/demo-teacher" "${datasets[@]}"
  "$mmmamba" export "$(final "$work/$plan" stage3)" --out "$models/demo-$plan" --dtype bf16
done
"$mmmamba" eval --device "$device" --data "$data/test.jsonl" "$models/demo-teacher" "$models/demo-linear" \
  "$models/demo-hybrid" --label teacher --label linear --label hybrid --json "$work/eval.json" --csv "$work/eval.csv"
du -sh "$models"/*

#!/usr/bin/env bash
# What ran on the device's H200 to make the embedded demo models (resources/models), in four calls of at
# most 10 minutes each (teacher, teacher-on, teacher-multi, students):
#   examples/h200-demo-models.sh BIN WORK teacher    scene data and the teacher (demo-teacher.json) alone on
#                                                    the GPU, bf16 export (WORK/models/demo-teacher-first)
#   examples/h200-demo-models.sh BIN WORK teacher-on 5500 more steps from those weights
#                                                    (demo-teacher-continued.json, stage 0 "from"), bf16
#                                                    export (WORK/models/demo-teacher), both teachers
#                                                    scored on the val and test splits
#   examples/h200-demo-models.sh BIN WORK teacher-multi  the multi-image phase (demo-teacher-multi-gpu.json)
#                                                    from TEACHER (default resources/models/demo-teacher) on
#                                                    multi-heavy scenes (MULTI_SEED, default 41), one variant per
#                                                    TEACHERS entry NAME[:KEY=VALUE,...] side by side (default
#                                                    demo-teacher-multi), bf16 exports WORK/models/NAME, all
#                                                    scored with the start teacher on val and the multi-only val
#   examples/h200-demo-models.sh BIN WORK students   the students from TEACHER (default WORK/models/demo-teacher)
#                                                    side by side, one per RUNS entry NAME:RECIPE[:DATA[:KEY=VALUE]]
#                                                    (default "linear:demo-linear-full.json hybrid:demo-hybrid-full.json";
#                                                    DATA: a dataset folder under WORK, default data; KEY=VALUE:
#                                                    recipe overrides, comma-separated, e.g. stage3.lr=0.0005), bf16
#                                                    exports WORK/models/demo-NAME, all scored with the
#                                                    teacher (and COMPARE="LABEL=DIR ...") on every split in
#                                                    WORK/data* (EVAL_SPLITS, default "val test"). MIX=FAMILIES also
#                                                    draws WORK/data-mix/train.jsonl (MIX_COUNT = 60000 scenes x 3,
#                                                    MIX_SEED default 43, --families FAMILIES) and the multi-image-only val and
#                                                    test splits (WORK/data-multi, seeds 5 and 31337).
#                                                    The *-more.json recipes continue stage 3 from the shipped
#                                                    students (TEACHER=resources/models/demo-teacher).
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
sets() {  # "k=v,k=v" -> --set k=v --set k=v
  for kv in ${1//,/ }; do echo "--set $kv"; done
}
heartbeat() {  # the last line of each log every 30 s, so a call that runs out of time still shows where
  while sleep 30; do for f in "$@"; do echo "$(date +%T) $(basename "$f"): $(tail -c 300 "$f" | tr '\r' '\n' | tail -n 1)"; done; done
}

if [ ! -f "$data/test.jsonl" ]; then
  "$bin" make-data --out "$data" --split train --count 60000 --questions-per-scene 3 --seed 0 > /dev/null &
  "$bin" make-data --out "$data" --split val --count 600 --seed 1 > /dev/null &
  "$bin" make-data --out "$data" --split test --count 600 --seed 2026 > /dev/null &  # fresh: never used for choices
  wait
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

if [ "$phase" = teacher-multi ]; then
  # MULTI_SEED draws another multi-heavy training set (WORK/data-multi-SEED); TEACHERS="NAME[:KEY=VALUE,...] ..."
  # trains several variants side by side (default one, demo-teacher-multi), each scored with the start teacher.
  seed=${MULTI_SEED:-41} from=${TEACHER:-$repo/resources/models/demo-teacher}
  multi=$work/data-multi train=$work/data-multi/train.jsonl
  [ "$seed" = 41 ] || train=$work/data-multi-$seed/train.jsonl
  [ -f "$train" ] || "$bin" make-data --out "$(dirname "$train")" --split train --count 120000 --questions-per-scene 3 \
    --families all,multi:90 --seed "$seed" > /dev/null &
  [ -f "$multi/val.jsonl" ] || "$bin" make-data --out "$multi" --split val --count 400 --families multi --seed 5 > /dev/null &
  [ -f "$multi/test.jsonl" ] || "$bin" make-data --out "$multi" --split test --count 400 --families multi --seed 31337 > /dev/null &
  wait
  variants=(${TEACHERS:-demo-teacher-multi})
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$((16 / ${#variants[@]}))}
  for entry in "${variants[@]}"; do
    IFS=: read -r name extra <<< "$entry"
    timeout -s INT "${TEACHER_SECONDS:-300}" "$bin" train-teacher --run "$work/$name" \
      --recipe "$recipes/${TEACHER_RECIPE:-demo-teacher-multi-gpu.json}" --set "tokenizer=$data/tokenizer" \
      --set "stage0.from=$from" --set "train_data=$train" --set "eval_data=$multi/val.jsonl" --set "device=$device" \
      $(sets "$extra") > "$work/$name.log" 2>&1 &
  done
  wait || true
  models_args=("$from") labels=(--label before)
  for entry in "${variants[@]}"; do
    name=${entry%%:*}
    "$bin" export "$(final "$work/$name/teacher")" --out "$models/$name" --dtype bf16
    models_args+=("$models/$name") labels+=(--label "$name")
  done
  for split in data/val data-multi/val; do
    "$bin" eval --device "$device" --data "$work/$split.jsonl" "${models_args[@]}" "${labels[@]}" \
      --json "$work/teacher-multi-$(dirname "$split")-val.json"
  done
  exit 0
fi

teacher=${TEACHER:-$models/demo-teacher}
if [ -n "${MIX:-}" ] && [ ! -f "$work/data-mix/train.jsonl" ]; then
  "$bin" make-data --out "$work/data-mix" --split train --count "${MIX_COUNT:-60000}" --questions-per-scene 3 --families "$MIX" \
    --seed "${MIX_SEED:-43}" > /dev/null &
  "$bin" make-data --out "$work/data-multi" --split val --count 400 --families multi --seed 5 > /dev/null &
  "$bin" make-data --out "$work/data-multi" --split test --count 400 --families multi --seed 31337 > /dev/null &
  wait
fi
runs=(${RUNS:-linear:demo-linear-full.json hybrid:demo-hybrid-full.json})
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$((16 / ${#runs[@]}))}  # the processes share 16 cores
logs=()
for entry in "${runs[@]}"; do
  IFS=: read -r name recipe set extra <<< "$entry"
  case $recipe in /*) ;; *) recipe=$recipes/$recipe ;; esac
  timeout -s INT "${STUDENT_SECONDS:-380}" "$bin" distill --run "$work/$name" --recipe "$recipe" \
    --set "teacher=$teacher" --set "train_data=$work/${set:-data}/train.jsonl" --set "eval_data=$data/val.jsonl" \
    --set "device=$device" $(sets "$extra") > "$work/$name.log" 2>&1 &
  logs+=("$work/$name.log")
done
heartbeat "${logs[@]}" &
beat=$!
wait $(jobs -p | grep -v "^$beat$") || true
kill "$beat"
models_args=("$teacher") labels=(--label teacher)
for entry in "${runs[@]}"; do
  name=${entry%%:*}
  "$bin" export "$(final "$work/$name/stage3")" --out "$models/demo-$name" --dtype bf16
  models_args+=("$models/demo-$name") labels+=(--label "$name")
done
for pair in ${COMPARE:-}; do
  models_args+=("${pair#*=}") labels+=(--label "${pair%%=*}")
done
for jsonl in $(for s in ${EVAL_SPLITS:-val test}; do echo "$work"/data*/$s.jsonl; done); do
  [ -f "$jsonl" ] || continue
  tag=$(basename "$(dirname "$jsonl")")-$(basename "$jsonl" .jsonl)
  "$bin" eval --device "$device" --data "$jsonl" "${models_args[@]}" "${labels[@]}" --json "$work/eval-$tag.json" \
    --csv "$work/eval-$tag.csv"
done

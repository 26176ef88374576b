#!/usr/bin/env bash
# Session 21's continuations of the embedded students (two device calls on one H100, about 8 minutes each),
# both through examples/h200-demo-models.sh's students phase from the embedded demo-teacher:
#   examples/demo-students-s21.sh BIN WORK round5   four linear variants from resources/models/demo-linear
#                                                   (demo-linear-more.json at lr 5e-4: on a plain draw, with
#                                                   a_dt_lr_scale 10, with answer_ce 1, on a draw weighted to
#                                                   position / relation / multi), seed 46
#   examples/demo-students-s21.sh BIN WORK round6 R5 two linear variants from round 5's chosen student R5
#                                                   (lr 5e-4, with and without answer_ce 1, a new weighted draw,
#                                                   seed 48) and two hybrid continuations from
#                                                   resources/models/demo-hybrid (demo-hybrid-more-ce.json at lr
#                                                   2e-4 and 1e-4, its multi/relation mix, seed 48)
# Every variant is scored on val (seed 1) and the multi-image val (400, seed 5); the rule, fixed before each
# call: per student kind the most answers on the two wins if it beats the student it continues. Round 5 chose
# r5-sp, round 6 r6-ce (now resources/models/demo-linear) and h3 (now resources/models/demo-hybrid).
# The set-up the device calls used: MMMAMBA_SPM_MODULE / LD_LIBRARY_PATH for the CUDA build's sentencepiece.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=$1 work=$2 phase=$3
mkdir -p "$work/data/tokenizer"
cp "$repo"/resources/models/demo-teacher/{tokenizer.model,added_tokens.json,tokenizer_config.json,special_tokens_map.json} \
  "$work/data/tokenizer/"
draw() {  # DIR SEED [FAMILIES]
  "$bin" make-data --out "$work/$1" --split train --count 60000 --questions-per-scene 3 --seed "$2" \
    ${3:+--families "$3"} > /dev/null
}
spatial=all,position:40,relation:40,multi:30
"$bin" make-data --out "$work/data" --split val --count 600 --seed 1 > /dev/null &
"$bin" make-data --out "$work/data-multi" --split val --count 400 --families multi --seed 5 > /dev/null &
export TEACHER=$repo/resources/models/demo-teacher EVAL_SPLITS=val
if [ "$phase" = round5 ]; then
  draw data-r5 46 & draw data-r5sp 46 "$spatial" & wait
  R=demo-linear-more.json L=stage3.lr=0.0005
  COMPARE="shipped=$repo/resources/models/demo-linear" \
  RUNS="r5:$R:data-r5:$L r5-adt:$R:data-r5:$L,stage3.a_dt_lr_scale=10 r5-ce:$R:data-r5:$L,stage3.answer_ce=1 r5-sp:$R:data-r5sp:$L" \
    "$repo/examples/h200-demo-models.sh" "$bin" "$work" students
elif [ "$phase" = round6 ]; then
  from=$(cd "$4" && pwd)
  draw data-r6sp 48 "$spatial" & draw data-r6h 48 all,multi:30,relation:25 & wait
  LF="stage3.from=$from,stage3.lr=0.0005"
  COMPARE="r5sp=$from hybrid=$repo/resources/models/demo-hybrid" \
  RUNS="r6:demo-linear-more.json:data-r6sp:$LF r6-ce:demo-linear-more.json:data-r6sp:$LF,stage3.answer_ce=1
    h3:demo-hybrid-more-ce.json:data-r6h h3-lo:demo-hybrid-more-ce.json:data-r6h:stage3.lr=0.0001" \
    "$repo/examples/h200-demo-models.sh" "$bin" "$work" students
else
  echo "usage: $0 BIN WORK round5 | round6 ROUND5_STUDENT" >&2
  exit 2
fi

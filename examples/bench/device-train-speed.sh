#!/usr/bin/env bash
# Training speed of a HoVLE-2.6B-shaped linear student on the device, per stage (issue 13): a random-weight
# teacher (`create --arch hovle-2.6b`), 448-px scene conversations (one tile = 256 image tokens), and
# hovle-2.6b-linear.json cut to STEPS steps a stage at batch BATCH; the tokens/s of every step come back in
# OUT/train-speed-metrics.jsonl and the per-stage medians in OUT/train-speed.txt.
#   examples/bench/device-train-speed.sh OUT_DIR [SECONDS] [STEPS] [BATCH]
set -uo pipefail
cd "$(dirname "$0")/../.."
out=$1 limit=${2:-300} steps=${3:-10} batch=${4:-4}  # batch 16 runs out of an H100's 80 GB in stage 1
. examples/bench/device-common.sh
device_build mmmamba || exit 1
# `create` writes a sentencepiece tokenizer, which the cuda build reads through the module carried in gpucarry/
[ -f gpucarry/libmmspm.so ] && export MMMAMBA_SPM_MODULE=$PWD/gpucarry/libmmspm.so LD_LIBRARY_PATH=$PWD/gpucarry
bin=build/cuda/bin/mmmamba w=build/train-speed
mkdir -p $w
[ -f $w/teacher/config.json ] || $bin create --arch hovle-2.6b --out $w/teacher > /dev/null
[ -f $w/data/train.jsonl ] || $bin make-data --out $w/data --split train --count 2000 --questions-per-scene 3 \
  --image-size 448 --seed 7 > /dev/null
stamp "teacher and data ready"
rm -rf $w/run
sets=(--set teacher=$w/teacher --set train_data=$w/data/train.jsonl)
for s in 1 2 3; do sets+=(--set stage$s.steps=$steps --set stage$s.batch=$batch --set stage$s.checkpoint_every=0); done
timeout -s INT $(left) $bin distill --run $w/run --recipe examples/recipes/hovle-2.6b-linear.json "${sets[@]}" \
  > "$out/train-speed.log" 2>&1
stamp "distill rc=$?"
cp $w/run/metrics.jsonl "$out/train-speed-metrics.jsonl"
python3 - "$out/train-speed-metrics.jsonl" > "$out/train-speed.txt" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for st in sorted({r["stage"] for r in rows}):
    v = [r["tokens_per_s"] for r in rows if r["stage"] == st][2:]  # the first two steps warm up
    if v: print(f"{st}: median {statistics.median(v):.0f} tokens/s over steps 3-{len(v) + 2}")
PY
cat "$out/train-speed.txt"

#!/usr/bin/env bash
# One device call of examples/h200-demo-models.sh: build the CLI (cuda preset), give the work folder the
# embedded tokenizer, run PHASE with the environment's settings (TEACHERS, MULTI_SEED, RUNS, MIX, ...), and
# pack the exported models, logs, metrics and evaluations into OUT/work.tar (the device returns only a
# few files per call). The work folder build/work stays on a warm machine, so a second call right after
# (e.g. students after teacher-multi) reuses its data and models.
#   examples/device-demo-models.sh OUT_DIR SECONDS PHASE
# The sentencepiece module travels in gpucarry/ (carry it): libmmspm.so and libsentencepiece*.so.0 from
# the dev build and Debian, as the cuda build has no sentencepiece of its own.
set -u
cd "$(dirname "$0")/.."
out=$1 limit=$2 phase=$3
. examples/bench/device-common.sh
device_build mmmamba || exit 1
export MMMAMBA_SPM_MODULE=$PWD/gpucarry/libmmspm.so LD_LIBRARY_PATH=$PWD/gpucarry
work=$PWD/build/work
mkdir -p "$work/data/tokenizer"
for f in tokenizer.model added_tokens.json tokenizer_config.json special_tokens_map.json; do
  cp resources/models/demo-teacher/$f "$work/data/tokenizer/"
done
seconds=$(( $(left) - 180 ))  # data first, export and evaluation after the runs stop
TEACHER_SECONDS=$seconds STUDENT_SECONDS=$seconds examples/h200-demo-models.sh "$PWD/build/cuda/bin/mmmamba" "$work" "$phase" \
  > "$out/$phase.log" 2>&1
stamp "$phase rc=$?"
(cd "$work" && tar cf "$out/work.tar" models *.log */metrics.jsonl *.json *.csv 2>/dev/null)
stamp "packed $(du -h "$out/work.tar" | cut -f1)"

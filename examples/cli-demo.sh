#!/usr/bin/env bash
# The engine end to end from the CLI: make a small random teacher, seed a hybrid student from it,
# look at both, check the export round trip and chat with the student (random weights: the reply
# is noise, the pipeline is real).
set -euo pipefail
mmmamba=$1
work=$2
mkdir -p "$work"
run() { echo; echo "\$ mmmamba $*"; "$mmmamba" "$@"; }
run create --arch tiny --out "$work/teacher"
run info "$work/teacher" --plan hybrid
run seed --teacher "$work/teacher" --plan hybrid --out "$work/hybrid"
run info "$work/hybrid" --check
run export "$work/hybrid" --out "$work/hybrid-bf16" --dtype bf16
run chat "$work/hybrid" --prompt "What colour is the circle?" --max-new-tokens 24 --temperature 0.8 --top-k 40

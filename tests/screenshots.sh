#!/usr/bin/env bash
# Runs the studio under Xvfb, walks through every page and saves a screenshot of each.
#   tests/screenshots.sh [build dir] [out dir] [run dir to show on the Distill page] [window size, e.g. 1024x700]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$repo/build/dev}
out=${2:-$build/screenshots}
run=${3:-}
size=${4:-}
mkdir -p "$out"
args=(--screenshots "$out")
[ -n "$run" ] && args+=(--run "$run")
[ -n "$size" ] && args+=(--size "$size")
xvfb-run -a -s "-screen 0 1920x1080x24" "$build/bin/mmmamba-studio" "${args[@]}"
ls -l "$out"/*.png

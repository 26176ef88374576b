#!/usr/bin/env bash
# The whole grid of issue 9 in one device call, for the Benchmark page's overlay and the README table:
# build the CLI (cuda preset), then `mmmamba bench` for teacher, linear and hybrid at 1K to 1M (prefill and
# decode, one timed repeat after a warm-up; out-of-memory rows recorded, the sweep goes on), then the
# batch throughput at 32K for batch 1 to 64. Name the JSON after the card, e.g.
#   examples/bench/device-sweep.sh $OUT h200    ->  $OUT/h200-hovle-2.6b.json, $OUT/h200-hovle-2.6b-batch.json
#   examples/bench/device-sweep.sh OUT_DIR CARD [SECONDS]
set -uo pipefail
cd "$(dirname "$0")/../.."
out=$1 card=$2 limit=${3:-600}
. examples/bench/device-common.sh
device_build mmmamba || exit 1
bin=build/cuda/bin/mmmamba
timeout $(( $(left) - 120 )) $bin bench --arch hovle-2.6b --plans teacher,linear,hybrid \
  --lengths 1k,4k,16k,64k,103k,256k,1m --mode both --repeats 1 --json "$out/$card-hovle-2.6b.json" 2>&1 |
  tee "$out/$card-sweep.txt"
stamp "sweep rc=${PIPESTATUS[0]}, $(left) s left"
timeout $(left) $bin bench --arch hovle-2.6b --plans teacher,linear --lengths 32k --batch 1,8,16,32,64 --mode decode \
  --repeats 1 --json "$out/$card-hovle-2.6b-batch.json" 2>&1 | tee "$out/$card-batch.txt"
stamp "batch rc=${PIPESTATUS[0]}"

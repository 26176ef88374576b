#!/usr/bin/env bash
# Issue 9's done-means figures in one short device call (about 4.5 minutes with the build): all three
# models at 1K and 103K (prefill and decode, two timed repeats: times, floors, peak memory), the linear at
# 1M, and batch throughput at 32K. PERSISTENT=1 measures the decode twice per model, with
# mamba2_layers_decode on its per-layer launches and on the persistent kernel; MMMAMBA_ATTN_DECODE_DEPTH=2
# the attention decode with two steps of K/V rows in flight. Either opt-in path's harness cases run first
# (selftest --full --op ...), and a failure stops the call; FULL_HARNESS=1 runs every op's cases first. Files are named after the
# card: OUT/h200-targets.json, -1m.json, -batch.json (h100-... on an H100), and their .txt.
#   examples/bench/device-targets.sh OUT_DIR [SECONDS]
# (Session 18 ran these steps as gpucarry/s18-h200.sh, without PERSISTENT: results/h200-s18-*.)
set -uo pipefail
cd "$(dirname "$0")/../.."
out=$1 limit=${2:-420}
. examples/bench/device-common.sh
device_build mmmamba || exit 1
bin=build/cuda/bin/mmmamba
pair=() checks=()
if [ "${PERSISTENT:-0}" = 1 ]; then
  export MMMAMBA_PERSISTENT_DECODE=1
  pair=(--reference-ops mamba2_layers_decode)
  checks+=(mamba2_layers_decode)
fi
[ "${MMMAMBA_ATTN_DECODE_DEPTH:-1}" = 2 ] && checks+=(attention_decode)
if [ "${FULL_HARNESS:-0}" = 1 ]; then  # every op's harness cases first (about 45 s on an H100)
  timeout 150 $bin selftest --device cuda --full > "$out/$card-selftest-full.txt" 2>&1
  rc=$?; grep -E "FAIL|error|passed," "$out/$card-selftest-full.txt"
  if [ $rc -ne 0 ] || grep -q "FAIL" "$out/$card-selftest-full.txt"; then echo "the harness failed, stopping"; exit 1; fi
fi
for op in "${checks[@]}"; do
  timeout 120 $bin selftest --device cuda --full --op "$op" > "$out/selftest-$op.txt" 2>&1
  rc=$?; grep -E "FAIL|error|passed," "$out/selftest-$op.txt"
  if [ $rc -ne 0 ] || grep -q "FAIL" "$out/selftest-$op.txt"; then echo "$op: the harness failed, stopping"; exit 1; fi
done
timeout 200 $bin bench --arch hovle-2.6b --plans linear,hybrid,teacher --lengths 1k,103k --mode both --repeats 2 \
  "${pair[@]}" --json "$out/$card-targets.json" > "$out/$card-targets.txt" 2>&1
stamp "103k rc=$?"; cat "$out/$card-targets.txt"
timeout 100 $bin bench --arch hovle-2.6b --plans linear --lengths 1m --mode both --repeats 1 \
  --json "$out/$card-targets-1m.json" > "$out/$card-targets-1m.txt" 2>&1
stamp "1m rc=$?"; tail -4 "$out/$card-targets-1m.txt"
timeout $(left) $bin bench --arch hovle-2.6b --plans teacher,linear --lengths 32k --batch 1,8,16,32,64 --mode decode \
  --repeats 1 --json "$out/$card-targets-batch.json" > "$out/$card-targets-batch.txt" 2>&1
stamp "batch rc=$?"; tail -14 "$out/$card-targets-batch.txt"

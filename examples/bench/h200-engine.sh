#!/usr/bin/env bash
# What ran on the device's H200 for issue 9 (the SSD scan kernel; the static KV cache with graph decode
# for every model kind), in one call: build the CLI with the cuda preset, the full op harness, then one
# bench run that measures each model twice side by side: "before" (the SSD scan on its reference, decode
# eager) and "after" (the kernel, decode replayed from a CUDA graph). Prefill rows compare the scan
# (the teacher has none: its two rows are the noise), decode rows compare eager against the graph.
#   examples/bench/h200-engine.sh OUT_DIR [SECONDS] [noselftest]
# SECONDS: the call's time limit; the bench's lengths shrink to what is left after the build.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=$1 limit=${2:-600}
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
export TORCH_CMAKE_PREFIX=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
build() { cmake --preset cuda -DMM_PRECOMPILE_ATEN=$1 && cmake --build build/cuda -j16 --target mmmamba; }
if ! build ON > "$out/build.txt" 2>&1; then
  grep -B2 -A12 -E "error" "$out/build.txt" | head -60
  stamp "build with precompiled ATen failed: again without"
  if ! build OFF >> "$out/build.txt" 2>&1; then
    grep -B2 -A12 -E "error" "$out/build.txt" | tail -100
    exit 1
  fi
fi
stamp "build done"
bin=build/cuda/bin/mmmamba
elapsed() { echo $(( $(date +%s) - t0 )); }
st=$(( limit - $(elapsed) - 60 )); [ $st -gt 120 ] && st=120; [ $st -lt 30 ] && st=30
if [ "${3:-}" != noselftest ]; then
  timeout $st $bin selftest --device cuda --full > "$out/selftest-full.txt" 2>&1
  stamp "selftest --full rc=$?"
  grep -E "FAIL|error|ssd_scan .*L=4096|decode_graph|passed," "$out/selftest-full.txt" | head -40
fi
left=$(( limit - $(elapsed) - 10 ))
plans=linear,hybrid,teacher lengths=1k,16k,103k mode=both
[ $left -lt 240 ] && lengths=1k,103k
[ $left -lt 180 ] && lengths=103k
[ $left -lt 110 ] && plans=linear,hybrid
[ $left -lt 70 ] && plans=linear mode=prefill
[ $left -lt 35 ] && { stamp "no time left for the bench"; exit 0; }
stamp "bench $plans at $lengths ($mode), ${left} s left"
timeout $left $bin bench --arch hovle-2.6b --plans $plans --lengths "$lengths" --mode $mode \
  --repeats 2 --reference-ops ssd_scan --graph both --json "$out/h200-engine.json" 2>&1 | tee "$out/bench.txt"
stamp "bench rc=${PIPESTATUS[0]}"

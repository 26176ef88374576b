#!/usr/bin/env bash
# The cluster Mamba-2 decode step (session 15) on the device's GPU, in one call: build the CLI and
# mm_bench_gemv with the cuda preset; the microbenchmark with the portable block-per-kv-head step
# (MMMAMBA_MAMBA2_STEP_BLOCK=1) and with the cluster step; the op harness (cluster step, then the
# step's rows with the portable kernel); then mmmamba bench at LENGTHS, each model first with the
# portable step, then with the cluster step (two processes, back to back), MODE decode or both.
#   examples/bench/device-step.sh OUT_DIR [SECONDS] [LENGTHS] [PLANS] [MODE]
set -uo pipefail
cd "$(dirname "$0")/../.."
out=$1 limit=${2:-600} lengths=${3:-1k,103k} plans=${4:-linear,hybrid,teacher} mode=${5:-decode}
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
left() { echo $(( limit - ($(date +%s) - t0) - 10 )); }
export TORCH_CMAKE_PREFIX=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
if ! { cmake --preset cuda && cmake --build build/cuda -j16 --target mmmamba mm_bench_gemv; } > "$out/build.txt" 2>&1; then
  grep -B2 -A12 -E "error" "$out/build.txt" | head -80
  exit 1
fi
stamp "build done"
bin=build/cuda/bin/mmmamba
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
{ echo "== MMMAMBA_MAMBA2_STEP_BLOCK=1"; MMMAMBA_MAMBA2_STEP_BLOCK=1 timeout 90 build/cuda/bin/mm_bench_gemv 64;
  echo "== cluster step"; timeout 90 build/cuda/bin/mm_bench_gemv 64; } > "$out/bench-gemv.txt" 2>&1
grep -E "==|chain|layer decode|step" "$out/bench-gemv.txt"
stamp "gemv bench done"
timeout 150 $bin selftest --device cuda --full > "$out/selftest.txt" 2>&1
stamp "selftest rc=$?"
MMMAMBA_MAMBA2_STEP_BLOCK=1 timeout 60 $bin selftest --device cuda --full --op mamba2_decode_step > "$out/selftest-block.txt" 2>&1
stamp "selftest (block step) rc=$?"
grep -E "FAIL|error|mamba2_decode_step|decode_graph|passed," "$out/selftest.txt" | head -30
grep -E "FAIL|error|passed," "$out/selftest-block.txt"
for variant in block cluster; do
  stamp "bench $variant: $plans at $lengths ($mode), $(left) s left"
  [ $(left) -gt 60 ] || break
  env $([ $variant = block ] && echo MMMAMBA_MAMBA2_STEP_BLOCK=1) timeout $(left) $bin bench --arch hovle-2.6b \
    --plans $plans --lengths "$lengths" --mode $mode --repeats 2 --json "$out/bench-$variant.json" 2>&1 |
    tee "$out/bench-$variant.txt"
  stamp "bench rc=${PIPESTATUS[0]}"
done

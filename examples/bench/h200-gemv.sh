#!/usr/bin/env bash
# The decode kernels of session 14 on the device's GPU, in one call: build the CLI and mm_bench_gemv with
# the cuda preset; the GEMV microbenchmark (each decode GEMV against rms_norm + cuBLAS, CUDA graphs); the
# op harness (--full, or "quick": only the new ops); then one bench run measuring each model twice side
# by side: "before" with the decode GEMVs and the fused RoPE/K-V append forced to their composition,
# "after" on the kernels (decode replayed from a CUDA graph in both); then, time allowing, linear and
# hybrid decode after a 1M-token prompt.
#   examples/bench/h200-gemv.sh OUT_DIR [SECONDS] [full|quick] [LENGTHS] [PLANS] [MODE] [LONG]
set -uo pipefail
cd "$(dirname "$0")/../.."
out=$1 limit=${2:-600} harness=${3:-full} lengths=${4:-1k,103k} plans=${5:-linear,hybrid,teacher} mode=${6:-decode}
long=${7:-}
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
timeout 60 build/cuda/bin/mm_bench_gemv 64 > "$out/bench-gemv.txt" 2>&1
cat "$out/bench-gemv.txt"
stamp "gemv bench done"
ops=norm_linear,norm_swiglu,linear_residual,rope_kv_append
if [ "$harness" = full ]; then
  timeout 150 $bin selftest --device cuda --full > "$out/selftest.txt" 2>&1
else
  for op in ${ops//,/ } mamba2_decode_step attention_decode; do
    timeout 60 $bin selftest --device cuda --full --op $op >> "$out/selftest.txt" 2>&1
  done
fi
stamp "selftest rc=$?"
grep -E "FAIL|error|rope_kv_append|decode_graph|passed," "$out/selftest.txt" | head -40
stamp "bench $plans at $lengths ($mode), $(left) s left"
timeout $(left) $bin bench --arch hovle-2.6b --plans $plans --lengths "$lengths" --mode $mode --repeats 2 \
  --reference-ops $ops --json "$out/bench.json" 2>&1 | tee "$out/bench.txt"
stamp "bench rc=${PIPESTATUS[0]}"
if [ -n "$long" ] && [ $(left) -gt 60 ]; then
  stamp "linear and hybrid at $long, $(left) s left"
  timeout $(left) $bin bench --arch hovle-2.6b --plans linear,hybrid --lengths $long --mode decode --repeats 1 \
    --json "$out/bench-long.json" 2>&1 | tee "$out/bench-long.txt"
  stamp "bench rc=${PIPESTATUS[0]}"
fi

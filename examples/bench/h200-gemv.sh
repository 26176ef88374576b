#!/usr/bin/env bash
# The decode GEMVs (kernels/gemv: pre-norm projections, the SwiGLU pair, residual products) on the
# device's H200, in one call: build the CLI with the cuda preset, the op harness (--full, or only the
# GEMV ops with "quick"), then one bench run that measures each model twice side by side: "before" with
# the three GEMV ops forced to their composition (rms_norm + cuBLAS), "after" on the GEMV kernel; decode
# replayed from a CUDA graph in both.
#   examples/bench/h200-gemv.sh OUT_DIR [SECONDS] [full|quick] [LENGTHS] [PLANS]
set -uo pipefail
cd "$(dirname "$0")/../.."
out=$1 limit=${2:-600} harness=${3:-full} lengths=${4:-1k,103k} plans=${5:-linear,hybrid,teacher}
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
export TORCH_CMAKE_PREFIX=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
if ! { cmake --preset cuda && cmake --build build/cuda -j16 --target mmmamba mm_bench_gemv; } > "$out/build.txt" 2>&1; then
  grep -B2 -A12 -E "error" "$out/build.txt" | head -80
  exit 1
fi
stamp "build done"
bin=build/cuda/bin/mmmamba
# Each GEMV shape against the composition, PDL on and off, then resident blocks per SM capped.
for env in "" "MMMAMBA_NO_PDL=1" "MMMAMBA_GEMV_BLOCKS_PER_SM=1"; do
  echo "== $env" >> "$out/bench-gemv.txt"
  env $env timeout 60 build/cuda/bin/mm_bench_gemv 64 >> "$out/bench-gemv.txt" 2>&1
done
cat "$out/bench-gemv.txt"
stamp "gemv bench done"
if [ "$harness" = full ]; then
  timeout 150 $bin selftest --device cuda --full > "$out/selftest.txt" 2>&1
else
  for op in norm_linear norm_swiglu linear_residual; do
    timeout 60 $bin selftest --device cuda --full --op $op >> "$out/selftest.txt" 2>&1
  done
fi
stamp "selftest rc=$?"
grep -E "FAIL|error|norm_linear|norm_swiglu|linear_residual|decode_graph|passed," "$out/selftest.txt" | head -60
left=$(( limit - ($(date +%s) - t0) - 10 ))
stamp "bench $plans at $lengths, ${left} s left"
timeout $left $bin bench --arch hovle-2.6b --plans $plans --lengths "$lengths" --mode decode --repeats 2 \
  --reference-ops norm_linear,norm_swiglu,linear_residual --json "$out/h200-gemv.json" 2>&1 | tee "$out/bench.txt"
stamp "bench rc=${PIPESTATUS[0]}"
left=$(( limit - ($(date +%s) - t0) - 10 ))
if [ $left -gt 60 ]; then
  stamp "the same without programmatic dependent launch (MMMAMBA_NO_PDL=1), linear and hybrid at 1K, ${left} s left"
  MMMAMBA_NO_PDL=1 timeout $left $bin bench --arch hovle-2.6b --plans linear,hybrid --lengths 1k --mode decode --repeats 2 \
    --json "$out/h200-gemv-nopdl.json" 2>&1 | tee "$out/bench-nopdl.txt"
  stamp "bench rc=${PIPESTATUS[0]}"
fi

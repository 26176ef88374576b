#!/usr/bin/env bash
# The prefill GEMMs: at::matmul against cuBLASLt's heuristic algorithms (mm_bench_gemm), at 4096 rows
# (the CUDA prefill chunk) twice and at 8192 once, on the device (about 2 minutes after the build).
#   examples/bench/device-gemm.sh OUT_DIR [SECONDS]
set -uo pipefail
cd "$(dirname "$0")/../.."
out=$1 limit=${2:-300}
. examples/bench/device-common.sh
device_build mm_bench_gemm || exit 1
for m in 4096 8192 4096; do
  timeout $(left) build/cuda/bin/mm_bench_gemm $m 20 16 | tee -a "$out/$card-gemm.txt"
  stamp "M=$m rc=$?"
done

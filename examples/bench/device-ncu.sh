#!/usr/bin/env bash
# Where the decode and the SSD scan lose time, with Nsight Compute on the device (one call, about 5
# minutes): the Mamba-2 layer's decode kernels as mm_bench_gemv replays them (the four GEMVs and the fused
# step, per-layer launches; PERSISTENT=1 adds the persistent kernel), then the scan's three kernels in a
# 4K-token linear prefill. Each profiled kernel: speed of light (DRAM, SM), launch and occupancy figures,
# memory workload; for the scan also the warp stall reasons and the source counters (the SASS lines where
# warps wait); OUT/ncu-decode.csv, OUT/ncu-scan.csv and the raw reports (.ncu-rep). SCAN_ONLY=1 skips the
# decode kernels.
#   examples/bench/device-ncu.sh OUT_DIR [SECONDS]
# Session 19 ran it once (results in RESULTS.md): a --launch-skip of 20 caught only the first GEMV shape
# (mm_bench_gemv replays each shape in its own graph) and the scan kernels of the model's warm-up (a grid
# of one chunk), so each decode kernel now has its own pass (matched on its demangled name with the
# template arguments) and the scan skips past the warm-up and the first prefill (not yet run this way).
set -uo pipefail
cd "$(dirname "$0")/../.."
out=$1 limit=${2:-420}
. examples/bench/device-common.sh
device_build mmmamba mm_bench_gemv || exit 1
sections=(--section SpeedOfLight --section LaunchStats --section Occupancy --section MemoryWorkloadAnalysis)
profile() {  # NAME KERNEL_REGEX SKIP COUNT SHARE COMMAND... (SHARE: the part of the time left it may take)
  local name=$1 regex=$2 skip=$3 count=$4 share=$5; shift 5
  local sections=("${sections[@]}")
  [ "$name" = scan ] && sections+=(--section WarpStateStats --section SourceCounters)
  timeout $(( $(left) / share )) ncu --target-processes all --kernel-name-base demangled -k "regex:$regex" \
    --launch-skip "$skip" --launch-count "$count" "${sections[@]}" -o "$out/ncu-$name" -f "$@" > "$out/ncu-$name.log" 2>&1
  stamp "$name rc=$?"
  ncu --import "$out/ncu-$name.ncu-rep" --csv --page details > "$out/ncu-$name.csv" 2>/dev/null
  ncu --import "$out/ncu-$name.ncu-rep" --page details 2>/dev/null |
    grep -E "^  [a-z_].*\(|Duration|DRAM Throughput|Memory Throughput|Compute \(SM\) Throughput|Achieved Occupancy|Registers Per|Block Limit|Stall|stall|cycles being stalled" | head -160
}
[ "${PERSISTENT:-0}" = 1 ] && export MMMAMBA_PERSISTENT_DECODE=1
if [ "${SCAN_ONLY:-0}" != 1 ]; then
# The decode kernels one at a time (bf16, batch 1): the RMSNorm'd projection, the SwiGLU pair, the residual
# projection, the fused Mamba-2 step.
profile decode-norm-linear "gemv_kernel<__nv_bfloat16, 1, 0>" 8 4 6 build/cuda/bin/mm_bench_gemv 4
profile decode-swiglu "gemv_kernel<__nv_bfloat16, 1, 1>" 8 4 5 build/cuda/bin/mm_bench_gemv 4
profile decode-residual "gemv_kernel<__nv_bfloat16, 1, 2>" 8 4 4 build/cuda/bin/mm_bench_gemv 4
profile decode-step "mamba2" 8 4 3 build/cuda/bin/mm_bench_gemv 4
fi
# The scan in the second of two 4K prefills (past the warm-up's one-chunk calls and the first prefill), at the
# 2048-token chunk: at the linear's default of 4096 a 4K prefill is one scan call and the skip passes them all.
profile scan "chunk_state|state_passing|chunk_scan" 300 6 1 build/cuda/bin/mmmamba bench --arch hovle-2.6b --plans linear \
  --lengths 4k --mode prefill --repeats 2 --warmup 0 --chunk 2048
# Per SASS line of the profiled scan kernels: where the warps stall (the source counters' samples).
ncu --import "$out/ncu-scan.ncu-rep" --page source --csv --print-source sass > "$out/ncu-scan-sass.csv" 2>"$out/ncu-scan-sass.err"
stamp "sass page rc=$? ($(wc -l < "$out/ncu-scan-sass.csv") lines)"

#!/usr/bin/env bash
# Where the decode and the SSD scan lose time, with Nsight Compute on the device (one call, about 5
# minutes): the Mamba-2 layer's decode kernels as mm_bench_gemv replays them (the four GEMVs and the fused
# step, per-layer launches; PERSISTENT=1 adds the persistent kernel), then the scan's three kernels in a
# 4K-token linear prefill. Each profiled kernel: speed of light (DRAM, SM), launch and occupancy figures,
# memory workload; OUT/ncu-decode.csv, OUT/ncu-scan.csv and the raw reports (.ncu-rep).
#   examples/bench/device-ncu.sh OUT_DIR [SECONDS]
# (Written in session 18 after its device time was spent: not yet run.)
set -uo pipefail
cd "$(dirname "$0")/../.."
out=$1 limit=${2:-420}
. examples/bench/device-common.sh
device_build mmmamba mm_bench_gemv || exit 1
sections=(--section SpeedOfLight --section LaunchStats --section Occupancy --section MemoryWorkloadAnalysis)
profile() {  # NAME KERNEL_REGEX COUNT COMMAND...
  local name=$1 regex=$2 count=$3; shift 3
  timeout $(( $(left) / 2 )) ncu --target-processes all -k "regex:$regex" --launch-skip 20 --launch-count "$count" \
    "${sections[@]}" -o "$out/ncu-$name" -f "$@" > "$out/ncu-$name.log" 2>&1
  stamp "$name rc=$?"
  ncu --import "$out/ncu-$name.ncu-rep" --csv --page details > "$out/ncu-$name.csv" 2>/dev/null
  ncu --import "$out/ncu-$name.ncu-rep" --page details 2>/dev/null |
    grep -E "^  [a-z_].*\(|Duration|DRAM Throughput|Memory Throughput|Compute \(SM\) Throughput|Achieved Occupancy|Registers Per|Block Limit" | head -120
}
[ "${PERSISTENT:-0}" = 1 ] && export MMMAMBA_PERSISTENT_DECODE=1
profile decode "gemv|mamba2" 24 build/cuda/bin/mm_bench_gemv 4
profile scan "chunk_state|state_passing|chunk_scan" 6 build/cuda/bin/mmmamba bench --arch hovle-2.6b --plans linear \
  --lengths 4k --mode prefill --repeats 1 --warmup 0

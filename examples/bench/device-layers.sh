#!/usr/bin/env bash
# The session-15 decode kernels on the device's GPU, in one call. Both are opt-in until this passes:
# MMMAMBA_MAMBA2_STEP_CLUSTER=1 (the Mamba-2 step over a thread-block cluster per kv head) and
# MMMAMBA_PERSISTENT_DECODE=1 (mamba2_layers_decode: each run of Mamba-2 layers in one persistent
# launch). Steps: build the CLI and mm_bench_gemv (cuda preset); the op harness (--full) with both on;
# a kernel whose rows fail there is turned off for the rest; the microbenchmark with both off, then
# as left on; mmmamba bench with each model first with mamba2_layers_decode on its reference (the
# per-layer launches), then on the persistent kernel; time allowing, the session-14 path (both off).
#   examples/bench/device-layers.sh OUT_DIR [SECONDS] [LENGTHS] [PLANS] [MODE]
set -uo pipefail
cd "$(dirname "$0")/../.."
out=$1 limit=${2:-600} lengths=${3:-1k,103k} plans=${4:-linear,hybrid,teacher} mode=${5:-both}
. examples/bench/device-common.sh
device_build mmmamba mm_bench_gemv || exit 1
bin=build/cuda/bin/mmmamba
export MMMAMBA_MAMBA2_STEP_CLUSTER=1 MMMAMBA_PERSISTENT_DECODE=1
timeout 200 $bin selftest --device cuda --full > "$out/selftest.txt" 2>&1
rc=$?
stamp "selftest rc=$rc"
grep -E "FAIL|error|mamba2_layers|mamba2_decode_step|decode_graph|passed," "$out/selftest.txt" | head -40
pair="--reference-ops mamba2_layers_decode"
if [ $rc -ne 0 ] || grep -qE "mamba2_layers.*(FAIL|error)" "$out/selftest.txt"; then
  echo "the persistent kernel failed or hung: off from here"
  unset MMMAMBA_PERSISTENT_DECODE
  pair=""
fi
if [ $rc -ne 0 ] || grep -qE "mamba2_decode_step.*(FAIL|error)" "$out/selftest.txt"; then
  echo "the cluster step failed or hung: off from here"
  unset MMMAMBA_MAMBA2_STEP_CLUSTER
fi
{ echo "== both off"; env -u MMMAMBA_MAMBA2_STEP_CLUSTER -u MMMAMBA_PERSISTENT_DECODE timeout 100 build/cuda/bin/mm_bench_gemv 64
  echo "== cluster step ${MMMAMBA_MAMBA2_STEP_CLUSTER:-off}, persistent ${MMMAMBA_PERSISTENT_DECODE:-off}"
  timeout 100 build/cuda/bin/mm_bench_gemv 64; } > "$out/bench-gemv.txt" 2>&1
cat "$out/bench-gemv.txt"
stamp "gemv bench done, $(left) s left"
timeout $(left) $bin bench --arch hovle-2.6b --plans $plans --lengths "$lengths" --mode $mode --repeats 2 $pair \
  --json "$out/bench.json" 2>&1 | tee "$out/bench.txt"
stamp "bench rc=${PIPESTATUS[0]}, $(left) s left"
if [ $(left) -gt 90 ]; then
  env -u MMMAMBA_MAMBA2_STEP_CLUSTER -u MMMAMBA_PERSISTENT_DECODE timeout $(left) $bin bench --arch hovle-2.6b \
    --plans linear,hybrid --lengths 103k --mode decode --repeats 2 --json "$out/bench-s14path.json" 2>&1 | tee "$out/bench-s14path.txt"
  stamp "s14-path bench rc=${PIPESTATUS[0]}"
fi

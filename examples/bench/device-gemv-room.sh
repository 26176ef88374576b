#!/usr/bin/env bash
# The decode GEMVs capped at 80 registers and launched at two blocks per SM, which leaves each SM room for
# one block of the next kernel to start streaming under PDL (MMMAMBA_GEMV_REGS=80
# MMMAMBA_GEMV_BLOCKS_PER_SM=2), against the default, alternating twice, after the GEMV ops' harness cases
# on the variant (a failure stops the call). About 4 minutes with the build. Written in session 19, whose
# call E ran the 80-register build at three blocks per SM (slower); this pairing is not yet run.
#   examples/bench/device-gemv-room.sh OUT_DIR [SECONDS]
set -uo pipefail
cd "$(dirname "$0")/../.."
out=$1 limit=${2:-400}
. examples/bench/device-common.sh
device_build mmmamba || exit 1
bin=build/cuda/bin/mmmamba
variant=(MMMAMBA_GEMV_REGS=80 MMMAMBA_GEMV_BLOCKS_PER_SM=2)
for op in norm_linear norm_swiglu linear_residual; do
  env "${variant[@]}" timeout 60 $bin selftest --device cuda --full --op $op > "$out/selftest-gemv-room-$op.txt" 2>&1
  rc=$?; stamp "selftest $op rc=$rc"; grep -E "FAIL|passed," "$out/selftest-gemv-room-$op.txt"
  if [ $rc -ne 0 ] || grep -q FAIL "$out/selftest-gemv-room-$op.txt"; then echo "$op: the harness failed, stopping"; exit 1; fi
done
run() {  # TAG [ENV=VALUE...]
  local tag=$1; shift
  env "$@" timeout 80 $bin bench --arch hovle-2.6b --plans linear,hybrid --lengths 1k,103k --mode decode --repeats 2 \
    --json "$out/$card-gemv-room-$tag.json" > "$out/$card-gemv-room-$tag.txt" 2>&1
  stamp "$tag rc=$?"; grep -E " decode " "$out/$card-gemv-room-$tag.txt"
}
run default
run room "${variant[@]}"
run default-again
run room-again "${variant[@]}"
